//! Invites and roles in Discord: each join is attributed to the invite whose use count rose
//! (or marked unknown, with why), and the guild's roles are kept.

mod support;

use chrono::{Duration as TimeDelta, Utc};
use collectors::metrics::Metrics;
use guildhall::pipeline::Trigger;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;
use support::discord::*;
use support::fake_discord::{self, FakeDiscord};

const WELCOME_INVITE: &str = "welcome";

const STREAM_INVITE: &str = "stream";

/// The source of a join in `bronze.discord_member_events`.
#[derive(sqlx::FromRow, Debug, PartialEq)]
struct JoinSource {
    user_id: i64,
    join_source: Option<String>,
    invite_code: Option<String>,
    inviter_id: Option<i64>,
    join_source_note: Option<String>,
}

async fn join_sources(pool: &PgPool) -> Vec<JoinSource> {
    sqlx::query_as(
        "select user_id, join_source, invite_code, inviter_id, join_source_note
         from bronze.discord_member_events where kind = 'join' order by event_id",
    )
    .fetch_all(pool)
    .await
    .expect("join sources")
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn each_join_is_attributed_to_the_invite_whose_count_rose_and_roles_are_kept(pool: PgPool) {
    let fake = FakeDiscord::start().await;
    fake.set_invites(GUILD, &[(WELCOME_INVITE, &ALICE, 3, 0)]);
    let metrics = Metrics::new();
    let bot = start_bot(&pool, &fake, &metrics);
    let mut spec = guild_spec(vec![]);
    spec.roles = vec![
        (1_100_000_000_000_000_901, "Officer"),
        (1_100_000_000_000_000_902, "Raider"),
    ];
    let conn = connect(&fake, &spec).await;
    wait_for_observed_until(&pool, Utc::now() - TimeDelta::seconds(5)).await;
    let stored_invites = || async {
        sqlx::query_as::<_, (String, Option<i64>, i32)>(
            "select code, inviter_id, uses from app.discord_invites order by code",
        )
        .fetch_all(&pool)
        .await
        .expect("invites")
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while stored_invites().await.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the invites were never stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Dave joins through the welcome invite (its count rises to 4).
    fake.set_invites(GUILD, &[(WELCOME_INVITE, &ALICE, 4, 0)]);
    let n = member_events(&pool).await.len();
    conn.dispatch(
        "GUILD_MEMBER_ADD",
        member_with(&DAVE, "2026-12-01T10:00:00.000000+00:00", &[], None),
    );
    wait_for_member_events(&pool, n + 1).await;
    // Bob creates a one-use invite; Carol joins through it and Discord deletes it at once.
    conn.dispatch(
        "INVITE_CREATE",
        fake_discord::invite_create(GUILD, STREAM_INVITE, &BOB, 1),
    );
    assert_dispatch_is_known(
        "INVITE_CREATE",
        fake_discord::invite_create(GUILD, STREAM_INVITE, &BOB, 1),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while stored_invites().await.len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "INVITE_CREATE was never stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deleted = json!({
        "channel_id": (GUILD + 10).to_string(),
        "guild_id": GUILD.to_string(),
        "code": STREAM_INVITE
    });
    assert_dispatch_is_known("INVITE_DELETE", deleted.clone());
    conn.dispatch("INVITE_DELETE", deleted);
    conn.dispatch(
        "GUILD_MEMBER_ADD",
        member_with(&CAROL, "2026-12-01T11:00:00.000000+00:00", &[], None),
    );
    wait_for_member_events(&pool, n + 2).await;
    // No count rose: a vanity URL or an admin's add.
    conn.dispatch(
        "GUILD_MEMBER_ADD",
        member_with(&BOB, "2026-12-01T12:00:00.000000+00:00", &[], None),
    );
    wait_for_member_events(&pool, n + 3).await;
    // The bot loses Manage Server.
    fake.deny_invites(GUILD);
    conn.dispatch(
        "GUILD_MEMBER_ADD",
        member_with(&ALICE, "2026-12-01T13:00:00.000000+00:00", &[], None),
    );
    wait_for_member_events(&pool, n + 4).await;
    bot.stop().await;

    assert_eq!(
        join_sources(&pool).await,
        vec![
            JoinSource {
                user_id: id(DAVE.id),
                join_source: Some("invite".to_owned()),
                invite_code: Some(WELCOME_INVITE.to_owned()),
                inviter_id: Some(id(ALICE.id)),
                join_source_note: None,
            },
            JoinSource {
                user_id: id(CAROL.id),
                join_source: Some("invite".to_owned()),
                invite_code: Some(STREAM_INVITE.to_owned()),
                inviter_id: Some(id(BOB.id)),
                join_source_note: None,
            },
            JoinSource {
                user_id: id(BOB.id),
                join_source: Some("unknown".to_owned()),
                invite_code: None,
                inviter_id: None,
                join_source_note: Some("not_found".to_owned()),
            },
            JoinSource {
                user_id: id(ALICE.id),
                join_source: Some("unknown".to_owned()),
                invite_code: None,
                inviter_id: None,
                join_source_note: Some("no_permission".to_owned()),
            },
        ]
    );
    let readable: Option<bool> =
        sqlx::query_scalar("select invites_readable from app.discord_guilds where guild_id = $1")
            .bind(id(GUILD))
            .fetch_one(&pool)
            .await
            .expect("readable");
    assert_eq!(
        readable,
        Some(false),
        "the admin page can say why sources are unknown"
    );
    let roles: Vec<(i64, String)> = sqlx::query_as(
        "select role_id, name from app.discord_roles where not deleted order by role_id",
    )
    .fetch_all(&pool)
    .await
    .expect("roles");
    assert_eq!(
        roles,
        vec![
            (1_100_000_000_000_000_901, "Officer".to_owned()),
            (1_100_000_000_000_000_902, "Raider".to_owned())
        ]
    );
    // And its channels by name, for the console's pickers.
    let channels: Vec<(i64, String, String)> = sqlx::query_as(
        "select channel_id, name, kind from app.discord_channels where not deleted
         order by channel_id",
    )
    .fetch_all(&pool)
    .await
    .expect("channels");
    assert_eq!(
        channels,
        vec![
            (id(LOBBY), "Lobby".to_owned(), "voice".to_owned()),
            (id(CS2), "CS2".to_owned(), "voice".to_owned()),
            (id(AFK), "AFK".to_owned(), "voice".to_owned()),
        ]
    );

    // Silver keeps the first join's source; the young account is Dave's only if his id says
    // so (these ids date from 2024).
    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    #[derive(sqlx::FromRow, Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct MemberSource {
        discord_user_id: i64,
        join_source: String,
        invite_code: Option<String>,
        young_account: bool,
    }
    let dim: Vec<MemberSource> = sqlx::query_as(
        "select discord_user_id, join_source, invite_code, young_account
         from silver.dim_members where discord_user_id = any($1) order by discord_user_id",
    )
    .bind(vec![id(DAVE.id), id(CAROL.id)])
    .fetch_all(&pool)
    .await
    .expect("dim_members");
    let mut expected = vec![
        MemberSource {
            discord_user_id: id(CAROL.id),
            join_source: "invite".to_owned(),
            invite_code: Some(STREAM_INVITE.to_owned()),
            young_account: false,
        },
        MemberSource {
            discord_user_id: id(DAVE.id),
            join_source: "invite".to_owned(),
            invite_code: Some(WELCOME_INVITE.to_owned()),
            young_account: false,
        },
    ];
    expected.sort();
    assert_eq!(dim, expected);
}
