//! Linking Steam through Steam's OpenID sign-in, end to end: the real router on loopback, a
//! cookie-keeping client as the member's browser, and a fake Steam on loopback that issues
//! signed id_res answers (`GET /openid/login`) and confirms only answers it issued unchanged
//! (`POST /openid/login`, `check_authentication`). Valid, invalid, replayed, expired and
//! tampered answers (claimed id, op_endpoint, return_to) each end where a member sees it:
//! `/me?steam=<outcome>`, and only the valid one links.

use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{Duration, Utc};
use figment::providers::Serialized;
use guildhall::config::Config;
use guildhall::state::ServerState;
use reqwest::cookie::Jar;
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use url::Url;

#[path = "support/one_server.rs"]
mod one_server;

const MEMBER_STEAM: &str = "76561197960287930";
const OTHER_STEAM: &str = "76561198000000001";
const SIGNED: &str = "signed,op_endpoint,claimed_id,identity,return_to,response_nonce,assoc_handle";

/// How the fake Steam answers the next sign-in.
#[derive(Clone, Default)]
struct Behaviour {
    /// The answer is this old (its nonce's timestamp).
    age: Duration,
    /// Reuse the nonce of the previous answer (signed properly).
    reuse_nonce: bool,
    /// `openid.mode=cancel` instead of an assertion.
    cancel: bool,
    /// check_authentication answers 500.
    down: bool,
}

#[derive(Default)]
struct SteamState {
    next: Behaviour,
    /// The signed fields of every answer issued, as `key=value` lines, with its sig.
    issued: HashSet<(String, String)>,
    last_nonce: Option<String>,
    counter: u64,
    checks: u32,
}

#[derive(Clone)]
struct FakeSteam {
    base: Url,
    state: Arc<Mutex<SteamState>>,
}

