-- A member's own data rights (hide me, opt out, delete my account), splitting a person, the
-- Steam accounts a member's Discord connections vouch for, Steam OpenID nonces, and a wake-up
-- call to the pipeline whenever an account changes person.

-- Opted-out accounts, kept only as hashes: the collectors hash every account they see the
-- same way and drop the events of these at the ingest step.
create table app.opted_out_accounts (
    account_hash text primary key,
    opted_out_at timestamptz not null default now()
);
comment on table app.opted_out_accounts is
    'Accounts of members who opted out, as app.account_hash(kind, external_id) only; collectors drop their events.';

-- The hash an opted-out account is kept under (the collectors compute the same in Rust).
create function app.account_hash(p_kind text, p_external_id text) returns text
language sql immutable strict
as $$ select encode(sha256(convert_to('guildhall-opt-out:' || p_kind || ':' || p_external_id, 'UTF8')), 'hex') $$;
comment on function app.account_hash(text, text) is
    'SHA-256 of an account (kind and normalised id), the form opted-out accounts are kept in.';

-- Hidden persons: counted in every total, never named or singled out on a page.
create table app.hidden_persons (
    person_id bigint primary key references silver.dim_user (person_id) on delete cascade,
    hidden_at timestamptz not null default now()
);
comment on table app.hidden_persons is
    'Persons who asked to be hidden: still counted in totals, never named or listed on any page.';

-- The Steam accounts a member's Discord connections show (verified and not revoked only),
-- read at sign-in with the `connections` scope; the member links one with a click.
create table app.discord_connections (
    user_id bigint not null references app.users (id) on delete cascade,
    kind text not null check (kind in ('steam')),
    external_id text not null,
    name text,
    fetched_at timestamptz not null default now(),
    primary key (user_id, kind, external_id)
);
comment on table app.discord_connections is
    'Verified, unrevoked Steam connections of a web user''s Discord account, as of their last sign-in.';

-- Steam OpenID answers already used (a nonce is accepted once). Old ones are purged.
create table app.steam_openid_nonces (
    nonce text primary key,
    used_at timestamptz not null default now()
);
comment on table app.steam_openid_nonces is 'Steam OpenID response nonces already accepted (replays are refused).';

-- Wakes the pipeline (it listens on `guildhall_pipeline`): a changed person of an account
-- is recomputed at once instead of at the next scheduled run.
create function app.wake_pipeline() returns trigger
language plpgsql
as $$
begin
    perform pg_notify('guildhall_pipeline', 'identity');
    return null;
end
$$;
create trigger user_identities_wake_pipeline
    after update of person_id on silver.user_identities
    for each row when (old.person_id is distinct from new.person_id)
    execute function app.wake_pipeline();

-- A merge carries a hidden person's wish over to the person they are merged into (the
-- function of 20261204000001, plus that).
create or replace function silver.merge_persons(p_into bigint, p_from bigint, p_actor bigint)
returns int
language plpgsql
as $$
declare
    moved jsonb;
    n int;
begin
    if p_into = p_from then
        raise exception 'a person cannot be merged into themselves';
    end if;
    if not exists (select 1 from silver.dim_user where person_id = p_into) then
        raise exception 'person % does not exist', p_into;
    end if;
    select coalesce(jsonb_agg(jsonb_build_object('kind', kind, 'external_id', external_id)
                              order by kind, external_id), '[]'), count(*)
      into moved, n
    from silver.user_identities where person_id = p_from;
    if n = 0 then
        raise exception 'person % has no accounts to merge', p_from;
    end if;
    update silver.user_identities
    set person_id = p_into, verified_by = 'admin', verified_by_user = p_actor, linked_at = now()
    where person_id = p_from;
    update silver.fact_game_sessions set person_id = p_into where person_id = p_from;
    update silver.fact_voice_sessions set person_id = p_into where person_id = p_from;
    if exists (select 1 from app.hidden_persons where person_id = p_from) then
        insert into app.hidden_persons (person_id) values (p_into) on conflict do nothing;
    end if;
    perform app.audit_identity(p_actor, 'identity.merge',
            'person ' || p_from || ' into person ' || p_into,
            jsonb_build_object('person_id', p_from, 'accounts', moved),
            jsonb_build_object('person_id', p_into, 'accounts', moved));
    return n;
