-- One person, many accounts: who linked an account and under which name, one-time in-game
-- link codes, and the functions every linking path goes through (self-service, in-game
-- code, admin). Moving an identity to another person fires silver.user_identity_relinked,
-- which marks exactly that account's active days for recompute.

alter table silver.user_identities
    add column display_name text,
    add column verified_by_user bigint references app.users (id) on delete set null;
comment on column silver.user_identities.display_name is 'The account''s last known name on its platform (in-game name, Steam persona), where known.';
comment on column silver.user_identities.verified_by_user is 'The web user who made the link (the member themselves, or an admin); empty for first sightings.';

-- In-game link codes: shown to a signed-in member, typed as `!link CODE` in game chat.
-- Only a hash of the code is stored; a code is single-use and valid for 15 minutes.
create table app.link_codes (
    code_hash text primary key,
    user_id bigint not null references app.users (id) on delete cascade,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz,
    used_kind text,
    used_external_id text
);
create index link_codes_user_idx on app.link_codes (user_id, created_at desc);
comment on table app.link_codes is 'One-time in-game link codes (hashed), valid for 15 minutes, single-use.';

-- Every `!link` attempt from a game account, for the rate limit (wrong codes count).
create table app.link_code_attempts (
    kind text not null,
    external_id text not null,
    at timestamptz not null default now(),
    outcome text not null
);
create index link_code_attempts_account_idx on app.link_code_attempts (kind, external_id, at desc);
comment on table app.link_code_attempts is 'In-game !link attempts per game account and their outcome (linked, unknown, expired, used, limited).';

-- The hash a link code is stored under: case and blanks do not matter.
create function app.link_code_hash(code text) returns text
language sql immutable strict
as $$ select encode(sha256(convert_to(upper(btrim(code)), 'UTF8')), 'hex') $$;

-- The person of a web user: the person of their Discord account, created when the bot has
-- not seen them yet.
create function silver.person_of_user(p_user_id bigint) returns bigint
language plpgsql
as $$
declare
    discord bigint;
    person bigint;
begin
    select discord_user_id into discord from app.users where id = p_user_id;
    if discord is null then
        return null;
    end if;
    perform silver.ensure_discord_persons(array[discord]);
    select person_id into person from silver.user_identities
    where kind = 'discord' and external_id = discord::text;
    return person;
end
$$;
comment on function silver.person_of_user(bigint) is 'The person (silver.dim_user) a web user is, through their Discord account.';

-- One audit entry of an identity change, by the web user `p_actor` (none: Guildhall).
create function app.audit_identity(
    p_actor bigint, p_action text, p_subject text, p_before jsonb, p_after jsonb
) returns void
language sql
as $$
    insert into app.audit_log (actor_user_id, actor_name, action, subject, before, after)
    values (p_actor,
            coalesce((select coalesce(display_name, username) from app.users where id = p_actor),
                     'Guildhall'),
            p_action, p_subject, p_before, p_after);
$$;

-- Links a game account to a person (moving it from the person it belonged to), records
-- how and by whom, and writes the audit log. Returns the person it belonged to before
-- (null when it was new). Discord accounts are never moved: one signs in with them.
create function silver.link_identity(
    p_kind text, p_external_id text, p_person bigint, p_verified_by text,
    p_actor bigint, p_display_name text
) returns bigint
language plpgsql
as $$
declare
    before_person bigint;
begin
    if p_kind not in ('steam', 'minecraft') then
        raise exception 'only Steam and Minecraft accounts can be linked (not %)', p_kind;
    end if;
    select person_id into before_person from silver.user_identities
    where kind = p_kind and external_id = p_external_id
    for update;
    if before_person is null then
        insert into silver.user_identities
            (kind, external_id, person_id, verified_by, verified_by_user, display_name)
        values (p_kind, p_external_id, p_person, p_verified_by, p_actor, p_display_name);
    else
        update silver.user_identities
        set person_id = p_person, verified_by = p_verified_by, verified_by_user = p_actor,
            display_name = coalesce(p_display_name, display_name), linked_at = now()
        where kind = p_kind and external_id = p_external_id;
    end if;
    update silver.fact_game_sessions set person_id = p_person
    where account_kind = p_kind and account_id = p_external_id;
    perform app.audit_identity(p_actor, 'identity.link',
            p_kind || ' ' || p_external_id,
            case when before_person is not null then jsonb_build_object('person_id', before_person) end,
            jsonb_build_object('person_id', p_person, 'verified_by', p_verified_by));
    return before_person;
