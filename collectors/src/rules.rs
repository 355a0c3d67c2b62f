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
    /// Admins' decisions which guilds are recorded (`app.discord_guild_tracking`).
    tracking: HashMap<i64, bool>,
}

/// The rules, shared by the steps of every source. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct IngestRules {
    snapshot: Arc<RwLock<Snapshot>>,
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
        match self.snapshot.write() {
            Ok(mut current) => *current = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
        Ok(())
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
