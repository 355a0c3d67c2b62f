//! Web benchmark: the real `guildhall serve` (demo mode, a demo community of 150 members
//! over 120 days) under `wrk` on kept-alive connections: the KPI overview page as a signed-in
//! leader and the stylesheet, at 20 concurrent clients and on a single connection. A single
//! connection is where a missing TCP_NODELAY shows (every response waits ~40 ms for the
//! client's delayed ACK). Targets: ≥ 1,500 pages/s and p95 ≤ 20 ms at 20 clients.
//! Then every page (the admin's included) on one connection for a community of 2,000
//! members over 365 days, against the stylesheet in the same run (target: p95 under 100 ms
//! per page; `BENCH_PAGES_MEMBERS` changes the size, e.g. 20000).
//!
//! Run with `make bench` (`wrk` from Debian; databases `guildhall_bench_pages` and
//! `guildhall_bench_pages_<members>`).
// A benchmark reports to the terminal.
#![allow(clippy::print_stdout)]

use anyhow::{Context, bail};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Reports requests/s and latency percentiles (ms) on one line: wrk's own report has no p95.
const WRK_REPORT: &str = r#"
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %.3f %.3f %.3f %.3f %d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"#;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn main() -> anyhow::Result<()> {
    if Command::new("wrk").arg("--version").output().is_err() {
        bail!("wrk is missing: apt-get install wrk (make bench installs it)");
    }
    let server_url = std::env::var("DATABASE_URL")
        .ok()
        .and_then(|url| url.rsplit_once('/').map(|(base, _)| base.to_owned()))
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".into());
    let site_root = std::env::var("GUILDHALL_SITE_ROOT")
        .unwrap_or_else(|_| format!("{}/../target/site", env!("CARGO_MANIFEST_DIR")));
    let (base, small_community) = serve_demo(
        &format!("{server_url}/guildhall_bench_pages"),
        &site_root,
        150,
        120,
    )?;
    let cookie = sign_in(&base)?;
    let stylesheet = stylesheet_path(&base, &cookie)?;

    println!(
        "web benchmark: guildhall serve ({}), wrk on kept-alive connections, 10 s each",
        if cfg!(debug_assertions) {
            "dev profile"
        } else {
            "release"
        }
    );
    println!(
        "{:>34} {:>8} {:>10} {:>9} {:>9} {:>9}",
        "what", "clients", "req/s", "p50 ms", "p95 ms", "p99 ms"
    );
    let header = format!("Cookie: guildhall_session={cookie}");
    for (name, path, clients) in [
        ("KPI overview page (leader)", "/", 20),
        ("KPI overview page (leader)", "/", 1),
        ("stylesheet", stylesheet.as_str(), 20),
        ("stylesheet", stylesheet.as_str(), 1),
    ] {
        let result = wrk(&format!("{base}{path}"), &header, clients)?;
        println!(
            "{name:>34} {clients:>8} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
            result.rate, result.p50, result.p95, result.p99
        );
    }

    drop(small_community);

    // Every page at size, one client: the figures a page shows come from tables the
    // pipeline keeps, so a page's time must not grow with the community's history.
    let members: u32 = std::env::var("BENCH_PAGES_MEMBERS")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(2000);
    let days = 365;
    let prepared = Instant::now();
    let (base, _server) = serve_demo(
        &format!("{server_url}/guildhall_bench_pages_{members}"),
        &site_root,
        members,
        days,
    )?;
    let cookie = sign_in_as(&base, "admin")?;
    println!(
        "every page, {members} members x {days} days (demo ready in {:.0} s), one client, 5 s each",
        prepared.elapsed().as_secs_f64()
    );
    println!(
        "{:>34} {:>8} {:>10} {:>9} {:>9} {:>9}",
        "what", "clients", "req/s", "p50 ms", "p95 ms", "p99 ms"
    );
    let header = format!("Cookie: guildhall_session={cookie}");
    let stylesheet = stylesheet_path(&base, &cookie)?;
    let mut worst: (f64, &str) = (0.0, "");
    for path in [
        "/",
        "/retention",
        "/members",
        "/events",
        "/servers",
        "/me",
        "/admin",
        stylesheet.as_str(),
    ] {
        let result = wrk_for(&format!("{base}{path}"), &header, 1, 5)?;
        println!(
            "{path:>34} {:>8} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
            1, result.rate, result.p50, result.p95, result.p99
        );
        if !path.starts_with("/pkg/") && result.p95 > worst.0 {
            worst = (result.p95, path);
        }
    }
    println!(
        "slowest page: {} at p95 {:.2} ms (target: under 100 ms)",
        worst.1, worst.0
    );
    Ok(())
}

