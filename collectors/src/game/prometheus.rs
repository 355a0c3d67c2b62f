//! A tolerant parser for the Prometheus text exposition format 0.0.4, and the server
//! metrics Guildhall reads from the Minecraft exporters.
//!
//! # Why an own parser
//!
//! `prometheus-parse` drops label values containing `,` or `=` and does not unescape;
//! `openmetrics-parser` rejects the whole scrape on one violation. Exporters are written by
//! hobbyists and some scrapes contain garbage (a README pasted into a page, a proxy's error
//! text), so here a bad line is skipped and listed with its reason and never fails the
//! scrape.
//!
//! # What is accepted
//!
//! A line is `name[{label="value",…}] value [timestamp_ms]`, with spaces or tabs between
//! the parts and around label punctuation, `\n` or `\r\n` line ends.
//!
//! * `#` lines (`# HELP`, `# TYPE`, comments) and blank lines are skipped.
//! * A trailing comma in the label set (`{le="1.0",}`) is valid 0.0.4 and is what the Java
//!   client (used by the Bukkit exporters) writes.
//! * Label values are unescaped (`\"`, `\\`, `\n`); an unknown escape keeps its backslash.
//!   Values may contain `,`, `=`, `}`.
//! * Values: decimal and exponent numbers (`1.5e-3`, `1E6`), `+Inf`, `-Inf`, `NaN`; the
//!   timestamp is an integer of milliseconds.
//! * `*_created` samples (OpenMetrics creation times that client libraries also put in text
//!   output) are dropped without an error: they are not measurements.
//! * Histogram and summary series (`_bucket`, `_sum`, `_count`, quantiles) are plain samples.
//! * `# TYPE` is not checked against the samples: python's `prometheus_client` declares
//!   `x_total counter` and emits `x` (see fixture 05), which is fine for a reader.

/// Why a scrape gave no sample.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("the exporter could not be reached: {0}")]
    Request(#[from] reqwest::Error),
    #[error("the exporter answered {0}")]
    Status(reqwest::StatusCode),
    /// The body is larger than the cap; it was read only up to the cap.
    #[error("the exporter's answer is larger than the limit of {limit} bytes ({} MiB)", limit / (1024 * 1024))]
    TooLarge { limit: usize },
}

/// Largest scrape body read from an exporter. Real exporters answer with tens of
/// kilobytes; a larger body (a misconfigured URL pointing at a file, a broken proxy) fails
/// the scrape with [`ScrapeError::TooLarge`] instead of filling memory.
pub const MAX_SCRAPE_BYTES: usize = 16 * 1024 * 1024;

/// GETs an exporter's text and reads the body chunk by chunk, failing as soon as it passes
/// `limit` bytes (at once when `Content-Length` announces more): the body is never
/// buffered whole before it is checked.
pub async fn fetch_scrape(
    http: &reqwest::Client,
    url: &str,
    limit: usize,
) -> Result<String, ScrapeError> {
    let mut response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "text/plain;version=0.0.4")
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(ScrapeError::Status(response.status()));
    }
    if response
        .content_length()
        .is_some_and(|announced| announced > limit as u64)
    {
        return Err(ScrapeError::TooLarge { limit });
    }
    let mut body = Vec::with_capacity(
        response
            .content_length()
            .map_or(64 * 1024, |announced| announced as usize),
    );
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(ScrapeError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    })
}

/// One sample: a series and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The metric name, e.g. `mc_tps` or `http_request_duration_seconds_bucket`.
    pub name: String,
    /// The labels in the order written, values unescaped.
    pub labels: Vec<(String, String)>,
    /// The value (may be `±∞` or NaN).
    pub value: f64,
    /// The sample's own timestamp in milliseconds since the epoch, where written.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed scrape: the good samples and the lines that were skipped.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scrape {
    /// Samples in the order of the text.
    pub samples: Vec<Sample>,
    /// Skipped lines: 1-based line number and the reason.
    pub bad_lines: Vec<(usize, String)>,
}

