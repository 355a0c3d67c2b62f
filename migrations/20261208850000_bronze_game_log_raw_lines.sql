-- The bytes of a game log line that could not be read, kept whatever they are (NUL bytes,
-- invalid UTF-8, binary): text and jsonb cannot hold a NUL, so a line kept as text could be
-- refused and lost. Addresses and chat text are taken out before it is stored (see
-- docs/game-servers.md#unreadable-lines); `detail` keeps the reason (`error`).
alter table bronze.game_log_events add column raw_line bytea;
comment on column bronze.game_log_events.raw_line is 'For kind unparsed: the line''s bytes without its line break, with addresses replaced by [address] and the text of a chat-like line by [chat] (its length in detail.chat_length). NULL for events.';
comment on table bronze.game_log_events is 'Events from game server logs, one per line worth keeping; lines that could not be read are kept as kind unparsed with their reason (detail.error) and bytes (raw_line). Never chat text, never a raw IP address.';
