//! Tests of the RCON client against the fake RCON server, in each dialect.

use super::*;
use crate::testing::fake_rcon::{FakeRcon, FakeRconConfig};
use std::time::Instant as StdInstant;

const PW: &str = "s3cret";

/// Short timeouts so failures show quickly; spacing left at the default.
fn timeouts() -> RconTimeouts {
    RconTimeouts {
        connect: Duration::from_secs(2),
        auth: Duration::from_secs(2),
        reply: Duration::from_secs(3),
        quiet: Duration::from_millis(50),
        ..RconTimeouts::default()
    }
}

async fn fake(dialect: Dialect) -> FakeRcon {
    FakeRcon::start(FakeRconConfig::new(dialect, PW)).await
}

async fn client(fake: &FakeRcon, dialect: Dialect) -> RconClient {
    RconClient::connect(&fake.addr(), PW, dialect, timeouts())
        .await
        .unwrap()
}

/// ~`len` bytes of numbered lines, so a lost, repeated or reordered packet shows.
fn big_reply(len: usize) -> String {
    let mut s = String::with_capacity(len + 64);
    let mut i = 0;
    while s.len() < len {
        s.push_str(&format!(
            "line {i:06} # userid name \"player{i}\" STEAM_1:0:{i}\n"
        ));
        i += 1;
    }
    s
}

const ALL: [Dialect; 3] = [Dialect::Source, Dialect::Cs2, Dialect::Minecraft];

#[tokio::test]
async fn auth_ok_then_command_for_every_dialect() {
    for dialect in ALL {
        let fake = fake(dialect).await;
        fake.set_reply("status", "hostname: Guildhall\n");
        let mut c = client(&fake, dialect).await;
        assert_eq!(c.exec("status").await.unwrap(), "hostname: Guildhall\n");
        assert_eq!(fake.commands(), vec!["status".to_owned()]);
    }
}

#[tokio::test]
async fn wrong_password_is_bad_password_for_every_dialect() {
    // Source and Minecraft answer id -1; CS2 closes the socket.
    for dialect in ALL {
        let fake = fake(dialect).await;
        let err = RconClient::connect(&fake.addr(), "wrong", dialect, timeouts())
            .await
            .unwrap_err();
        assert!(
            matches!(err, RconError::BadPassword),
            "{dialect:?}: {err:?}"
        );
        assert!(!err.is_retryable());
    }
}

#[tokio::test]
async fn cs2_auth_tolerates_empty_response_value_first() {
    let mut config = FakeRconConfig::new(Dialect::Cs2, PW);
    config.cs2_empty_before_auth = true;
    let fake = FakeRcon::start(config).await;
    let mut c = client(&fake, Dialect::Cs2).await;
    assert_eq!(c.exec("bogus").await.unwrap(), "Unknown command 'bogus'!");
}

#[tokio::test]
async fn source_10kb_reply_in_several_packets_is_byte_identical() {
    let fake = fake(Dialect::Source).await;
    let reply = big_reply(10 * 1024);
    fake.set_reply("cvarlist", &reply);
    let mut c = client(&fake, Dialect::Source).await;
    assert_eq!(c.exec("cvarlist").await.unwrap(), reply);
    // The trailer after the mirror does not leak into the next reply.
    assert_eq!(
        c.exec("bogus").await.unwrap(),
        "Unknown command \"bogus\"\n"
    );
}

#[tokio::test]
async fn source_without_trailer_packet_works() {
    let mut config = FakeRconConfig::new(Dialect::Source, PW);
    config.source_trailer = false;
    let fake = FakeRcon::start(config).await;
    fake.set_reply("a", "first");
    fake.set_reply("b", "second");
    let mut c = client(&fake, Dialect::Source).await;
    assert_eq!(c.exec("a").await.unwrap(), "first");
    assert_eq!(c.exec("b").await.unwrap(), "second");
}

#[tokio::test]
async fn minecraft_10kb_reply_split_at_4096_with_terminator_is_byte_identical() {
    let fake = fake(Dialect::Minecraft).await;
    let reply = big_reply(10 * 1024);
    fake.set_reply("list", &reply);
    let mut c = client(&fake, Dialect::Minecraft).await;
    assert_eq!(c.exec("list").await.unwrap(), reply);
    // The terminator's "Unknown request 64" never shows up in a reply.
    let unknown = c.exec("nosuch").await.unwrap();
    assert_eq!(
        unknown,
        "Unknown or incomplete command, see below for errornosuch<--[HERE]"
    );
}

#[tokio::test]
async fn cs2_200kb_single_packet_reply_is_byte_identical() {
    let fake = fake(Dialect::Cs2).await;
    let reply = big_reply(200 * 1024);
    fake.set_reply("cvarlist", &reply);
    let mut c = client(&fake, Dialect::Cs2).await;
    assert_eq!(c.exec("cvarlist").await.unwrap(), reply);
}

