//! "Sign in through Steam": an OpenID 2.0 relying party for Steam's provider, with the static
//! checks of the id_res answer and the check_authentication round trip back to Steam.
//!
//! Flow: redirect to [`SteamOpenId::login_url`] (with a per-login state in `return_to`); on the
//! callback run [`SteamOpenId::check_assertion`], then [`SteamOpenId::verify`], and only then
//! accept [`Assertion::steam_id`]. The caller must also reject a reused [`Assertion::nonce`]
//! (remember the nonces seen within `max_age`): OpenID alone does not stop replays.

use std::collections::BTreeMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use url::Url;

/// The OpenID 2.0 namespace that every message to and from Steam carries as `openid.ns`.
pub const STEAM_OPENID_NS: &str = "http://specs.openid.net/auth/2.0";

/// Asks the provider to choose the identity (Steam always does: the signed-in account).
const IDENTIFIER_SELECT: &str = "http://specs.openid.net/auth/2.0/identifier_select";
/// Steam's claimed ids live on steamcommunity.com whatever base the provider is reached through.
const CLAIMED_ID_PREFIX: &str = "https://steamcommunity.com/openid/id/";
/// Fields that Steam's signature must cover, or an attacker could swap them unsigned.
const REQUIRED_SIGNED: &str =
    "op_endpoint,claimed_id,identity,return_to,response_nonce,assoc_handle";
const VERIFY_TIMEOUT: StdDuration = StdDuration::from_secs(10);
/// A check_authentication reply is two short lines; anything bigger is not Steam.
const MAX_REPLY_BYTES: usize = 16 * 1024;
/// How many characters of an attacker-controlled value an error may echo.
const MAX_ECHO_CHARS: usize = 40;

/// Why a Steam sign-in was refused. Messages are short sentences fit for users and never echo
/// raw values from the request, only truncated, sanitized ones.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenIdError {
    /// The user cancelled the sign-in on Steam (`openid.mode=cancel`).
    #[error("The Steam sign-in was cancelled.")]
    Cancelled,
    /// A required field is absent or empty; carries the field name.
    #[error("The sign-in answer from Steam lacks the field {0}.")]
    Missing(&'static str),
    /// A field appears more than once; carries the sanitized, truncated field name.
    #[error("The sign-in answer repeats the field {0}.")]
    Duplicate(String),
    /// `openid.ns` (or the `ns` of Steam's reply) is not OpenID 2.0.
    #[error("The sign-in answer does not use OpenID 2.0.")]
    WrongNamespace,
    /// `openid.mode` is neither `id_res` nor `cancel`.
    #[error("The sign-in answer is not a positive assertion.")]
    WrongMode,
    /// `openid.op_endpoint` is not the configured Steam endpoint.
    #[error("The sign-in answer was not issued by Steam.")]
    ForeignEndpoint,
    /// `openid.claimed_id` and `openid.identity` differ.
    #[error("The claimed Steam identity does not match the verified one.")]
    ClaimedIdMismatch,
    /// The claimed id is not `https://steamcommunity.com/openid/id/<SteamID64>`.
    #[error("The sign-in answer does not name a Steam account.")]
    BadClaimedId,
    /// `openid.return_to` is not the callback this login was started with.
    #[error("The sign-in answer was meant for a different page.")]
    ReturnToMismatch,
    /// `openid.response_nonce` is malformed or dated in the future.
    #[error("The sign-in answer has an invalid timestamp.")]
    BadNonce,
    /// `openid.response_nonce` is older than the allowed age.
    #[error("The sign-in answer has expired; please sign in again.")]
    ExpiredNonce,
    /// `openid.signed` does not cover this field.
    #[error("Steam did not sign the field {0}.")]
    NotSigned(&'static str),
    /// Steam answered check_authentication without `is_valid:true`.
    #[error("Steam did not confirm the sign-in.")]
    NotValid,
    /// Steam could not be asked (transport error, non-2xx status, unreadable reply).
    #[error("Steam could not confirm the sign-in ({0}).")]
    Upstream(String),
}

/// A positive assertion that passed [`SteamOpenId::check_assertion`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The signed-in account as SteamID64 (`7656119…`, 17 digits).
    pub steam_id: u64,
    /// `openid.response_nonce`; store it until it expires and refuse to see it twice.
    pub nonce: String,
}