impl FakeSteam {
    async fn start() -> Self {
        let state = Arc::new(Mutex::new(SteamState::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Steam");
        let base =
            Url::parse(&format!("http://{}/", listener.local_addr().expect("addr"))).expect("base");
        let fake = FakeSteam {
            base,
            state: state.clone(),
        };
        let app = axum::Router::new()
            .route("/openid/login", get(sign_in).post(check_authentication))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake Steam serves") });
        fake
    }

    fn endpoint(&self) -> String {
        format!("{}openid/login", self.base)
    }

    fn next(&self, behaviour: Behaviour) {
        self.state.lock().expect("lock").next = behaviour;
    }

    fn checks(&self) -> u32 {
        self.state.lock().expect("lock").checks
    }
}

/// The signed fields of an answer in `openid.signed` order: what the signature covers.
fn signed_text(fields: &HashMap<String, String>) -> String {
    let names = fields.get("openid.signed").cloned().unwrap_or_default();
    names
        .split(',')
        .map(|name| {
            let key = format!("openid.{name}");
            format!("{name}:{}\n", fields.get(&key).cloned().unwrap_or_default())
        })
        .collect()
}

/// `GET /openid/login` (checkid_setup): the member "signs in" as [`MEMBER_STEAM`] and is sent
/// back to `return_to` with a signed assertion.
async fn sign_in(
    State(fake): State<FakeSteam>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| query.get(name).cloned().unwrap_or_default();
    if param("openid.mode") != "checkid_setup"
        || param("openid.ns") != "http://specs.openid.net/auth/2.0"
        || param("openid.claimed_id") != "http://specs.openid.net/auth/2.0/identifier_select"
        || param("openid.identity") != "http://specs.openid.net/auth/2.0/identifier_select"
        || param("openid.realm").is_empty()
        || !param("openid.return_to").starts_with(&param("openid.realm"))
    {
        return (StatusCode::BAD_REQUEST, "bad checkid_setup").into_response();
    }
    let return_to = param("openid.return_to");
    let mut back = Url::parse(&return_to).expect("return_to is a URL");
    let mut state = fake.state.lock().expect("lock");
    let behaviour = state.next.clone();
    if behaviour.cancel {
        back.query_pairs_mut()
            .append_pair("openid.ns", "http://specs.openid.net/auth/2.0")
            .append_pair("openid.mode", "cancel");
        return Redirect::to(back.as_str()).into_response();
    }
    state.counter += 1;
    let nonce = match (&state.last_nonce, behaviour.reuse_nonce) {
        (Some(nonce), true) => nonce.clone(),
        _ => format!(
            "{}{:08x}",
            (Utc::now() - behaviour.age).format("%Y-%m-%dT%H:%M:%SZ"),
            state.counter
        ),
    };
    state.last_nonce = Some(nonce.clone());
    let claimed = format!("https://steamcommunity.com/openid/id/{MEMBER_STEAM}");
    let mut fields: HashMap<String, String> = [
        ("openid.ns", "http://specs.openid.net/auth/2.0".to_owned()),
        ("openid.mode", "id_res".to_owned()),
        ("openid.op_endpoint", fake.endpoint()),
        ("openid.claimed_id", claimed.clone()),
        ("openid.identity", claimed),
        ("openid.return_to", return_to),
        ("openid.response_nonce", nonce),
        ("openid.assoc_handle", "1234567890".to_owned()),
        ("openid.signed", SIGNED.to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    let sig = format!("sig{}", state.counter);
    state.issued.insert((signed_text(&fields), sig.clone()));
    fields.insert("openid.sig".into(), sig);
    let mut pairs = back.query_pairs_mut();
    for key in [
        "openid.ns",
        "openid.mode",
        "openid.op_endpoint",
        "openid.claimed_id",
        "openid.identity",
        "openid.return_to",
        "openid.response_nonce",
        "openid.assoc_handle",
        "openid.signed",
        "openid.sig",
    ] {
        pairs.append_pair(key, &fields[key]);
    }
    drop(pairs);
    Redirect::to(back.as_str()).into_response()
}

/// `POST /openid/login` (check_authentication): `is_valid:true` only for an answer this fake
/// issued, with every signed field and the signature unchanged.
async fn check_authentication(
    State(fake): State<FakeSteam>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let fields: HashMap<String, String> = form.into_iter().collect();
    let mut state = fake.state.lock().expect("lock");
    state.checks += 1;
    if state.next.down {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
    }
    if fields.get("openid.mode").map(String::as_str) != Some("check_authentication") {
        return (StatusCode::BAD_REQUEST, "not check_authentication").into_response();
    }
    let sig = fields.get("openid.sig").cloned().unwrap_or_default();
    let valid = state.issued.contains(&(signed_text(&fields), sig));
    format!("ns:http://specs.openid.net/auth/2.0\nis_valid:{valid}\n").into_response()
}

struct App {
    _one: std::rc::Rc<tokio::sync::MutexGuard<'static, ()>>,
    base: Url,
    pool: PgPool,
    browser: reqwest::Client,
    steam: FakeSteam,
}

async fn start(pool: PgPool) -> App {
    let one = one_server::one_server().await;
    let steam = FakeSteam::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind app");
    let base =
        Url::parse(&format!("http://{}/", listener.local_addr().expect("addr"))).expect("app url");
    let spool = std::env::temp_dir().join(format!(
        "guildhall-steam-spool-{}",
        base.port().expect("port")
    ));
    let figment = Config::defaults_figment()
        .merge(Serialized::default(
            "public_url",
            base.as_str().trim_end_matches('/'),
        ))
        .merge(Serialized::default("demo", true))
        .merge(Serialized::default(
            "spool_dir",
            spool.to_string_lossy().into_owned(),
        ))
        .merge(Serialized::default(
            "steam.openid_base",
            steam.base.as_str(),
        ))
        // Every step of every attempt below is a sign-in request from 127.0.0.1.
        .merge(Serialized::default("web.sign_in_per_minute", 6000))
        .merge(Serialized::default("web.sign_in_burst", 1000));
    let config = Arc::new(Config::from_figment(figment).expect("test configuration"));
    let state =
        ServerState::new(config, pool.clone(), collectors::metrics::Metrics::new()).expect("state");
    let router = guildhall::web::router(state).expect("router");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("app serves") });
    let browser = reqwest::Client::builder()
        .cookie_provider(Arc::new(Jar::default()))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("browser");
    App {
        _one: one,
        base,
        pool,
        browser,
        steam,
    }
}

fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

impl App {
    async fn get(&self, url: &str) -> reqwest::Response {
        let url = self.base.join(url).expect("url");
        self.browser
            .get(url.clone())
            .send()
            .await
            .unwrap_or_else(|error| panic!("GET {url}: {error:?}"))
    }

    /// `/me/steam/login`, then the member signs in on the fake Steam: Steam's answer, the URL
    /// the browser is sent back to (not followed yet).
    async fn answer(&self, behaviour: Behaviour) -> Url {
        self.steam.next(behaviour);
        let start = self.get("/me/steam/login").await;
        assert_eq!(start.status(), StatusCode::SEE_OTHER);
        let to_steam = Url::parse(&location(&start)).expect("redirect to Steam");
        assert_eq!(
            to_steam.as_str().split('?').next(),
            Some(self.steam.endpoint().as_str()),
            "the member goes to the configured Steam endpoint"
        );
        let at_steam = self.browser.get(to_steam).send().await.expect("fake Steam");
        assert_eq!(
            at_steam.status(),
            StatusCode::SEE_OTHER,
            "Steam sends the member back"
        );
        let back = Url::parse(&location(&at_steam)).expect("answer URL");
        assert_eq!(
            back.as_str().split('?').next(),
            Some(self.base.join("me/steam/return").expect("url").as_str())
        );
        back
    }

    /// Follows Steam's answer into Guildhall: the outcome `/me` is sent to.
    async fn outcome(&self, answer: &Url) -> String {
        let response = self
            .browser
            .get(answer.clone())
            .send()
            .await
            .expect("return");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let to = location(&response);
        to.strip_prefix("/me?steam=")
            .unwrap_or_else(|| panic!("the member goes back to /me, not {to}"))
            .to_owned()
    }

    /// The Steam accounts linked by Steam sign-in, with their person.
    async fn linked(&self) -> Vec<(String, i64)> {
        sqlx::query_as(
            "select external_id, person_id from silver.user_identities
             where kind = 'steam' and verified_by = 'steam_openid' order by external_id",
        )
        .fetch_all(&self.pool)
        .await
        .expect("linked")
    }

    async fn member_person(&self) -> i64 {
        sqlx::query_scalar(
            "select silver.person_of_user(id) from app.users where role = 'member' order by id limit 1",
        )
        .fetch_one(&self.pool)
        .await
        .expect("member person")
    }
}

/// Replaces (or, with `None`, removes) one query field of an answer.
fn with_field(answer: &Url, key: &str, value: Option<&str>) -> Url {
    let pairs: Vec<(String, String)> = answer.query_pairs().into_owned().collect();
    let mut changed = answer.clone();
    {
        let mut query = changed.query_pairs_mut();
        query.clear();
        for (k, v) in pairs {
            match (k == key, value) {
                (false, _) => {
                    query.append_pair(&k, &v);
                }
                (true, Some(value)) => {
                    query.append_pair(&k, value);
                }
                (true, None) => {}
            }
        }
    }
    changed
}

fn field(answer: &Url, key: &str) -> String {
    answer
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[sqlx::test(migrator = "guildhall::db::MIGRATOR")]
async fn only_an_unchanged_fresh_answer_confirmed_by_steam_links_the_account_once(pool: PgPool) {
    let app = start(pool).await;

    // Not signed in: sign in first, then back to My accounts.
    let anonymous = app.get("/me/steam/login").await;
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&anonymous), "/auth/login?next=/me");

    let demo = app
        .browser
        .post(app.base.join("auth/demo").expect("url"))
        .form(&[("role", "member")])
        .send()
        .await
        .expect("demo sign-in");
    assert_eq!(demo.status(), StatusCode::SEE_OTHER);

    // Cancelled on Steam.
    let answer = app
        .answer(Behaviour {
            cancel: true,
            ..Behaviour::default()
        })
        .await;
    assert_eq!(app.outcome(&answer).await, "cancelled");

    // Tampered: a different account in claimed_id alone, and in both claimed_id and identity
    // (which only Steam's signature check catches).
    let answer = app.answer(Behaviour::default()).await;
    let other = format!("https://steamcommunity.com/openid/id/{OTHER_STEAM}");
    let changed = with_field(&answer, "openid.claimed_id", Some(&other));
    assert_eq!(app.outcome(&changed).await, "refused");
    let answer = app.answer(Behaviour::default()).await;
    let checks = app.steam.checks();
    let changed = with_field(
        &with_field(&answer, "openid.claimed_id", Some(&other)),
        "openid.identity",
        Some(&other),
    );
    assert_eq!(app.outcome(&changed).await, "refused");
    assert_eq!(
        app.steam.checks(),
        checks + 1,
        "Steam was asked and said no"
    );

    // A foreign op_endpoint, a changed return_to, a changed signature, an unsigned field.
    let answer = app.answer(Behaviour::default()).await;
    let checks = app.steam.checks();
    let foreign = with_field(
        &answer,
        "openid.op_endpoint",
        Some("https://steamcommunity.evil.example/openid/login"),
    );
    assert_eq!(app.outcome(&foreign).await, "refused");
    assert_eq!(
        app.steam.checks(),
        checks,
        "a foreign answer is refused before any call"
    );
    let answer = app.answer(Behaviour::default()).await;
    let return_to = field(&answer, "openid.return_to");
    let changed = with_field(&answer, "openid.return_to", Some(&format!("{return_to}0")));
    assert_eq!(app.outcome(&changed).await, "refused");
    let answer = app.answer(Behaviour::default()).await;
    let forged = with_field(&answer, "openid.sig", Some("forged"));
    assert_eq!(app.outcome(&forged).await, "refused");
    let answer = app.answer(Behaviour::default()).await;
    let unsigned = with_field(
        &answer,
        "openid.signed",
        Some("signed,op_endpoint,claimed_id,identity,return_to"),
    );
    assert_eq!(app.outcome(&unsigned).await, "refused");

    // Too old: the member took eleven minutes on Steam's page.
    let answer = app
        .answer(Behaviour {
            age: Duration::minutes(11),
            ..Behaviour::default()
        })
        .await;
    assert_eq!(app.outcome(&answer).await, "expired");

    // Steam cannot be asked.
    let answer = app
        .answer(Behaviour {
            down: true,
            ..Behaviour::default()
        })
        .await;
    assert_eq!(app.outcome(&answer).await, "unavailable");

    // Steam's answer opened in another browser, not signed in: sign in first, nothing linked.
    let answer = app.answer(Behaviour::default()).await;
    let stranger = reqwest::Client::builder()
        .cookie_provider(Arc::new(Jar::default()))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let signed_out = stranger.get(answer.clone()).send().await.expect("return");
    assert_eq!(location(&signed_out), "/auth/login?next=/me");
    assert!(app.linked().await.is_empty(), "nothing was linked so far");

    // The same answer in this browser, which did start the login: linked.
    assert_eq!(app.outcome(&answer).await, "linked");
    let person = app.member_person().await;
    assert_eq!(app.linked().await, vec![(MEMBER_STEAM.to_owned(), person)]);
    let audit: Vec<(String, String)> =
        sqlx::query_as("select action, subject from app.audit_log where action = 'identity.link'")
            .fetch_all(&app.pool)
            .await
            .expect("audit");
    assert_eq!(
        audit,
        vec![("identity.link".to_owned(), format!("steam {MEMBER_STEAM}"))]
    );

    // Replayed: the same answer again (its login is used up), and a properly signed new
    // answer that reuses an accepted nonce.
    assert_eq!(app.outcome(&answer).await, "expired");
    let answer = app
        .answer(Behaviour {
            reuse_nonce: true,
            ..Behaviour::default()
        })
        .await;
    assert_eq!(app.outcome(&answer).await, "replayed");
    let nonces: i64 = sqlx::query_scalar("select count(*) from app.steam_openid_nonces")
        .fetch_one(&app.pool)
        .await
        .expect("nonces");
    assert_eq!(nonces, 1, "only the accepted answer's nonce is kept");
    let audits: i64 =
        sqlx::query_scalar("select count(*) from app.audit_log where action = 'identity.link'")
            .fetch_one(&app.pool)
            .await
            .expect("audit");
    assert_eq!(audits, 1, "the replays changed nothing");

    // My accounts lists it as verified through Steam.
    let page = app.get("/me?steam=linked").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("page");
    assert!(
        html.contains("data-outcome=\"linked\""),
        "the notice is shown"
    );
}
