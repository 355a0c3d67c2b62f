-- Gold: DAU per source (game stays 0 until the game servers come), WAU, MAU and stickiness.
alter table gold.daily_active_users
    add column dau_game integer not null default 0,
    add column wau integer not null default 0,
    add column mau integer not null default 0,
    add column stickiness numeric(6, 4);
comment on column gold.daily_active_users.dau_game is 'Persons with at least one minute on a game server that day.';
comment on column gold.daily_active_users.wau is 'Persons active (as for dau_total) on any of the 7 local days ending that day.';
comment on column gold.daily_active_users.mau is 'Persons active (as for dau_total) on any of the 30 local days ending that day.';
comment on column gold.daily_active_users.stickiness is 'dau_total / mau (0 to 1); empty when nobody was active in the 30 days.';

-- Days computed before these columns existed are computed again.
select app.request_recompute('daily_active_users', '-infinity')
where exists (select 1 from gold.daily_active_users);