end
$$;

-- The name a Discord account goes by here: its web name, else its latest server nickname,
-- else the name stored with the identity.
create function app.discord_name(p_discord_user_id text) returns text
language sql
stable
as $$
    select coalesce(
        (select coalesce(u.display_name, u.username) from app.users u
         where u.discord_user_id = p_discord_user_id::bigint),
        (select e.nickname from bronze.discord_member_events e
         where e.user_id = p_discord_user_id::bigint and e.nickname is not null
         order by e.observed_at desc limit 1),
        (select i.display_name from silver.user_identities i
         where i.kind = 'discord' and i.external_id = p_discord_user_id))
$$;

-- Whether the person of a Discord account asked to be hidden: pages that name members
-- (inviters, the role list, the identity editor) leave them out.
create function app.is_hidden_discord(p_discord_user_id bigint) returns boolean
language sql
stable
as $$
    select exists (
        select 1 from silver.user_identities i
        join app.hidden_persons h on h.person_id = i.person_id
        where i.kind = 'discord' and i.external_id = p_discord_user_id::text
    )
$$;

-- Splits a person (undoing a wrong merge or link): the given accounts move to a new person
-- together; at least one account stays. Returns the new person.
create function silver.split_person(
    p_person bigint, p_kinds text[], p_ids text[], p_actor bigint
) returns bigint
language plpgsql
as $$
declare
    moving jsonb;
    n int;
    left_behind int;
    new_person bigint;
begin
    -- An account named twice counts once.
    select array_agg(k order by k, i), array_agg(i order by k, i) into p_kinds, p_ids
    from (select distinct k, i from unnest(p_kinds, p_ids) as a (k, i)) d;
    select coalesce(jsonb_agg(jsonb_build_object('kind', i.kind, 'external_id', i.external_id)
                              order by i.kind, i.external_id), '[]'), count(*)
      into moving, n
    from silver.user_identities i
    join unnest(p_kinds, p_ids) as a (kind, external_id)
      on a.kind = i.kind and a.external_id = i.external_id
    where i.person_id = p_person;
    if n = 0 or n <> cardinality(p_kinds) then
        raise exception 'choose accounts of person % to split off', p_person;
    end if;
    select count(*) into left_behind from silver.user_identities where person_id = p_person;
    if left_behind = n then
        raise exception 'keep at least one account with person %', p_person;
    end if;
    insert into silver.dim_user default values returning person_id into new_person;
    update silver.user_identities i
    set person_id = new_person, verified_by = 'admin', verified_by_user = p_actor,
        linked_at = now()
    from unnest(p_kinds, p_ids) as a (kind, external_id)
    where a.kind = i.kind and a.external_id = i.external_id and i.person_id = p_person;
    update silver.fact_game_sessions s set person_id = new_person
    from unnest(p_kinds, p_ids) as a (kind, external_id)
    where s.account_kind = a.kind and s.account_id = a.external_id;
    -- A second Discord account (after a wrong merge) takes its voice sessions along.
    update silver.fact_voice_sessions v set person_id = new_person
    from unnest(p_kinds, p_ids) as a (kind, external_id)
    where a.kind = 'discord' and v.discord_user_id::text = a.external_id;
    perform app.audit_identity(p_actor, 'identity.split',
            'person ' || p_person || ' into person ' || new_person,
            jsonb_build_object('person_id', p_person, 'accounts', moving),
            jsonb_build_object('person_id', new_person, 'accounts', moving));
    return new_person;
end
$$;
comment on function silver.split_person(bigint, text[], text[], bigint) is
    'Moves some accounts of a person to a new person of their own (an admin split); writes app.audit_log.';