/// The relying-party side of Steam's OpenID provider.
#[derive(Debug, Clone)]
pub struct SteamOpenId {
    base: Url,
}

impl SteamOpenId {
    /// The configured Steam base, e.g. `https://steamcommunity.com/` (keep the trailing slash:
    /// the endpoint is joined onto it); a loopback fake in tests.
    pub fn new(base: Url) -> Self {
        Self { base }
    }

    /// The OP endpoint, `<base>/openid/login`.
    pub fn endpoint(&self) -> Url {
        // join only fails for cannot-be-a-base URLs (mailto:, data:), which serve no HTTP;
        // falling back to the base keeps this infallible and every later check then fails.
        self.base
            .join("openid/login")
            .unwrap_or_else(|_| self.base.clone())
    }

    /// The checkid_setup redirect URL: ns, mode=checkid_setup, claimed_id and identity =
    /// identifier_select, return_to, realm. Put a per-login state into `return_to` and pass the
    /// same string to [`Self::check_assertion`].
    pub fn login_url(&self, return_to: &Url, realm: &Url) -> Url {
        let mut url = self.endpoint();
        url.query_pairs_mut().clear().extend_pairs([
            ("openid.ns", STEAM_OPENID_NS),
            ("openid.mode", "checkid_setup"),
            ("openid.claimed_id", IDENTIFIER_SELECT),
            ("openid.identity", IDENTIFIER_SELECT),
            ("openid.return_to", return_to.as_str()),
            ("openid.realm", realm.as_str()),
        ]);
        url
    }

