-- link_codes: bronze.game_log_events -> silver.user_identities (through
-- app.redeem_link_lines and app.redeem_link_code_hash)
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.from_id, guildhall.to_id   bronze event ids in (from_id, to_id] are new
-- A member who says `!link CODE` in game chat links that game account to themselves. The
-- ingest kept only the code's hash on the chat line (`detail.code_hash`); this job redeems
-- the new lines in the order they were said. Spans to rebuild (backfills, setting changes)
-- redeem nothing again: a code is said once.
-- A link changes the account's person; the relink trigger marks the days it moves, so this
-- job returns no span of its own.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

select app.redeem_link_lines(current_setting('guildhall.from_id')::bigint,
                             current_setting('guildhall.to_id')::bigint) as rows,
       null::timestamptz as dirty_from,
       null::timestamptz as dirty_to;