/// Fills (once) and serves a demo community of `members` over `days` with the real
/// binary; returns its address and the running server (stopped when dropped).
fn serve_demo(
    database: &str,
    site_root: &str,
    members: u32,
    days: u32,
) -> anyhow::Result<(String, Server)> {
    let binary = env!("CARGO_BIN_EXE_guildhall");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        ("DATABASE_URL", database),
        ("GUILDHALL_DEMO", "true"),
        ("GUILDHALL_BIND", &format!("127.0.0.1:{port}")),
        ("GUILDHALL_PUBLIC_URL", &base),
        ("GUILDHALL_METRICS_BIND", ""),
        ("GUILDHALL_PIPELINE__INTERVAL_SECS", "0"),
        ("GUILDHALL_SITE_ROOT", site_root),
        ("RUST_LOG", "warn"),
    ];
    let run = |args: &[&str]| -> anyhow::Result<()> {
        let status = Command::new(binary).args(args).envs(env).status()?;
        anyhow::ensure!(status.success(), "guildhall {args:?} failed");
        Ok(())
    };
    run(&["migrate"])?;
    run(&[
        "demo",
        "--if-empty",
        "--members",
        &members.to_string(),
        "--days",
        &days.to_string(),
        "--seed",
        "42",
    ])?;
    run(&["run-job", "all"])?;
    let server = Server(
        Command::new(binary)
            .arg("serve")
            .envs(env)
            .stdout(Stdio::null())
            .spawn()
            .context("starting guildhall serve")?,
    );
    Ok((base, server))
}

/// Signs in as the demo leader; returns the session cookie.
fn sign_in(base: &str) -> anyhow::Result<String> {
    sign_in_as(base, "leader")
}

/// Signs in as a demo user of `role`; returns the session cookie.
fn sign_in_as(base: &str, role: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let output = Command::new("curl")
            // Demo sign-in is a form POST.
            .args(["-s", "-o", "/dev/null", "-D", "-", "-d"])
            .arg(format!("role={role}"))
            .arg(format!("{base}/auth/demo"))
            .output()?;
        let headers = String::from_utf8_lossy(&output.stdout);
        if let Some(cookie) = headers.lines().find_map(|line| {
            line.to_ascii_lowercase()
                .starts_with("set-cookie: guildhall_session=")
                .then(|| {
                    line["set-cookie: guildhall_session=".len()..]
                        .split(';')
                        .next()
                })
                .flatten()
                .map(str::to_owned)
        }) {
            return Ok(cookie);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("the server did not sign the demo {role} in")
}

/// The stylesheet the overview page links (its name carries a content hash).
fn stylesheet_path(base: &str, cookie: &str) -> anyhow::Result<String> {
    let output = Command::new("curl")
        .args(["-s", "-H", &format!("Cookie: guildhall_session={cookie}")])
        .arg(format!("{base}/"))
        .output()?;
    let page = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        page.contains("data-testid=\"overview\""),
        "the leader did not get the overview page"
    );
    let start = page
        .find("/pkg/guildhall.")
        .context("the page links no bundle")?;
    let rest = &page[start..];
    let css = rest
        .split('"')
        .find(|piece| piece.ends_with(".css"))
        .or_else(|| {
            page.split('"')
                .find(|p| p.starts_with("/pkg/") && p.ends_with(".css"))
        })
        .context("the page links no stylesheet")?;
    Ok(css.to_owned())
}

struct WrkResult {
    rate: f64,
    p50: f64,
    p95: f64,
    p99: f64,
}

fn wrk(url: &str, header: &str, clients: u32) -> anyhow::Result<WrkResult> {
    wrk_for(url, header, clients, 10)
}

fn wrk_for(url: &str, header: &str, clients: u32, seconds: u32) -> anyhow::Result<WrkResult> {
    let script = std::env::temp_dir().join(format!("guildhall-wrk-{}.lua", std::process::id()));
    std::fs::write(&script, WRK_REPORT)?;
    let threads = clients.min(2).to_string();
    let output = Command::new("wrk")
        .args([
            "-t",
            &threads,
            "-c",
            &clients.to_string(),
            "-d",
            &format!("{seconds}s"),
        ])
        .args(["-H", header, "-H", "Accept-Encoding: gzip, br"])
        .arg("-s")
        .arg(&script)
        .arg(url)
        .output()
        .context("running wrk")?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find_map(|line| line.strip_prefix("RESULT "))
        .with_context(|| format!("wrk printed no result:\n{text}"))?;
    let fields: Vec<f64> = line
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(f64::NAN))
        .collect();
    let [requests, seconds, p50, p95, p99, errors] = fields[..] else {
        bail!("unexpected wrk result: {line}");
    };
    anyhow::ensure!(errors == 0.0, "{errors} requests failed against {url}");
    Ok(WrkResult {
        rate: requests / seconds,
        p50,
        p95,
        p99,
    })
}
