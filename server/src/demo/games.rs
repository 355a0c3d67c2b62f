//! The demo community's game servers: a CS2 server whose logs arrive over HTTP (sessions
//! from its connect and disconnect lines, polls for the map and slots) and a Minecraft
//! server known from its RCON polls and its exporter. A share of the members play, in the
//! community's evening and weekend rhythm, so the game KPIs and the utilization page have
//! something to show. Log lines go through the real parser and ingest steps.

use super::community::{DEMO_USER_BASE, DemoParams, demo_nickname, local_instant, member_profile};
use anyhow::Context;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use collectors::game::event::GameAccount;
use collectors::game::logs::{LogFormat, LogSink, LogStream};
use collectors::game::records::{GameLogRecord, MetricRecord, SnapshotPlayer, StatusRecord};
use collectors::game::steamid::steam_id3;
use collectors::ingest::{IngestWriter, WriterConfig};
use collectors::metrics::Metrics;
use collectors::steps::IpHasher;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sqlx::PgPool;
use std::sync::Arc;

pub const DEMO_CS2_NAME: &str = "Demo CS2";
pub const DEMO_MINECRAFT_NAME: &str = "Demo Minecraft";
/// The demo servers' status polls are 5 minutes apart (the default is 1 minute).
const DEMO_POLL_SECS: i64 = 300;
/// Member `i`'s SteamID64.
pub const DEMO_STEAM_BASE: u64 = 76_561_198_000_000_000;
const CS2_SLOTS: i32 = 20;
const MINECRAFT_SLOTS: i32 = 30;

/// A player's stay on a demo server.
#[derive(Clone, Debug)]
pub struct DemoVisit {
    pub index: u32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// Member `index`'s Minecraft UUID.
pub fn demo_minecraft_uuid(index: u32) -> String {
    format!(
        "00000000-0000-4000-8000-{:012x}",
        0xD3_0000_0000_u64 + u64::from(index)
    )
}

/// A player's Steam accounts with the name each plays under: the first, and for every
/// seventh player a second one.
fn steam_accounts(index: u32) -> Vec<(u64, String)> {
    let mut accounts = vec![(DEMO_STEAM_BASE + u64::from(index), demo_name(index))];
    if index % 7 == 3 {
        accounts.push((
            DEMO_STEAM_BASE + 500_000 + u64::from(index),
            format!("{}_alt", demo_name(index)),
        ));
    }
    accounts
}

/// The Steam account and name a CS2 visit is played with: players with two play every
/// other visit on the second.
fn cs2_account(visit: &DemoVisit) -> (u64, String) {
    let mut accounts = steam_accounts(visit.index);
    let pick = (visit.start.timestamp() / 60).rem_euclid(2) as usize % accounts.len();
    accounts.swap_remove(pick)
}

/// Member `index`'s player name: their server nickname as gamers dress it up, so the
/// identity editor's name suggestions have something real to go on.
fn demo_name(index: u32) -> String {
    let nick = demo_nickname(index);
    match index % 4 {
        0 => format!("xX{nick}Xx"),
        1 => format!("{}_{}", nick.to_lowercase(), 90 + index % 10),
        2 => format!("{nick}TV"),
        _ => nick.to_lowercase(),
    }
}

/// Who plays which game, and when: about 40 % of members play CS2, 30 % Minecraft, some
/// both. A player's evenings follow their Discord profile (the same arrivals, departures and
/// zeal), from a stream of their own.
pub fn generate_visits(params: &DemoParams, minecraft: bool) -> Vec<DemoVisit> {
    let start_day = params.end - Duration::days(i64::from(params.days));
    let mut visits = Vec::new();
    for index in 0..params.members {
        let (member, _) = member_profile(params, index);
        let salt = if minecraft { 0x4D43_0000 } else { 0x4353_3200 };
        let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ (u64::from(index) << 24) ^ salt);
        let plays = rng.gen_bool(if minecraft { 0.3 } else { 0.4 }) || index < 2;
        if !plays {
            continue;
        }
        let zeal: f64 = rng.gen_range(0.3..0.9);
        let mut not_before = DateTime::<Utc>::MIN_UTC;
        for day_index in member.first_day..params.days {
            if member.last_day.is_some_and(|last| day_index > last) {
                break;
            }
            let day: NaiveDate = start_day + Duration::days(i64::from(day_index));
            let weekend = matches!(day.weekday(), Weekday::Fri | Weekday::Sat | Weekday::Sun);
            let chance = (member.daily_chance * zeal * if weekend { 1.5 } else { 1.0 }).min(0.9);
            if !rng.gen_bool(chance) {
                continue;
            }
            let minute = if rng.gen_bool(if weekend { 0.3 } else { 0.1 }) {
                rng.gen_range(13 * 60..18 * 60)
            } else {
                rng.gen_range(18 * 60..23 * 60 + 30)
            };
            let start = local_instant(params.timezone, day, minute).max(not_before);
            let minutes = if minecraft {
                rng.gen_range(20..240)
            } else {
                rng.gen_range(25..150)
            };
            let end = start + Duration::minutes(minutes);
            visits.push(DemoVisit { index, start, end });
            not_before = end + Duration::minutes(30);
        }
    }
    visits.sort_by_key(|v| v.start);
    visits
}

