-- Member growth and leavers' tenure as report-ready gold (job member_growth): the members
-- page and its CSV read these tables instead of counting silver.dim_members and
-- silver.activity_daily on every request (476 s for one request at 20,000 members).

create table gold.member_growth_weekly (
    week_of date primary key,
    joins integer not null,
    leaves integer not null,
    members integer not null,
    computed_at timestamptz not null default now()
);

comment on table gold.member_growth_weekly is 'Joins, leaves and members per local week (Monday to Sunday in the community time zone), from the first week anyone joined to the current week; weeks without joins or leaves included. Job member_growth.';
comment on column gold.member_growth_weekly.week_of is 'The Monday (local day) the week starts on.';
comment on column gold.member_growth_weekly.joins is 'Members (Discord accounts per guild) whose first join fell in the week.';
comment on column gold.member_growth_weekly.leaves is 'Members who are gone and whose last leave fell in the week.';
comment on column gold.member_growth_weekly.members is 'Members at the end of the week: joined before its end and not left before its end.';
comment on column gold.member_growth_weekly.computed_at is 'When this row was last recomputed.';

create table gold.leaver_tenure (
    left_month date not null,
    bucket smallint not null check (bucket between 0 and 5),
    leavers integer not null,
    active_before integer not null,
    computed_at timestamptz not null default now(),
    primary key (left_month, bucket)
);

comment on table gold.leaver_tenure is 'How long the members who are gone had stayed, per local month of their leave. Job member_growth.';
comment on column gold.leaver_tenure.left_month is 'First day of the local month the member left in.';
comment on column gold.leaver_tenure.bucket is 'How long they stayed since their last join: 0 under a day, 1 under a week, 2 under 30 days, 3 under 90 days, 4 under a year, 5 a year or more.';
comment on column gold.leaver_tenure.leavers is 'Members who left in the month after staying that long.';
comment on column gold.leaver_tenure.active_before is 'Of them, those active (as for daily active users) on any of the 30 local days before they left.';
comment on column gold.leaver_tenure.computed_at is 'When this row was last recomputed.';

-- Written when only voice counted; every source counts now.
comment on column gold.daily_active_users.dau_total is 'Distinct persons active that day in any source: at least 60 seconds of non-AFK voice, at least one message, or at least 60 seconds on a game server. A person active in several sources counts once.';

-- The funnel as report-ready gold (job funnel): the members page read it from silver on
-- every request, past a minute at 20,000 members.
create table silver.person_regular_months (
    person_id bigint not null references silver.dim_user (person_id) on delete cascade,
    month date not null,
    primary key (person_id, month)
);

comment on table silver.person_regular_months is 'Persons with activity (any row of silver.activity_daily) on at least four local days of a month: "regular" in the funnel. Job funnel.';
comment on column silver.person_regular_months.person_id is 'The person (silver.dim_user).';
comment on column silver.person_regular_months.month is 'First day of the local month.';

create table gold.funnel_monthly (
    join_month date primary key,
    joined integer not null,
    linked integer not null,
    played integer not null,
    regular integer not null,
    computed_at timestamptz not null default now()
);

comment on table gold.funnel_monthly is 'From joining the Discord server to playing regularly, per local month of the first join: each step counts only those who took the step before it. Job funnel.';
comment on column gold.funnel_monthly.join_month is 'First day of the local month of the first join (Discord accounts, over every tracked guild).';
comment on column gold.funnel_monthly.joined is 'Discord accounts whose first join fell in the month.';
comment on column gold.funnel_monthly.linked is 'Of them, those whose person has a game account linked by a member or an admin (not merely observed).';
comment on column gold.funnel_monthly.played is 'Of the linked, those whose person has a session on a tracked game server.';
comment on column gold.funnel_monthly.regular is 'Of those who played, those whose person was active on at least four days of some month.';
comment on column gold.funnel_monthly.computed_at is 'When this row was last recomputed.';

-- The funnel's "played" looks a person's sessions up.
create index fact_game_sessions_person_idx on silver.fact_game_sessions (person_id);