    /// Static checks of the id_res answer (the callback's query pairs), no network. Accepting
    /// the account additionally needs [`Self::verify`] and a nonce-reuse check by the caller.
    pub fn check_assertion(
        &self,
        params: &[(String, String)],
        expected_return_to: &str,
        now: DateTime<Utc>,
        max_age: Duration,
    ) -> Result<Assertion, OpenIdError> {
        let answer = unique_fields(params)?;
        let field = |key: &'static str| match answer.get(key) {
            Some(value) if !value.is_empty() => Ok(*value),
            _ => Err(OpenIdError::Missing(key)),
        };
        if field("openid.ns")? != STEAM_OPENID_NS {
            return Err(OpenIdError::WrongNamespace);
        }
        match field("openid.mode")? {
            "id_res" => {}
            "cancel" => return Err(OpenIdError::Cancelled),
            _ => return Err(OpenIdError::WrongMode),
        }
        if field("openid.op_endpoint")? != self.endpoint().as_str() {
            return Err(OpenIdError::ForeignEndpoint);
        }
        let signed: Vec<&str> = field("openid.signed")?.split(',').collect();
        if let Some(name) = REQUIRED_SIGNED
            .split(',')
            .find(|name| !signed.contains(name))
        {
            return Err(OpenIdError::NotSigned(name));
        }
        field("openid.sig")?;
        field("openid.assoc_handle")?;
        let claimed_id = field("openid.claimed_id")?;
        if claimed_id != field("openid.identity")? {
            return Err(OpenIdError::ClaimedIdMismatch);
        }
        let steam_id = steam_id_from_claimed_id(claimed_id)?;
        if field("openid.return_to")? != expected_return_to {
            return Err(OpenIdError::ReturnToMismatch);
        }
        let nonce = field("openid.response_nonce")?;
        let issued = nonce_time(nonce)?;
        if issued.signed_duration_since(now) > Duration::minutes(1) {
            return Err(OpenIdError::BadNonce);
        }
        if now.signed_duration_since(issued) > max_age {
            return Err(OpenIdError::ExpiredNonce);
        }
        Ok(Assertion {
            steam_id,
            nonce: nonce.to_owned(),
        })
    }

    /// Asks Steam whether it issued this answer: POSTs every `openid.*` pair to
    /// [`Self::endpoint`] (never to the answer's own `op_endpoint`) with `openid.mode` replaced
    /// by `check_authentication`, and requires `ns` and `is_valid:true` in the reply.
    pub async fn verify(
        &self,
        http: &reqwest::Client,
        params: &[(String, String)],
    ) -> Result<(), OpenIdError> {
        // Duplicates could make Steam verify one value while we trust another.
        unique_fields(params)?;
        let mut form: Vec<(&str, &str)> = params
            .iter()
            .filter(|(key, _)| key.starts_with("openid."))
            .map(|(key, value)| match key.as_str() {
                "openid.mode" => ("openid.mode", "check_authentication"),
                key => (key, value.as_str()),
            })
            .collect();
        if !form.iter().any(|(key, _)| *key == "openid.mode") {
            form.push(("openid.mode", "check_authentication"));
        }
        let mut response = http
            .post(self.endpoint())
            .form(&form)
            .timeout(VERIFY_TIMEOUT)
            .send()
            .await
            .map_err(transport_error)?;
        if !response.status().is_success() {
            let status = response.status().as_u16();
            return Err(OpenIdError::Upstream(format!("HTTP status {status}")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(OpenIdError::Upstream("reply too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8(body)
            .map_err(|_| OpenIdError::Upstream("reply is not UTF-8".into()))?;
        let reply = parse_key_values(&body);
        if single_value(&reply, "ns") != Some(STEAM_OPENID_NS) {
            return Err(OpenIdError::WrongNamespace);
        }
        if single_value(&reply, "is_valid") != Some("true") {
            return Err(OpenIdError::NotValid);
        }
        Ok(())
    }
}

/// Parses an OpenID key-value form body: lines `key:value`, split at the first colon. Lines
/// without a colon are skipped; a trailing `\r` is dropped.
pub fn parse_key_values(body: &str) -> Vec<(String, String)> {
    body.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// The fields by name, refusing any name that occurs twice.
fn unique_fields(params: &[(String, String)]) -> Result<BTreeMap<&str, &str>, OpenIdError> {
    let mut fields = BTreeMap::new();
    for (key, value) in params {
        if fields.insert(key.as_str(), value.as_str()).is_some() {
            return Err(OpenIdError::Duplicate(sanitize(key)));
        }
    }
    Ok(fields)
}

/// The value of `key` if it occurs exactly once.
fn single_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    let mut values = pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str());
    match (values.next(), values.next()) {
        (Some(value), None) => Some(value),
        _ => None,
    }
}

/// The SteamID64 in `https://steamcommunity.com/openid/id/(7656119\d{10})`.
fn steam_id_from_claimed_id(claimed_id: &str) -> Result<u64, OpenIdError> {
    match claimed_id.strip_prefix(CLAIMED_ID_PREFIX) {
        Some(digits)
            if digits.len() == 17
                && digits.starts_with("7656119")
                && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            digits.parse().map_err(|_| OpenIdError::BadClaimedId)
        }
        _ => Err(OpenIdError::BadClaimedId),
    }
}

/// The issue time of a nonce `YYYY-MM-DDTHH:MM:SSZ` + printable ASCII (33..=126), at most 255
/// characters in all (OpenID 2.0 §10.1).
fn nonce_time(nonce: &str) -> Result<DateTime<Utc>, OpenIdError> {
    let bytes = nonce.as_bytes();
    let well_formed = (20..=255).contains(&bytes.len())
        && bytes.iter().all(|b| (33..=126).contains(b))
        && bytes[..20].iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 | 16 => *b == b':',
            19 => *b == b'Z',
            _ => b.is_ascii_digit(),
        });
    if !well_formed {
        return Err(OpenIdError::BadNonce);
    }
    NaiveDateTime::parse_from_str(&nonce[..19], "%Y-%m-%dT%H:%M:%S")
        .map(|time| time.and_utc())
        .map_err(|_| OpenIdError::BadNonce)
}