#[tokio::test]
async fn frame_over_1mib_is_protocol_error() {
    let fake = fake(Dialect::Cs2).await;
    fake.set_reply("huge", &"x".repeat(MAX_FRAME));
    let mut c = client(&fake, Dialect::Cs2).await;
    let err = c.exec("huge").await.unwrap_err();
    assert!(matches!(err, RconError::Protocol(_)), "{err:?}");
    // The stream is desynchronised: the client refuses further use.
    assert!(matches!(c.exec("x").await, Err(RconError::Closed)));
}

async fn run_with(config: FakeRconConfig, reply: &str) -> String {
    let dialect = config.dialect;
    let fake = FakeRcon::start(config).await;
    fake.set_reply("dump", reply);
    let mut c = client(&fake, dialect).await;
    c.exec("dump").await.unwrap()
}

#[tokio::test]
async fn tcp_split_into_3_byte_pieces_gives_identical_replies() {
    let reply = big_reply(9000);
    for dialect in ALL {
        let mut config = FakeRconConfig::new(dialect, PW);
        config.tcp_chunk = Some(3);
        assert_eq!(run_with(config, &reply).await, reply, "{dialect:?}");
    }
}

#[tokio::test]
async fn tcp_merged_writes_give_identical_replies() {
    // Auth pair in one segment (Source), output + mirror + trailer in one segment.
    let reply = big_reply(9000);
    for dialect in ALL {
        let mut config = FakeRconConfig::new(dialect, PW);
        config.merge_writes = true;
        assert_eq!(run_with(config, &reply).await, reply, "{dialect:?}");
    }
}

#[tokio::test]
async fn packets_for_other_ids_are_dropped() {
    // srcds log echo (id 0) interleaved before the output.
    for dialect in [Dialect::Source, Dialect::Cs2] {
        let mut config = FakeRconConfig::new(dialect, PW);
        config.log_echo = true;
        assert_eq!(run_with(config, "out\n").await, "out\n", "{dialect:?}");
    }
}

#[tokio::test]
async fn stall_times_out_reply_within_configured_timeout() {
    for dialect in ALL {
        let fake = fake(dialect).await;
        let t = RconTimeouts {
            reply: Duration::from_millis(300),
            ..timeouts()
        };
        let mut c = RconClient::connect(&fake.addr(), PW, dialect, t)
            .await
            .unwrap();
        fake.set_stall(true);
        let started = StdInstant::now();
        let err = c.exec("status").await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(
            matches!(err, RconError::Timeout("reply")),
            "{dialect:?}: {err:?}"
        );
        assert!(err.is_retryable());
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(1300),
            "{dialect:?}: {elapsed:?}"
        );
    }
}

#[tokio::test]
async fn stalled_auth_is_auth_timeout() {
    let fake = fake(Dialect::Source).await;
    fake.set_stall(true);
    let t = RconTimeouts {
        auth: Duration::from_millis(200),
        ..timeouts()
    };
    let err = RconClient::connect(&fake.addr(), PW, Dialect::Source, t)
        .await
        .unwrap_err();
    assert!(matches!(err, RconError::Timeout("auth")), "{err:?}");
}

