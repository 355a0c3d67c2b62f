-- The server_utilization job replaces the load minutes and utilization hours of the days it
-- recomputes: found by time across all servers, which the (server_id, minute) and
-- (server_id, hour) keys cannot serve. Without these, an idle run read every minute of
-- history (0.5 s of 0.7 s with a year of two busy servers).
create index server_load_minute_idx on silver.server_load (minute);
create index server_utilization_hour_idx on gold.server_utilization (hour);
-- A game account's sessions (the identity editor's suggestions and suspect links, a
-- person's export, erasing an account).
create index fact_game_sessions_account_idx
    on silver.fact_game_sessions (account_kind, account_id, started_at);
