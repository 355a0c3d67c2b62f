-- Erasing a person waits for the pipeline as relinking does: a job that is running read the
-- person's rows before the erasure and would write them back when it commits. Both take the
-- state-row locks of the jobs (the lock each run holds while it runs) through one function,
-- in the same order, so an erasure and a relink never wait for each other in a circle.
-- An opt-out also locks app.opted_out_accounts against the ingest writers, which check the
-- hashes in the transaction that inserts a batch (SHARE): a batch of the person's records
-- that was buffered or spooled before the opt-out is either committed before the erasure
-- (and erased by it) or checked after it (and dropped).

-- Waits for (and holds until commit) the state-row locks of the jobs writing any of
-- p_tables, or of every job when p_tables is null. One order for every caller: the jobs a
-- relink waits for (those writing silver.activity_daily) last, the rest by name; a job that
-- relinks while it runs (link_codes) holds its own lock and then takes theirs, so taking
-- theirs last never waits in a circle with it.
-- (PL/pgSQL: PERFORM reads every row, where a SQL function would stop at the first.)
create function app.lock_pipeline_jobs(p_tables text[]) returns void
language plpgsql
as $$
begin
    perform 1 from app.pipeline_state
    where p_tables is null or outputs && p_tables
    order by outputs && array['silver.activity_daily'], job
    for update;
end
$$;
comment on function app.lock_pipeline_jobs(text[]) is
    'Waits for the running pipeline jobs writing the given tables (all jobs: null) and holds their locks until commit.';

-- The current definition: a relinked account's per-account-day rows move to the new person
-- here, and the days it was active are marked on silver.activity_daily.
create or replace function silver.user_identity_relinked() returns trigger
language plpgsql
as $$
declare
    tz text := app.pipeline_table_timezone('silver.activity_daily');
begin
    -- A running job writing silver.activity_daily read the identities before this change
    -- and would write the old person back: wait for it (it holds its state row while it
    -- runs).
    perform app.lock_pipeline_jobs(array['silver.activity_daily']);
    update silver.activity_daily set person_id = new.person_id
    where account_kind = new.kind and account_id = new.external_id
      and person_id is distinct from new.person_id;
    insert into app.pipeline_dirty_tables (table_name, from_at, to_at)
    select 'silver.activity_daily', i.from_at, i.to_at
    from silver.day_islands(
        array(select day from silver.activity_daily
              where account_kind = new.kind and account_id = new.external_id), tz) i;
    return new;
end
$$;

-- The current definition. Erases a person: every row about them or any of their accounts,
-- in bronze, silver, gold and app, once every running pipeline job has committed (and with
-- the jobs held until this commits); the tables their rows leave are marked as changed over
-- their days (and their memberships from their first join on), so every job reading them
-- counts again without them. With p_keep_hashes, each account is kept as an opted-out hash
-- and the collectors drop its events from now on. Returns the number of accounts erased.
create or replace function app.erase_person(p_person bigint, p_keep_hashes boolean, p_action text)
returns int
language plpgsql
as $$
declare
    tz text := app.pipeline_table_timezone('silver.activity_daily');
    discord_ids bigint[];
    account_kinds text[];
    account_ids text[];
    minecraft_names text[];
    user_ids bigint[];
    first_seen timestamptz;
    n int;
begin
    -- Every running job first, then (an opt-out only: a deleted member's later events are
    -- recorded afresh) the ingest writers' batches in flight: nothing that read or received
    -- the person's rows before this writes them back after it. Ingest waits only while the
    -- rows are deleted, not while a long job finishes.
    perform app.lock_pipeline_jobs(null);
    if p_keep_hashes then
        lock table app.opted_out_accounts in share row exclusive mode;
    end if;
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

    -- Their days are counted again without them: the tables their rows leave below are
    -- marked over the days they were active (their sessions and messages, and their rows of
    -- silver.activity_daily, which are deleted here and not by the pipeline)...
    insert into app.pipeline_dirty_tables (table_name, from_at, to_at)
    select t.table_name, i.from_at, i.to_at
    from silver.day_islands(
             array(select day from silver.activity_daily where person_id = p_person), tz) i,
         unnest(array['silver.fact_voice_sessions', 'silver.fact_chat_daily',
                      'silver.fact_game_sessions', 'silver.activity_daily']) t (table_name);
    -- ...and their memberships and event answers from their first join (or first active
    -- day) on: the member KPIs and events count them from then.
    select least(
        (select min(first_joined_at) from silver.dim_members where discord_user_id = any (discord_ids)),
        (select min(day)::timestamp at time zone tz from silver.activity_daily where person_id = p_person))
      into first_seen;
    if first_seen is not null then
        insert into app.pipeline_dirty_tables (table_name, from_at, to_at)
        select t.table_name, first_seen, 'infinity'
        from unnest(array['silver.dim_members', 'bronze.discord_scheduled_events']) t (table_name);
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
    -- Unreadable lines are kept as their bytes, with no account or name column: theirs
    -- when the bytes hold one of their account ids (a Steam account also in the forms Source
    -- logs write it: [U:1:n], STEAM_0:x:y and STEAM_1:x:y) or Minecraft names.
    delete from bronze.game_log_events e
    where e.kind = 'unparsed' and e.raw_line is not null
      and exists (
          select 1
          from (select unnest(account_ids || minecraft_names) as v
                union all
                select form
                from unnest(account_kinds, account_ids) as a (kind, id),
                     lateral (select a.id::numeric - 76561197960265728 as n) s,
                     unnest(array['[U:1:' || s.n || ']',
                                  'STEAM_0:' || (s.n % 2) || ':' || floor(s.n / 2),
                                  'STEAM_1:' || (s.n % 2) || ':' || floor(s.n / 2)]) form
                where a.kind = 'steam' and a.id ~ '^[0-9]{17}$' and s.n >= 0) needles
          where length(v) >= 3 and position(convert_to(v, 'UTF8') in e.raw_line) > 0);

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
    'Deletes everything about a person (opt-out keeps only hashes of their accounts), unreadable game log lines naming their accounts included; marks the tables their rows left as changed.';