/// Parses a text-format (0.0.4) scrape. Never fails: bad lines are listed in
/// [`Scrape::bad_lines`].
pub fn parse_metrics(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        match parse_line(line) {
            Ok(Some(sample)) => scrape.samples.push(sample),
            Ok(None) => {}
            Err(reason) => scrape.bad_lines.push((i + 1, reason.to_owned())),
        }
    }
    scrape
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_blanks(b: &[u8], mut i: usize) -> usize {
    while b.get(i).copied().is_some_and(is_blank) {
        i += 1;
    }
    i
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

fn parse_line(line: &str) -> Result<Option<Sample>, &'static str> {
    let s = line.trim_matches([' ', '\t']);
    if s.is_empty() || s.starts_with('#') {
        return Ok(None);
    }
    let b = s.as_bytes();
    if !b.first().copied().is_some_and(is_name_start) {
        return Err("metric name must start with a letter, '_' or ':'");
    }
    let mut i = 1;
    while b.get(i).copied().is_some_and(is_name_char) {
        i += 1;
    }
    let name = s.get(..i).ok_or("invalid metric name")?;
    match b.get(i) {
        None => return Err("missing value"),
        Some(&c) if is_blank(c) || c == b'{' => {}
        Some(_) => return Err("invalid character in metric name"),
    }
    i = skip_blanks(b, i);
    let mut labels = Vec::new();
    if b.get(i) == Some(&b'{') {
        i = parse_labels(s, i + 1, &mut labels)?;
    }
    let rest = s.get(i..).ok_or("invalid text after the labels")?;
    let mut parts = rest.split([' ', '\t']).filter(|p| !p.is_empty());
    let value = parse_value(parts.next().ok_or("missing value")?).ok_or("invalid value")?;
    let timestamp_ms = match parts.next() {
        Some(t) => Some(t.parse::<i64>().map_err(|_| "invalid timestamp")?),
        None => None,
    };
    if parts.next().is_some() {
        return Err("unexpected text after the timestamp");
    }
    if name.ends_with("_created") {
        return Ok(None);
    }
    Ok(Some(Sample {
        name: name.to_owned(),
        labels,
        value,
        timestamp_ms,
    }))
}

/// Reads `label="value", …}` starting after the `{`; returns the index after the `}`.
fn parse_labels(
    s: &str,
    mut i: usize,
    labels: &mut Vec<(String, String)>,
) -> Result<usize, &'static str> {
    let b = s.as_bytes();
    loop {
        i = skip_blanks(b, i);
        match b.get(i) {
            None => return Err("unterminated label set"),
            Some(b'}') => return Ok(i + 1),
            Some(&c) if c.is_ascii_alphabetic() || c == b'_' => {}
            Some(_) => return Err("invalid label name"),
        }
        let start = i;
        while b
            .get(i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            i += 1;
        }
        let label = s.get(start..i).ok_or("invalid label name")?;
        i = skip_blanks(b, i);
        if b.get(i) != Some(&b'=') {
            return Err("expected '=' after the label name");
        }
        i = skip_blanks(b, i + 1);
        if b.get(i) != Some(&b'"') {
            return Err("label value must be in double quotes");
        }
        i += 1;
        let mut value = String::new();
        loop {
            match b.get(i) {
                None => return Err("unterminated label value"),
                Some(b'"') => {
                    i += 1;
                    break;
                }
                Some(b'\\') => {
                    match b.get(i + 1) {
                        Some(b'n') => value.push('\n'),
                        Some(b'\\') => value.push('\\'),
                        Some(b'"') => value.push('"'),
                        Some(_) => {
                            value.push('\\');
                            i += 1;
                            continue;
                        }
                        None => return Err("unterminated label value"),
                    }
                    i += 2;
                }
                Some(_) => {
                    let run = b
                        .get(i..)
                        .and_then(|tail| tail.iter().position(|&c| c == b'"' || c == b'\\'))
                        .map_or(b.len(), |n| i + n);
                    value.push_str(s.get(i..run).ok_or("invalid label value")?);
                    i = run;
                }
            }
        }
        labels.push((label.to_owned(), value));
        i = skip_blanks(b, i);
        match b.get(i) {
            Some(b',') => i += 1,
            Some(b'}') => return Ok(i + 1),
            None => return Err("unterminated label set"),
            Some(_) => return Err("expected ',' or '}' after a label value"),
        }
    }
}

