-- In-game `!link CODE` lines are redeemed by the pipeline (job `link_codes`), no longer by
-- the log ingest: the ingest keeps, of such a chat line, only the code's hash
-- (`detail.code_hash`, computed as app.link_code_hash does), so the ingest path has no
-- identity side effects and the code itself is stored nowhere.

-- Redeems a code, given by its hash, said in game chat by an account: links the account to
-- the member who was shown the code. Five wrong or late codes from one account within 15
-- minutes, and it is ignored for the rest of them. Returns the outcome: linked, unknown,
-- expired, used or limited.
create function app.redeem_link_code_hash(
    p_code_hash text, p_kind text, p_external_id text, p_display_name text, p_at timestamptz
) returns text
language plpgsql
as $$
declare
    code app.link_codes%rowtype;
    failures int;
    result text;
begin
    select count(*) into failures from app.link_code_attempts a
    where a.kind = p_kind and a.external_id = p_external_id
      and a.at > p_at - interval '15 minutes' and a.outcome <> 'linked';
    if failures >= 5 then
        result := 'limited';
    else
        select * into code from app.link_codes
        where code_hash = p_code_hash
        for update;
        -- A line from before the code existed (an old log imported) cannot carry it.
        if not found or p_at < code.created_at - interval '5 minutes' then
            result := 'unknown';
        elsif code.used_at is not null then
            -- The same line again (a resent batch, an import): nothing more to do.
            result := case when code.used_kind = p_kind and code.used_external_id = p_external_id
                            then 'linked' else 'used' end;
        elsif code.expires_at < p_at then
            result := 'expired';
        else
            perform silver.link_identity(p_kind, p_external_id,
                                         silver.person_of_user(code.user_id),
                                         'ingame_code', code.user_id, p_display_name);
            update app.link_codes
            set used_at = p_at, used_kind = p_kind, used_external_id = p_external_id
            where code_hash = code.code_hash;
            result := 'linked';
        end if;
    end if;
    insert into app.link_code_attempts (kind, external_id, at, outcome)
    values (p_kind, p_external_id, p_at, result);
    return result;
end
$$;
comment on function app.redeem_link_code_hash(text, text, text, text, timestamptz) is
    'Redeems an in-game link code (by its hash) said by a game account; returns linked, unknown, expired, used or limited.';

-- The code-taking form was called by the log ingest only.
drop function app.redeem_link_code(text, text, text, text, timestamptz);

-- The `!link` lines among the game log events (from_id, to_id], in the order they were
-- said: each is redeemed for the account that said it. Minecraft chat names only the player:
-- the account is the UUID of the last `UUID of player` line of that name on that server.
-- A line whose account is unknown is skipped (and logged). Returns how many were redeemed.
create function app.redeem_link_lines(p_from_id bigint, p_to_id bigint) returns bigint
language plpgsql
as $$
declare
    line record;
    outcome text;
    redeemed bigint := 0;
begin
    for line in
        select e.server_id, e.occurred_at, e.player_name, e.detail ->> 'code_hash' as code_hash,
               coalesce(e.account_kind,
                        case when a.account_id is not null then 'minecraft' end) as kind,
               coalesce(e.account_id, a.account_id) as external_id
        from bronze.game_log_events e
        left join lateral (
            select s.account_id
            from bronze.game_log_events s
            where e.account_id is null and e.player_name is not null
              and s.server_id = e.server_id and s.kind = 'account'
              and s.player_name = e.player_name and s.occurred_at <= e.occurred_at
            order by s.occurred_at desc
            limit 1
        ) a on true
        where e.event_id > p_from_id and e.event_id <= p_to_id
          and e.kind = 'chat' and e.detail ? 'code_hash'
        order by e.occurred_at, e.event_id
    loop
        if line.external_id is null then
            raise log 'a !link code from a player without a known account on server % was ignored',
                line.server_id;
            continue;
        end if;
        outcome := app.redeem_link_code_hash(line.code_hash, line.kind, line.external_id,
                                             line.player_name, line.occurred_at);
        raise log 'in-game link code on server %: %', line.server_id, outcome;
        redeemed := redeemed + 1;
    end loop;
    return redeemed;
end
$$;
comment on function app.redeem_link_lines(bigint, bigint) is
    'Redeems the !link lines among the game log events in (from_id, to_id]; the pipeline''s link_codes job calls it.';
