-- A game server the admin deletes while keeping its history: the row stays (disabled) so
-- the history pages and CSVs still name the server, and its name is free for a new server.
alter table app.game_servers add column deleted_at timestamptz;
alter table app.game_servers drop constraint game_servers_name_key;
-- Same name as the constraint it replaces: the code that tells a taken name apart keeps
-- working (collectors/src/game/server_settings.rs).
create unique index game_servers_name_key on app.game_servers (name) where deleted_at is null;
comment on column app.game_servers.deleted_at is
    'When an admin deleted the server keeping its history; null: a configured server. A deleted server is disabled and not listed for editing.';
