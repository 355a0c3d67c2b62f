//! Members in Discord, recorded: the member list at connect, joins, leaves and role changes
//! become bronze member events, and the pipeline keeps `silver.dim_members`.

mod support;

use chrono::{DateTime, Utc};
use collectors::metrics::Metrics;
use guildhall::pipeline::Trigger;
use serde_json::{Value, json};
use sqlx::PgPool;
use support::discord::*;
use support::fake_discord::{self, FakeDiscord, Member};

/// A row of `silver.dim_members`: first join, member now, a leave only noticed, roles.
#[derive(sqlx::FromRow, Debug, PartialEq)]
struct DimMemberRow {
    discord_user_id: i64,
    first_joined_at: Option<DateTime<Utc>>,
    is_member: bool,
    left_at_noticed: bool,
    roles: Vec<i64>,
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn joins_leaves_updates_and_the_member_list_become_bronze_and_dim_members(pool: PgPool) {
    // Dave was recorded as a member in an earlier run; he left while the bot was away.
    sqlx::query(
        "insert into bronze.discord_member_events
             (source_key, guild_id, user_id, kind, joined_at, observed_at)
         values ('earlier', $1, $2, 'join', '2026-01-05T10:00:00Z', '2026-01-05T10:00:00Z')",
    )
    .bind(id(GUILD))
    .bind(id(DAVE.id))
    .execute(&pool)
    .await
    .expect("an earlier member");
    let fake = FakeDiscord::start().await;
    let metrics = Metrics::new();
    let bot = start_bot(&pool, &fake, &metrics);
    let conn = connect(&fake, &guild_spec(vec![])).await;
    // The bot asks for the whole member list (op 8) after GUILD_CREATE.
    wait_until("the member list to be requested", || {
        conn.received().iter().any(|payload| {
            payload["op"] == json!(8) && payload["d"]["guild_id"] == json!(GUILD.to_string())
        })
    })
    .await;
    // Two chunks: Alice and Bob (joined before the bot), and the music bot (not recorded).
    let chunk = |members: Vec<Value>, index: u32| {
        json!({
            "guild_id": GUILD.to_string(),
            "members": members,
            "chunk_index": index,
            "chunk_count": 2,
            "not_found": []
        })
    };
    let chunks = [
        chunk(
            vec![
                member_with(&ALICE, "2025-03-01T10:00:00.000000+00:00", &[77], None),
                member_with(&BOB, "2026-06-15T10:00:00.000000+00:00", &[], Some("bobby")),
            ],
            0,
        ),
        chunk(
            vec![member_with(
                &MUSICBOT,
                "2025-01-01T10:00:00.000000+00:00",
                &[],
                None,
            )],
            1,
        ),
    ];
    for payload in chunks {
        assert_dispatch_is_known("GUILD_MEMBERS_CHUNK", payload.clone());
        conn.dispatch("GUILD_MEMBERS_CHUNK", payload);
    }
    let mut synced = wait_for_member_events(&pool, 4).await;
    // The chunk's members come in map order.
    synced[1..3].sort_by_key(|row| row.user_id);
    let present =
        |member: &Member, joined: &str, roles: Vec<i64>, nick: Option<&str>| MemberEventRow {
            user_id: id(member.id),
            kind: "present".to_owned(),
            joined_at: Some(at(joined)),
            roles,
            nickname: nick.map(str::to_owned),
            origin: "sync".to_owned(),
        };
    let expected_sync = vec![
        MemberEventRow {
            user_id: id(DAVE.id),
            kind: "join".to_owned(),
            joined_at: Some(at("2026-01-05T10:00:00Z")),
            roles: vec![],
            nickname: None,
            origin: "gateway".to_owned(),
        },
        present(&ALICE, "2025-03-01T10:00:00Z", vec![77], None),
        present(&BOB, "2026-06-15T10:00:00Z", vec![], Some("bobby")),
        // Dave is gone from the list: a leave, as noticed now.
        MemberEventRow {
            user_id: id(DAVE.id),
            kind: "leave".to_owned(),
            joined_at: None,
            roles: vec![],
            nickname: None,
            origin: "sync".to_owned(),
        },
    ];
    assert_eq!(synced, expected_sync);

    // Live: Carol joins, Alice gets a role, Bob leaves.
    let join = member_with(&CAROL, "2026-11-30T20:00:00.000000+00:00", &[], None);
    let mut update = member_with(&ALICE, "2025-03-01T10:00:00.000000+00:00", &[77, 78], None);
    update["pending"] = json!(false);
    let leave = json!({
        "guild_id": GUILD.to_string(),
        "user": fake_discord::member_json(&BOB, "2026-06-15T10:00:00.000000+00:00")["user"].clone()
    });
    for (event, payload) in [
        ("GUILD_MEMBER_ADD", join),
        ("GUILD_MEMBER_UPDATE", update),
        ("GUILD_MEMBER_REMOVE", leave),
    ] {
        assert_dispatch_is_known(event, payload.clone());
        let n = member_events(&pool).await.len() + 1;
        conn.dispatch(event, payload);
        wait_for_member_events(&pool, n).await;
    }
    bot.stop().await;
    let live: Vec<(i64, String, Vec<i64>, String)> = member_events(&pool)
        .await
        .into_iter()
        .skip(4)
        .map(|row| (row.user_id, row.kind, row.roles, row.origin))
        .collect();
    assert_eq!(
        live,
        vec![
            (
                id(CAROL.id),
                "join".to_owned(),
                vec![],
                "gateway".to_owned()
            ),
            (
                id(ALICE.id),
                "update".to_owned(),
                vec![77, 78],
                "gateway".to_owned()
            ),
            (id(BOB.id), "leave".to_owned(), vec![], "gateway".to_owned()),
        ]
    );

    // Silver: first join, membership, a leave that was only noticed.
    pipeline(&pool)
        .run_all(Trigger::Manual)
        .await
        .expect("pipeline");
    let members: Vec<DimMemberRow> = sqlx::query_as(
        "select discord_user_id, first_joined_at, is_member, left_at_noticed, roles
         from silver.dim_members order by discord_user_id",
    )
    .fetch_all(&pool)
    .await
    .expect("dim_members");
    assert_eq!(
        members,
        vec![
            DimMemberRow {
                discord_user_id: id(ALICE.id),
                first_joined_at: Some(at("2025-03-01T10:00:00Z")),
                is_member: true,
                left_at_noticed: false,
                roles: vec![77, 78],
            },
            DimMemberRow {
                discord_user_id: id(BOB.id),
                first_joined_at: Some(at("2026-06-15T10:00:00Z")),
                is_member: false,
                left_at_noticed: false,
                roles: vec![],
            },
            DimMemberRow {
                discord_user_id: id(CAROL.id),
                first_joined_at: Some(at("2026-11-30T20:00:00Z")),
                is_member: true,
                left_at_noticed: false,
                roles: vec![],
            },
            DimMemberRow {
                discord_user_id: id(DAVE.id),
                first_joined_at: Some(at("2026-01-05T10:00:00Z")),
                is_member: false,
                left_at_noticed: true,
                roles: vec![],
            },
        ]
    );
}
