-- The signed-in member's minutes on game servers over the last 30 days, per game, over every
-- account of their person, most first; a game with less than a minute is left out.
-- $1: their Discord user id.
select g.game,
       floor(sum(extract(epoch from
           least(coalesce(s.ended_at, greatest(h.heard_until, s.started_at)), now())
           - greatest(s.started_at, now() - interval '30 days'))) / 60)::bigint
from silver.fact_game_sessions s
join app.game_servers g on g.server_id = s.server_id
left join silver.game_server_heard h on h.server_id = s.server_id
join silver.user_identities i
  on i.kind = s.account_kind and i.external_id = s.account_id
where i.person_id = (select person_id from silver.user_identities
                     where kind = 'discord' and external_id = $1::text)
  and (s.ended_at is null or s.ended_at > now() - interval '30 days')
group by g.game
having sum(extract(epoch from
           least(coalesce(s.ended_at, greatest(h.heard_until, s.started_at)), now())
           - greatest(s.started_at, now() - interval '30 days'))) >= 60
order by 2 desc