-- Local days as the spans of instants they cover, consecutive days as one span: what a
-- change to those days' rows asks the pipeline to recompute.
create function silver.day_islands(p_days date[], p_tz text)
returns table (from_at timestamptz, to_at timestamptz)
language sql
stable
as $$
    select min(day)::timestamp at time zone p_tz, (max(day) + 1)::timestamp at time zone p_tz
    from (
        select day, day - (dense_rank() over (order by day))::int as island
        from unnest(p_days) as d (day)
    ) days
    group by island
$$;

-- Erases a person: every row about them or any of their accounts, in bronze, silver, gold
-- and app; their days (and the member KPIs from their first join) are marked for
-- recompute, so the numbers are counted again without them. With p_keep_hashes, each
-- account is kept as an opted-out hash and the collectors drop its events from now on.
-- Returns the number of accounts erased.
create function app.erase_person(p_person bigint, p_keep_hashes boolean, p_action text)
returns int
language plpgsql
as $$
declare
    tz text := coalesce(
        (select timezone from app.pipeline_state where job = 'activity_daily'), 'UTC');
    discord_ids bigint[];
    account_kinds text[];
    account_ids text[];
    minecraft_names text[];
    user_ids bigint[];
    first_seen timestamptz;
    n int;
begin
    select array_agg(i.kind order by i.kind, i.external_id),
           array_agg(i.external_id order by i.kind, i.external_id),
           array_agg(i.external_id::bigint) filter (where i.kind = 'discord'),
           count(*)
      into account_kinds, account_ids, discord_ids, n
    from silver.user_identities i where i.person_id = p_person;
    if n is null or n = 0 then
        raise exception 'person % has no accounts', p_person;
    end if;
    discord_ids := coalesce(discord_ids, '{}');
    select array_agg(id) into user_ids from app.users where discord_user_id = any (discord_ids);
    user_ids := coalesce(user_ids, '{}');
    -- Minecraft log lines name the player without the account: their names are kept as
    -- hashes too (lower case, as Minecraft compares them).
    select coalesce(array_agg(distinct lower(name)), '{}') into minecraft_names
    from (
        select display_name as name from silver.user_identities
        where person_id = p_person and kind = 'minecraft'
        union select player_name from silver.fact_game_sessions
        where person_id = p_person and account_kind = 'minecraft'
        union select e.player_name from bronze.game_log_events e
        where e.account_kind = 'minecraft' and e.account_id = any (account_ids)
    ) every_name
    where name is not null and length(name) > 0;

    -- Their days are counted again without them; member KPIs from their first join on.
    -- Their rows are deleted below, so the KPIs read from them are marked as well.
    insert into app.pipeline_dirty_ranges (job, from_at, to_at)
    select job, i.from_at, i.to_at
    from silver.day_islands(
             array(select day from silver.activity_daily where person_id = p_person), tz) i,
         unnest(array['activity_daily', 'daily_active_users', 'server_utilization']) job;
    select least(
        (select min(first_joined_at) from silver.dim_members where discord_user_id = any (discord_ids)),
        (select min(day)::timestamp at time zone tz from silver.activity_daily where person_id = p_person))
      into first_seen;
    if first_seen is not null then
        insert into app.pipeline_dirty_ranges (job, from_at, to_at)
        select job, first_seen, 'infinity'
        from unnest(array['retention_cohorts', 'member_sources', 'discord_comparable', 'events']) job;
    end if;

    -- Bronze.
    delete from bronze.discord_voice_events where user_id = any (discord_ids);
    delete from bronze.discord_messages where author_id = any (discord_ids);
    delete from bronze.discord_member_events where user_id = any (discord_ids);
    update bronze.discord_member_events set inviter_id = null where inviter_id = any (discord_ids);
    delete from bronze.discord_scheduled_events
    where user_id = any (discord_ids) and change like 'user%';
    update bronze.discord_scheduled_events set user_id = null where user_id = any (discord_ids);
    delete from bronze.game_log_events e
    using unnest(account_kinds, account_ids) as a (kind, id)
    where e.account_kind = a.kind and e.account_id = a.id;
    -- Lines and list entries without an account are theirs by their Minecraft name only
    -- (another player's name that happens to equal a nickname of theirs is not).
    delete from bronze.game_log_events
    where account_id is null and lower(player_name) = any (minecraft_names);
    update bronze.game_status_snapshots s
    set players = (select coalesce(jsonb_agg(p), '[]') from jsonb_array_elements(s.players) p
                   where not (p->>'account_id' = any (account_ids)
                              or (p->>'account_id' is null
                                  and lower(p->>'name') = any (minecraft_names))))
    where exists (select 1 from jsonb_array_elements(s.players) p
                  where p->>'account_id' = any (account_ids)
                     or (p->>'account_id' is null and lower(p->>'name') = any (minecraft_names)));
    delete from bronze.rejected_records r
    where exists (select 1 from unnest(account_ids || minecraft_names) v
                  where length(v) >= 3 and strpos(r.payload::text, v) > 0);

    -- Silver.
    delete from silver.fact_voice_sessions where person_id = p_person or discord_user_id = any (discord_ids);
    delete from silver.fact_chat_daily where discord_user_id = any (discord_ids);
    delete from silver.fact_game_sessions s
    where s.person_id = p_person
       or exists (select 1 from unnest(account_kinds, account_ids) as a (kind, id)
                  where s.account_kind = a.kind and s.account_id = a.id)
       or (s.account_id is null and lower(s.player_name) = any (minecraft_names));
    delete from silver.activity_daily where person_id = p_person;
    delete from silver.dim_members where discord_user_id = any (discord_ids);
    update silver.dim_members set inviter_id = null where inviter_id = any (discord_ids);
    delete from silver.event_participants where person_id = p_person;
    delete from silver.user_identities where person_id = p_person;
    delete from app.hidden_persons where person_id = p_person;
    delete from app.opt_outs where person_id = p_person;
    delete from silver.dim_user where person_id = p_person;

    -- Gold keeps no person, but invite sources name the inviter.
    update gold.member_sources set inviter_id = null where inviter_id = any (discord_ids);

    -- App: the web account and whatever names or ids the settings and the audit log hold.
    update app.discord_invites set inviter_id = null, inviter_name = null
    where inviter_id = any (discord_ids);
    delete from app.link_code_attempts a
    using unnest(account_kinds, account_ids) as x (kind, id)
    where a.kind = x.kind and a.external_id = x.id;
    update app.audit_log
    set actor_name = 'a member who left Guildhall', actor_user_id = null
    where actor_user_id = any (user_ids);
    -- Entries about their accounts (subjects and values name the account ids) or their
    -- person; the ids are long and specific, unlike names, which could match anyone's.
    update app.audit_log l
    set subject = 'an erased account', before = null, after = null
    where exists (select 1 from unnest(account_ids) v
                  where strpos(l.subject, v) > 0 or strpos(coalesce(l.before::text, ''), v) > 0
                        or strpos(coalesce(l.after::text, ''), v) > 0)
       or l.subject ~ ('\mperson ' || p_person || '\M')
       or (l.before->>'person_id') = p_person::text
       or (l.after->>'person_id') = p_person::text;
    delete from app.users where id = any (user_ids);

    if p_keep_hashes then
        insert into app.opted_out_accounts (account_hash)
        select app.account_hash(kind, id) from unnest(account_kinds, account_ids) as a (kind, id)
        on conflict do nothing;
        insert into app.opted_out_accounts (account_hash)
        select app.account_hash('minecraft_name', name) from unnest(minecraft_names) name
        on conflict do nothing;
    end if;
    -- What happened, without who.
    insert into app.audit_log (actor_user_id, actor_name, action, subject, before, after)
    values (null, 'a member', p_action, n || ' accounts', null, null);
    perform pg_notify('guildhall_pipeline', 'erase');
    return n;
end
$$;
comment on function app.erase_person(bigint, boolean, text) is
    'Deletes everything about a person (opt-out keeps only hashes of their accounts); marks the KPIs for recompute.';