/// The CS2 server's log lines (CS2's HTTP body format), in time order: connects with an
/// address (hashed at ingest), entries, some chat (kept as its length), disconnects, and a
/// restart every night at 05:00.
pub fn cs2_log_lines(
    params: &DemoParams,
    visits: &[DemoVisit],
    now: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, String)> {
    let tz = params.timezone;
    let mut lines: Vec<(DateTime<Utc>, String)> = Vec::new();
    let stamp = |at: DateTime<Utc>| {
        at.with_timezone(&tz)
            .format("%m/%d/%Y - %H:%M:%S%.3f")
            .to_string()
    };
    for (slot, visit) in visits.iter().enumerate() {
        let slot = slot % 60 + 2;
        let (steam, name) = cs2_account(visit);
        let who = format!("\"{name}<{slot}><{}><>\"", steam_id3(steam));
        let address = format!("198.51.100.{}:27005", visit.index % 250 + 1);
        let entered = visit.start + Duration::seconds(4);
        lines.push((
            visit.start,
            format!(
                "{} - {who} connected, address \"{address}\"",
                stamp(visit.start)
            ),
        ));
        lines.push((
            entered,
            format!("{} - {who} entered the game", stamp(entered)),
        ));
        let chat = visit.start + Duration::minutes(3);
        if chat < visit.end {
            lines.push((chat, format!("{} - {who} say \"gg wp\"", stamp(chat))));
        }
        lines.push((
            visit.end,
            format!(
                "{} - {who} disconnected (reason \"NETWORK_DISCONNECT_DISCONNECT_BY_USER\")",
                stamp(visit.end)
            ),
        ));
    }
    let start_day = params.end - Duration::days(i64::from(params.days));
    for day in 0..=params.days {
        let date = start_day + Duration::days(i64::from(day));
        let restart = local_instant(tz, date, 5 * 60);
        lines.push((restart, format!("{} - Log file closed", stamp(restart))));
        let back = restart + Duration::seconds(40);
        lines.push((back, format!("{} - Log file started (file \"logs/demo.log\") (game \"/home/cs2\") (version \"10603\")", stamp(back))));
        lines.push((
            back,
            format!("{} - Loading map \"de_inferno\"", stamp(back)),
        ));
    }
    lines.retain(|(at, _)| *at <= now);
    lines.sort_by_key(|(at, _)| *at);
    lines
}

