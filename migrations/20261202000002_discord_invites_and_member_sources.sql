-- Where members come from: the invite each join used, as the bot worked it out (the
-- guild's invites and their use counts before and after the join).
alter table bronze.discord_member_events
    add column join_source text check (join_source in ('invite', 'unknown')),
    add column invite_code text,
    add column inviter_id bigint,
    -- Why the source is unknown: 'no_permission' (the bot lacks Manage Server),
    -- 'not_found' (no invite's count went up: a vanity URL, Discovery, an admin's add),
    -- 'ambiguous' (several invites were used at once), 'unavailable' (the invites could not
    -- be read, or not before this join).
    add column join_source_note text;
comment on column bronze.discord_member_events.join_source is 'For joins: invite (attributed) or unknown (see join_source_note).';

-- The guild's invites as the bot last saw them (for the admin page's labels).
create table app.discord_invites (
    guild_id bigint not null,
    code text not null,
    channel_id bigint,
    inviter_id bigint,
    inviter_name text,
    uses integer not null default 0,
    max_uses integer not null default 0,
    created_at timestamptz,
    expires_at timestamptz,
    deleted_at timestamptz,
    seen_at timestamptz not null default now(),
    primary key (guild_id, code)
);
comment on table app.discord_invites is 'Invites of each guild as the bot last saw them.';

-- Admins' names for invite codes ("Twitch", "partner server").
create table app.invite_labels (
    guild_id bigint not null,
    code text not null,
    label text not null check (length(label) between 1 and 80),
    updated_by bigint references app.users (id) on delete set null,
    updated_at timestamptz not null default now(),
    primary key (guild_id, code)
);
comment on table app.invite_labels is 'Labels admins gave invite codes.';

-- Whether the bot can read the guild's invites (Manage Server), for the admin page.
alter table app.discord_guilds
    add column invites_readable boolean,
    add column invites_checked_at timestamptz;

-- Silver: each member's first join and where it came from.
alter table silver.dim_members
    add column join_source text not null default 'unknown',
    add column invite_code text,
    add column inviter_id bigint,
    add column young_account boolean not null default false;
comment on column silver.dim_members.join_source is 'Where the first join Guildhall knows came from: invite, or unknown (joined before the bot, or the invite could not be told).';
comment on column silver.dim_members.invite_code is 'The invite code of the first join, when known.';
comment on column silver.dim_members.inviter_id is 'Discord user id of who created that invite, when known.';
comment on column silver.dim_members.young_account is 'The Discord account was younger than 3 days at its first join.';

-- Gold: per source and join month.
create table gold.member_sources (
    join_month date not null,
    -- 'invite' or 'unknown'; for 'unknown' the code is ''.
    source text not null,
    invite_code text not null,
    inviter_id bigint,
    joined integer not null,
    young_accounts integer not null,
    still_members integer not null,
    active_after_1d integer not null,
    active_after_7d integer not null,
    active_after_30d integer not null,
    computed_at timestamptz not null default now(),
    primary key (join_month, source, invite_code)
);
comment on table gold.member_sources is 'Where members came from, per join month: persons who first joined through each invite (or an unknown way), how many are still members and how many stayed active.';
comment on column gold.member_sources.join_month is 'First day of the (local) month of the persons'' first join.';
comment on column gold.member_sources.source is 'invite, or unknown (joined before the bot, without Manage Server, or not attributable).';
comment on column gold.member_sources.invite_code is 'The invite code; empty for unknown.';
comment on column gold.member_sources.inviter_id is 'Discord user id of who created the invite.';
comment on column gold.member_sources.joined is 'Persons whose first join came this way in this month.';
comment on column gold.member_sources.young_accounts is 'Of them, accounts younger than 3 days when they joined.';
comment on column gold.member_sources.still_members is 'Of them, persons still members of a tracked guild.';
comment on column gold.member_sources.active_after_1d is 'Of them, persons active (as for daily active users) on a day at least 1 day after their join day.';
comment on column gold.member_sources.active_after_7d is 'Of them, persons active on a day at least 7 days after their join day.';
comment on column gold.member_sources.active_after_30d is 'Of them, persons active on a day at least 30 days after their join day.';
comment on column gold.member_sources.computed_at is 'When this row was last computed.';

create table gold.member_source_retention (
    join_month date not null,
    source text not null,
    invite_code text not null,
    months_after integer not null check (months_after between 0 and 12),
    cohort_size integer not null,
    active integer not null,
    percentage numeric(5, 2),
    partial boolean not null,
    computed_at timestamptz not null default now(),
    primary key (join_month, source, invite_code, months_after)
);
comment on table gold.member_source_retention is 'Retention as in gold.retention_cohorts, per source: of the persons who first joined through a source in join_month, how many were active in month join_month + months_after.';
comment on column gold.member_source_retention.join_month is 'First day of the (local) month of the persons'' first join.';
comment on column gold.member_source_retention.source is 'invite or unknown.';
comment on column gold.member_source_retention.invite_code is 'The invite code; empty for unknown.';
comment on column gold.member_source_retention.months_after is 'k: the month join_month + k, from 0 to 12.';
comment on column gold.member_source_retention.cohort_size is 'Persons of this source and month.';
comment on column gold.member_source_retention.active is 'Of them, persons active on at least one day of month join_month + k.';
comment on column gold.member_source_retention.percentage is 'active / cohort_size in percent.';
comment on column gold.member_source_retention.partial is 'True for the current month: it is not over yet.';
comment on column gold.member_source_retention.computed_at is 'When this cell was last computed.';
