//! A deterministic synthetic community for `guildhall demo`, the tests and the benchmarks:
//! its members and their Discord activity ([`community`]) and its game servers
//! ([`games`]), written through the real ingest path.

pub mod community;
pub mod games;

pub use community::*;

use anyhow::Context;
use chrono::Utc;
use collectors::discord::{MemberEvent, MessageEvent, ScheduledEventChange, VoiceEvent};
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::Metrics;
use sqlx::PgPool;

/// True when bronze already holds voice events.
pub async fn has_voice_events(pool: &PgPool) -> anyhow::Result<bool> {
    Ok(
        sqlx::query_scalar("select exists (select 1 from bronze.discord_voice_events)")
            .fetch_one(pool)
            .await?,
    )
}

/// Writes the demo guild and its events (those not in the future) through the ingestion
/// writer. Returns the number of events written.
pub async fn write(pool: &PgPool, params: &DemoParams, metrics: &Metrics) -> anyhow::Result<u64> {
    sqlx::query(
        "insert into app.discord_guilds (guild_id, name, afk_channel_id, observed_until)
         values ($1, 'Demo Guild', $2, now())
         on conflict (guild_id) do update
         set afk_channel_id = excluded.afk_channel_id, observed_until = excluded.observed_until",
    )
    .bind(DEMO_GUILD_ID)
    .bind(DEMO_AFK_CHANNEL_ID)
    .execute(pool)
    .await
    .context("writing the demo guild")?;
    // As the bot would have seen it: the guild's AFK channel (the first observation stands
    // for all of history).
    sqlx::query(
        "insert into bronze.discord_afk_channel_changes (guild_id, afk_channel_id, observed_at)
         select $1, $2, now()
         where not exists (select 1 from bronze.discord_afk_channel_changes where guild_id = $1)",
    )
    .bind(DEMO_GUILD_ID)
    .bind(DEMO_AFK_CHANNEL_ID)
    .execute(pool)
    .await
    .context("writing the demo guild's AFK channel")?;

    let (writer, task) = IngestWriter::<VoiceEvent>::spawn(
        pool.clone(),
        WriterConfig {
            batch_size: 5000,
            flush_interval: std::time::Duration::from_secs(1),
        },
        metrics.clone(),
    );
    // Visits on the last day may run past midnight; what lies in the future is left out,
    // so those members are simply still in voice (open sessions), as in a live community.
    let now = Utc::now();
    let mut written = 0u64;
    for event in generate(params).filter(|event| event.occurred_at <= now) {
        writer.write(event).await?;
        written += 1;
        if written.is_multiple_of(100_000) {
            tracing::info!(events = written, "writing demo events");
        }
    }
    drop(writer);
    task.await.context("the ingestion writer stopped")?;

    let (writer, task) = IngestWriter::<MessageEvent>::spawn(
        pool.clone(),
        WriterConfig {
            batch_size: 5000,
            flush_interval: std::time::Duration::from_secs(1),
        },
        metrics.clone(),
    );
    for message in generate_messages(params).filter(|message| message.created_at <= now) {
        writer.write(message).await?;
        written += 1;
    }
    drop(writer);
    task.await.context("the ingestion writer stopped")?;

    let (writer, task) = IngestWriter::<MemberEvent>::spawn(
        pool.clone(),
        WriterConfig {
            batch_size: 5000,
            flush_interval: std::time::Duration::from_secs(1),
        },
        metrics.clone(),
    );
    for event in generate_member_events(params).filter(|event| event.observed_at <= now) {
        writer.write(event).await?;
        written += 1;
    }
    drop(writer);
    task.await.context("the ingestion writer stopped")?;

    let (writer, task) = IngestWriter::<ScheduledEventChange>::spawn(
        pool.clone(),
        WriterConfig {
            batch_size: 5000,
            flush_interval: std::time::Duration::from_secs(1),
        },
        metrics.clone(),
    );
    for change in generate_scheduled_events(params)
        .into_iter()
        .filter(|change| change.observed_at <= now)
    {
        writer.write(change).await?;
        written += 1;
    }
    drop(writer);
    task.await.context("the ingestion writer stopped")?;
    write_roles_and_invites(pool, params).await?;
    write_channels(pool).await?;
    written += games::write(pool, params, metrics).await?;
    Ok(written)
}

