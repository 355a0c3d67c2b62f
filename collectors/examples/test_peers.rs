//! Loopback test peers for the end-to-end tests (`scripts/e2e.sh` starts it): a fake CS2
//! RCON server answering `status` with a real CS2 reply, and a fake SFTP server serving a
//! folder of log files. It prints one JSON line with their addresses, the SFTP host key's
//! fingerprint and the credentials, then serves until it is stopped (SIGTERM or Ctrl-C).
//! A test tool: it is built only with the `testing` feature, never into the product.
//!
//! ```text
//! cargo run -p collectors --features testing --example test_peers
//! {"rcon":"127.0.0.1:40001","rcon_password":"…","sftp":"127.0.0.1:40002",…}
//! ```

use collectors::game::rcon::Dialect;
use collectors::testing::fake_rcon::{FakeRcon, FakeRconConfig};
use collectors::testing::fake_sftp::FakeSftp;

/// The RCON password the fake CS2 server accepts (`TEST_PEERS_RCON_PASSWORD` to change it).
const RCON_PASSWORD: &str = "e2e-rcon-password-7Hq2";
/// The SFTP login (`TEST_PEERS_SFTP_PASSWORD` to change the password).
const SFTP_USER: &str = "logs";
const SFTP_PASSWORD: &str = "e2e-sftp-password-Kp9w";
/// A real CS2 `status` reply (`collectors/tests/fixtures/`).
const CS2_STATUS: &str =
    include_str!("../tests/fixtures/01-cs2-rcon-status/cs2_status_live_strikeman.txt");

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let rcon_password =
        std::env::var("TEST_PEERS_RCON_PASSWORD").unwrap_or_else(|_| RCON_PASSWORD.into());
    let sftp_password =
        std::env::var("TEST_PEERS_SFTP_PASSWORD").unwrap_or_else(|_| SFTP_PASSWORD.into());

    let rcon = FakeRcon::start(FakeRconConfig::new(Dialect::Cs2, &rcon_password)).await;
    rcon.set_reply("status", CS2_STATUS);

    // A folder with three log files of different ages, removed again on exit.
    let root = std::env::temp_dir().join(format!("guildhall-test-peers-{}", std::process::id()));
    let logs = root.join("logs");
    std::fs::create_dir_all(&logs)?;
    for (name, line) in [
        (
            "L000_000_000_000_0_202611280000_000.log",
            "L 11/28/2026 - 20:00:00: old\n",
        ),
        (
            "L000_000_000_000_0_202611290000_000.log",
            "L 11/29/2026 - 20:00:00: older\n",
        ),
        (
            "L000_000_000_000_0_202611300000_000.log",
            "L 11/30/2026 - 20:00:00: newest\n",
        ),
    ] {
        std::fs::write(logs.join(name), line)?;
    }
    let sftp = FakeSftp::start(root.clone(), SFTP_USER, &sftp_password).await?;

    let line = format!(
        "{{\"rcon\":\"{}\",\"rcon_password\":\"{}\",\"sftp\":\"{}\",\"sftp_user\":\"{}\",\
         \"sftp_password\":\"{}\",\"sftp_folder\":\"/logs\",\"sftp_fingerprint\":\"{}\"}}",
        rcon.addr(),
        rcon_password,
        sftp.addr,
        SFTP_USER,
        sftp_password,
        sftp.fingerprint
    );
    #[allow(clippy::print_stdout)]
    {
        println!("{line}");
    }

    // Serve until SIGTERM (scripts/e2e.sh stops it so) or Ctrl-C.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    drop(sftp);
    drop(rcon);
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}
