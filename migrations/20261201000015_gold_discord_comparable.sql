-- Gold: numbers leaders can hold against Discord's Server Insights. Guildhall sees what
-- members do, not what they look at: "communicating" is sending a message or being in a
-- voice channel outside the AFK channel (Discord also counts reading as visiting).
create table gold.discord_comparable_daily (
    day date primary key,
    communicators integer not null,
    communicators_week integer not null,
    new_members integer not null,
    activated integer not null,
    activation_rate numeric(5, 2),
    week1_retained integer not null,
    week1_retention numeric(5, 2),
    complete boolean not null,
    computed_at timestamptz not null default now()
);
comment on table gold.discord_comparable_daily is 'Per local day, figures defined as Discord''s Server Insights defines them (communicators, new-member activation, week-1 retention), from what Guildhall records. See the README for where the definitions differ.';
comment on column gold.discord_comparable_daily.day is 'Local day in the community time zone.';
comment on column gold.discord_comparable_daily.communicators is 'Persons who sent a message or were in voice (outside AFK) that day.';
comment on column gold.discord_comparable_daily.communicators_week is 'Persons who communicated on any of the 7 days ending that day.';
comment on column gold.discord_comparable_daily.new_members is 'Persons whose first join of a tracked guild was that day.';
comment on column gold.discord_comparable_daily.activated is 'Of the new members, those who within their first 7 days sent at least 3 messages or were in voice.';
comment on column gold.discord_comparable_daily.activation_rate is 'activated / new_members in percent.';
comment on column gold.discord_comparable_daily.week1_retained is 'Of the new members, those who communicated in their second week (days 7 to 13 after joining).';
comment on column gold.discord_comparable_daily.week1_retention is 'week1_retained / new_members in percent.';
comment on column gold.discord_comparable_daily.complete is 'False while the new members'' second week is not over: activation and retention can still grow.';
comment on column gold.discord_comparable_daily.computed_at is 'When this row was last computed.';
