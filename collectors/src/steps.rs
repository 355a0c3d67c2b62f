//! The steps every record passes on its way to bronze (the Plausible model): each may change
//! the record or drop it with a typed reason that is counted. Sources build their chain once
//! (`Steps::new(..).then(..)`) and run each record through it before handing it to the
//! writer. [`IpHasher`] is the step that replaces IP addresses by a salted hash.

use crate::metrics::{DropReason, Metrics};
use chrono::{DateTime, NaiveDate, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::RwLock;

/// One step of an ingest chain.
pub trait IngestStep<R>: Send + Sync {
    /// The step's name, for logs.
    fn name(&self) -> &'static str;

    /// Changes the record, or says why it must not be stored.
    fn apply(&self, record: &mut R) -> Result<(), DropReason>;
}

/// A source's chain of steps.
pub struct Steps<R> {
    source: &'static str,
    metrics: Metrics,
    steps: Vec<Box<dyn IngestStep<R>>>,
}

impl<R> Steps<R> {
    pub fn new(source: &'static str, metrics: Metrics) -> Self {
        Self {
            source,
            metrics,
            steps: Vec::new(),
        }
    }

    /// Adds a step at the end of the chain.
    pub fn then(mut self, step: impl IngestStep<R> + 'static) -> Self {
        self.steps.push(Box::new(step));
        self
    }

    /// Runs a record through every step: the record to write, or `None` when a step dropped
    /// it (counted under its reason).
    pub fn run(&self, mut record: R) -> Option<R> {
        for step in &self.steps {
            if let Err(reason) = step.apply(&mut record) {
                tracing::trace!(source = self.source, step = step.name(), ?reason, "dropped");
                self.metrics.dropped(self.source, reason);
                return None;
            }
        }
        Some(record)
    }
}

/// Replaces IP addresses by a hash salted with a salt of the day, kept in `app.ip_salts` so
/// that every process hashes alike. The same address hashes alike within a day (visits can
/// be counted) and differently across days; salts older than two days are deleted.
pub struct IpHasher {
    pool: PgPool,
    salts: RwLock<HashMap<NaiveDate, [u8; 32]>>,
}

impl IpHasher {
    /// The database it keeps its salts in.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            salts: RwLock::new(HashMap::new()),
        }
    }

    /// Makes sure the salt of `at`'s (UTC) day exists, and deletes salts older than two days.
    pub async fn prepare(&self, at: DateTime<Utc>) -> sqlx::Result<()> {
        let day = at.date_naive();
        let fresh: [u8; 32] = rand::random();
        let salt: Vec<u8> = sqlx::query_scalar(
            "with inserted as (
                 insert into app.ip_salts (day, salt) values ($1, $2)
                 on conflict (day) do nothing
                 returning salt
             )
             select salt from inserted
             union all
             select salt from app.ip_salts where day = $1
             limit 1",
        )
        .bind(day)
        .bind(fresh.as_slice())
        .fetch_one(&self.pool)
        .await?;
        sqlx::query("delete from app.ip_salts where day < $1::date - 2")
            .bind(day)
            .execute(&self.pool)
            .await?;
        let mut salt_bytes = [0u8; 32];
        if salt.len() == 32 {
            salt_bytes.copy_from_slice(&salt);
        }
        if let Ok(mut salts) = self.salts.write() {
            salts.retain(|known, _| *known >= day - chrono::Duration::days(2));
            salts.insert(day, salt_bytes);
        }
        Ok(())
    }

    /// The hash of `ip` for `at`'s day; `None` until [`IpHasher::prepare`] ran for that day.
    pub fn hash(&self, ip: IpAddr, at: DateTime<Utc>) -> Option<String> {
        let salts = self.salts.read().ok()?;
        let salt = salts.get(&at.date_naive())?;
        let mut hasher = Sha256::new();
        hasher.update(salt);
        hasher.update(ip.to_string().as_bytes());
        let digest = hasher.finalize();
        Some(digest[..12].iter().map(|b| format!("{b:02x}")).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct DropOdd;

    impl IngestStep<i32> for DropOdd {
        fn name(&self) -> &'static str {
            "drop_odd"
        }

        fn apply(&self, record: &mut i32) -> Result<(), DropReason> {
            if *record % 2 == 1 {
                Err(DropReason::untracked)
            } else {
                *record *= 10;
                Ok(())
            }
        }
    }

    #[test]
    fn steps_change_records_or_drop_them_with_a_counted_reason() {
        let metrics = Metrics::new();
        let steps = Steps::new("probe", metrics.clone()).then(DropOdd);
        assert_eq!(steps.run(2), Some(20));
        assert_eq!(steps.run(3), None);
        assert_eq!(steps.run(5), None);
        assert_eq!(metrics.dropped_count("probe", DropReason::untracked), 2);
    }
}