/// Polls of a server every 5 minutes: who was on it then.
pub fn polls(
    server_id: i64,
    visits: &[DemoVisit],
    params: &DemoParams,
    minecraft: bool,
    now: DateTime<Utc>,
) -> Vec<StatusRecord> {
    let start = local_instant(
        params.timezone,
        params.end - Duration::days(i64::from(params.days)),
        0,
    );
    let mut records = Vec::new();
    let mut at = start;
    let mut next = 0usize;
    let mut online: Vec<&DemoVisit> = Vec::new();
    while at <= now {
        while next < visits.len() && visits[next].start <= at {
            online.push(&visits[next]);
            next += 1;
        }
        online.retain(|v| v.end > at);
        let players: Vec<SnapshotPlayer> = online
            .iter()
            .map(|v| {
                let (name, account) = if minecraft {
                    (
                        demo_name(v.index),
                        GameAccount::Minecraft(demo_minecraft_uuid(v.index)),
                    )
                } else {
                    let (steam, name) = cs2_account(v);
                    (name, GameAccount::Steam(steam))
                };
                SnapshotPlayer {
                    name,
                    account: Some(account),
                    connected_secs: u32::try_from((at - v.start).num_seconds()).ok(),
                    ping: Some(20 + v.index % 60),
                }
            })
            .collect();
        records.push(StatusRecord {
            server_id,
            polled_at: at,
            map: (!minecraft).then(|| "de_inferno".to_owned()),
            humans: i32::try_from(players.len()).unwrap_or(i32::MAX),
            bots: 0,
            max_players: Some(if minecraft {
                MINECRAFT_SLOTS
            } else {
                CS2_SLOTS
            }),
            players,
        });
        at += Duration::seconds(DEMO_POLL_SECS);
    }
    records
}

async fn upsert_server(
    pool: &PgPool,
    name: &str,
    game: &str,
    log_source: &str,
    prometheus: Option<&str>,
) -> anyhow::Result<i64> {
    let token: [u8; 32] = rand::random();
    let token: String = token.iter().map(|b| format!("{b:02x}")).collect();
    let id: i64 = sqlx::query_scalar(
        "insert into app.game_servers (name, game, host, poll_interval_secs, log_source, ingest_token, prometheus_url)
         values ($1, $2, '127.0.0.1', $3, $4, $5, $6)
         on conflict (name) where deleted_at is null do update set updated_at = now()
         returning server_id",
    )
    .bind(name)
    .bind(game)
    .bind(i32::try_from(DEMO_POLL_SECS)?)
    .bind(log_source)
    .bind(token)
    .bind(prometheus)
    .fetch_one(pool)
    .await
    .with_context(|| format!("adding the demo server {name}"))?;
    Ok(id)
}

/// Most players' game accounts are linked to their Discord member, as the in-game code or
/// Steam's Discord connection would have done (both Steam accounts of those with two);
/// every fifth player stays unlinked, a person of their own whose player name resembles
/// their nickname, so the identity editor has suggestions to show. Linking twice changes nothing.
async fn link_demo_players(pool: &PgPool, cs2: &[u32], minecraft: &[u32]) -> anyhow::Result<()> {
    let linked = |index: &&u32| **index % 5 != 4;
    let mut members: Vec<i64> = cs2
        .iter()
        .chain(minecraft)
        .filter(linked)
        .map(|i| DEMO_USER_BASE + i64::from(*i))
        .collect();
    members.sort_unstable();
    members.dedup();
    sqlx::query("select silver.ensure_discord_persons($1)")
        .bind(&members)
        .execute(pool)
        .await?;
    for (kind, how, players) in [
        ("steam", "oauth_connection", cs2),
        ("minecraft", "ingame_code", minecraft),
    ] {
        let players: Vec<u32> = players.iter().filter(linked).copied().collect();
        // (account, owner's index, name): a second Steam account is linked with the first.
        let accounts: Vec<(String, u32, String)> = players
            .iter()
            .flat_map(|&i| {
                if kind == "steam" {
                    steam_accounts(i)
                        .into_iter()
                        .map(|(id, name)| (id.to_string(), i, name))
                        .collect()
                } else {
                    vec![(demo_minecraft_uuid(i), i, demo_name(i))]
                }
            })
            .collect();
        let ids: Vec<String> = accounts.iter().map(|(id, _, _)| id.clone()).collect();
        let owners: Vec<String> = accounts
            .iter()
            .map(|(_, i, _)| (DEMO_USER_BASE + i64::from(*i)).to_string())
            .collect();
        let names: Vec<String> = accounts.iter().map(|(_, _, name)| name.clone()).collect();
        sqlx::query(
            "insert into silver.user_identities (kind, external_id, person_id, verified_by, display_name)
             select $1, a.id, d.person_id, $2, a.name
             from unnest($3::text[], $4::text[], $5::text[]) as a (id, owner, name)
             join silver.user_identities d on d.kind = 'discord' and d.external_id = a.owner
             on conflict (kind, external_id) do nothing",
        )
        .bind(kind)
        .bind(how)
        .bind(&ids)
        .bind(&owners)
        .bind(&names)
        .execute(pool)
        .await
        .with_context(|| format!("linking the demo {kind} accounts"))?;
    }
    Ok(())
}