/// The guild's channels and categories by name, as the bot would have recorded them (the
/// admin console's pickers show them).
async fn write_channels(pool: &PgPool) -> anyhow::Result<()> {
    const VOICE: i64 = 910_000_000_000_000_900;
    const TEXT: i64 = 910_000_000_000_000_901;
    let voice_names = ["Lobby", "Gaming 1", "Gaming 2", "Chill", "Stream"];
    let text_names = ["general", "looking-for-group", "clips"];
    let mut rows: Vec<(i64, String, &str, Option<i64>, i32)> = vec![
        (TEXT, "Text".into(), "category", None, 0),
        (VOICE, "Voice".into(), "category", None, 1),
        (DEMO_AFK_CHANNEL_ID, "AFK".into(), "voice", Some(VOICE), 9),
    ];
    for (position, (id, name)) in DEMO_CHANNEL_IDS.iter().zip(voice_names).enumerate() {
        let position = i32::try_from(position).unwrap_or(0);
        rows.push((*id, name.into(), "voice", Some(VOICE), position));
    }
    for (position, (id, name)) in DEMO_TEXT_CHANNEL_IDS.iter().zip(text_names).enumerate() {
        let position = i32::try_from(position).unwrap_or(0);
        rows.push((*id, name.into(), "text", Some(TEXT), position));
    }
    for (id, name, kind, parent, position) in rows {
        sqlx::query(
            "insert into app.discord_channels (guild_id, channel_id, name, kind, parent_id, position)
             values ($1, $2, $3, $4, $5, $6)
             on conflict (guild_id, channel_id) do nothing",
        )
        .bind(DEMO_GUILD_ID)
        .bind(id)
        .bind(name)
        .bind(kind)
        .bind(parent)
        .bind(position)
        .execute(pool)
        .await
        .context("writing the demo guild's channels")?;
    }
    Ok(())
}

/// The guild's roles (Moderator for the first demo login member) and invites, as the bot
/// would have recorded them.
async fn write_roles_and_invites(pool: &PgPool, params: &DemoParams) -> anyhow::Result<()> {
    for (position, (role_id, name)) in DEMO_ROLES.iter().enumerate() {
        sqlx::query(
            "insert into app.discord_roles (guild_id, role_id, name, position)
             values ($1, $2, $3, $4)
             on conflict (guild_id, role_id) do nothing",
        )
        .bind(DEMO_GUILD_ID)
        .bind(role_id)
        .bind(name)
        .bind(i32::try_from(DEMO_ROLES.len() - position).unwrap_or(0))
        .execute(pool)
        .await
        .context("writing the demo roles")?;
    }
    let mut uses: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for event in generate_member_events(params) {
        if let Some(code) = event.source.and_then(|source| source.invite_code) {
            *uses.entry(code).or_default() += 1;
        }
    }
    for (code, inviter) in DEMO_INVITES {
        sqlx::query(
            "insert into app.discord_invites
                 (guild_id, code, channel_id, inviter_id, inviter_name, uses, max_uses, created_at)
             values ($1, $2, $3, $4, $5, $6, 0, now() - interval '1 year')
             on conflict (guild_id, code) do nothing",
        )
        .bind(DEMO_GUILD_ID)
        .bind(code)
        .bind(DEMO_TEXT_CHANNEL_IDS[0])
        .bind(DEMO_USER_BASE + i64::from(inviter))
        .bind(demo_nickname(inviter))
        .bind(i32::try_from(uses.get(code).copied().unwrap_or(0)).unwrap_or(i32::MAX))
        .execute(pool)
        .await
        .context("writing the demo invites")?;
    }
    sqlx::query(
        "insert into app.invite_labels (guild_id, code, label) values ($1, 'twitch', 'Twitch stream')
         on conflict do nothing",
    )
    .bind(DEMO_GUILD_ID)
    .execute(pool)
    .await
    .context("writing the demo invite label")?;
    sqlx::query("update app.discord_guilds set invites_readable = true, invites_checked_at = now() where guild_id = $1")
        .bind(DEMO_GUILD_ID)
        .execute(pool)
        .await
        .context("writing the demo guild's invite permission")?;
    Ok(())
}
