-- Every configured server, enabled ones first, with its players now (count, capacity, map,
-- names with hidden members left out) and when it was last heard from.
select g.server_id, g.name, g.game, g.enabled,
       -- Now: the last poll when it is fresh (three intervals), else the open log
       -- sessions while the logs are fresh (ten minutes).
       case when p.polled_at > now() - 3 * g.poll_interval_secs * interval '1 second'
            then p.humans
            when h.heard_until > now() - interval '10 minutes'
            then (select count(*)::int from silver.fact_game_sessions s
                  where s.server_id = g.server_id and s.ended_at is null)
       end,
       coalesce(g.capacity_override, nullif(p.max_players, 0)),
       p.map,
       case when p.polled_at > now() - 3 * g.poll_interval_secs * interval '1 second'
            -- Hidden members play on, unnamed.
            then array(select e ->> 'name' from jsonb_array_elements(p.players) e
                       where not exists (
                           select 1 from silver.user_identities i
                           join app.hidden_persons hp on hp.person_id = i.person_id
                           where i.kind in ('steam', 'minecraft')
                             and i.external_id = e ->> 'account_id')
                       order by 1)
       end,
       greatest(p.polled_at, h.heard_until)
from app.game_servers g
left join lateral (select * from bronze.game_status_snapshots s
                   where s.server_id = g.server_id
                   order by s.polled_at desc limit 1) p on true
left join silver.game_server_heard h on h.server_id = g.server_id
order by g.enabled desc, g.name