end
$$;
comment on function silver.link_identity(text, text, bigint, text, bigint, text) is
    'Links a Steam or Minecraft account to a person, with how and by whom; writes app.audit_log.';

-- Unlinks a game account: it becomes a person of its own again. Returns the new person.
create function silver.unlink_identity(p_kind text, p_external_id text, p_actor bigint)
returns bigint
language plpgsql
as $$
declare
    before_person bigint;
    new_person bigint;
begin
    if p_kind not in ('steam', 'minecraft') then
        raise exception 'only Steam and Minecraft accounts can be unlinked (not %)', p_kind;
    end if;
    select person_id into before_person from silver.user_identities
    where kind = p_kind and external_id = p_external_id
    for update;
    if before_person is null then
        return null;
    end if;
    insert into silver.dim_user default values returning person_id into new_person;
    update silver.user_identities
    set person_id = new_person, verified_by = 'observed', verified_by_user = null,
        linked_at = now()
    where kind = p_kind and external_id = p_external_id;
    update silver.fact_game_sessions set person_id = new_person
    where account_kind = p_kind and account_id = p_external_id;
    perform app.audit_identity(p_actor, 'identity.unlink',
            p_kind || ' ' || p_external_id,
            jsonb_build_object('person_id', before_person),
            jsonb_build_object('person_id', new_person));
    return new_person;
end
$$;
comment on function silver.unlink_identity(text, text, bigint) is
    'Gives a Steam or Minecraft account a person of its own again; writes app.audit_log.';

-- Merges person p_from into p_into: every account of p_from becomes p_into's (their days
-- are recomputed through the relink trigger); p_from is left without accounts. Returns the
-- accounts moved.
create function silver.merge_persons(p_into bigint, p_from bigint, p_actor bigint)
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
    perform app.audit_identity(p_actor, 'identity.merge',
            'person ' || p_from || ' into person ' || p_into,
            jsonb_build_object('person_id', p_from, 'accounts', moved),
            jsonb_build_object('person_id', p_into, 'accounts', moved));
    return n;
end
$$;
comment on function silver.merge_persons(bigint, bigint, bigint) is
    'Moves every account of one person to another (an admin merge); writes app.audit_log.';

-- `!link CODE` said in game chat by an account: links it to the member who was shown the
-- code. Five wrong or late codes from one account within 15 minutes, and it is ignored for
-- the rest of them. Returns the outcome: linked, unknown, expired, used or limited.
create function app.redeem_link_code(
    p_code text, p_kind text, p_external_id text, p_display_name text, p_at timestamptz
) returns text
language plpgsql
as $$
declare
    code app.link_codes%rowtype;
    failures int;
    result text;
begin
    select count(*) into failures from app.link_code_attempts a
    where a.kind = p_kind and a.external_id = p_external_id
      and a.at > p_at - interval '15 minutes' and a.outcome <> 'linked';
    if failures >= 5 then
        result := 'limited';
    else
        select * into code from app.link_codes
        where code_hash = app.link_code_hash(p_code)
        for update;
        -- A line from before the code existed (an old log imported) cannot carry it.
        if not found or p_at < code.created_at - interval '5 minutes' then
            result := 'unknown';
        elsif code.used_at is not null then
            -- The same line again (a resent batch, an import): nothing more to do.
            result := case when code.used_kind = p_kind and code.used_external_id = p_external_id
                            then 'linked' else 'used' end;
        elsif code.expires_at < p_at then
            result := 'expired';
        else
            perform silver.link_identity(p_kind, p_external_id,
                                         silver.person_of_user(code.user_id),
                                         'ingame_code', code.user_id, p_display_name);
            update app.link_codes
            set used_at = p_at, used_kind = p_kind, used_external_id = p_external_id
            where code_hash = code.code_hash;
            result := 'linked';
        end if;
    end if;
    insert into app.link_code_attempts (kind, external_id, at, outcome)
    values (p_kind, p_external_id, p_at, result);
    return result;
end
$$;
comment on function app.redeem_link_code(text, text, text, text, timestamptz) is
    'Redeems an in-game link code said by a game account; returns linked, unknown, expired, used or limited.';

-- The per-day jobs find game sessions by their end, as they find voice sessions.
create index fact_game_sessions_end_idx on silver.fact_game_sessions (ended_at);
