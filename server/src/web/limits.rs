//! What keeps one client (or everyone at once) from knocking the web app over: rate limits
//! per client address on sign-in, link codes, the log endpoint and server functions (a 429
//! with `Retry-After`), a limit on requests handled at once and a timeout on each (503).
//!
//! The client address is the peer of the TCP connection; `X-Forwarded-For` counts only when
//! that peer is a configured trusted proxy (`GUILDHALL_WEB__TRUSTED_PROXIES`). Addresses live
//! in memory only, for as long as their limit remembers them, and are never logged.

use crate::config::WebConfig;
use app::i18n::{Key, Lang};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use collectors::metrics::RouteGroup;
use leptos::server_fn::ServerFn;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// One rate limit: `burst` requests at once, then one every `interval`, per client address
/// (GCRA: each address has a theoretical arrival time).
#[derive(Debug)]
pub struct RateLimit {
    interval: Duration,
    tolerance: Duration,
    state: Mutex<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    arrivals: HashMap<IpAddr, Instant>,
    last_sweep: Instant,
}

/// How often addresses whose limit has run back to full are forgotten.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

impl RateLimit {
    /// `per_minute` requests a minute after a `burst`; `None` when `per_minute` is 0 (off).
    pub fn new(per_minute: u32, burst: u32) -> Option<Self> {
        if per_minute == 0 {
            return None;
        }
        let interval = Duration::from_secs(60) / per_minute;
        Some(RateLimit {
            interval,
            tolerance: interval * burst.saturating_sub(1),
            state: Mutex::new(Buckets {
                arrivals: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        })
    }

    /// Counts a request from `client` at `now`: `Err(wait)` when it is over the limit.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.state.lock() else {
            // A panic while holding the lock: let requests through rather than refuse all.
            return Ok(());
        };
        if now.saturating_duration_since(buckets.last_sweep) >= SWEEP_EVERY {
            buckets.arrivals.retain(|_, arrival| *arrival > now);
            buckets.last_sweep = now;
        }
        let arrival = buckets
            .arrivals
            .get(&client)
            .copied()
            .filter(|arrival| *arrival > now)
            .unwrap_or(now);
        let ahead = arrival.saturating_duration_since(now);
        if ahead > self.tolerance {
            return Err(ahead - self.tolerance);
        }
        buckets.arrivals.insert(client, arrival + self.interval);
        Ok(())
    }

    /// Addresses remembered now (for tests).
    pub fn remembered(&self) -> usize {
        self.state.lock().map(|b| b.arrivals.len()).unwrap_or(0)
    }
}

/// The limits of the web app, built once from the configuration.
#[derive(Clone, Debug)]
pub struct Limits {
    inner: Arc<LimitsInner>,
}

#[derive(Debug)]
struct LimitsInner {
    sign_in: Option<RateLimit>,
    link_code: Option<RateLimit>,
    ingest: Option<RateLimit>,
    api: Option<RateLimit>,
    trusted_proxies: Vec<IpAddr>,
    in_flight: Arc<Semaphore>,
    timeout: Duration,
}

impl Limits {
    pub fn new(config: &WebConfig) -> Self {
        Limits {
            inner: Arc::new(LimitsInner {
                sign_in: RateLimit::new(config.sign_in_per_minute, config.sign_in_burst),
                link_code: RateLimit::new(config.link_code_per_minute, config.link_code_burst),
                ingest: RateLimit::new(config.ingest_per_minute, config.ingest_burst),
                api: RateLimit::new(config.api_per_minute, config.api_burst),
                trusted_proxies: config.trusted_proxies.clone(),
                in_flight: Arc::new(Semaphore::new(config.max_concurrent_requests)),
                timeout: Duration::from_secs(config.request_timeout_secs),
            }),
        }
    }

    /// The rate limit a request falls under, if any.
    fn limit_for(&self, request: &Request) -> Option<&RateLimit> {
        let path = request.uri().path();
        let inner = &self.inner;
        if path == app::api::NewLinkCode::PATH {
            return inner.link_code.as_ref();
        }
        match super::routes::group(path) {
            RouteGroup::sign_in if path != "/auth/logout" => inner.sign_in.as_ref(),
            RouteGroup::ingest => inner.ingest.as_ref(),
            RouteGroup::server_fn => inner.api.as_ref(),
            _ => None,
        }
    }
}

/// The address a request counts against: the connection's peer, or, when that peer is a
/// trusted proxy, the last address in `X-Forwarded-For` that is not one. IPv6 clients count
/// by their /64 network (one host usually has the whole network). Without a known peer (a
/// router driven directly, in tests) every request counts as one client.
pub fn client_address(request: &Request, trusted_proxies: &[IpAddr]) -> IpAddr {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let mut client = canonical(peer);
    if trusted_proxies.contains(&client) {
        let forwarded = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|part| part.trim().parse::<IpAddr>().ok())
            .map(canonical)
            .collect::<Vec<_>>();
        if let Some(address) = forwarded
            .into_iter()
            .rev()
            .find(|address| !trusted_proxies.contains(address))
        {
            client = address;
        }
    }
    match client {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(bits))
        }
        v4 => v4,
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is that IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// Answers 429 with `Retry-After` once a client is over the rate limit of what it asks for.
pub async fn rate_limit(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    if let Some(limit) = limits.limit_for(&request) {
        let client = client_address(&request, &limits.inner.trusted_proxies);
        if let Err(wait) = limit.check(client, Instant::now()) {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracing::debug!(
                route = ?super::routes::group(request.uri().path()),
                "rate limit reached"
            );
            return too_many_requests(&request, seconds.max(1));
        }
    }
    next.run(request).await
}