/// A short description of a failed request that names no attacker-controlled value.
fn transport_error(error: reqwest::Error) -> OpenIdError {
    let what = if error.is_timeout() {
        "request timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    OpenIdError::Upstream(what.into())
}

/// An attacker-controlled value made safe to show: `[A-Za-z0-9._-]` kept, the rest `?`, cut.
fn sanitize(raw: &str) -> String {
    let keep = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let mut shown: String = raw
        .chars()
        .take(MAX_ECHO_CHARS)
        .map(|c| if keep(c) { c } else { '?' })
        .collect();
    if raw.chars().count() > MAX_ECHO_CHARS {
        shown.push('…');
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    use axum::http::StatusCode;

    type Pairs = Vec<(String, String)>;

    // Copies of ../shared/fixtures/08 (see SOURCES.md there).
    const FIXTURES: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/steam_openid/steam_openid_"
    );
    const RETURN_TO: &str = "https://csgostate.roessland.com/login";
    const OTHER_ID: &str = "https://steamcommunity.com/openid/id/76561197960287930";

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}{name}")).expect("fixture readable")
    }

    fn url_fixture(name: &str) -> Url {
        Url::parse(fixture(name).trim()).expect("fixture URL")
    }

    /// The real id_res callback that Steam sent on 2021-02-01.
    fn callback() -> Pairs {
        url_fixture("id_res_callback_roessland_2021.txt")
            .query_pairs()
            .into_owned()
            .collect()
    }

    fn replaced(mut params: Pairs, key: &str, value: &str) -> Pairs {
        params
            .iter_mut()
            .filter(|(k, _)| k == key)
            .for_each(|(_, v)| *v = value.into());
        params
    }

    /// The real callback with one field changed.
    fn with(key: &str, value: &str) -> Pairs {
        replaced(callback(), key, value)
    }

    /// check_assertion against real Steam, `seconds` after the fixture nonce, max_age 5 min.
    fn check_at(params: &[(String, String)], seconds: i64) -> Result<Assertion, OpenIdError> {
        let steam = SteamOpenId::new(Url::parse("https://steamcommunity.com/").expect("base"));
        let issued = DateTime::parse_from_rfc3339("2021-02-01T22:11:05Z").expect("time");
        let now = issued.to_utc() + Duration::seconds(seconds);
        steam.check_assertion(params, RETURN_TO, now, Duration::minutes(5))
    }

    fn rejection(params: Pairs) -> OpenIdError {
        check_at(&params, 30).expect_err("assertion must be rejected")
    }

    #[test]
    fn fixture_callback_decodes_to_the_documented_pairs() {
        let json = fixture("id_res_callback_roessland_2021.decoded.json");
        assert_eq!(callback().len(), 10);
        for (key, value) in callback() {
            assert!(json.contains(&format!("\"{key}\": \"{value}\"")), "{key}");
        }
    }

    #[test]
    fn real_steam_callback_is_accepted_and_yields_its_steam_id() {
        let assertion = check_at(&callback(), 30).expect("valid assertion");
        assert_eq!(assertion.steam_id, 76561197993200126);
        assert_eq!(
            assertion.nonce,
            "2021-02-01T22:11:05Z0nWH2sZk+2S/qy/vhtCW87Fsekc="
        );
    }

    #[test]
    fn claimed_id_differing_from_identity_is_rejected() {
        assert_eq!(
            rejection(with("openid.claimed_id", OTHER_ID)),
            OpenIdError::ClaimedIdMismatch
        );
    }

    #[test]
    fn foreign_op_endpoint_is_rejected() {
        let params = with("openid.op_endpoint", "https://evil.example/openid/login");
        assert_eq!(rejection(params), OpenIdError::ForeignEndpoint);
        // Against a fake base, even the real Steam endpoint is foreign.
        let fake = SteamOpenId::new(Url::parse("http://127.0.0.1:9/").expect("base"));
        let now = Utc::now();
        let params = with(
            "openid.response_nonce",
            &now.format("%Y-%m-%dT%H:%M:%SZx").to_string(),
        );
        let result = fake.check_assertion(&params, RETURN_TO, now, Duration::minutes(5));
        assert_eq!(result, Err(OpenIdError::ForeignEndpoint));
    }

    #[test]
    fn changed_return_to_is_rejected() {
        let params = with(
            "openid.return_to",
            "https://csgostate.roessland.com/login?next=/",
        );
        assert_eq!(rejection(params), OpenIdError::ReturnToMismatch);
    }

    #[test]
    fn nonce_older_than_max_age_is_rejected() {
        assert_eq!(
            check_at(&callback(), 10 * 60),
            Err(OpenIdError::ExpiredNonce)
        );
    }

    #[test]
    fn nonce_more_than_a_minute_in_the_future_is_rejected() {
        assert_eq!(check_at(&callback(), -61), Err(OpenIdError::BadNonce));
        assert!(
            check_at(&callback(), -60).is_ok(),
            "one minute of clock skew is allowed"
        );
    }

    #[test]
    fn malformed_nonce_is_rejected() {
        let long = format!("2021-02-01T22:11:05Z{}", "a".repeat(236));
        let bad = [
            "2021-02-01 22:11:05Zab",
            "2021-02-01T22:11:05+00:00",
            "2021-13-01T22:11:05Z",
        ];
        for nonce in bad.into_iter().chain([
            "2021-02-01T22:11:05Za b",
            "2021-02-01T22:11:05Zé",
            "x",
            &long,
        ]) {
            assert_eq!(
                rejection(with("openid.response_nonce", nonce)),
                OpenIdError::BadNonce,
                "{nonce}"
            );
        }
        let missing = OpenIdError::Missing("openid.response_nonce");
        assert_eq!(rejection(with("openid.response_nonce", "")), missing);
    }

    #[test]
    fn field_missing_from_signed_list_is_rejected() {
        let signed = "signed,op_endpoint,identity,return_to,response_nonce,assoc_handle";
        assert_eq!(
            rejection(with("openid.signed", signed)),
            OpenIdError::NotSigned("claimed_id")
        );
        let unsigned = callback()
            .into_iter()
            .filter(|(k, _)| k != "openid.sig")
            .collect();
        assert_eq!(rejection(unsigned), OpenIdError::Missing("openid.sig"));
    }

    #[test]
    fn cancelled_login_is_reported_as_cancelled() {
        assert_eq!(
            rejection(with("openid.mode", "cancel")),
            OpenIdError::Cancelled
        );
        assert_eq!(
            rejection(with("openid.mode", "setup_needed")),
            OpenIdError::WrongMode
        );
    }

    #[test]
    fn duplicate_key_is_rejected() {
        let mut params = callback();
        params.push(("openid.claimed_id".into(), OTHER_ID.into()));
        assert_eq!(
            rejection(params),
            OpenIdError::Duplicate("openid.claimed_id".into())
        );
    }

    #[test]
    fn error_messages_show_attacker_values_only_sanitized_and_truncated() {
        let evil = format!("<script>{}", "x".repeat(100));
        let mut params = callback();
        params.extend([(evil.clone(), String::new()), (evil, String::new())]);
        let shown = format!("?script?{}…", "x".repeat(32));
        let expected = format!("The sign-in answer repeats the field {shown}.");
        assert_eq!(rejection(params).to_string(), expected);
    }

    #[test]
    fn claimed_id_that_is_not_a_steamcommunity_steam_id64_is_rejected() {
        for id in [
            "https://steamcommunity.com/openid/id/7656119799320012",
            "https://steamcommunity.com/openid/id/765611979932001260",
            "https://steamcommunity.com/openid/id/12345678901234567",
            "https://steamcommunity.com/openid/id/7656119799320012a",
            "https://steamcommunity.com/openid/id/76561197993200126/",
            "http://steamcommunity.com/openid/id/76561197993200126",
            "https://steamcommunity.com.evil.example/openid/id/76561197993200126",
            "https://evil.example/openid/id/76561197993200126",
        ] {
            let params = replaced(with("openid.identity", id), "openid.claimed_id", id);
            assert_eq!(rejection(params), OpenIdError::BadClaimedId, "{id}");
        }
    }

    #[test]
    fn login_url_has_exactly_the_ueberauth_fixture_parameters() {
        let example = Url::parse("http://example.com").expect("url");
        let steam = SteamOpenId::new(Url::parse("https://steamcommunity.com/").expect("base"));
        let (ours, theirs) = (
            steam.login_url(&example, &example),
            url_fixture("checkid_setup_redirect_ueberauth.txt"),
        );
        assert_eq!(
            ours[..url::Position::AfterPath],
            theirs[..url::Position::AfterPath]
        );
        // Url writes "http://example.com" as "http://example.com/": the same URL to Steam.
        let normalized = |url: &Url| {
            let mut pairs: Pairs = url.query_pairs().into_owned().collect();
            for (key, value) in &mut pairs {
                if key == "openid.realm" || key == "openid.return_to" {
                    *value = Url::parse(value).expect("url").into();
                }
            }
            pairs.sort();
            pairs
        };
        assert_eq!(normalized(&ours), normalized(&theirs));
    }

    #[test]
    fn parse_key_values_reads_the_fixture_replies() {
        let valid = parse_key_values(&fixture("check_authentication_response_valid.kv"));
        assert_eq!(
            valid,
            [
                ("ns".into(), STEAM_OPENID_NS.into()),
                ("is_valid".into(), "true".into())
            ]
        );
        let invalid = parse_key_values(&fixture("check_authentication_response_invalid.kv"));
        assert_eq!(single_value(&invalid, "is_valid"), Some("false"));
    }

    /// Forms the fake Steam received, in order.
    type Received = Arc<Mutex<Vec<Pairs>>>;

    /// A fake Steam on 127.0.0.1:0: `POST /openid/login` records the form, answers 400 unless
    /// `openid.mode=check_authentication`, else `status` with `body`. Returns the base URL.
    async fn fake_steam(status: StatusCode, body: String) -> (Url, Received) {
        let received = Received::default();
        let recorder = received.clone();
        let login = move |form: String| {
            let pairs: Pairs = url::form_urlencoded::parse(form.as_bytes())
                .into_owned()
                .collect();
            let checking = pairs.contains(&("openid.mode".into(), "check_authentication".into()));
            recorder.lock().expect("lock").push(pairs);
            let reply = if checking {
                (status, body.clone())
            } else {
                (StatusCode::BAD_REQUEST, String::new())
            };
            async move { reply }
        };
        let app = axum::Router::new().route("/openid/login", axum::routing::post(login));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}/", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        (Url::parse(&base).expect("base"), received)
    }

    /// Runs verify on the real callback against a fake Steam answering `status` and `body`.
    async fn verify_against(status: StatusCode, body: &str) -> (Result<(), OpenIdError>, Received) {
        let (base, received) = fake_steam(status, body.to_owned()).await;
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        (
            SteamOpenId::new(base).verify(&http, &callback()).await,
            received,
        )
    }

    #[tokio::test]
    async fn verify_accepts_is_valid_true_and_forwards_the_answer_unchanged() {
        let body = fixture("check_authentication_response_valid.kv");
        let (result, received) = verify_against(StatusCode::OK, &body).await;
        assert_eq!(result, Ok(()));
        let received = received.lock().expect("lock").pop().expect("one request");
        assert_eq!(received, with("openid.mode", "check_authentication"));
        let signed = single_value(&received, "openid.signed").expect("signed");
        for key in signed.split(',').map(|name| format!("openid.{name}")) {
            assert_eq!(
                single_value(&received, &key),
                single_value(&callback(), &key),
                "{key}"
            );
        }
    }

    #[tokio::test]
    async fn verify_reports_not_valid_when_steam_says_is_valid_false() {
        let body = fixture("check_authentication_response_invalid.kv");
        assert_eq!(
            verify_against(StatusCode::OK, &body).await.0,
            Err(OpenIdError::NotValid)
        );
        let wrong_ns = "ns:http://openid.net/signon/1.1\nis_valid:true\n";
        let result = verify_against(StatusCode::OK, wrong_ns).await.0;
        assert_eq!(result, Err(OpenIdError::WrongNamespace));
    }

    #[tokio::test]
    async fn verify_reports_upstream_when_steam_fails() {
        let body = fixture("check_authentication_response_valid.kv");
        let (result, _) = verify_against(StatusCode::INTERNAL_SERVER_ERROR, &body).await;
        assert_eq!(result, Err(OpenIdError::Upstream("HTTP status 500".into())));
    }
}
