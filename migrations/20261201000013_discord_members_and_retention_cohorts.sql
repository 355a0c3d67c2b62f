-- Bronze: what the bot saw of each membership: joins, leaves and updates from the gateway,
-- members found present by a member-list synchronisation (their join date, for members who
-- joined before the bot), and leaves the synchronisation noticed (the member was gone when
-- the bot came back: `observed_at` is when it noticed, not when they left).
create table bronze.discord_member_events (
    event_id bigint generated always as identity,
    -- Idempotency key: the same observation written twice is stored once.
    source_key text not null,
    guild_id bigint not null,
    user_id bigint not null,
    kind text not null check (kind in ('join', 'leave', 'update', 'present')),
    -- When Discord says the member joined (join, update, present).
    joined_at timestamptz,
    roles bigint[] not null default '{}',
    nickname text,
    pending boolean not null default false,
    -- 'gateway' for live events, 'sync' for what a member-list synchronisation found.
    origin text not null default 'gateway' check (origin in ('gateway', 'sync', 'demo')),
    observed_at timestamptz not null,
    ingested_at timestamptz not null default clock_timestamp(),
    primary key (observed_at, event_id),
    unique (observed_at, source_key)
);
create index discord_member_events_event_id_idx on bronze.discord_member_events (event_id);
create index discord_member_events_member_idx
    on bronze.discord_member_events (guild_id, user_id, observed_at);
comment on table bronze.discord_member_events is 'Joins, leaves and updates of guild members as the bot saw them (gateway events and member-list synchronisations).';

-- Silver: one row per Discord account and guild.
create table silver.dim_members (
    guild_id bigint not null,
    discord_user_id bigint not null,
    first_joined_at timestamptz,
    last_joined_at timestamptz,
    is_member boolean not null,
    left_at timestamptz,
    -- Whether left_at is when the bot noticed the leave (after being away), not the leave.
    left_at_noticed boolean not null default false,
    rejoins integer not null default 0,
    roles bigint[] not null default '{}',
    updated_at timestamptz not null default now(),
    primary key (guild_id, discord_user_id)
);
create index dim_members_user_idx on silver.dim_members (discord_user_id);
comment on table silver.dim_members is 'Membership of each Discord account in each guild: first join, current membership, rejoins.';
comment on column silver.dim_members.guild_id is 'Discord guild (server) id.';
comment on column silver.dim_members.discord_user_id is 'Discord user id of the account.';
comment on column silver.dim_members.first_joined_at is 'The earliest join Guildhall knows of (Discord''s join date).';
comment on column silver.dim_members.last_joined_at is 'The latest join (equals first_joined_at unless the member rejoined).';
comment on column silver.dim_members.is_member is 'True while the account is a member of the guild.';
comment on column silver.dim_members.left_at is 'When the member last left; empty while a member.';
comment on column silver.dim_members.left_at_noticed is 'True when left_at is when the bot noticed the leave after being away, not the leave itself.';
comment on column silver.dim_members.rejoins is 'How many times the member joined again after leaving.';
comment on column silver.dim_members.roles is 'Discord role ids the member holds now.';

-- Gold: retention by join month.
create table gold.retention_cohorts (
    cohort_month date not null,
    months_after integer not null check (months_after between 0 and 12),
    cohort_size integer not null,
    active integer not null,
    percentage numeric(5, 2),
    partial boolean not null,
    computed_at timestamptz not null default now(),
    primary key (cohort_month, months_after)
);
comment on table gold.retention_cohorts is 'Retention by cohort: persons who first joined a tracked guild in cohort_month, and how many of them were active (as for daily active users) months_after months later. Members who left stay in the cohort.';
comment on column gold.retention_cohorts.cohort_month is 'First day of the (local) month of the persons'' first join.';
comment on column gold.retention_cohorts.months_after is 'k: the month cohort_month + k, from 0 (the join month) to 12.';
comment on column gold.retention_cohorts.cohort_size is 'Persons in the cohort.';
comment on column gold.retention_cohorts.active is 'Persons of the cohort active on at least one day of month cohort_month + k.';
comment on column gold.retention_cohorts.percentage is 'active / cohort_size in percent.';
comment on column gold.retention_cohorts.partial is 'True for the current month: it is not over yet.';
comment on column silver.dim_members.updated_at is 'When this row last changed.';
comment on column gold.retention_cohorts.computed_at is 'When this cell was last computed.';
