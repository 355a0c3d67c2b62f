//! Gateway benchmark: the real `guildhall collect` process against the fake Discord on
//! loopback (the real serenity client, gateway and REST), in one run:
//!
//! 1. a 100,000-member guild synchronised by member chunks (op 8, GUILD_MEMBERS_CHUNK):
//!    the bot process's peak memory (`VmHWM`);
//! 2. 1,000,000 mixed gateway events (voice state updates, messages, member updates)
//!    through serenity, the handlers and the ingest steps into bronze: events per second,
//!    against a plain `COPY` of the same rows into the same tables.
//!
//! Run with `make bench` (database `guildhall_bench`; `DATABASE_URL` overrides).
//! `BENCH_MEMBERS` and `BENCH_GATEWAY_EVENTS` change the sizes.
// A benchmark reports to the terminal.
#![allow(clippy::print_stdout)]

#[path = "../tests/support/fake_discord.rs"]
#[allow(dead_code)]
mod fake_discord;

use anyhow::Context;
use fake_discord::{FakeDiscord, GuildSpec, Member};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::{Duration, Instant};

const GUILD: u64 = 1_500_000_000_000_000_001;
const LOBBY: u64 = 1_500_000_000_000_000_010;
const CHAT: u64 = 1_500_000_000_000_000_020;
/// Member ids: snowflakes of 2024.
const MEMBER_BASE: u64 = 1_300_000_000_000_000_000;
/// Members per GUILD_MEMBERS_CHUNK (Discord's maximum).
const CHUNK: usize = 1000;
/// Members who talk and use voice in the mixed run.
const ACTIVE: u64 = 10_000;

fn env_number(name: &str, default: usize) -> anyhow::Result<usize> {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .with_context(|| format!("{name} must be a number"))
        })
        .transpose()
        .map(|v| v.unwrap_or(default))
}

fn member(n: u64) -> Member {
    Member {
        id: MEMBER_BASE + n,
        name: "member",
        bot: false,
    }
}

/// `VmRSS` and `VmHWM` (peak) of a process, in MiB.
fn memory(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find(|line| line.starts_with(name))
            .with_context(|| format!("{name} missing"))?;
        let kib: f64 = line
            .split_whitespace()
            .nth(1)
            .context("no value")?
            .parse()?;
        Ok(kib / 1024.0)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// The bot process, stopped whatever way the benchmark ends.
struct KillOnDrop(std::process::Child);

impl KillOnDrop {
    fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn count(pool: &PgPool, sql: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(pool).await?)
}

async fn wait_for(pool: &PgPool, sql: &str, n: i64, limit: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let have = count(pool, sql).await?;
        if have >= n {
            return Ok(started.elapsed());
        }
        anyhow::ensure!(
            started.elapsed() < limit,
            "only {have} of {n} rows after {limit:?} ({sql})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn message(id: u64, author: &Member) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": CHAT.to_string(),
        "guild_id": GUILD.to_string(),
        "author": {
            "id": author.id.to_string(),
            "username": author.name,
            "discriminator": "0",
            "global_name": null,
            "avatar": null,
            "bot": false
        },
        "content": "gg",
        "timestamp": "2026-11-30T18:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0
    })
}

/// The tables the bot writes, as `(table, columns)`: what the COPY yardstick copies.
const TABLES: [(&str, &str); 3] = [
    (
        "bronze.discord_voice_events",
        "source_key, guild_id, user_id, channel_id, self_mute, self_deaf, origin, occurred_at",
    ),
    (
        "bronze.discord_messages",
        "message_id, guild_id, channel_id, parent_channel_id, author_id, created_at, char_count, attachment_count, is_reply",
    ),
    (
        "bronze.discord_member_events",
        "source_key, guild_id, user_id, kind, joined_at, roles, nickname, pending, origin, observed_at",
    ),
];

