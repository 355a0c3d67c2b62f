//! The pipeline's tests share a small community: one guild with a general, a gaming and an
//! AFK channel, events written through the real ingestion writer, a pipeline on a fixed
//! clock, and what it computed, read back as named rows.

use chrono::{DateTime, NaiveDate, Utc};
use collectors::discord::{
    MemberEvent, MemberEventKind, MemberOrigin, MessageEvent, VoiceEvent, VoiceOrigin,
};
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::Metrics;
use guildhall::clock::Clock;
use guildhall::pipeline::Pipeline;
use sqlx::PgPool;

pub const GUILD: i64 = 1_000;

pub const AFK: i64 = 99;

pub const GENERAL: i64 = 10;

pub const GAMING: i64 = 11;

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("valid timestamp")
        .with_timezone(&Utc)
}

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid day")
}

pub fn event(user: i64, channel: Option<i64>, when: &str) -> VoiceEvent {
    VoiceEvent {
        guild_id: GUILD,
        user_id: user,
        channel_id: channel,
        self_mute: false,
        self_deaf: false,
        origin: VoiceOrigin::Gateway,
        occurred_at: at(when),
    }
}

/// Writes events through the real ingestion writer and waits until they are committed.
pub async fn ingest(pool: &PgPool, metrics: &Metrics, events: Vec<VoiceEvent>) {
    let (writer, task) =
        IngestWriter::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    for e in events {
        writer.write(e).await.expect("writer accepts");
    }
    drop(writer);
    task.await.expect("writer finished");
}

pub async fn guild(pool: &PgPool, observed_until: &str) {
    sqlx::query(
        "insert into app.discord_guilds (guild_id, name, afk_channel_id, observed_until)
         values ($1, 'Test', $2, $3)",
    )
    .bind(GUILD)
    .bind(AFK)
    .bind(at(observed_until))
    .execute(pool)
    .await
    .expect("guild row");
    // The bot saw the AFK channel when it first saw the guild: it stands for all time before.
    sqlx::query(
        "insert into bronze.discord_afk_channel_changes (guild_id, afk_channel_id, observed_at)
         values ($1, $2, '2026-01-01T00:00:00Z')",
    )
    .bind(GUILD)
    .bind(AFK)
    .execute(pool)
    .await
    .expect("AFK channel observation");
}

/// The instant the tests' pipeline takes for "now": expected rows never depend on the date
/// the tests run.
pub const NOW: &str = "2026-12-01T12:00:00Z";

pub fn pipeline(pool: &PgPool, tz: chrono_tz::Tz) -> Pipeline {
    pipeline_at(pool, tz, &Clock::fixed(at(NOW)))
}

pub fn pipeline_at(pool: &PgPool, tz: chrono_tz::Tz, clock: &Clock) -> Pipeline {
    Pipeline::with_clock(pool.clone(), tz, Metrics::new(), clock.clone())
}

/// A row of `silver.fact_voice_sessions`.
#[derive(sqlx::FromRow, Debug, Clone, PartialEq)]
pub struct VoiceSession {
    pub discord_user_id: i64,
    pub channel_id: i64,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub seconds: Option<i64>,
    pub is_afk: bool,
    pub end_reason: Option<String>,
}

pub fn closed(
    user: i64,
    channel: i64,
    from: &str,
    to: &str,
    seconds: i64,
    afk: bool,
    reason: &str,
) -> VoiceSession {
    VoiceSession {
        discord_user_id: user,
        channel_id: channel,
        started_at: at(from),
        ended_at: Some(at(to)),
        seconds: Some(seconds),
        is_afk: afk,
        end_reason: Some(reason.to_owned()),
    }
}

/// A session still open: no end, no length, no reason yet.
pub fn open(user: i64, channel: i64, from: &str) -> VoiceSession {
    VoiceSession {
        discord_user_id: user,
        channel_id: channel,
        started_at: at(from),
        ended_at: None,
        seconds: None,
        is_afk: false,
        end_reason: None,
    }
}

/// Every voice session in silver, by member and start.
pub async fn sessions(pool: &PgPool) -> Vec<VoiceSession> {
    sqlx::query_as(
        "select discord_user_id, channel_id, started_at, ended_at, seconds, is_afk, end_reason
         from silver.fact_voice_sessions order by discord_user_id, started_at",
    )
    .fetch_all(pool)
    .await
    .expect("sessions")
}

pub async fn dau(pool: &PgPool, from: &str, to: &str) -> Vec<(NaiveDate, i32, i32)> {
    sqlx::query_as(
        "select day, dau_total, dau_voice from gold.daily_active_users
         where day between $1::date and $2::date order by day",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
    .expect("dau")
}

/// Everything the pipeline writes, as text, to compare whole states.
pub async fn snapshot(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "select format('%s', s) from silver.fact_voice_sessions s
         union all select format('%s', i) from silver.user_identities i
         union all select format('%s', c) from silver.fact_chat_daily c
         union all select format('%s|%s|%s|%s|%s', day, dau_total, dau_voice, dau_chat, computed_at)
                   from gold.daily_active_users
         order by 1",
    )
    .fetch_all(pool)
    .await
    .expect("snapshot")
}

pub fn message(
    id: i64,
    author: i64,
    channel: i64,
    thread_of: Option<i64>,
    when: &str,
) -> MessageEvent {
    MessageEvent {
        message_id: id,
        guild_id: GUILD,
        channel_id: channel,
        parent_channel_id: thread_of,
        author_id: author,
        created_at: at(when),
        char_count: Some(10),
        attachment_count: 1,
        is_reply: thread_of.is_some(),
    }
}

pub async fn ingest_messages(pool: &PgPool, metrics: &Metrics, messages: Vec<MessageEvent>) {
    let (writer, task) =
        IngestWriter::spawn(pool.clone(), WriterConfig::default(), metrics.clone());
    for m in messages {
        writer.write(m).await.expect("writer accepts");
    }
    drop(writer);
    task.await.expect("writer finished");
}

pub const CHAT: i64 = 20;

pub const THREAD: i64 = 21;

pub fn member_event(user: i64, kind: MemberEventKind, when: &str) -> MemberEvent {
    MemberEvent {
        guild_id: GUILD,
        user_id: user,
        kind,
        joined_at: (kind != MemberEventKind::Leave).then(|| at(when)),
        roles: vec![5, 6],
        nickname: None,
        pending: false,
        origin: MemberOrigin::Gateway,
        observed_at: at(when),
        source: None,
    }
}