/// Writes both demo servers' data; returns the records written.
pub async fn write(pool: &PgPool, params: &DemoParams, metrics: &Metrics) -> anyhow::Result<u64> {
    let now = Utc::now();
    // The demo servers have no RCON password and no reachable exporter: the collector has
    // nothing to poll on them, their history is what is written here.
    let cs2 = upsert_server(pool, DEMO_CS2_NAME, "cs2", "http", None).await?;
    let minecraft = upsert_server(pool, DEMO_MINECRAFT_NAME, "minecraft", "none", None).await?;
    let mut written = 0u64;

    let cs2_visits = generate_visits(params, false);
    let minecraft_players: Vec<u32> = generate_visits(params, true)
        .iter()
        .map(|v| v.index)
        .collect();
    link_demo_players(
        pool,
        &cs2_visits.iter().map(|v| v.index).collect::<Vec<_>>(),
        &minecraft_players,
    )
    .await?;
    let (writer, task) = IngestWriter::<GameLogRecord>::spawn(
        pool.clone(),
        WriterConfig {
            batch_size: 5000,
            flush_interval: std::time::Duration::from_secs(1),
        },
        metrics.clone(),
    );
    let sink = LogSink::new(
        writer,
        metrics.clone(),
        Arc::new(IpHasher::new(pool.clone())),
    );
    let tz: Tz = params.timezone;
    let mut stream = LogStream::new(cs2, LogFormat::Hl, tz, params.end, now);
    for (_, line) in cs2_log_lines(params, &cs2_visits, now) {
        stream.push(line.as_bytes());
        stream.push(b"\n");
        if stream.ready() >= 5000 {
            written += sink.commit(stream.take()).await?.new;
        }
    }
    written += sink.commit(stream.take()).await?.new;
    drop(sink);
    let _ = task.await;

    let (writer, task) = IngestWriter::<StatusRecord>::spawn(
        pool.clone(),
        WriterConfig {
            batch_size: 2000,
            flush_interval: std::time::Duration::from_secs(1),
        },
        metrics.clone(),
    );
    let minecraft_visits = generate_visits(params, true);
    for record in polls(cs2, &cs2_visits, params, false, now)
        .into_iter()
        .chain(polls(minecraft, &minecraft_visits, params, true, now))
    {
        writer.write(record).await?;
        written += 1;
    }
    drop(writer);
    let _ = task.await;

    // The Minecraft exporter: TPS dips a little when the server is full.
    let (writer, task) = IngestWriter::<MetricRecord>::spawn(
        pool.clone(),
        WriterConfig {
            batch_size: 2000,
            flush_interval: std::time::Duration::from_secs(1),
        },
        metrics.clone(),
    );
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed ^ 0x7470_7300);
    for poll in polls(minecraft, &minecraft_visits, params, true, now) {
        let players = f64::from(poll.humans);
        writer
            .write(MetricRecord {
                server_id: minecraft,
                scraped_at: poll.polled_at + Duration::seconds(10),
                players_online: Some(players),
                tps: Some((20.0 - players * 0.08 - rng.gen_range(0.0..0.3)).max(5.0)),
                tick_ms: Some(12.0 + players * 1.5 + rng.gen_range(0.0..4.0)),
                memory_used_bytes: Some(2.0e9 + players * 6.0e7),
                memory_max_bytes: Some(6.0e9),
                bad_lines: 0,
            })
            .await?;
        written += 1;
    }
    drop(writer);
    let _ = task.await;
    // The demo CS2 server's logs came in as HTTP posts do: its log source reports success.
    collectors::game::servers::report_source(
        pool,
        cs2,
        collectors::game::servers::SourceKind::Logs,
        None,
    )
    .await?;
    Ok(written)
}
