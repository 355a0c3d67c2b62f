-- Backfills started from the browser (`/admin/status`): the server process runs them, one
-- at a time, chunk by chunk; the row holds the progress the page polls. A row still
-- `running` whose runner is gone (the process stopped) is shown and then marked as
-- `interrupted`; the runner holds an advisory lock (`BACKFILL_LOCK_KEY` in `app/src/model/admin_status.rs`) while it runs.
create table app.backfills (
    id bigint generated always as identity primary key,
    from_day date not null,
    to_day date not null check (to_day >= from_day),
    -- The jobs to recompute, in the order they run (names of `JobName`).
    jobs text[] not null check (cardinality(jobs) > 0),
    state text not null default 'queued'
        check (state in ('queued', 'running', 'finished', 'failed', 'cancelled', 'interrupted')),
    requested_by bigint references app.users (id) on delete set null,
    requested_at timestamptz not null default now(),
    started_at timestamptz,
    finished_at timestamptz,
    days_total integer not null check (days_total > 0),
    days_done integer not null default 0,
    rows_written bigint not null default 0,
    cancel_requested boolean not null default false,
    error text,
    updated_at timestamptz not null default now()
);
-- One backfill waits or runs at a time.
create unique index backfills_one_active_idx on app.backfills ((true))
    where state in ('queued', 'running');
comment on table app.backfills is 'Backfills started from the browser, with their progress (days done of the total, rows written); one queued or running at a time.';

-- Incremental runs that failed: how often in a row, when the scheduler tries again, and why.
alter table app.pipeline_state
    add column attempts integer not null default 0,
    add column next_attempt_at timestamptz,
    add column last_error text,
    add column last_error_at timestamptz;
comment on column app.pipeline_state.attempts is 'Failed incremental runs in a row (0 after a success); the scheduler waits 30 s, 1 min, 2 min … (capped) before the next.';