/// The 429: the error page for a browser, plain text for the log endpoint and server
/// functions.
fn too_many_requests(request: &Request, seconds: u64) -> Response {
    let mut response = match super::routes::group(request.uri().path()) {
        RouteGroup::sign_in => crate::auth::error_page(
            Lang::of_request(request.headers()),
            StatusCode::TOO_MANY_REQUESTS,
            Key::TooManyRequests,
        ),
        _ => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("too many requests from this address: try again in {seconds} s\n"),
        )
            .into_response(),
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// Handles at most `GUILDHALL_WEB__MAX_CONCURRENT_REQUESTS` requests at once (503 for more)
/// and gives each `GUILDHALL_WEB__REQUEST_TIMEOUT_SECS` until its answer starts (then 503).
pub async fn concurrency_and_timeout(
    State(limits): State<Limits>,
    request: Request,
    next: Next,
) -> Response {
    let Ok(_permit) = limits.inner.in_flight.clone().try_acquire_owned() else {
        return unavailable("the server is busy: try again in a moment\n");
    };
    match tokio::time::timeout(limits.inner.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(
                timeout_secs = limits.inner.timeout.as_secs(),
                "a request took too long and was answered 503"
            );
            unavailable("the request took too long: try again in a moment\n")
        }
    }
}

fn unavailable(message: &'static str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::RETRY_AFTER, "1"),
        ],
        message,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[test]
    fn a_burst_passes_then_one_request_per_interval() {
        let limit = RateLimit::new(60, 3).expect("on");
        let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(limit.check(client, start), Ok(()));
        }
        assert_eq!(limit.check(client, start), Err(Duration::from_secs(1)));
        // Another address has its own budget.
        assert_eq!(limit.check(other, start), Ok(()));
        // Half a second later: still half a second to wait; a second later: one more.
        assert_eq!(
            limit.check(client, start + Duration::from_millis(500)),
            Err(Duration::from_millis(500))
        );
        assert_eq!(limit.check(client, start + Duration::from_secs(1)), Ok(()));
        assert!(limit.check(client, start + Duration::from_secs(1)).is_err());
        // After a quiet spell the whole burst is back.
        let later = start + Duration::from_secs(10);
        for _ in 0..3 {
            assert_eq!(limit.check(client, later), Ok(()));
        }
        assert!(limit.check(client, later).is_err());
    }

    #[test]
    fn zero_per_minute_turns_a_limit_off() {
        assert!(RateLimit::new(0, 10).is_none());
    }

    #[test]
    fn addresses_whose_budget_is_full_again_are_forgotten() {
        let limit = RateLimit::new(60, 1).expect("on");
        let start = Instant::now();
        for i in 0..100u8 {
            let _ = limit.check(IpAddr::V4(Ipv4Addr::new(198, 51, 100, i)), start);
        }
        assert_eq!(limit.remembered(), 100);
        let _ = limit.check(
            IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1)),
            start + SWEEP_EVERY + Duration::from_secs(1),
        );
        assert_eq!(limit.remembered(), 1);
    }

    fn request(peer: &str, forwarded: Option<&str>) -> Request {
        let mut builder = axum::http::Request::get("/auth/login");
        if let Some(forwarded) = forwarded {
            builder = builder.header("x-forwarded-for", forwarded);
        }
        let mut request = builder.body(Body::empty()).expect("request");
        request
            .extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().expect("address")));
        request
    }

    #[test]
    fn forwarded_addresses_count_only_from_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.2".parse().expect("ip");
        let spoofed = request("192.0.2.7:5000", Some("203.0.113.9"));
        assert_eq!(
            client_address(&spoofed, &[proxy]),
            "192.0.2.7".parse::<IpAddr>().expect("ip")
        );
        let proxied = request("10.0.0.2:5000", Some("198.51.100.1, 203.0.113.9, 10.0.0.2"));
        assert_eq!(
            client_address(&proxied, &[proxy]),
            "203.0.113.9".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            client_address(&proxied, &[]),
            "10.0.0.2".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_network_and_mapped_ipv4_as_ipv4() {
        let a = request("[2001:db8:1:2::1]:5000", None);
        let b = request("[2001:db8:1:2:ffff::9]:5000", None);
        assert_eq!(client_address(&a, &[]), client_address(&b, &[]));
        assert_eq!(
            client_address(&a, &[]),
            "2001:db8:1:2::".parse::<IpAddr>().expect("ip")
        );
        let mapped = request("[::ffff:192.0.2.5]:5000", None);
        assert_eq!(
            client_address(&mapped, &[]),
            "192.0.2.5".parse::<IpAddr>().expect("ip")
        );
    }
}
