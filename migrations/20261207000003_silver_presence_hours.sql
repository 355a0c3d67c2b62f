-- Who was where, by clock hour, over the last year: the identity editor's suggestions
-- compare an unowned game account's hours with the members' hours in voice. The editor
-- expanded every session of the window into hours on each request (25–34 s at 2,000
-- members); job presence_hours keeps the hours instead, for the days that change.

create table silver.voice_presence_hours (
    hour timestamptz not null,
    discord_user_id bigint not null,
    primary key (hour, discord_user_id)
);

comment on table silver.voice_presence_hours is 'Discord accounts in a non-AFK voice channel during some part of a clock hour (UTC hours), over the last 366 days. Open sessions last until the bot last saw their guild. Job presence_hours.';
comment on column silver.voice_presence_hours.hour is 'Start of the clock hour (UTC).';
comment on column silver.voice_presence_hours.discord_user_id is 'The Discord account (silver.user_identities resolves its person).';

create table silver.game_presence_hours (
    account_kind text not null,
    account_id text not null,
    hour timestamptz not null,
    primary key (account_kind, account_id, hour)
);
create index game_presence_hours_hour_idx on silver.game_presence_hours (hour);

comment on table silver.game_presence_hours is 'Game accounts on a tracked game server during some part of a clock hour (UTC hours), over the last 366 days. Open sessions last until their server was last heard from. Job presence_hours.';
comment on column silver.game_presence_hours.account_kind is 'steam or minecraft.';
comment on column silver.game_presence_hours.account_id is 'The account (SteamID64 or Minecraft UUID/name key) as in silver.user_identities.';
comment on column silver.game_presence_hours.hour is 'Start of the clock hour (UTC).';

-- The identity editor's review, kept by job identity_review for the last 90 days: the 30
-- game accounts no member owns that played most, with the hours each member's person was
-- in voice at the same time. Counting those co-present hours touches every member in voice
-- during every hour the accounts played (half a million pairs at 2,000 members): the job
-- does it at most hourly, the editor reads the result.
create table silver.identity_review_accounts (
    kind text not null,
    external_id text not null,
    player_name text,
    played_hours integer not null,
    together jsonb not null,
    primary key (kind, external_id)
);

comment on table silver.identity_review_accounts is 'The identity editor''s unowned game accounts over the last 90 days: the 30 Steam or Minecraft accounts whose person had no Discord account that were on a game server in the most clock hours. Job identity_review, at most hourly (sooner after a backfill).';
comment on column silver.identity_review_accounts.kind is 'steam or minecraft.';
comment on column silver.identity_review_accounts.external_id is 'The game account.';
comment on column silver.identity_review_accounts.player_name is 'The last name it played under.';
comment on column silver.identity_review_accounts.played_hours is 'Clock hours it was on a game server in the window.';
comment on column silver.identity_review_accounts.together is 'JSON array of [person_id, hours]: the hours each person was in non-AFK voice while the account played.';

create table silver.identity_review_suspects (
    kind text not null,
    external_id text not null,
    person_id bigint not null,
    reason text not null check (reason in ('two_servers', 'never_online')),
    count integer not null,
    last_at timestamptz not null,
    primary key (kind, external_id, reason)
);

comment on table silver.identity_review_suspects is 'Links the data contradicts over the last 90 days: a linked Steam or Minecraft account on two servers at once for more than five minutes (two_servers: how often), or one that played on five or more days on none of which its person was in voice or chat (never_online: on how many days). Job identity_review.';
comment on column silver.identity_review_suspects.kind is 'steam or minecraft.';
comment on column silver.identity_review_suspects.external_id is 'The linked game account.';
comment on column silver.identity_review_suspects.person_id is 'The person the account was linked to when this was found.';
comment on column silver.identity_review_suspects.reason is 'two_servers or never_online.';
comment on column silver.identity_review_suspects.count is 'Times on two servers at once, or days played without the person on Discord.';
comment on column silver.identity_review_suspects.last_at is 'The last time it happened (never_online: the start of the last such day, UTC).';

create table silver.identity_review_state (
    only_row boolean primary key default true check (only_row),
    window_days integer not null,
    computed_at timestamptz not null
);

comment on table silver.identity_review_state is 'When silver.identity_review_accounts and silver.identity_review_suspects were last computed, and over how many days.';
comment on column silver.identity_review_state.only_row is 'Always true: the table holds one row.';
comment on column silver.identity_review_state.window_days is 'The days the review covers, up to its computation.';
comment on column silver.identity_review_state.computed_at is 'When the review was last computed (the pipeline''s clock).';

-- An account that is gone (a member erased or opted out) leaves no hour and no review row
-- behind: the hours and the review are derived from it, and a pg_dump must not hold it.
create index voice_presence_hours_account_idx on silver.voice_presence_hours (discord_user_id);

create function silver.forget_account_presence() returns trigger
language plpgsql
as $$
begin
    if old.kind = 'discord' then
        delete from silver.voice_presence_hours where discord_user_id = old.external_id::bigint;
    else
        delete from silver.game_presence_hours
        where account_kind = old.kind and account_id = old.external_id;
        delete from silver.identity_review_accounts
        where kind = old.kind and external_id = old.external_id;
    end if;
    delete from silver.identity_review_suspects
    where (kind = old.kind and external_id = old.external_id) or person_id = old.person_id;
    return old;
end
$$;
create trigger user_identities_forget_presence
    after delete on silver.user_identities
    for each row execute function silver.forget_account_presence();
