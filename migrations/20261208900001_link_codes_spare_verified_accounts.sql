-- In-game link codes, made safer: an account verified by Steam sign-in or by a Discord
-- connection is never moved to another person by a code (a game server's log is not proof
-- enough against those; an admin can still move it), and the limit on wrong codes counts
-- attempts by when their line was received, not by the time written in the line (which a
-- server can forge, or which is historic in an imported log).

-- Attempts keep when the line was received (`at`, now that time), when the line says it was
-- said, and whose code it was (when the code was known), so the member can see on /me what
-- became of a code of theirs that did not link.
alter table app.link_code_attempts
    add column id bigint generated always as identity,
    add column said_at timestamptz,
    add column user_id bigint references app.users (id) on delete cascade;
create index link_code_attempts_user_idx on app.link_code_attempts (user_id, at desc)
    where user_id is not null;
comment on table app.link_code_attempts is
    'In-game !link attempts per game account and their outcome (linked, unknown, expired, used, limited, verified); at is when the line was received.';
comment on column app.link_code_attempts.at is
    'When the line with the code was received (bronze ingested_at): the limit on wrong codes counts by it.';
comment on column app.link_code_attempts.said_at is
    'When the line says the code was said (the game server''s clock).';
comment on column app.link_code_attempts.user_id is
    'The member the code was made for, when the code was known: they see the outcome on /me.';

-- The five-argument form of 20261207000004 is replaced by the one below.
drop function app.redeem_link_code_hash(text, text, text, text, timestamptz);

-- The current definition (replaces the five-argument form of 20261207000004). Redeems a code, given by its hash, said in game chat by an account at p_said_at
-- (the line's time) and received at p_received_at: links the account to the member who was
-- shown the code. Five wrong or late codes from one account received within 15 minutes,
-- and it is ignored for the rest of them. An account verified by Steam sign-in or a Discord
-- connection as someone else's stays where it is (outcome verified): moving it needs an
-- admin. Returns the outcome: linked, unknown, expired, used, limited or verified.
create function app.redeem_link_code_hash(
    p_code_hash text, p_kind text, p_external_id text, p_display_name text,
    p_said_at timestamptz, p_received_at timestamptz
) returns text
language plpgsql
as $$
declare
    code app.link_codes%rowtype;
    failures int;
    result text;
    owner bigint;
    current_person bigint;
    current_verification text;
    code_person bigint;
begin
    select count(*) into failures from app.link_code_attempts a
    where a.kind = p_kind and a.external_id = p_external_id
      and a.at > p_received_at - interval '15 minutes' and a.outcome <> 'linked';
    if failures >= 5 then
        result := 'limited';
    else
        select * into code from app.link_codes
        where code_hash = p_code_hash
        for update;
        -- A line from before the code existed (an old log imported) cannot carry it.
        if not found or p_said_at < code.created_at - interval '5 minutes' then
            result := 'unknown';
        else
            owner := code.user_id;
            if code.used_at is not null then
                -- The same line again (a resent batch, an import): nothing more to do.
                result := case when code.used_kind = p_kind and code.used_external_id = p_external_id
                                then 'linked' else 'used' end;
            elsif code.expires_at < p_said_at then
                result := 'expired';
            else
                select person_id, verified_by into current_person, current_verification
                from silver.user_identities
                where kind = p_kind and external_id = p_external_id
                for update;
                code_person := silver.person_of_user(code.user_id);
                if current_verification in ('steam_openid', 'oauth_connection')
                   and current_person is distinct from code_person then
                    -- Verified as someone else's: the account stays where it is (the code
                    -- stays valid for another account of the member).
                    result := 'verified';
                else
                    -- Theirs already by a stronger proof: kept as it was verified.
                    if current_verification is distinct from 'steam_openid'
                       and current_verification is distinct from 'oauth_connection' then
                        perform silver.link_identity(p_kind, p_external_id, code_person,
                                                     'ingame_code', code.user_id, p_display_name);
                    end if;
                    update app.link_codes
                    set used_at = p_said_at, used_kind = p_kind, used_external_id = p_external_id
                    where code_hash = code.code_hash;
                    result := 'linked';
                end if;
            end if;
        end if;
    end if;
    insert into app.link_code_attempts (kind, external_id, at, said_at, outcome, user_id)
    values (p_kind, p_external_id, p_received_at, p_said_at, result, owner);
    return result;
end
$$;
comment on function app.redeem_link_code_hash(text, text, text, text, timestamptz, timestamptz) is
    'Redeems an in-game link code (by its hash) said by a game account; returns linked, unknown, expired, used, limited or verified (the account is verified as someone else''s).';

-- The current definition. The `!link` lines among the game log events (from_id, to_id], in
-- the order they were said: each is redeemed for the account that said it, its attempts
-- counted by when the line was received (ingested_at). Minecraft chat names only the
-- player: the account is the UUID of the last `UUID of player` line of that name on that
-- server. A line whose account is unknown is skipped (and logged). Returns how many were
-- redeemed.
create or replace function app.redeem_link_lines(p_from_id bigint, p_to_id bigint) returns bigint
language plpgsql
as $$
declare
    line record;
    outcome text;
    redeemed bigint := 0;
begin
    for line in
        select e.server_id, e.occurred_at, e.ingested_at, e.player_name,
               e.detail ->> 'code_hash' as code_hash,
               coalesce(e.account_kind,
                        case when a.account_id is not null then 'minecraft' end) as kind,
               coalesce(e.account_id, a.account_id) as external_id
        from bronze.game_log_events e
        left join lateral (
            select s.account_id
            from bronze.game_log_events s
            where e.account_id is null and e.player_name is not null
              and s.server_id = e.server_id and s.kind = 'account'
              and s.player_name = e.player_name and s.occurred_at <= e.occurred_at
            order by s.occurred_at desc
            limit 1
        ) a on true
        where e.event_id > p_from_id and e.event_id <= p_to_id
          and e.kind = 'chat' and e.detail ? 'code_hash'
        order by e.occurred_at, e.event_id
    loop
        if line.external_id is null then
            raise log 'a !link code from a player without a known account on server % was ignored',
                line.server_id;
            continue;
        end if;
        outcome := app.redeem_link_code_hash(line.code_hash, line.kind, line.external_id,
                                             line.player_name, line.occurred_at,
                                             line.ingested_at);
        raise log 'in-game link code on server %: %', line.server_id, outcome;
        redeemed := redeemed + 1;
    end loop;
    return redeemed;
end
$$;
