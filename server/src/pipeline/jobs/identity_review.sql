-- identity_review: silver.game_presence_hours, silver.voice_presence_hours,
--                  silver.user_identities, silver.fact_game_sessions, silver.activity_daily
--                  -> silver.identity_review_accounts, silver.identity_review_suggestions,
--                     silver.identity_review_suspects
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.day_from, guildhall.today   the changed days and the community's local today
--   guildhall.now                         the pipeline's clock
-- The identity editor's work over the last 90 days: unowned game accounts (see the
-- table's comment) and links the data contradicts (an account on two servers at once for
-- more than five minutes; a linked account that played on five or more days on none of
-- which its person was in voice or chat). Counting the hours members were in voice while each account played is the
-- expensive part, so the runner brings this job's recent days up to date only hourly
-- (`recent_every`); changes to older days (a backfill, a time zone change) run at once.
-- The suggestions compare each reviewed account's player name with every member's name
-- (20,000 at the largest demo) as sets: the trigrams of both sides are joined once, and
-- only pairs that share one, or were in voice together, are scored.
-- The editor drops, when it reads, the accounts linked to a member since.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz).

drop table if exists review_window;

create temp table review_window on commit drop as
select current_setting('guildhall.now')::timestamptz as now,
       current_setting('guildhall.now')::timestamptz - interval '90 days' as since;

drop table if exists review_accounts;

create temp table review_accounts on commit drop as
with review_hours as (
    select h.account_kind as kind, h.account_id as external_id, h.hour
    from silver.game_presence_hours h
    join silver.user_identities i on i.kind = h.account_kind and i.external_id = h.account_id
    cross join review_window r
    where h.hour >= date_trunc('hour', r.since, 'UTC')
      and not exists (select 1 from silver.user_identities d
                      where d.person_id = i.person_id and d.kind = 'discord')
),
top as (
    select kind, external_id, count(*)::int as hours from review_hours
    group by 1, 2 order by 3 desc, 1, 2 limit 30
),
top_hours as materialized (
    select r.kind, r.external_id, r.hour from review_hours r join top t using (kind, external_id)
),
discord_persons as materialized (
    select external_id::bigint as discord_user_id, person_id
    from silver.user_identities where kind = 'discord'
),
-- A person with two Discord accounts in voice in one hour counts it once.
together as materialized (
    select r.kind, r.external_id, d.person_id, count(distinct r.hour)::int as hours
    from top_hours r
    join silver.voice_presence_hours v on v.hour = r.hour
    join discord_persons d using (discord_user_id)
    group by 1, 2, 3
)
select t.kind, t.external_id,
       (select s.player_name from silver.fact_game_sessions s
        where s.account_kind = t.kind and s.account_id = t.external_id
          and s.player_name is not null
        order by s.started_at desc limit 1) as player_name,
       t.hours as played_hours,
       coalesce((select jsonb_agg(jsonb_build_array(w.person_id, w.hours) order by w.person_id)
                 from together w
                 where w.kind = t.kind and w.external_id = t.external_id), '[]') as together
from top t;

drop table if exists review_suggestions;

create temp table review_suggestions on commit drop as
with players as (
    select a.kind, a.external_id, a.played_hours, silver.comparable_name(a.player_name) as full_name
    from review_accounts a
    where a.player_name is not null
),
-- Each name as a whole and without the digits at its ends (`mira_99` -> `mira`).
player_sides as (
    select p.kind, p.external_id, s.side, s.name, silver.name_trigrams(s.name) as trigrams
    from players p
    cross join lateral (values ('full', p.full_name),
                               ('bare', btrim(p.full_name, '0123456789'))) s (side, name)
),
-- One name per member's person (web name, server nickname or account name); hidden
-- members are never suggested.
members as materialized (
    select distinct on (d.person_id) d.person_id, silver.comparable_name(n.name) as full_name
    from silver.user_identities d
    cross join lateral (select app.discord_name(d.external_id) as name) n
    where d.kind = 'discord' and n.name is not null
      and d.person_id not in (select person_id from app.hidden_persons)
    order by d.person_id, d.external_id
),
-- Each distinct name once: members often share one (`mira`), and a name is compared once.
member_sides as materialized (
    select n.full_name, s.side, s.name, silver.name_trigrams(s.name) as trigrams
    from (select distinct full_name from members) n
    cross join lateral (values ('full', n.full_name),
                               ('bare', btrim(n.full_name, '0123456789'))) s (side, name)
),
-- Each name's trigram carries the name and how many trigrams it has, so that the pairs
-- are scored straight from the join.
member_trigrams as materialized (
    select m.full_name, m.side, m.name, cardinality(m.trigrams) as trigrams, g.trigram
    from member_sides m cross join lateral unnest(m.trigrams) g (trigram)
),
-- Pairs of names that share a trigram, and how many: a name contained in another shares
-- some too.
shared as (
    select p.kind, p.external_id, p.side, p.name as player_side,
           cardinality(p.trigrams) as player_trigrams,
           m.full_name, m.name as member_side, m.trigrams as member_trigrams,
           count(*) as shared
    from player_sides p
    cross join lateral unnest(p.trigrams) g (trigram)
    join member_trigrams m on m.side = p.side and m.trigram = g.trigram
    group by p.kind, p.external_id, p.side, p.name, cardinality(p.trigrams),
             m.full_name, m.name, m.trigrams
),
alike_names as (
    select kind, external_id, full_name,
           max(case when side = 'full' then 1.0 else 0.7 end
               * silver.trigram_name_similarity(player_side, player_trigrams,
                                                member_side, member_trigrams, shared))
               as similarity
    from shared
    group by 1, 2, 3
),
alike as (
    select a.kind, a.external_id, m.person_id, a.similarity
    from alike_names a join members m using (full_name)
),
together as (
    select a.kind, a.external_id, (w.pair ->> 0)::bigint as person_id,
           (w.pair ->> 1)::int as hours
    from review_accounts a
    cross join lateral jsonb_array_elements(a.together) w (pair)
),
candidates as (
    select kind, external_id, person_id, coalesce(n.similarity, 0) as similarity,
           coalesce(t.hours, 0) as together_hours, a.played_hours
    from alike n
    full join together t using (kind, external_id, person_id)
    join review_accounts a using (kind, external_id)
    where person_id in (select person_id from members)
),
-- Worth a look: the names are alike, or they were together for at least three hours and
-- half the account's play time.
scored as (
    select kind, external_id, person_id, similarity, together_hours,
           0.6 * similarity
           + 0.4 * least(together_hours::double precision / greatest(played_hours, 1), 1.0)
               as score
    from candidates
    where similarity >= 0.5
       or (together_hours >= 3
           and together_hours::double precision / greatest(played_hours, 1) >= 0.5)
),
ranked as (
    select *, row_number() over (partition by kind, external_id
                                 order by score desc, person_id) as rank
    from scored
)
select kind, external_id, person_id, similarity, together_hours, score
from ranked
where rank <= 3;

