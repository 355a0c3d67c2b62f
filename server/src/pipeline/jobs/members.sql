-- members: bronze.discord_member_events -> silver.dim_members
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.from_id, guildhall.to_id   bronze ids in (from_id, to_id] are new
--   guildhall.range_from, guildhall.range_to
--                                        a span whose members are summarised again
--   guildhall.tz                         the community's IANA time zone
-- Each member a new event touches is summarised again from all of their events.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz): from the
-- start of the earliest join month that changed (retention cohorts are by join month).

drop table if exists member_keys;

create temp table member_keys on commit drop as
select distinct e.guild_id, e.user_id
from bronze.discord_member_events e
where (e.event_id > current_setting('guildhall.from_id')::bigint
       and e.event_id <= current_setting('guildhall.to_id')::bigint)
   or (nullif(current_setting('guildhall.range_from'), '') is not null
       and e.observed_at >= nullif(current_setting('guildhall.range_from'), '')::timestamptz
       and e.observed_at < nullif(current_setting('guildhall.range_to'), '')::timestamptz);

-- Every member becomes a person on first sight.
select silver.ensure_discord_persons(array(select distinct user_id from member_keys));

-- Role changes apply to the Guildhall roles of users who signed in (the mapping's admin
-- changes apply at once, through the admin page).
select app.apply_discord_role_mappings(array(select distinct user_id from member_keys));

with events as (
    select e.*,
           row_number() over (partition by e.guild_id, e.user_id
                              order by e.observed_at desc, e.event_id desc) as latest
    from member_keys k
    join bronze.discord_member_events e on e.guild_id = k.guild_id and e.user_id = k.user_id
),
summary as (
    select guild_id, user_id,
           min(joined_at) as first_joined_at,
           max(joined_at) as last_joined_at,
           bool_or(latest = 1 and kind <> 'leave') as is_member,
           max(observed_at) filter (where kind = 'leave') as last_leave,
           bool_or(latest = 1 and kind = 'leave' and origin = 'sync') as noticed,
           -- Discord gives a new join date on each join.
           greatest(count(distinct joined_at) - 1, 0)::int as rejoins
    from events
    group by guild_id, user_id
),
-- Where the first join came from: only a join the bot saw live has a source.
first_source as (
    select distinct on (guild_id, user_id) guild_id, user_id, joined_at, join_source,
           invite_code, inviter_id
    from events
    where kind = 'join' and join_source is not null
    order by guild_id, user_id, joined_at, observed_at, event_id
),
-- The roles of the latest event that has them.
latest_roles as (
    select distinct on (guild_id, user_id) guild_id, user_id, roles
    from events
    where kind <> 'leave'
    order by guild_id, user_id, observed_at desc, event_id desc
),
previous as (
    select m.guild_id, m.discord_user_id, m.first_joined_at
    from silver.dim_members m
    join member_keys k on k.guild_id = m.guild_id and k.user_id = m.discord_user_id
),
upserted as (
    insert into silver.dim_members
        (guild_id, discord_user_id, first_joined_at, last_joined_at, is_member, left_at,
         left_at_noticed, rejoins, roles, join_source, invite_code, inviter_id,
         young_account, updated_at)
    select s.guild_id, s.user_id, s.first_joined_at, s.last_joined_at, s.is_member,
           case when s.is_member then null else s.last_leave end,
           not s.is_member and s.noticed, s.rejoins, coalesce(r.roles, '{}'),
           -- The source belongs to the first join only if that join is the one seen live.
           case when f.join_source = 'invite' then 'invite' else 'unknown' end,
           case when f.join_source = 'invite' then f.invite_code end,
           case when f.join_source = 'invite' then f.inviter_id end,
           -- A snowflake carries its creation time: milliseconds since 2015 in bits 22+.
           coalesce(to_timestamp(((s.user_id >> 22) + 1420070400000) / 1000.0)
                    > s.first_joined_at - interval '3 days', false),
           now()
    from summary s
    left join latest_roles r on r.guild_id = s.guild_id and r.user_id = s.user_id
    left join first_source f
      on f.guild_id = s.guild_id and f.user_id = s.user_id
     and f.joined_at = s.first_joined_at
    on conflict (guild_id, discord_user_id) do update
        set first_joined_at = excluded.first_joined_at,
            last_joined_at = excluded.last_joined_at,
            is_member = excluded.is_member,
            left_at = excluded.left_at,
            left_at_noticed = excluded.left_at_noticed,
            rejoins = excluded.rejoins,
            roles = excluded.roles,
            join_source = excluded.join_source,
            invite_code = excluded.invite_code,
            inviter_id = excluded.inviter_id,
            young_account = excluded.young_account,
            updated_at = excluded.updated_at
        -- Unchanged rows stay untouched, so a second run changes nothing.
        where (silver.dim_members.first_joined_at, silver.dim_members.last_joined_at,
               silver.dim_members.is_member, silver.dim_members.left_at,
               silver.dim_members.left_at_noticed, silver.dim_members.rejoins,
               silver.dim_members.roles, silver.dim_members.join_source,
               silver.dim_members.invite_code, silver.dim_members.young_account)
              is distinct from
              (excluded.first_joined_at, excluded.last_joined_at, excluded.is_member,
               excluded.left_at, excluded.left_at_noticed, excluded.rejoins, excluded.roles,
               excluded.join_source, excluded.invite_code, excluded.young_account)
    returning guild_id, discord_user_id, first_joined_at
),
changed_joins as (
    select first_joined_at as at from upserted
    union all
    select p.first_joined_at from previous p
    join upserted u on u.guild_id = p.guild_id and u.discord_user_id = p.discord_user_id
)
select (select count(*) from upserted)::bigint as rows,
       date_trunc('month', (select min(at) from changed_joins)
                           at time zone current_setting('guildhall.tz'))
           at time zone current_setting('guildhall.tz') as dirty_from,
       null::timestamptz as dirty_to;
