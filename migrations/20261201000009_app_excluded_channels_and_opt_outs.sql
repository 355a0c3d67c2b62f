-- Channels (or whole categories) an admin excluded: nothing that happens in them is
-- recorded. Read by every running collector (re-read every few seconds).
create table app.excluded_channels (
    guild_id bigint not null,
    channel_id bigint not null,
    excluded_at timestamptz not null default now(),
    primary key (guild_id, channel_id)
);
comment on table app.excluded_channels is
    'Channels and categories whose activity is not recorded (admin setting).';
comment on column app.excluded_channels.channel_id is
    'A channel id, or a category id: then every channel in the category is excluded.';

-- People who opted out: none of their accounts is recorded from then on.
create table app.opt_outs (
    person_id bigint primary key,
    opted_out_at timestamptz not null default now()
);
comment on table app.opt_outs is
    'Persons who opted out of being recorded; collectors drop the records of all their accounts.';
