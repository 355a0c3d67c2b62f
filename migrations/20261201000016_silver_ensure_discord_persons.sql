-- Every Discord account becomes a person on first sight (identity linking merges later).
-- One place for the rule the jobs that see new accounts (voice, chat, members) share.
create function silver.ensure_discord_persons(user_ids bigint[]) returns void
language sql
as $$
    with new_accounts as (
        select distinct u.user_id
        from unnest(user_ids) as u (user_id)
        where not exists (
            select 1 from silver.user_identities i
            where i.kind = 'discord' and i.external_id = u.user_id::text
        )
    ),
    persons as (
        select user_id,
               nextval(pg_get_serial_sequence('silver.dim_user', 'person_id')) as person_id
        from new_accounts
    ),
    created as (
        insert into silver.dim_user (person_id)
        overriding system value
        select person_id from persons
    )
    insert into silver.user_identities (kind, external_id, person_id, verified_by)
    select 'discord', user_id::text, person_id, 'observed'
    from persons
    on conflict (kind, external_id) do nothing;
$$;
comment on function silver.ensure_discord_persons(bigint[]) is
    'Gives each Discord account without an identity a person of its own.';
