//! The IP-hash step against the real PostgreSQL: one salt per day shared by every process,
//! hashes that match within a day and differ across days, old salts deleted.

use chrono::{DateTime, Utc};
use collectors::steps::IpHasher;
use sqlx::PgPool;
use std::net::IpAddr;

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("time")
        .with_timezone(&Utc)
}

#[sqlx::test(migrations = "../migrations")]
async fn ip_addresses_hash_alike_within_a_day_and_differently_across_days(pool: PgPool) {
    let ip: IpAddr = "203.0.113.7".parse().expect("ip");
    let other: IpAddr = "2001:db8::1".parse().expect("ip");
    let hasher = IpHasher::new(pool.clone());
    assert_eq!(
        hasher.hash(ip, at("2026-11-01T10:00:00Z")),
        None,
        "no salt yet"
    );
    hasher
        .prepare(at("2026-11-01T10:00:00Z"))
        .await
        .expect("salt");
    hasher
        .prepare(at("2026-11-02T01:00:00Z"))
        .await
        .expect("salt");

    let morning = hasher.hash(ip, at("2026-11-01T10:00:00Z")).expect("hash");
    let night = hasher.hash(ip, at("2026-11-01T23:59:00Z")).expect("hash");
    let next_day = hasher.hash(ip, at("2026-11-02T01:00:00Z")).expect("hash");
    assert_eq!(morning, night, "one day, one hash per address");
    assert_ne!(morning, next_day, "the salt rotates daily");
    assert_ne!(
        morning,
        hasher
            .hash(other, at("2026-11-01T10:00:00Z"))
            .expect("hash")
    );
    assert_eq!(morning.len(), 24);
    assert!(
        morning
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{morning}"
    );

    // Another process hashes alike: the salt comes from the database.
    let elsewhere = IpHasher::new(pool.clone());
    elsewhere
        .prepare(at("2026-11-01T12:00:00Z"))
        .await
        .expect("salt");
    assert_eq!(
        elsewhere.hash(ip, at("2026-11-01T12:00:00Z")),
        Some(morning.clone())
    );

    // Days later the old salts are gone, so old hashes can no longer be recomputed.
    hasher
        .prepare(at("2026-11-05T08:00:00Z"))
        .await
        .expect("salt");
    let days: Vec<String> = sqlx::query_scalar("select day::text from app.ip_salts order by day")
        .fetch_all(&pool)
        .await
        .expect("salts");
    assert_eq!(days, vec!["2026-11-05"]);
    assert_eq!(hasher.hash(ip, at("2026-11-01T10:00:00Z")), None);
}