#[tokio::test]
async fn refused_connection_is_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    let err = RconClient::connect(&addr, PW, Dialect::Source, timeouts())
        .await
        .unwrap_err();
    assert!(matches!(err, RconError::Connect(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn close_all_makes_rcon_reconnect_and_succeed() {
    for dialect in ALL {
        let fake = fake(dialect).await;
        fake.set_reply("status", "ok");
        let mut rcon = Rcon::new(fake.addr(), PW.to_owned(), dialect, timeouts());
        assert_eq!(rcon.exec("status").await.unwrap(), "ok");
        fake.close_all();
        assert_eq!(rcon.exec("status").await.unwrap(), "ok", "{dialect:?}");
        assert_eq!(fake.connections(), 2, "{dialect:?}");
    }
}

#[tokio::test]
async fn rcon_does_not_retry_bad_password() {
    let fake = fake(Dialect::Source).await;
    let mut rcon = Rcon::new(fake.addr(), "wrong".into(), Dialect::Source, timeouts());
    assert!(matches!(
        rcon.exec("status").await,
        Err(RconError::BadPassword)
    ));
    assert_eq!(fake.connections(), 1);
    assert!(!format!("{rcon:?}").contains("wrong"));
}

#[tokio::test]
async fn source_empty_replies_after_map_change_reconnect_and_retry_once() {
    let fake = fake(Dialect::Source).await;
    fake.set_reply("status", "map: de_dust2");
    let mut rcon = Rcon::new(fake.addr(), PW.to_owned(), Dialect::Source, timeouts());
    assert_eq!(rcon.exec("status").await.unwrap(), "map: de_dust2");
    fake.map_change();
    assert_eq!(rcon.exec("status").await.unwrap(), "map: de_dust2");
    assert_eq!(fake.connections(), 2);
}

#[tokio::test]
async fn source_empty_reply_on_healthy_connection_is_not_repeated() {
    let fake = fake(Dialect::Source).await;
    fake.set_reply("status", "map: de_dust2");
    fake.set_reply("say hi", "");
    let mut rcon = Rcon::new(fake.addr(), PW.to_owned(), Dialect::Source, timeouts());
    rcon.exec("status").await.unwrap();
    assert_eq!(rcon.exec("say hi").await.unwrap(), "");
    assert_eq!(fake.connections(), 1);
    assert_eq!(
        fake.commands(),
        vec![
            "status".to_owned(),
            "say hi".to_owned(),
            SOURCE_PROBE.to_owned()
        ]
    );
}

#[tokio::test]
async fn minecraft_min_spacing_keeps_five_fast_commands_on_one_connection() {
    let mut config = FakeRconConfig::new(Dialect::Minecraft, PW);
    config.min_spacing = Some(Duration::from_millis(150));
    let fake = FakeRcon::start(config).await;
    fake.set_reply("list", "There are 0 of a max of 20 players online: ");
    let mut c = client(&fake, Dialect::Minecraft).await; // default 200 ms spacing
    for _ in 0..5 {
        assert_eq!(
            c.exec("list").await.unwrap(),
            "There are 0 of a max of 20 players online: "
        );
    }
    assert_eq!(fake.connections(), 1);
    assert_eq!(fake.commands().len(), 5);
}

#[tokio::test]
async fn minecraft_fake_closes_on_commands_closer_than_min_spacing() {
    // Shows the spacing test above is meaningful: without spacing the server hangs up.
    let mut config = FakeRconConfig::new(Dialect::Minecraft, PW);
    config.min_spacing = Some(Duration::from_millis(150));
    let fake = FakeRcon::start(config).await;
    let t = RconTimeouts {
        min_spacing: Duration::ZERO,
        ..timeouts()
    };
    let mut c = RconClient::connect(&fake.addr(), PW, Dialect::Minecraft, t)
        .await
        .unwrap();
    c.exec("list").await.unwrap();
    let err = c.exec("list").await.unwrap_err();
    assert!(matches!(err, RconError::Closed), "{err:?}");
}

#[tokio::test]
async fn minecraft_command_over_1446_bytes_is_command_too_long() {
    let fake = fake(Dialect::Minecraft).await;
    let mut c = client(&fake, Dialect::Minecraft).await;
    let longest = format!("say {}", "a".repeat(MINECRAFT_MAX_COMMAND - 4));
    fake.set_reply(&longest, "ok");
    assert_eq!(c.exec(&longest).await.unwrap(), "ok");
    let too_long = format!("{longest}a");
    let err = c.exec(&too_long).await.unwrap_err();
    assert!(matches!(err, RconError::CommandTooLong(1447)), "{err:?}");
    assert!(!err.is_retryable());
    // Nothing was sent, the connection is still fine.
    assert_eq!(c.exec(&longest).await.unwrap(), "ok");
    assert_eq!(fake.commands().len(), 2);
}

#[tokio::test]
async fn utf8_names_pass_through_even_across_packet_splits() {
    let name = "Jörg 玩家 🎮 Ωmega";
    for dialect in ALL {
        let mut config = FakeRconConfig::new(dialect, PW);
        // Split inside multi-byte characters.
        config.split_body_at = 5;
        let fake = FakeRcon::start(config).await;
        let command = format!("kick \"{name}\"");
        let reply = format!("# 2 \"{name}\" STEAM_1:0:1\n").repeat(3);
        fake.set_reply(&command, &reply);
        let mut c = client(&fake, dialect).await;
        assert_eq!(c.exec(&command).await.unwrap(), reply, "{dialect:?}");
        assert_eq!(fake.commands(), vec![command], "{dialect:?}");
    }
}

#[tokio::test]
async fn body_containing_nul_is_kept_by_size() {
    for dialect in ALL {
        let fake = fake(dialect).await;
        fake.set_reply("odd", "before\0after");
        let mut c = client(&fake, dialect).await;
        assert_eq!(c.exec("odd").await.unwrap(), "before\0after", "{dialect:?}");
    }
}

#[test]
fn only_bad_password_and_too_long_are_not_retryable() {
    let io = || std::io::Error::other("x");
    assert!(RconError::Connect(io()).is_retryable());
    assert!(RconError::Timeout("reply").is_retryable());
    assert!(RconError::Closed.is_retryable());
    assert!(RconError::Protocol("x".into()).is_retryable());
    assert!(RconError::Io(io()).is_retryable());
    assert!(!RconError::BadPassword.is_retryable());
    assert!(!RconError::CommandTooLong(2000).is_retryable());
}

#[test]
fn encodes_the_documented_auth_bytes() {
    // PROTOCOL_NOTES.md: AUTH id=1 password "pw".
    assert_eq!(
        encode(1, TYPE_AUTH, b"pw"),
        [0x0c, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0x70, 0x77, 0, 0]
    );
}

/// A multi-packet reply of exactly [`MAX_REPLY`] bytes is whole; one byte more fails the
/// command with an error naming the limit, and the connection is not used again.
#[tokio::test]
async fn whole_replies_are_capped_at_max_reply_in_multi_packet_dialects() {
    for dialect in [Dialect::Source, Dialect::Minecraft] {
        let fake = fake(dialect).await;
        let at_limit = "y".repeat(MAX_REPLY);
        let over = "z".repeat(MAX_REPLY + 1);
        fake.set_reply("at", &at_limit);
        fake.set_reply("over", &over);
        let mut c = client(&fake, dialect).await;
        let reply = c.exec("at").await.unwrap();
        assert_eq!(reply.len(), MAX_REPLY, "{dialect:?}");
        assert!(
            reply == at_limit,
            "{dialect:?}: the reply at the limit is whole"
        );
        let err = c.exec("over").await.unwrap_err();
        assert!(
            matches!(err, RconError::ReplyTooLarge { limit } if limit == MAX_REPLY),
            "{dialect:?}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the RCON reply is larger than the limit of 4194304 bytes (4 MiB)"
        );
        // The rest of the oversized reply is still on the wire: the client refuses further use.
        assert!(matches!(c.exec("at").await, Err(RconError::Closed)));
    }
}

/// The reconnecting client hands the cap error on without running the command again.
#[tokio::test]
async fn an_oversized_reply_is_not_retried_by_the_reconnecting_client() {
    let fake = fake(Dialect::Source).await;
    fake.set_reply("status", "hostname: Guildhall\n");
    fake.set_reply("over", &"z".repeat(MAX_REPLY + 4096));
    let mut rcon = Rcon::new(fake.addr(), PW.into(), Dialect::Source, timeouts());
    assert_eq!(rcon.exec("status").await.unwrap(), "hostname: Guildhall\n");
    let err = rcon.exec("over").await.unwrap_err();
    assert!(matches!(err, RconError::ReplyTooLarge { .. }), "{err:?}");
    assert_eq!(
        fake.commands(),
        vec!["status".to_owned(), "over".to_owned()]
    );
    // The next command opens a fresh connection and works.
    assert_eq!(rcon.exec("status").await.unwrap(), "hostname: Guildhall\n");
}

/// Each way a connection test can fail is told apart: a wrong password, a closed port, a
/// port that accepts but never answers, and something that is not RCON at all.
#[tokio::test]
async fn failures_are_classified_for_every_dialect() {
    for dialect in ALL {
        // Wrong password.
        let fake = fake(dialect).await;
        let error = RconClient::connect(&fake.addr(), "wrong", dialect, timeouts())
            .await
            .unwrap_err();
        assert_eq!(error.failure(), RconFailure::BadPassword, "{dialect:?}");

        // A closed port: bind, note the port, close the listener.
        let closed = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            listener.local_addr().unwrap().to_string()
        };
        let error = RconClient::connect(&closed, PW, dialect, timeouts())
            .await
            .unwrap_err();
        assert_eq!(
            error.failure(),
            RconFailure::Refused,
            "{dialect:?}: {error}"
        );

        // A port that accepts and never answers: the auth phase times out.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_addr = silent.local_addr().unwrap().to_string();
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = silent.accept().await {
                open.push(socket);
            }
        });
        let quick = RconTimeouts {
            auth: Duration::from_millis(300),
            ..timeouts()
        };
        let started = StdInstant::now();
        let error = RconClient::connect(&silent_addr, PW, dialect, quick)
            .await
            .unwrap_err();
        assert_eq!(
            error.failure(),
            RconFailure::Timeout,
            "{dialect:?}: {error}"
        );
        assert!(matches!(error, RconError::Timeout("auth")), "{error:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        held.abort();

        // An HTTP server: it answers the auth packet with an HTTP error.
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_addr = http.local_addr().unwrap().to_string();
        let server = tokio::spawn(async move {
            while let Ok((mut socket, _)) = http.accept().await {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    )
                    .await;
            }
        });
        let error = RconClient::connect(&http_addr, PW, dialect, timeouts())
            .await
            .unwrap_err();
        assert_eq!(
            error.failure(),
            RconFailure::NotRcon,
            "{dialect:?}: {error}"
        );
        server.abort();
    }
}
