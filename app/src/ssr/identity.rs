//! One person, many accounts: the in-game link codes a member is shown (typed as
//! `!link CODE` in game chat; the pipeline's `link_codes` job redeems them through
//! `app.redeem_link_code_hash`),
//! and linking and unlinking game accounts through the database functions every path uses
//! (`silver.link_identity`, `silver.unlink_identity`), which write the audit log and mark
//! exactly the affected days for recompute.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sqlx::PgPool;

/// Letters and digits that cannot be mistaken for one another (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Characters in a code: 31^8, about 8.5 × 10^11 codes.
const CODE_LENGTH: usize = 8;
/// How long a code can be redeemed.
pub const CODE_VALID_MINUTES: i64 = 15;
/// Codes a member may ask for per hour.
pub const CODES_PER_HOUR: i64 = 5;

/// A code shown to a member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// Why no code was made.
#[derive(Debug, thiserror::Error)]
pub enum CodeError {
    /// [`CODES_PER_HOUR`] codes were asked for in the last hour.
    #[error(
        "{CODES_PER_HOUR} link codes in the last hour: wait a little before asking for another"
    )]
    TooMany,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A new one-time code for the web user `user_id`; only its hash is stored.
pub async fn new_link_code(
    pool: &PgPool,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<LinkCode, CodeError> {
    let recent: i64 = sqlx::query_scalar(
        "select count(*) from app.link_codes where user_id = $1 and created_at > $2",
    )
    .bind(user_id)
    .bind(now - Duration::hours(1))
    .fetch_one(pool)
    .await?;
    if recent >= CODES_PER_HOUR {
        return Err(CodeError::TooMany);
    }
    let code: String = {
        let mut rng = rand::thread_rng();
        (0..CODE_LENGTH)
            .map(|_| char::from(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())]))
            .collect()
    };
    let expires_at = now + Duration::minutes(CODE_VALID_MINUTES);
    sqlx::query(
        "insert into app.link_codes (code_hash, user_id, created_at, expires_at)
         values (app.link_code_hash($1), $2, $3, $4)",
    )
    .bind(&code)
    .bind(user_id)
    .bind(now)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(LinkCode { code, expires_at })
}

/// Gives a Steam or Minecraft account a person of its own again, by `actor` (a web user).
/// Returns false when Guildhall does not know the account.
pub async fn unlink(
    pool: &PgPool,
    kind: &str,
    external_id: &str,
    actor: i64,
) -> Result<bool, sqlx::Error> {
    let person: Option<i64> = sqlx::query_scalar("select silver.unlink_identity($1, $2, $3)")
        .bind(kind)
        .bind(external_id)
        .bind(actor)
        .fetch_one(pool)
        .await?;
    Ok(person.is_some())
}

/// Links a game account to the web user `user_id`'s own person, verified `how`
/// (`oauth_connection`, `steam_openid`).
pub async fn link_own(
    pool: &PgPool,
    user_id: i64,
    kind: &str,
    external_id: &str,
    how: &str,
    display_name: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("select silver.link_identity($1, $2, silver.person_of_user($3), $4, $3, $5)")
        .bind(kind)
        .bind(external_id)
        .bind(user_id)
        .bind(how)
        .bind(display_name)
        .execute(pool)
        .await?;
    Ok(())
}
