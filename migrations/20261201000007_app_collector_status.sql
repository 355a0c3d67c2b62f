-- Each collector's state, as its supervisor reports it: the web app shows the same status
-- whether the collector runs inside `guildhall serve` or as a separate `guildhall collect`.
create table app.collector_status (
    collector text primary key,
    state text not null check (state in ('running', 'failed', 'stopped', 'off')),
    -- Last time the collector was seen running (refreshed while it runs).
    last_success_at timestamptz,
    last_error text,
    last_error_at timestamptz,
    restarts integer not null default 0,
    updated_at timestamptz not null default now()
);
