-- Discord roles → Guildhall roles. The bot keeps each tracked guild's roles (for the
-- admin's picker); an admin maps some of them to admin, leader or member; a user's
-- effective role is the higher of the hand-granted role (app.users.role) and the highest
-- role their current Discord roles map to (app.users.discord_role).
create table app.discord_roles (
    guild_id bigint not null,
    role_id bigint not null,
    name text not null,
    position integer not null default 0,
    deleted boolean not null default false,
    updated_at timestamptz not null default now(),
    primary key (guild_id, role_id)
);
comment on table app.discord_roles is 'Roles of each tracked guild as the bot last saw them.';

create table app.discord_role_mappings (
    guild_id bigint not null,
    role_id bigint not null,
    app_role text not null check (app_role in ('admin', 'leader', 'member')),
    updated_by bigint references app.users (id) on delete set null,
    updated_at timestamptz not null default now(),
    primary key (guild_id, role_id)
);
comment on table app.discord_role_mappings is 'Which Discord role gives which Guildhall role.';

alter table app.users add column discord_role text check (discord_role in ('admin', 'leader', 'member'));
comment on column app.users.discord_role is 'The highest Guildhall role the user''s current Discord roles map to; empty when none does.';

-- Sets app.users.discord_role from the latest roles the bot recorded for each user (null:
-- every user) in the guilds they are still members of. Returns how many users changed.
create function app.apply_discord_role_mappings(only_users bigint[]) returns integer
language sql
as $$
    with targets as (
        select u.id, u.discord_user_id, u.discord_role
        from app.users u
        where only_users is null or u.discord_user_id = any(only_users)
    ),
    latest as (
        select distinct on (e.guild_id, e.user_id) e.guild_id, e.user_id, e.kind, e.roles
        from targets t
        join bronze.discord_member_events e on e.user_id = t.discord_user_id
        order by e.guild_id, e.user_id, e.observed_at desc, e.event_id desc
    ),
    mapped as (
        select t.id,
               (select m.app_role
                from latest l
                join app.discord_role_mappings m
                  on m.guild_id = l.guild_id and m.role_id = any(l.roles)
                where l.user_id = t.discord_user_id and l.kind <> 'leave'
                order by app.role_rank(m.app_role) desc
                limit 1) as role
        from targets t
    ),
    changed as (
        update app.users u
        set discord_role = m.role, updated_at = now()
        from mapped m
        where u.id = m.id and u.discord_role is distinct from m.role
        returning 1
    )
    select count(*)::int from changed;
$$;
comment on function app.apply_discord_role_mappings(bigint[]) is
    'Applies the Discord role mapping to the given Discord users (null: all users).';
