-- The persons (at most 20) whose account id, account name, Discord name or person number
-- matches the search, hidden members left out, with their Discord name, active days, last
-- active day and accounts (a JSON array). $1: the search text.
with pattern as (select '%' || replace(replace($1, '%', ''), '_', '') || '%' as p),
hits as (
    select i.person_id from silver.user_identities i, pattern
    where i.external_id = $1 or i.display_name ilike pattern.p
    union
    select i.person_id from silver.user_identities i
    join app.users u on i.kind = 'discord' and i.external_id = u.discord_user_id::text,
         pattern
    where u.username ilike pattern.p or u.display_name ilike pattern.p
    union
    select i.person_id from silver.user_identities i
    join bronze.discord_member_events e
      on i.kind = 'discord' and i.external_id = e.user_id::text, pattern
    where e.nickname ilike pattern.p
    union
    select s.person_id from silver.fact_game_sessions s, pattern
    where s.person_id is not null and s.player_name ilike pattern.p
    union
    select d.person_id from silver.dim_user d where d.person_id::text = $1
),
found as (select person_id from hits
          where person_id is not null
            -- Hidden members are never singled out, not even here.
            and person_id not in (select person_id from app.hidden_persons)
          order by person_id limit 20)
select f.person_id,
       (select app.discord_name(i.external_id) from silver.user_identities i
        where i.person_id = f.person_id and i.kind = 'discord'
        order by i.external_id limit 1),
       (select count(distinct a.day) from silver.activity_daily a where a.person_id = f.person_id),
       (select max(a.day) from silver.activity_daily a where a.person_id = f.person_id),
       coalesce((select jsonb_agg(jsonb_build_object(
                     'kind', i.kind, 'external_id', i.external_id,
                     'display_name', coalesce(i.display_name,
                         (select s.player_name from silver.fact_game_sessions s
                          where s.account_kind = i.kind and s.account_id = i.external_id
                          order by s.started_at desc limit 1)),
                     'verified_by', i.verified_by) order by i.kind, i.external_id)
                 from silver.user_identities i where i.person_id = f.person_id), '[]')
from found f order by f.person_id