/// A Go `ParseFloat` style value: decimal/exponent numbers, `±Inf`, `NaN`.
fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => v.parse().ok(),
    }
}

/// The server-wide values Guildhall charts, picked from whichever exporter produced the
/// scrape. `None` where the scrape has no series for it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ServerMetrics {
    /// Players online on the server.
    pub players_online: Option<f64>,
    /// Ticks per second (20 is full speed).
    pub tps: Option<f64>,
    /// Mean time per tick in milliseconds (50 ms is the budget at 20 TPS).
    pub tick_ms: Option<f64>,
    /// JVM heap in use, bytes.
    pub memory_used_bytes: Option<f64>,
    /// JVM heap limit (`-Xmx`), bytes.
    pub memory_max_bytes: Option<f64>,
}

/// Picks the [`ServerMetrics`] from a scrape of one of the known exporters. Non-finite
/// values (NaN, ±∞) count as missing. The first series found in this order wins:
///
/// * `players_online`:
///   1. `mc_players_online_total{world}` — sladkoff/minecraft-prometheus-exporter (Bukkit
///      plugin), one series per world: summed.
///   2. `minecraft_status_players_online_count` — itzg/mc-monitor: summed (one per
///      monitored server).
///   3. per-player online flags, summed (they are 1 online / 0 offline):
///      `minecraft_player_online_total` (dirien/minecraft-prometheus-exporter, current
///      name), `minecraft_player_online` (dirien, older name, as in fixture 05),
///      `mc_player_online{name}` (sladkoff's optional per-player metric), `player_online`
///      (Joshi425/minecraft-exporter). These list only players the exporter found with
///      RCON `list`, so they are only a fallback.
/// * `tps`: `mc_tps` (sladkoff); `minecraft_tps_total` (dirien, Forge `forge tps`
///   overall); `overall_tps` (Joshi425, Forge); `minecraft_tps_total_bucket_bucket{le="1"}`
///   (dirien, Paper: the exporter stores the 1-, 5- and 15-minute TPS as the buckets
///   `le="1"`, `"5"`, `"15"` of a histogram, truncated to whole numbers). Per-dimension TPS
///   (`dim_tps`, `minecraft_dimension_tps_total`) is not averaged: the overall value is
///   always exported next to it.
/// * `tick_ms`: `mc_tick_duration_average`, else `mc_tick_duration_median` (sladkoff,
///   nanoseconds → ms); `minecraft_ticktime_total` (dirien, Forge, ms); `overall_ticktime`
///   (Joshi425, Forge, ms).
/// * `memory_used_bytes`: `mc_jvm_memory{type="allocated"}` − `mc_jvm_memory{type="free"}`
///   (sladkoff exports the JVM's `totalMemory`/`freeMemory`, not "used"; older versions
///   without `allocated` give `None`); `jvm_memory_bytes_used{area="heap"}` (Java
///   simpleclient hotspot exports) or `jvm_memory_used_bytes{area="heap"}` (client_java 1.x).
/// * `memory_max_bytes`: `mc_jvm_memory{type="max"}`; `jvm_memory_bytes_max{area="heap"}`
///   or `jvm_memory_max_bytes{area="heap"}` (negative = undefined, skipped).
///
/// Where a series has several samples without a per-world meaning (several servers in one
/// scrape), the first is taken.
pub fn server_metrics(scrape: &Scrape) -> ServerMetrics {
    let players_online = sum_of(scrape, "mc_players_online_total")
        .or_else(|| sum_of(scrape, "minecraft_status_players_online_count"))
        .or_else(|| sum_of(scrape, "minecraft_player_online_total"))
        .or_else(|| sum_of(scrape, "minecraft_player_online"))
        .or_else(|| sum_of(scrape, "mc_player_online"))
        .or_else(|| sum_of(scrape, "player_online"));
    let tps = first_of(scrape, "mc_tps", None)
        .or_else(|| first_of(scrape, "minecraft_tps_total", None))
        .or_else(|| first_of(scrape, "overall_tps", None))
        .or_else(|| {
            first_of(
                scrape,
                "minecraft_tps_total_bucket_bucket",
                Some(("le", "1")),
            )
        });
    let tick_ms = first_of(scrape, "mc_tick_duration_average", None)
        .or_else(|| first_of(scrape, "mc_tick_duration_median", None))
        .map(|ns| ns / 1e6)
        .or_else(|| first_of(scrape, "minecraft_ticktime_total", None))
        .or_else(|| first_of(scrape, "overall_ticktime", None));
    let heap = Some(("area", "heap"));
    let sladkoff_used = first_of(scrape, "mc_jvm_memory", Some(("type", "allocated")))
        .zip(first_of(scrape, "mc_jvm_memory", Some(("type", "free"))))
        .map(|(allocated, free)| allocated - free);
    let memory_used_bytes = sladkoff_used
        .or_else(|| first_of(scrape, "jvm_memory_bytes_used", heap))
        .or_else(|| first_of(scrape, "jvm_memory_used_bytes", heap));
    let memory_max_bytes = first_of(scrape, "mc_jvm_memory", Some(("type", "max")))
        .or_else(|| first_of(scrape, "jvm_memory_bytes_max", heap).filter(|v| *v >= 0.0))
        .or_else(|| first_of(scrape, "jvm_memory_max_bytes", heap).filter(|v| *v >= 0.0));
    ServerMetrics {
        players_online,
        tps,
        tick_ms,
        memory_used_bytes,
        memory_max_bytes,
    }
}