drop table if exists review_suspects;

create temp table review_suspects on commit drop as
with linked as (
    select i.kind, i.external_id, i.person_id
    from silver.user_identities i
    where i.kind in ('steam', 'minecraft')
      and exists (select 1 from silver.user_identities d
                  where d.person_id = i.person_id and d.kind = 'discord')
),
both_servers as materialized (
    select l.kind, l.external_id, l.person_id, count(*) as times,
           max(greatest(a.started_at, b.started_at)) as last_at
    from linked l
    cross join review_window r
    join silver.fact_game_sessions a
      on a.account_kind = l.kind and a.account_id = l.external_id and a.started_at >= r.since
    join silver.fact_game_sessions b
      on b.account_kind = l.kind and b.account_id = l.external_id
     and b.server_id > a.server_id and b.started_at >= r.since - interval '1 day'
    -- An open session lasts until its server was last heard from.
    left join silver.game_server_heard ha on ha.server_id = a.server_id
    left join silver.game_server_heard hb on hb.server_id = b.server_id
    where least(coalesce(a.ended_at, ha.heard_until, a.started_at),
                coalesce(b.ended_at, hb.heard_until, b.started_at))
          - greatest(a.started_at, b.started_at) > interval '5 minutes'
    group by 1, 2, 3
),
-- Days the account played, with the person's Discord activity of the same day: none on
-- any of five or more.
never_online as materialized (
    select l.kind, l.external_id, l.person_id, count(*) as played_days, max(g.day) as last_day
    from linked l
    cross join review_window r
    join silver.activity_daily g
      on g.account_kind = l.kind and g.account_id = l.external_id
     and g.game_seconds > 0 and g.day >= (r.since at time zone 'UTC')::date
    left join silver.activity_daily d
      on d.person_id = l.person_id and d.account_kind = 'discord' and d.day = g.day
     and (d.voice_seconds > 0 or d.messages > 0)
    group by 1, 2, 3
    having count(*) >= 5 and count(d.day) = 0
)
select kind, external_id, person_id, 'two_servers' as reason, times::int as count, last_at
from both_servers
union all
select kind, external_id, person_id, 'never_online', played_days::int,
       last_day::timestamp at time zone 'UTC'
from never_online;

delete from silver.identity_review_accounts;

delete from silver.identity_review_suspects;

delete from silver.identity_review_suggestions;

insert into silver.identity_review_suspects (kind, external_id, person_id, reason, count, last_at)
select kind, external_id, person_id, reason, count, last_at from review_suspects;

insert into silver.identity_review_suggestions
    (kind, external_id, candidate_person, name_similarity, together_hours, score)
select kind, external_id, person_id, similarity, together_hours, score
from review_suggestions;

with written as (
    insert into silver.identity_review_accounts
        (kind, external_id, player_name, played_hours, together)
    select kind, external_id, player_name, played_hours, together from review_accounts
    returning 1
),
stamped as (
    insert into silver.identity_review_state (window_days, computed_at)
    select 90, now from review_window
    on conflict (only_row) do update
        set window_days = excluded.window_days, computed_at = excluded.computed_at
    returning 1
)
select (select count(*) from written)::bigint as rows,
       null::timestamptz as dirty_from,
       null::timestamptz as dirty_to;
