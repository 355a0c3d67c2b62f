-- Silver: what each account did on each local day, with the person it belongs to. Every
-- source's facts feed it (voice now; chat and game servers add their columns' data); all
-- gold KPIs (DAU/WAU/MAU, retention, activity index) read it, grouped by person. The person
-- is resolved through silver.user_identities when a day is built, so relinking an account
-- re-dirties only that account's days.
create table silver.activity_daily (
    day date not null,
    account_kind text not null check (account_kind in ('discord', 'steam', 'minecraft')),
    account_id text not null,
    person_id bigint not null references silver.dim_user (person_id),
    voice_seconds bigint not null default 0,
    messages integer not null default 0,
    game_seconds bigint not null default 0,
    computed_at timestamptz not null default now(),
    primary key (day, account_kind, account_id)
);
create index activity_daily_person_idx on silver.activity_daily (person_id, day);
create index activity_daily_account_idx on silver.activity_daily (account_kind, account_id, day);

comment on table silver.activity_daily is
    'Activity per account and local day (community time zone), with the person the account belongs to. Gold KPIs group it by person.';
comment on column silver.activity_daily.day is 'Local day in the community time zone.';
comment on column silver.activity_daily.account_kind is 'discord, steam or minecraft.';
comment on column silver.activity_daily.account_id is 'The account''s id: Discord user id, SteamID64 or Minecraft UUID.';
comment on column silver.activity_daily.person_id is 'The person (silver.dim_user) the account belonged to when the day was built.';
comment on column silver.activity_daily.voice_seconds is 'Seconds in Discord voice outside AFK channels that day.';
comment on column silver.activity_daily.messages is 'Chat messages sent that day.';
comment on column silver.activity_daily.game_seconds is 'Seconds on a tracked game server that day.';
comment on column silver.activity_daily.computed_at is 'When the row was last recomputed.';
