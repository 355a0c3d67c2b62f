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

/// A name as compared: lower case, letters and digits only (`xX_Mira_99` → `xxmira99`).
fn comparable(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// A name's trigrams (as pg_trgm pads it), sorted and without repeats: two sets are
/// intersected by one merge, with no hashing (the editor compares thousands of pairs).
fn trigrams(name: &str) -> Vec<[char; 3]> {
    let padded: Vec<char> = format!("  {name} ").chars().collect();
    let mut trigrams: Vec<[char; 3]> = padded.windows(3).map(|w| [w[0], w[1], w[2]]).collect();
    trigrams.sort_unstable();
    trigrams.dedup();
    trigrams
}

/// How many trigrams two sorted sets share.
fn shared(a: &[[char; 3]], b: &[[char; 3]]) -> usize {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared
}

/// One side of a comparison, prepared once: a name compared with thousands of others (the
/// editor's suggestions) is lowered and split into trigrams only once.
pub struct ComparableName {
    full: Side,
    /// Without the digits at its ends (`mira_99` → `mira`).
    bare: Side,
}

struct Side {
    text: String,
    chars: usize,
    trigrams: Vec<[char; 3]>,
}

impl Side {
    fn new(text: String) -> Self {
        Side {
            chars: text.chars().count(),
            trigrams: trigrams(&text),
            text,
        }
    }
}

impl ComparableName {
    pub fn new(name: &str) -> Self {
        let full = comparable(name);
        let bare = full.trim_matches(|c: char| c.is_ascii_digit()).to_owned();
        ComparableName {
            full: Side::new(full),
            bare: Side::new(bare),
        }
    }

    /// Its trigrams, with and without the digits at its ends: two names that share none of
    /// them are not alike at all (a name contained in another shares its trigrams too).
    pub fn trigrams(&self) -> impl Iterator<Item = [char; 3]> + '_ {
        self.full
            .trigrams
            .iter()
            .chain(&self.bare.trigrams)
            .copied()
    }

    /// How alike two names are, 0 to 1 (see [`name_similarity`]).
    pub fn similarity(&self, other: &ComparableName) -> f64 {
        raw_similarity(&self.full, &other.full).max(0.7 * raw_similarity(&self.bare, &other.bare))
    }
}

/// The larger of the trigram overlap (as PostgreSQL's pg_trgm counts it) and, when one
/// contains the other (3 characters or more), one half plus half the share of the longer it
/// covers.
fn raw_similarity(a: &Side, b: &Side) -> f64 {
    if a.chars < 2 || b.chars < 2 {
        return 0.0;
    }
    let shared = shared(&a.trigrams, &b.trigrams) as f64;
    let jaccard = shared / (a.trigrams.len() as f64 + b.trigrams.len() as f64 - shared);
    let (short, long) = if a.text.len() <= b.text.len() {
        (a, b)
    } else {
        (b, a)
    };
    let contained = if short.chars >= 3 && long.text.contains(&short.text) {
        0.5 + 0.5 * short.chars as f64 / long.chars as f64
    } else {
        0.0
    };
    jaccard.max(contained)
}

/// How alike a game name and a member name are, 0 to 1. Digits count (`Mira2` is not
/// `Mira5`), but a match without the digits at the ends still counts for 70 % (`mira_99`
/// is probably `Mira`).
pub fn name_similarity(a: &str, b: &str) -> f64 {
    ComparableName::new(a).similarity(&ComparableName::new(b))
}

#[cfg(test)]
mod similarity_tests {
    use super::name_similarity;

    #[test]
    fn the_same_name_in_other_dress_is_alike() {
        assert_eq!(name_similarity("Mira", "mira"), 1.0);
        assert_eq!(name_similarity("xXMiraXx", "Mira"), 0.75);
        assert_eq!(name_similarity("Mira_99", "mira"), 0.5 + 0.5 * 4.0 / 6.0);
    }

    #[test]
    fn numbers_tell_namesakes_apart() {
        let right = name_similarity("moritz2_99", "Moritz2");
        assert_eq!(right, 0.5 + 0.5 * 7.0 / 9.0);
        assert_eq!(name_similarity("moritz2_99", "Moritz5"), 0.7);
        assert_eq!(name_similarity("till6", "Till2"), 0.7);
        assert_eq!(name_similarity("till6", "Till6"), 1.0);
    }

    #[test]
    fn different_names_are_not() {
        assert_eq!(name_similarity("Jonas", "Mira"), 0.0);
        assert!(name_similarity("Miriam", "Mira") < 0.5);
        assert_eq!(name_similarity("", "Mira"), 0.0);
        assert_eq!(name_similarity("42", "17"), 0.0);
    }
}