fn matching<'a>(
    scrape: &'a Scrape,
    name: &'a str,
    label: Option<(&'a str, &'a str)>,
) -> impl Iterator<Item = f64> + 'a {
    scrape
        .samples
        .iter()
        .filter(move |s| s.name == name)
        .filter(move |s| label.is_none_or(|(k, v)| s.label(k) == Some(v)))
        .map(|s| s.value)
        .filter(|v| v.is_finite())
}

fn first_of(scrape: &Scrape, name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    matching(scrape, name, label).next()
}

fn sum_of(scrape: &Scrape, name: &str) -> Option<f64> {
    matching(scrape, name, None).fold(None, |acc, v| Some(acc.unwrap_or(0.0) + v))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a one-shot exporter on loopback answers.
    enum Body {
        /// `Content-Length` announces this many bytes; nothing follows (a client that
        /// waited for the body would hang).
        Announced(u64),
        /// No length; the body ends when the connection closes.
        Exactly(Vec<u8>),
        /// No length, and the body never ends: 64 KiB after 64 KiB until the client leaves.
        Endless,
    }

    /// Serves one request; the task's result is how many body bytes were written.
    async fn exporter(body: Body) -> (String, tokio::task::JoinHandle<u64>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/metrics", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    return 0;
                }
                request.extend_from_slice(&buf[..n]);
            }
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\nconnection: close\r\n";
            let mut written = 0u64;
            match body {
                Body::Announced(len) => {
                    let head = format!("{head}content-length: {len}\r\n\r\n");
                    socket.write_all(head.as_bytes()).await.unwrap();
                    // Hold the connection open without sending the body.
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                Body::Exactly(bytes) => {
                    socket
                        .write_all(format!("{head}\r\n").as_bytes())
                        .await
                        .unwrap();
                    socket.write_all(&bytes).await.unwrap();
                    written = bytes.len() as u64;
                }
                Body::Endless => {
                    socket
                        .write_all(format!("{head}\r\n").as_bytes())
                        .await
                        .unwrap();
                    let chunk = "mc_players_online 1\n".repeat(64 * 1024 / 20);
                    while socket.write_all(chunk.as_bytes()).await.is_ok() {
                        written += chunk.len() as u64;
                    }
                }
            }
            written
        });
        (url, task)
    }

    use std::time::Duration;

    async fn fetch(url: &str, limit: usize) -> Result<String, ScrapeError> {
        // Bounded so a client that waited for the whole body fails the test instead of
        // hanging it.
        tokio::time::timeout(
            Duration::from_secs(30),
            fetch_scrape(&reqwest::Client::new(), url, limit),
        )
        .await
        .expect("the scrape ended by itself")
    }

    #[tokio::test]
    async fn an_endless_scrape_body_fails_at_the_cap_naming_it() {
        let (url, server) = exporter(Body::Endless).await;
        let error = fetch(&url, MAX_SCRAPE_BYTES).await.unwrap_err();
        assert!(
            matches!(error, ScrapeError::TooLarge { limit } if limit == MAX_SCRAPE_BYTES),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "the exporter's answer is larger than the limit of 16777216 bytes (16 MiB)"
        );
        // The client stopped reading at the cap: the exporter got no further than the cap
        // plus what the sockets' buffers hold.
        let written = server.await.unwrap();
        assert!(written > MAX_SCRAPE_BYTES as u64 - (64 << 10), "{written}");
        assert!(written < MAX_SCRAPE_BYTES as u64 + (16 << 20), "{written}");
    }

    #[tokio::test]
    async fn an_announced_length_over_the_cap_fails_before_the_body_is_read() {
        let (url, _server) = exporter(Body::Announced(MAX_SCRAPE_BYTES as u64 + 1)).await;
        let error = fetch(&url, MAX_SCRAPE_BYTES).await.unwrap_err();
        assert!(matches!(error, ScrapeError::TooLarge { .. }), "{error:?}");
    }

    #[tokio::test]
    async fn a_body_of_exactly_the_cap_is_read_whole_and_one_byte_more_is_refused() {
        let text = "mc_players_online 7\nmc_tps 19.5\n";
        let (url, _server) = exporter(Body::Exactly(text.as_bytes().to_vec())).await;
        assert_eq!(fetch(&url, text.len()).await.unwrap(), text);
        let (url, _server) = exporter(Body::Exactly(text.as_bytes().to_vec())).await;
        let error = fetch(&url, text.len() - 1).await.unwrap_err();
        assert!(
            matches!(error, ScrapeError::TooLarge { limit } if limit == text.len() - 1),
            "{error:?}"
        );
    }

    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/05-minecraft-prometheus"
    );

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
    }

    fn one(line: &str) -> Sample {
        let scrape = parse_metrics(line);
        assert_eq!(scrape.bad_lines, [], "{line}");
        assert_eq!(scrape.samples.len(), 1, "{line}");
        scrape.samples.into_iter().next().unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn fixture_files() {
        // (file, samples, bad lines, metrics)
        let none = ServerMetrics::default();
        let cases = [
            (
                "dirien_exporter_readme_metrics_sample.txt",
                121,
                0,
                ServerMetrics {
                    players_online: Some(1.0),
                    ..none
                },
            ),
            ("joshi425_exporter_metrics_partial_issue8.txt", 3, 0, none),
            (
                "joshi425_exporter_player_online_issue10.txt",
                1,
                8,
                ServerMetrics {
                    players_online: Some(1.0),
                    ..none
                },
            ),
        ];
        let mut on_disk: Vec<_> = std::fs::read_dir(FIXTURES)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".txt"))
            .collect();
        on_disk.sort();
        let listed: Vec<_> = cases.iter().map(|c| c.0.to_owned()).collect();
        assert_eq!(on_disk, listed);
        for (name, samples, bad, metrics) in cases {
            let scrape = parse_metrics(&fixture(name));
            assert_eq!(scrape.samples.len(), samples, "{name}");
            assert_eq!(
                scrape.bad_lines.len(),
                bad,
                "{name}: {:?}",
                scrape.bad_lines
            );
            assert_eq!(server_metrics(&scrape), metrics, "{name}");
        }
    }

    #[test]
    fn fixture_details() {
        let scrape = parse_metrics(&fixture("joshi425_exporter_player_online_issue10.txt"));
        let bad_line_numbers: Vec<usize> = scrape.bad_lines.iter().map(|(n, _)| *n).collect();
        assert_eq!(bad_line_numbers, [3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(
            scrape.samples,
            [Sample {
                name: "player_online".into(),
                labels: labels(&[("player", "Joshi425")]),
                value: 1.0,
                timestamp_ms: None
            }]
        );
        let scrape = parse_metrics(&fixture("dirien_exporter_readme_metrics_sample.txt"));
        let build = scrape
            .samples
            .iter()
            .find(|s| s.name == "minecraft_exporter_build_info")
            .unwrap();
        assert_eq!(
            build.labels,
            labels(&[
                ("branch", ""),
                ("goversion", "go1.16.5"),
                ("revision", ""),
                ("version", "")
            ])
        );
        let walk = scrape
            .samples
            .iter()
            .find(|s| s.label("means") == Some("walk"))
            .unwrap();
        assert_eq!(walk.value, 1411.7);
    }

    #[test]
    fn sample_forms() {
        assert_eq!(
            one(r#"jvm_gc_collection_seconds_bucket{gc="G1 Young",le="1.0",} 42.0"#),
            Sample {
                name: "jvm_gc_collection_seconds_bucket".into(),
                labels: labels(&[("gc", "G1 Young"), ("le", "1.0")]),
                value: 42.0,
                timestamp_ms: None
            }
        );
        assert_eq!(
            one(r#"msg{text="say \"hi\", a=b} \\ok\nnext"} 1"#).labels,
            labels(&[("text", "say \"hi\", a=b} \\ok\nnext")])
        );
        assert_eq!(
            one(r#"x{path="C:\temp"} 1"#).labels,
            labels(&[("path", "C:\\temp")])
        );
        assert_eq!(one(r#"x{a="é,ü"} 1"#).labels, labels(&[("a", "é,ü")]));
        assert_eq!(one("x_bucket{le=\"+Inf\"} +Inf").value, f64::INFINITY);
        assert_eq!(one("x -Inf").value, f64::NEG_INFINITY);
        assert!(one("x NaN").value.is_nan());
        assert_eq!(one("x 1.5e-3").value, 1.5e-3);
        assert_eq!(one("x 1E6").value, 1e6);
        assert_eq!(one("x -0.25").value, -0.25);
        let s = one("http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000");
        assert_eq!((s.value, s.timestamp_ms), (1027.0, Some(1_395_066_363_000)));
        assert_eq!(one("x 1 -5").timestamp_ms, Some(-5));
        // whitespace variations
        let s = one("  \tmetric_a { a = \"1\" ,\tb=\"2\" , }\t\t3  4 \t");
        assert_eq!(s.labels, labels(&[("a", "1"), ("b", "2")]));
        assert_eq!((s.value, s.timestamp_ms), (3.0, Some(4)));
        assert_eq!(one("x{} 7").labels, []);
        assert_eq!(one("x{}7").value, 7.0);
        assert_eq!(one("ns:metric_name 1").name, "ns:metric_name");
    }

    #[test]
    fn skipped_lines() {
        let text = "# HELP a_total A counter.\r\n# TYPE a_total counter\r\na_total 3\r\na_created 1.7e9\r\n\r\n# random comment\r\n   \r\nrpc_duration_seconds{quantile=\"0.5\"} 4773\r\nrpc_duration_seconds_sum 1.7560473e+07\r\nrpc_duration_seconds_count 2693\r\nrpc_duration_seconds_created{x=\"y\"} 1.7e9\r\n";
        let scrape = parse_metrics(text);
        assert_eq!(scrape.bad_lines, []);
        let names: Vec<&str> = scrape.samples.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "a_total",
                "rpc_duration_seconds",
                "rpc_duration_seconds_sum",
                "rpc_duration_seconds_count"
            ]
        );
        assert_eq!(scrape.samples[2].value, 1.7560473e7);
    }

    #[test]
    fn bad_lines() {
        let text = "ok 1\n9lives 1\nname\nname abc\nname 1 2.5\nname 1 2 3\nname{a=\"1\" 1\nname{a=1} 1\nname{=\"1\"} 1\nname{a=\"1\"\"b\"} 1\nname{a=\"unterminated} 1\nname{a=\"x\\\nname-dash 1\nok 2\n";
        let scrape = parse_metrics(text);
        assert_eq!(scrape.samples.len(), 2);
        assert_eq!(
            scrape.bad_lines,
            [
                (
                    2,
                    "metric name must start with a letter, '_' or ':'".to_owned()
                ),
                (3, "missing value".to_owned()),
                (4, "invalid value".to_owned()),
                (5, "invalid timestamp".to_owned()),
                (6, "unexpected text after the timestamp".to_owned()),
                (7, "expected ',' or '}' after a label value".to_owned()),
                (8, "label value must be in double quotes".to_owned()),
                (9, "invalid label name".to_owned()),
                (10, "expected ',' or '}' after a label value".to_owned()),
                (11, "unterminated label value".to_owned()),
                (12, "unterminated label value".to_owned()),
                (13, "invalid character in metric name".to_owned()),
            ]
        );
    }

    fn sample(name: &str, pairs: &[(&str, &str)], value: f64) -> Sample {
        Sample {
            name: name.to_owned(),
            labels: labels(pairs),
            value,
            timestamp_ms: None,
        }
    }

    fn scrape_of(samples: Vec<Sample>) -> Scrape {
        Scrape {
            samples,
            bad_lines: vec![],
        }
    }

    /// Series names of sladkoff/minecraft-prometheus-exporter (README "Available metrics",
    /// `Memory.java`, `PlayersOnlineTotal.java`, `Tps.java`, `TickDuration*Collector.java`).
    #[test]
    fn sladkoff_exporter() {
        let text = "\
# HELP mc_players_online_total Players currently online per world
# TYPE mc_players_online_total gauge
mc_players_online_total{world=\"world\",} 3.0
mc_players_online_total{world=\"world_nether\",} 1.0
mc_players_online_total{world=\"world_the_end\",} 0.0
# TYPE mc_tps gauge
mc_tps 19.87
mc_tick_duration_average 4.5E7
mc_tick_duration_median 4.0E7
mc_jvm_memory{type=\"max\",} 4.294967296E9
mc_jvm_memory{type=\"free\",} 5.0E8
mc_jvm_memory{type=\"allocated\",} 2.0E9
mc_player_online{name=\"Alice\",} 1.0
";
        let scrape = parse_metrics(text);
        assert_eq!(scrape.bad_lines, []);
        assert_eq!(
            server_metrics(&scrape),
            ServerMetrics {
                players_online: Some(4.0),
                tps: Some(19.87),
                tick_ms: Some(45.0),
                memory_used_bytes: Some(1.5e9),
                memory_max_bytes: Some(4_294_967_296.0),
            }
        );
    }

    #[test]
    fn other_exporters() {
        // Joshi425 on Forge (RCON `forge tps`)
        let m = server_metrics(&scrape_of(vec![
            sample(
                "dim_tps",
                &[("dimension_id", "0"), ("dimension_name", "overworld")],
                19.0,
            ),
            sample("overall_tps", &[], 19.5),
            sample("overall_ticktime", &[], 12.25),
            sample("player_online", &[("player", "a")], 1.0),
            sample("player_online", &[("player", "b")], 1.0),
        ]));
        assert_eq!(
            m,
            ServerMetrics {
                players_online: Some(2.0),
                tps: Some(19.5),
                tick_ms: Some(12.25),
                ..ServerMetrics::default()
            }
        );
        // dirien on Forge, and on Paper (TPS stored as histogram buckets)
        let m = server_metrics(&scrape_of(vec![
            sample("minecraft_tps_total", &[], 20.0),
            sample("minecraft_ticktime_total", &[], 3.5),
            sample("minecraft_player_online_total", &[("player", "a")], 1.0),
        ]));
        assert_eq!(
            (m.tps, m.tick_ms, m.players_online),
            (Some(20.0), Some(3.5), Some(1.0))
        );
        let paper = parse_metrics(
            "minecraft_tps_total_bucket_bucket{le=\"1\"} 19\nminecraft_tps_total_bucket_bucket{le=\"5\"} 18\nminecraft_tps_total_bucket_bucket{le=\"15\"} 17\nminecraft_tps_total_bucket_bucket{le=\"+Inf\"} 3\nminecraft_tps_total_bucket_sum 54\nminecraft_tps_total_bucket_count 3\n",
        );
        assert_eq!(paper.samples.len(), 6);
        assert_eq!(server_metrics(&paper).tps, Some(19.0));
        // JVM hotspot exports; NaN is missing; a per-world total beats per-player flags
        let m = server_metrics(&scrape_of(vec![
            sample("jvm_memory_bytes_used", &[("area", "nonheap")], 1.0),
            sample("jvm_memory_bytes_used", &[("area", "heap")], 2.0e9),
            sample("jvm_memory_bytes_max", &[("area", "heap")], -1.0),
            sample("jvm_memory_max_bytes", &[("area", "heap")], 8.0e9),
            sample("mc_tps", &[], f64::NAN),
            sample("mc_player_online", &[("name", "a")], 1.0),
            sample("mc_players_online_total", &[("world", "w")], 5.0),
        ]));
        assert_eq!(
            m,
            ServerMetrics {
                players_online: Some(5.0),
                tps: None,
                tick_ms: None,
                memory_used_bytes: Some(2.0e9),
                memory_max_bytes: Some(8.0e9),
            }
        );
    }

    fn config() -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256);
        ProptestConfig::with_cases(cases)
    }

    fn fixture_lines() -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(FIXTURES)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".txt"))
            .collect();
        names.sort();
        names
            .iter()
            .flat_map(|n| fixture(n).lines().map(str::to_owned).collect::<Vec<_>>())
            .collect()
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn never_panics_on_arbitrary_strings(s in any::<String>()) {
            let scrape = parse_metrics(&s);
            prop_assert!(scrape.bad_lines.len() + scrape.samples.len() <= s.split('\n').count());
        }

        #[test]
        fn never_panics_on_label_like_strings(s in r#"[a-z_:]{1,6}[ \t]*(\{[a-z_ =",}\\{é]{0,20})?[ \t]*[-+0-9.eEInfNa ]{0,12}"#) {
            let _ = parse_metrics(&s);
        }

        #[test]
        fn never_panics_on_mutated_fixture_lines(
            line in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
            cut in any::<prop::sample::Index>(),
            insert in r#"[{}=",\\ \t\r\n#a-z0-9é.+-]{0,4}"#,
        ) {
            let lines = fixture_lines();
            let chars: Vec<char> = lines[line.index(lines.len())].chars().collect();
            let i = at.index(chars.len() + 1);
            let j = i + cut.index(chars.len() + 1 - i);
            let mutated: String = chars[..i].iter().copied().chain(insert.chars()).chain(chars[j..].iter().copied()).collect();
            let _ = server_metrics(&parse_metrics(&mutated));
        }
    }
}
