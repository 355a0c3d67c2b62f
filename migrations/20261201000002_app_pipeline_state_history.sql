-- What the pipeline runner needs to know about a job's last successful incremental run:
-- when it ran (by the runner's clock), so days that kept changing while the scheduler was
-- down are recomputed, and in which time zone, so a changed time zone recomputes the
-- job's whole history.
alter table app.pipeline_state
    add column last_success_at timestamptz,
    add column timezone text;
