//! The language of messages, from the request's `Accept-Language`: Simplified Chinese unless
//! the client prefers English. Kept for the duration of the request so that errors, built far
//! from the request, can speak the client's language.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    static ENGLISH: bool;
}

/// Whether the current request asked for English.
pub fn is_english() -> bool {
    ENGLISH.try_with(|e| *e).unwrap_or(false)
}

/// Whether an `Accept-Language` value prefers English over Chinese (first listed wins,
/// ignoring weights of equal rank, which is what browsers send in practice).
pub fn prefers_english(header: &str) -> bool {
    let mut best: Option<(f32, bool)> = None;
    for part in header.split(',') {
        let mut it = part.trim().split(';');
        let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let english = if tag.starts_with("en") {
            true
        } else if tag.starts_with("zh") {
            false
        } else {
            continue;
        };
        if best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, english));
        }
    }
    best.is_some_and(|(_, e)| e)
}

/// Middleware that records the request's language: the language the user chose on a page
/// (cookie `formwork_lang`); else, for the API, the client's `Accept-Language`, and for the
/// pages Simplified Chinese (their users' language, whatever the browser was installed in).
pub async fn scope(req: Request, next: Next) -> Response {
    let chosen = super::pages::cookie(req.headers(), super::pages::LANG_COOKIE);
    let english = match chosen.as_deref() {
        Some("en") => true,
        Some("zh") => false,
        _ if !req.uri().path().starts_with("/api/") => false,
        _ => req
            .headers()
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(prefers_english),
    };
    ENGLISH.scope(english, next.run(req)).await
}

#[cfg(test)]
mod tests {
    use super::prefers_english;

    #[test]
    fn english_only_when_preferred() {
        assert!(prefers_english("en-US,en;q=0.9"));
        assert!(prefers_english("en;q=0.9, zh-CN;q=0.8"));
        assert!(!prefers_english("zh-CN,zh;q=0.9,en;q=0.8"));
        assert!(!prefers_english("fr"));
        assert!(!prefers_english(""));
    }
}
