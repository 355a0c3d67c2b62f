-- The salt of each day's IP-address hashes. IP addresses (game and web logs) are never
-- stored: only a hash salted with that day's salt. Salts older than two days are deleted,
-- so no later hash can be matched to an address or to another day's hash.
create table app.ip_salts (
    day date primary key,
    salt bytea not null check (length(salt) = 32),
    created_at timestamptz not null default now()
);
