-- Secrets of game servers at rest (issue 16): passwords and SFTP keys sealed with
-- XChaCha20-Poly1305 under GUILDHALL_SECRET_KEY (collectors/src/secrets.rs), log ingest
-- tokens kept only as their SHA-256.
--
-- The database cannot seal (the key is not in it), so the clear password columns stay
-- until the first start with a key: `guildhall serve`, `collect` or any `servers` command
-- then seals each clear password into its *_sealed column and empties the clear one in
-- one transaction, and refuses to start while clear passwords remain without a key. Tokens
-- need no key: they are hashed here, so the URLs already in the game servers' configs
-- keep working.
alter table app.game_servers
    add column rcon_password_sealed bytea,
    add column sftp_password_sealed bytea,
    add column sftp_key_sealed bytea,
    add column ingest_token_hash bytea;

comment on column app.game_servers.rcon_password is 'Legacy: an RCON password in clear, from before secrets were sealed; sealed into rcon_password_sealed and emptied at the first start with GUILDHALL_SECRET_KEY.';
comment on column app.game_servers.sftp_password is 'Legacy: an SFTP password in clear, from before secrets were sealed; sealed into sftp_password_sealed and emptied at the first start with GUILDHALL_SECRET_KEY.';
comment on column app.game_servers.rcon_password_sealed is 'The RCON password sealed with GUILDHALL_SECRET_KEY (XChaCha20-Poly1305: version, key id, nonce, ciphertext).';
comment on column app.game_servers.sftp_password_sealed is 'The SFTP password sealed with GUILDHALL_SECRET_KEY.';
comment on column app.game_servers.sftp_key_sealed is 'The SFTP private key (OpenSSH format, without passphrase) sealed with GUILDHALL_SECRET_KEY.';
comment on column app.game_servers.ingest_token_hash is 'SHA-256 of the HTTP log ingest token; the token itself is shown once and never stored.';
comment on column app.game_servers.ingest_token is 'Write-only: a token written here is replaced by its hash (ingest_token_hash) before the row is stored; always empty.';

update app.game_servers
   set ingest_token_hash = sha256(convert_to(ingest_token, 'UTF8'));

alter table app.game_servers
    drop constraint game_servers_ingest_token_key,
    drop constraint game_servers_ingest_token_check,
    alter column ingest_token drop not null,
    alter column ingest_token_hash set not null,
    add constraint game_servers_ingest_token_hash_key unique (ingest_token_hash),
    add constraint game_servers_ingest_token_hash_check check (length(ingest_token_hash) = 32);

-- Whatever writes a token in clear (an older script, a restored insert), only its hash is
-- kept.
create function app.hash_game_server_ingest_token() returns trigger
language plpgsql
as $$
begin
    if new.ingest_token is not null then
        if length(new.ingest_token) < 24 then
            raise exception 'a log ingest token has at least 24 characters'
                using errcode = 'check_violation';
        end if;
        new.ingest_token_hash := sha256(convert_to(new.ingest_token, 'UTF8'));
        new.ingest_token := null;
    end if;
    return new;
end
$$;
comment on function app.hash_game_server_ingest_token() is
    'Replaces a log ingest token written in clear by its SHA-256 (ingest_token_hash), so no token is ever stored.';

create trigger game_servers_hash_ingest_token
    before insert or update of ingest_token on app.game_servers
    for each row execute function app.hash_game_server_ingest_token();

update app.game_servers set ingest_token = null;

alter table app.game_servers
    add constraint game_servers_ingest_token_never_stored check (ingest_token is null);
