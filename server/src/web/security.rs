//! Security headers on every response: a Content-Security-Policy whose only inline scripts
//! are the ones carrying this response's nonce (Leptos's hydration scripts), no framing,
//! `nosniff`, a strict referrer policy, HSTS behind https, and `no-store` on everything that
//! is not a static file.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use leptos::prelude::{provide_context, use_context};
use std::sync::Arc;

/// This response's CSP nonce, put into the request's extensions for the page renderer.
#[derive(Clone, Debug)]
pub struct CspNonce(pub Arc<str>);

/// What the headers depend on.
#[derive(Clone, Debug)]
pub struct SecurityHeaders {
    /// `Strict-Transport-Security` (only when `GUILDHALL_PUBLIC_URL` is https).
    pub hsts: bool,
}

impl SecurityHeaders {
    pub fn new(config: &crate::config::Config) -> Self {
        SecurityHeaders {
            hsts: config.public_url.scheme() == "https",
        }
    }
}

/// The Content-Security-Policy of a response whose inline scripts carry `nonce`. Styles may
/// be inline (the pages set `style` attributes on chart marks, the error page has a
/// `<style>`); scripts only from this site or with the nonce; WebAssembly may be compiled.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// 128 random bits, hex: a fresh nonce for each response.
fn new_nonce() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Sets the security headers on every response (and `no-store` on any without a
/// `Cache-Control` of its own: pages, server functions, downloads, errors).
pub async fn security_headers(
    State(settings): State<SecurityHeaders>,
    mut request: Request,
    next: Next,
) -> Response {
    let nonce = new_nonce();
    request
        .extensions_mut()
        .insert(CspNonce(Arc::from(nonce.as_str())));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if settings.hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// In a page's rendering context: makes Leptos use this response's nonce (the one in the
/// CSP header) for its hydration scripts, instead of the one it generated itself.
pub fn provide_request_nonce() {
    let nonce = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned());
    if let Some(CspNonce(nonce)) = nonce {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_no_inline_script_without_the_nonce() {
        let policy = content_security_policy("abc123");
        let scripts = policy
            .split(';')
            .map(str::trim)
            .find(|directive| directive.starts_with("script-src"))
            .expect("script-src");
        assert_eq!(
            scripts,
            "script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval'"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        assert!(policy.contains("object-src 'none'"), "{policy}");
    }

    #[test]
    fn nonces_differ_and_are_long() {
        let (a, b) = (new_nonce(), new_nonce());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
    }
}
