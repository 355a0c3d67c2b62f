-- Every change made through Guildhall's admin surfaces: who made it, what, when, and the
-- value before and after. Later features (identity links, server settings) write here too.
create table app.audit_log (
    id bigint generated always as identity primary key,
    at timestamptz not null default now(),
    -- The admin who made the change; the name is kept in case the user is deleted later.
    actor_user_id bigint references app.users (id) on delete set null,
    actor_name text not null,
    -- What changed, e.g. `user.role` or `guild.afk_override` (see AuditAction in the app).
    action text not null,
    -- What it changed, e.g. `user 42 (name)` or `guild 1234`.
    subject text not null,
    before jsonb,
    after jsonb
);
create index audit_log_at_idx on app.audit_log (at desc, id desc);

comment on table app.audit_log is 'Changes made by admins: who, what, when, before and after.';

-- Roles in order, for "at least this role" in SQL: member < leader < admin.
create function app.role_rank(role text) returns int
    language sql immutable strict
    as $$ select array_position(array['member', 'leader', 'admin'], role) $$;
