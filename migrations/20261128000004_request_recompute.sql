-- Asks the pipeline to recompute a job's output from an instant on at its next run: used
-- when something changes history (an AFK channel setting) and by jobs to mark the jobs
-- downstream of them. Earlier requests win; a null instant asks for nothing.
create function app.request_recompute(job_name text, from_instant timestamptz)
returns void
language sql
as $$
    insert into app.pipeline_state (job, dirty_from)
    values (job_name, from_instant)
    on conflict (job) do update
    set dirty_from = least(app.pipeline_state.dirty_from, excluded.dirty_from),
        updated_at = now()
    where excluded.dirty_from is not null;
$$;

comment on function app.request_recompute(text, timestamptz) is
    'Marks a pipeline job to recompute its output from the given instant at its next run.';
