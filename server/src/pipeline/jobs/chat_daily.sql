-- chat_daily: bronze.discord_messages -> silver.fact_chat_daily
--
-- Parameters (transaction-local settings, set by the runner):
--   guildhall.from_id, guildhall.to_id   bronze ids in (from_id, to_id] are new
--   guildhall.range_from, guildhall.range_to
--                                        a span [range_from, range_to) to rebuild from
--                                        bronze (a backfill, a changed time zone); empty
--                                        otherwise
--   guildhall.tz                         the community's IANA time zone
-- Each (local day, guild, channel, author) a new message touches is counted again from
-- all of that day's messages, so a replayed or late message changes exactly its day.
-- Returns one row: (rows bigint, dirty_from timestamptz, dirty_to timestamptz): the span of
-- the local days whose rows changed.

drop table if exists chat_keys, chat_deleted;

create temp table chat_keys on commit drop as
with touched as (
    select m.created_at, m.guild_id, coalesce(m.parent_channel_id, m.channel_id) as channel_id,
           m.author_id
    from bronze.discord_messages m
    where m.event_id > current_setting('guildhall.from_id')::bigint
      and m.event_id <= current_setting('guildhall.to_id')::bigint
    union all
    select m.created_at, m.guild_id, coalesce(m.parent_channel_id, m.channel_id), m.author_id
    from bronze.discord_messages m
    where nullif(current_setting('guildhall.range_from'), '') is not null
      and m.created_at >= nullif(current_setting('guildhall.range_from'), '')::timestamptz
      and m.created_at < nullif(current_setting('guildhall.range_to'), '')::timestamptz
)
select distinct (created_at at time zone current_setting('guildhall.tz'))::date as day,
       guild_id, channel_id, author_id
from touched;

-- A rebuilt span drops its rows first: rows of days computed in another time zone go too.
create temp table chat_deleted (day date) on commit drop;
with deleted as (
    delete from silver.fact_chat_daily f
    where nullif(current_setting('guildhall.range_from'), '') is not null
  and f.day >= (nullif(current_setting('guildhall.range_from'), '')::timestamptz
                at time zone current_setting('guildhall.tz'))::date
  and f.day < coalesce(
        (nullif(nullif(current_setting('guildhall.range_to'), ''), 'infinity')::timestamptz
         at time zone current_setting('guildhall.tz'))::date + 1,
        'infinity'::date)
    returning f.day
)
insert into chat_deleted select day from deleted;

-- Every author becomes a person on first sight.
select silver.ensure_discord_persons(array(select distinct author_id from chat_keys));

with counted as (
    select k.day, k.guild_id, k.channel_id, k.author_id,
           count(*)::int as messages,
           sum(m.char_count)::bigint as characters,
           sum(m.attachment_count)::int as attachments,
           (count(*) filter (where m.is_reply))::int as replies
    from chat_keys k
    join bronze.discord_messages m
      on m.guild_id = k.guild_id
     and m.author_id = k.author_id
     and coalesce(m.parent_channel_id, m.channel_id) = k.channel_id
     and m.created_at >= k.day::timestamp at time zone current_setting('guildhall.tz')
     and m.created_at < (k.day + 1)::timestamp at time zone current_setting('guildhall.tz')
    group by k.day, k.guild_id, k.channel_id, k.author_id
),
upserted as (
    insert into silver.fact_chat_daily
        (day, guild_id, channel_id, discord_user_id, messages, characters, attachments, replies)
    select day, guild_id, channel_id, author_id, messages, characters, attachments, replies
    from counted
    on conflict (day, guild_id, channel_id, discord_user_id) do update
        set messages = excluded.messages,
            characters = excluded.characters,
            attachments = excluded.attachments,
            replies = excluded.replies
        -- Unchanged rows stay untouched, so a second run changes nothing.
        where (silver.fact_chat_daily.messages, silver.fact_chat_daily.characters,
               silver.fact_chat_daily.attachments, silver.fact_chat_daily.replies)
              is distinct from
              (excluded.messages, excluded.characters, excluded.attachments, excluded.replies)
    returning day
),
changed as (
    select day from upserted
    union all
    -- Deleted and not written again: the day lost its messages (another time zone).
    select d.day from chat_deleted d
    where not exists (select 1 from silver.fact_chat_daily f where f.day = d.day)
)
select (select count(*) from changed)::bigint as rows,
       (select min(day) from changed)::timestamp at time zone current_setting('guildhall.tz')
           as dirty_from,
       (select max(day) + 1 from changed)::timestamp at time zone current_setting('guildhall.tz')
           as dirty_to;
