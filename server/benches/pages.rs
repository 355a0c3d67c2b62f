//! Web benchmark: the real `guildhall serve` (demo mode, a demo community of 150 members
//! over 120 days) under `wrk` on kept-alive connections: the KPI overview page as a signed-in
//! leader and the stylesheet, at 20 concurrent clients and on a single connection. A single
//! connection is where a missing TCP_NODELAY shows (every response waits ~40 ms for the
//! client's delayed ACK). Targets: ≥ 1,500 pages/s and p95 ≤ 20 ms at 20 clients.
//!
//! Run with `make bench` (`wrk` from Debian; database `guildhall_bench_pages`).
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
    let database = format!("{server_url}/guildhall_bench_pages");
    let site_root = std::env::var("GUILDHALL_SITE_ROOT")
        .unwrap_or_else(|_| format!("{}/../target/site", env!("CARGO_MANIFEST_DIR")));
    let binary = env!("CARGO_BIN_EXE_guildhall");
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        ("DATABASE_URL", database.as_str()),
        ("GUILDHALL_DEMO", "true"),
        ("GUILDHALL_BIND", &format!("127.0.0.1:{port}")),
        ("GUILDHALL_PUBLIC_URL", &base),
        ("GUILDHALL_METRICS_BIND", ""),
        ("GUILDHALL_PIPELINE__INTERVAL_SECS", "0"),
        ("GUILDHALL_SITE_ROOT", &site_root),
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
        "150",
        "--days",
        "120",
        "--seed",
        "42",
    ])?;
    run(&["run-job", "all"])?;
    let _server = Server(
        Command::new(binary)
            .arg("serve")
            .envs(env)
            .stdout(Stdio::null())
            .spawn()
            .context("starting guildhall serve")?,
    );
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
    Ok(())
}

/// Signs in as the demo leader; returns the session cookie.
fn sign_in(base: &str) -> anyhow::Result<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let output = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-D", "-"])
            .arg(format!("{base}/auth/demo?role=leader"))
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
    bail!("the server did not sign the demo leader in")
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
    let script = std::env::temp_dir().join(format!("guildhall-wrk-{}.lua", std::process::id()));
    std::fs::write(&script, WRK_REPORT)?;
    let threads = clients.min(2).to_string();
    let output = Command::new("wrk")
        .args(["-t", &threads, "-c", &clients.to_string(), "-d", "10s"])
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
