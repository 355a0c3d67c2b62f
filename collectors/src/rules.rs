//! What admins and members decided about recording, as every collector reads it: channels
//! (and categories) an admin excluded, and the accounts of people who opted out. Held in
//! memory and re-read from the database on an interval, so a change applies to running
//! collectors (in this process or a separate `guildhall collect`) without a restart.

use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often running collectors re-read the rules.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(15);

#[derive(Debug, Default)]
struct Snapshot {
    /// Per guild, the excluded channel and category ids.
    excluded: HashMap<i64, HashSet<i64>>,
    /// `(kind, external id)` of every account of an opted-out person.
    opted_out: HashSet<(String, String)>,
    /// [`account_hash`] of every account whose owner opted out (their history is gone;
    /// only this hash is kept, in `app.opted_out_accounts`).
    opted_out_hashes: HashSet<String>,
    /// Admins' decisions which guilds are recorded (`app.discord_guild_tracking`).
    tracking: HashMap<i64, bool>,
}

/// The rules, shared by the steps of every source. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct IngestRules {
    snapshot: Arc<RwLock<Snapshot>>,
    /// When the rules were last read (none: never).
    read_at: Arc<RwLock<Option<std::time::Instant>>>,
}

/// The form an opted-out account is kept in: SHA-256 (hex) of `guildhall-opt-out:kind:id`,
/// the same as the database's `app.account_hash`.
pub fn account_hash(kind: &str, external_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("guildhall-opt-out:{kind}:{external_id}").as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl IngestRules {
    /// Reads the rules from the database.
    pub async fn load(pool: &PgPool) -> sqlx::Result<Self> {
        let rules = Self::default();
        rules.refresh(pool).await?;
        Ok(rules)
    }

    /// Reads the rules again; on an error the previous ones stay in force.
    pub async fn refresh(&self, pool: &PgPool) -> sqlx::Result<()> {
        let excluded_rows: Vec<(i64, i64)> =
            sqlx::query_as("select guild_id, channel_id from app.excluded_channels")
                .fetch_all(pool)
                .await?;
        let opted_out_rows: Vec<(String, String)> = sqlx::query_as(
            "select i.kind, i.external_id
             from app.opt_outs o
             join silver.user_identities i on i.person_id = o.person_id",
        )
        .fetch_all(pool)
        .await?;
        let opted_out_hashes: Vec<String> =
            sqlx::query_scalar("select account_hash from app.opted_out_accounts")
                .fetch_all(pool)
                .await?;
        let tracking_rows: Vec<(i64, bool)> =
            sqlx::query_as("select guild_id, tracked from app.discord_guild_tracking")
                .fetch_all(pool)
                .await?;
        let mut snapshot = Snapshot {
            tracking: tracking_rows.into_iter().collect(),
            ..Snapshot::default()
        };
        for (guild, channel) in excluded_rows {
            snapshot.excluded.entry(guild).or_default().insert(channel);
        }
        snapshot.opted_out = opted_out_rows.into_iter().collect();
        snapshot.opted_out_hashes = opted_out_hashes.into_iter().collect();
        match self.snapshot.write() {
            Ok(mut current) => *current = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
        let now = Some(std::time::Instant::now());
        match self.read_at.write() {
            Ok(mut at) => *at = now,
            Err(poisoned) => *poisoned.into_inner() = now,
        }
        Ok(())
    }

    /// Reads the rules again when they were never read or are older than `max_age`; for
    /// the writers of sources that have no refresh task of their own (log sinks, pollers).
    /// On an error the previous rules stay in force (and the error is logged).
    pub async fn refresh_if_older(&self, pool: &PgPool, max_age: Duration) {
        let stale = match self.read_at.read() {
            Ok(at) => at.is_none_or(|at| at.elapsed() >= max_age),
            Err(_) => true,
        };
        if stale && let Err(error) = self.refresh(pool).await {
            tracing::warn!(error = %error, "cannot re-read the opt-outs; keeping the previous ones");
        }
    }

    /// Re-reads the rules every `interval` (normally [`REFRESH_INTERVAL`]) until `stop`.
    pub async fn keep_fresh(self, pool: PgPool, interval: Duration, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            if let Err(error) = self.refresh(&pool).await {
                tracing::warn!(error = %error, "cannot re-read the excluded channels and opt-outs; keeping the previous ones");
            }
        }
    }

    /// Whether a channel, or the category it is in, is excluded in the guild.
    pub fn is_excluded(&self, guild_id: i64, channel_id: i64, category_id: Option<i64>) -> bool {
        self.read(|snapshot| {
            snapshot.excluded.get(&guild_id).is_some_and(|excluded| {
                excluded.contains(&channel_id) || category_id.is_some_and(|c| excluded.contains(&c))
            })
        })
    }

    /// Whether the account (`kind` discord, steam, minecraft; its external id) belongs to a
    /// person who opted out.
    pub fn is_opted_out(&self, kind: &str, external_id: &str) -> bool {
        self.read(|snapshot| {
            snapshot
                .opted_out
                .contains(&(kind.to_owned(), external_id.to_owned()))
                || (!snapshot.opted_out_hashes.is_empty()
                    && snapshot
                        .opted_out_hashes
                        .contains(&account_hash(kind, external_id)))
        })
    }

    /// The admin's decision whether a guild is recorded, if there is one.
    pub fn tracking(&self, guild_id: i64) -> Option<bool> {
        self.read(|snapshot| snapshot.tracking.get(&guild_id).copied())
    }

    fn read<T>(&self, f: impl FnOnce(&Snapshot) -> T) -> T {
        match self.snapshot.read() {
            Ok(snapshot) => f(&snapshot),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }
}