async fn truncate(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "truncate bronze.discord_voice_events, bronze.discord_messages,
                  bronze.discord_member_events, bronze.discord_scheduled_events,
                  app.discord_roles, app.discord_invites restart identity",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The mixed run's gateway payloads, in the order they are sent: of every ten events five
/// voice updates, four messages and one member update.
fn mixed_payloads(
    events: usize,
    members: u64,
    voice_n: usize,
    message_n: usize,
    update_n: usize,
) -> Vec<(&'static str, Value)> {
    let mut payloads: Vec<(&'static str, Value)> = Vec::with_capacity(events);
    let first_message = {
        let ms = chrono::Utc::now().timestamp_millis() as u64 - 1_420_070_400_000;
        ms << 22
    };
    let (mut voice, mut messages, mut updates) = (0, 0, 0);
    while voice + messages + updates < events {
        for _ in 0..5 {
            if voice < voice_n {
                // Each active member joins the lobby, then leaves, then joins again...
                let who = voice as u64 % ACTIVE;
                let joining = (voice as u64 / ACTIVE).is_multiple_of(2);
                payloads.push((
                    "VOICE_STATE_UPDATE",
                    fake_discord::voice_state_update(
                        GUILD,
                        &member(who),
                        joining.then_some(LOBBY),
                        false,
                    ),
                ));
                voice += 1;
            }
        }
        for _ in 0..4 {
            if messages < message_n {
                let who = member(messages as u64 % ACTIVE);
                payloads.push((
                    "MESSAGE_CREATE",
                    message(first_message + messages as u64, &who),
                ));
                messages += 1;
            }
        }
        if updates < update_n {
            // Each update for another member (their roles change).
            let mut d = fake_discord::member_json(
                &member(updates as u64 % members.max(1)),
                "2025-06-01T10:00:00.000000+00:00",
            );
            d["guild_id"] = json!(GUILD.to_string());
            d["roles"] = json!([(1_500_000_000_000_000_100 + updates as u64 % 7).to_string()]);
            payloads.push(("GUILD_MEMBER_UPDATE", d));
            updates += 1;
        }
    }
    payloads
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/guildhall_bench".into());
    let members = env_number("BENCH_MEMBERS", 100_000)? as u64;
    let events = env_number("BENCH_GATEWAY_EVENTS", 1_000_000)?;
    guildhall::db::create_database_if_missing(&url).await?;
    let pool = guildhall::db::connect(&url).await?;
    guildhall::db::migrate(&pool).await?;
    truncate(&pool).await?;

    let fake = FakeDiscord::start().await;
    let spool = std::env::temp_dir().join(format!("guildhall-bench-spool-{}", std::process::id()));
    let log_path = std::env::temp_dir().join("guildhall-bench-gateway.log");
    let log = std::fs::File::create(&log_path)?;
    let bot = std::process::Command::new(env!("CARGO_BIN_EXE_guildhall"))
        .arg("collect")
        .env("DATABASE_URL", &url)
        .env("DISCORD_BOT_TOKEN", "bench-token")
        .env("GUILDHALL_DISCORD__API_BASE", &fake.api_base)
        .env("GUILDHALL_DISCORD__GUILDS", GUILD.to_string())
        .env("GUILDHALL_SPOOL_DIR", &spool)
        .env("GUILDHALL_METRICS_BIND", "")
        .env("RUST_LOG", "warn")
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("cannot start guildhall collect")?;
    let mut bot = KillOnDrop(bot);
    let pid = bot.0.id();
    println!(
        "gateway benchmark: guildhall collect (pid {pid}), log {}",
        log_path.display()
    );

    let conn = tokio::time::timeout(Duration::from_secs(60), fake.next_connection())
        .await
        .context("the bot never connected")?;
    conn.dispatch("READY", fake_discord::ready(&[GUILD], &fake.gateway_url));
    let mut guild = fake_discord::guild_create(&GuildSpec {
        id: GUILD,
        name: "Bench",
        channels: vec![(LOBBY, "Lobby"), (CHAT, "chat")],
        afk_channel_id: None,
        members: vec![],
        voice: vec![],
        events: vec![],
        roles: vec![],
    });
    guild["member_count"] = json!(members);
    guild["large"] = json!(true);
    conn.dispatch("GUILD_CREATE", guild);
    let started = Instant::now();
    while !conn.received().iter().any(|payload| payload["op"] == 8) {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "no member request (op 8)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (baseline, _) = memory(pid)?;

    // 1. The member list, in chunks of 1,000, as Discord sends it.
    let chunks = (members as usize).div_ceil(CHUNK);
    let sync_started = Instant::now();
    let mut peak: f64 = 0.0;
    for index in 0..chunks {
        let list: Vec<Value> = (0..CHUNK as u64)
            .map(|n| index as u64 * CHUNK as u64 + n)
            .filter(|n| *n < members)
            .map(|n| {
                let mut d =
                    fake_discord::member_json(&member(n), "2025-06-01T10:00:00.000000+00:00");
                d["guild_id"] = json!(GUILD.to_string());
                d
            })
            .collect();
        conn.dispatch(
            "GUILD_MEMBERS_CHUNK",
            json!({
                "guild_id": GUILD.to_string(),
                "members": list,
                "chunk_index": index,
                "chunk_count": chunks,
                "not_found": []
            }),
        );
        if index % 10 == 0 {
            peak = peak.max(memory(pid)?.1);
        }
    }
    let present = "select count(*) from bronze.discord_member_events where kind = 'present'";
    loop {
        peak = peak.max(memory(pid)?.1);
        if count(&pool, present).await? >= members as i64 {
            break;
        }
        anyhow::ensure!(
            sync_started.elapsed() < Duration::from_secs(600),
            "the member list was not synchronised within 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sync_time = sync_started.elapsed();
    let (after_sync, hwm) = memory(pid)?;
    peak = peak.max(hwm);
    println!(
        "member sync: {members} members in {:.1} s; bot memory before {baseline:.0} MiB, \
         peak {peak:.0} MiB, after {after_sync:.0} MiB (target: peak <= 200 MB)",
        sync_time.as_secs_f64()
    );

    // 2. A million mixed events: half voice, 40 % messages, 10 % member updates.
    let voice_n = events / 2;
    let message_n = events * 2 / 5;
    let update_n = events - voice_n - message_n;
    let payloads = mixed_payloads(events, members, voice_n, message_n, update_n);
    let voice_rows = "select count(*) from bronze.discord_voice_events";
    let message_rows = "select count(*) from bronze.discord_messages";
    let update_rows = "select count(*) from bronze.discord_member_events where kind = 'update'";
    let mixed_started = Instant::now();
    for (event, payload) in payloads {
        conn.dispatch(event, payload);
    }
    let limit = Duration::from_secs(900);
    wait_for(&pool, voice_rows, voice_n as i64, limit).await?;
    wait_for(&pool, message_rows, message_n as i64, limit).await?;
    wait_for(&pool, update_rows, update_n as i64, limit).await?;
    let gateway_time = mixed_started.elapsed();
    let (_, hwm) = memory(pid)?;
    bot.stop();
    let _ = std::fs::remove_dir_all(&spool);
    let rate = events as f64 / gateway_time.as_secs_f64();
    println!(
        "mixed gateway events: {events} ({voice_n} voice, {message_n} messages, {update_n} member updates) \
         in {:.1} s = {rate:.0} events/s (target >= 50,000/s); bot peak memory {hwm:.0} MiB",
        gateway_time.as_secs_f64()
    );

    // The yardstick: the same rows (the member updates only) with one plain COPY per table.
    let mut conn = pool.acquire().await?;
    let mut copies = Vec::new();
    for (table, columns) in TABLES {
        let filter = if table == "bronze.discord_member_events" {
            " where kind = 'update'"
        } else {
            ""
        };
        let mut out = conn
            .copy_out_raw(&format!(
                "copy (select {columns} from {table}{filter}) to stdout (format text)"
            ))
            .await?;
        let mut data = Vec::new();
        use futures::StreamExt;
        while let Some(chunk) = out.next().await {
            data.extend_from_slice(&chunk?);
        }
        copies.push((table, columns, data));
    }
    drop(conn);
    truncate(&pool).await?;
    let mut conn = pool.acquire().await?;
    let copy_started = Instant::now();
    for (table, columns, data) in &copies {
        let mut copy = conn
            .copy_in_raw(&format!(
                "copy {table} ({columns}) from stdin (format text)"
            ))
            .await?;
        for piece in data.chunks(1 << 20) {
            copy.send(piece).await?;
        }
        copy.finish().await?;
    }
    let copy_time = copy_started.elapsed();
    drop(conn);
    let copy_rate = events as f64 / copy_time.as_secs_f64();
    println!(
        "plain COPY of the same rows: {:.1} s = {copy_rate:.0} rows/s; gateway / COPY ratio {:.2} (target >= 0.5)",
        copy_time.as_secs_f64(),
        rate / copy_rate
    );
    // 3. The same events through Guildhall's handlers, steps and writers in this process,
    //    each after serenity's cache update, without the gateway: decoding and a task per
    //    event (serenity's share) left out.
    truncate(&pool).await?;
    let metrics = collectors::metrics::Metrics::new();
    let (writers, writer_tasks) = collectors::discord::bot::BotWriters::spawn(
        &pool,
        collectors::ingest::WriterConfig {
            batch_size: 1000,
            flush_interval: Duration::from_secs(1),
        },
        &metrics,
        None,
    );
    let bot = collectors::discord::bot::DiscordBot::new(
        collectors::discord::bot::BotConfig {
            token: "bench-token".to_owned().into(),
            api_base: fake.api_base.clone(),
            guilds: vec![GUILD as i64],
            heartbeat: Duration::from_secs(30),
            rules_refresh: Duration::from_secs(15),
            message_content: false,
        },
        pool.clone(),
        writers,
        metrics,
    );
    let guild = fake_discord::guild_create(&GuildSpec {
        id: GUILD,
        name: "Bench",
        channels: vec![(LOBBY, "Lobby"), (CHAT, "chat")],
        afk_channel_id: None,
        members: vec![],
        voice: vec![],
        events: vec![],
        roles: vec![],
    });
    let path = bot.handler_path(guild).await?;
    enum Decoded {
        Voice(Box<serenity::all::VoiceStateUpdateEvent>),
        Message(Box<serenity::all::Message>),
        Member(Box<serenity::all::GuildMemberUpdateEvent>),
    }
    let decoded = mixed_payloads(events, members, voice_n, message_n, update_n)
        .into_iter()
        .map(|(event, payload)| {
            Ok(match event {
                "VOICE_STATE_UPDATE" => Decoded::Voice(Box::new(serde_json::from_value(payload)?)),
                "MESSAGE_CREATE" => Decoded::Message(Box::new(serde_json::from_value(payload)?)),
                _ => Decoded::Member(Box::new(serde_json::from_value(payload)?)),
            })
        })
        .collect::<anyhow::Result<Vec<Decoded>>>()?;
    let path_started = Instant::now();
    for event in decoded {
        match event {
            Decoded::Voice(update) => path.voice(*update).await?,
            Decoded::Message(message) => path.message(*message).await?,
            Decoded::Member(update) => path.member_update(&update).await?,
        }
    }
    path.finish().await;
    drop(bot);
    for task in writer_tasks {
        task.await?;
    }
    let path_time = path_started.elapsed();
    let stored = count(&pool, voice_rows).await?
        + count(&pool, message_rows).await?
        + count(&pool, update_rows).await?;
    anyhow::ensure!(
        stored == events as i64,
        "the handler path stored {stored} rows"
    );
    let path_rate = events as f64 / path_time.as_secs_f64();
    println!(
        "the same events through Guildhall's handlers, steps and writers (no gateway): {:.1} s = \
         {path_rate:.0} events/s; / COPY ratio {:.2}",
        path_time.as_secs_f64(),
        path_rate / copy_rate
    );
    truncate(&pool).await?;
    Ok(())
}
