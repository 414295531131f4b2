//! The web pages: server-rendered minijinja templates (`admin-ui/templates`) over the same
//! handlers as the JSON API, so a page can do nothing the API cannot and shows exactly what
//! the API answers. Pages speak Simplified Chinese unless the `formwork_lang` cookie (set by
//! the language switch) or the browser asks for English.
//!
//! Every page but the login needs a session (the API's cookie); without one it redirects to
//! the login with the page to come back to. Forms post `application/x-www-form-urlencoded`
//! with a `_csrf` token derived from the session, so another site cannot post in a user's
//! name even where `SameSite` cookies are not honoured.

mod admin;
mod auth;
mod designer;
mod forms;
mod home;
mod lists;
mod records;
mod statistics;

use std::sync::OnceLock;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use include_dir::{include_dir, Dir};
use minijinja::Environment;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::extract::Actor;
use super::lang;
use crate::state::AppState;

/// Templates, texts and static files, compiled into the binary.
static UI: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../admin-ui");

/// Name of the cookie holding the chosen language (`zh` or `en`).
pub const LANG_COOKIE: &str = "formwork_lang";

/// The page routes (HTML), listed with the API's (and in the OpenAPI document, tag
/// `pages`).
pub fn routes() -> Vec<super::Route> {
    use super::route;
    vec![
        route("GET", "/", get(home::home)),
        route("GET", "/login", get(auth::login_page)),
        route("POST", "/login", post(auth::login)),
        route("POST", "/logout", post(auth::logout)),
        route("GET", "/lang/{lang}", get(auth::switch_language)),
        route("GET", "/account/password", get(auth::password_page)),
        route("POST", "/account/password", post(auth::change_password)),
        route("GET", "/inbox", get(home::inbox)),
        route("GET", "/lists/{list}", get(lists::list)),
        route("POST", "/lists/{list}/views", post(lists::save_view)),
        route(
            "POST",
            "/lists/{list}/views/{id}/delete",
            post(lists::delete_view),
        ),
        route("POST", "/lists/{list}/batch", post(lists::batch)),
        route("GET", "/forms/{form}/new", get(forms::new)),
        route("POST", "/forms/{form}/new", post(forms::create)),
        route("POST", "/forms/{form}/evaluate", post(forms::evaluate)),
        route("GET", "/records/{id}", get(records::record)),
        route("GET", "/records/{id}/edit", get(forms::edit)),
        route("POST", "/records/{id}/edit", post(forms::update)),
        route("POST", "/records/{id}/actions/{action}", post(records::act)),
        route("GET", "/admin/users", get(admin::users)),
        route("POST", "/admin/users", post(admin::create)),
        route("POST", "/admin/users/{id}/{what}", post(admin::change)),
        route("GET", "/admin/org", get(admin::org)),
        route("POST", "/admin/org", post(admin::add_unit)),
        route("POST", "/admin/org/{code}", post(admin::rename_unit)),
        route("GET", "/admin/packs", get(admin::packs)),
        route("GET", "/designer", get(designer::index)),
        route("GET", "/designer/{pack}/{kind}", get(designer::new_item)),
        route(
            "GET",
            "/designer/{pack}/{kind}/{key}",
            get(designer::edit_item),
        ),
        route("GET", "/dashboards/{key}", get(statistics::dashboard)),
        route("GET", "/statistics", get(statistics::index)),
        route("GET", "/statistics/{key}", get(statistics::statistic)),
        route("GET", "/static/{*path}", get(static_file)),
    ]
}

/// The template environment, built once from the embedded templates.
fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        if let Some(dir) = UI.get_dir("templates") {
            for f in dir.files() {
                let name = f.path().strip_prefix("templates").unwrap_or(f.path());
                if let (Some(name), Some(text)) = (name.to_str(), f.contents_utf8()) {
                    if let Err(e) = env.add_template_owned(name.to_string(), text.to_string()) {
                        tracing::error!(template = name, error = %e, "page template does not compile");
                    }
                }
            }
        }
        env
    })
}

/// The page texts (`admin-ui/text.json`: key → {zh, en}) in one language.
fn texts(english: bool) -> &'static Map<String, Value> {
    static TEXTS: OnceLock<(Map<String, Value>, Map<String, Value>)> = OnceLock::new();
    let (zh, en) = TEXTS.get_or_init(|| {
        let all: Map<String, Value> = UI
            .get_file("text.json")
            .and_then(|f| f.contents_utf8())
            .and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default();
        let pick = |lang: &str| {
            all.iter()
                .map(|(k, v)| (k.clone(), v[lang].clone()))
                .collect::<Map<String, Value>>()
        };
        (pick("zh"), pick("en"))
    });
    if english {
        en
    } else {
        zh
    }
}

/// One page text in the request's language (the key itself when missing).
fn text(key: &str) -> String {
    texts(lang::is_english())
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or(key)
        .to_string()
}

/// The CSRF token of a session: derived from the session's token hash, so it needs no
/// storage and dies with the session.
fn csrf_of(actor: &Actor) -> String {
    let digest = Sha256::digest(format!("formwork-csrf\u{0}{}", actor.token_hash));
    hex::encode(&digest[..16])
}

/// The refusal of a posted form whose `_csrf` is not the session's; None when it is.
fn csrf_refusal(actor: &Actor, pairs: &[(String, String)]) -> Option<Response> {
    let sent = pairs.iter().find(|(k, _)| k == "_csrf").map(|(_, v)| v);
    if sent.is_some_and(|v| *v == csrf_of(actor)) {
        None
    } else {
        Some(message_page(
            Some(actor),
            StatusCode::FORBIDDEN,
            &text("csrf_failed"),
        ))
    }
}

/// Renders `template` with `ctx` plus what every page needs: texts, language, the user and
/// the CSRF token.
fn render(actor: Option<&Actor>, template: &str, mut ctx: Value) -> Response {
    render_status(actor, StatusCode::OK, template, &mut ctx)
}

fn render_status(
    actor: Option<&Actor>,
    status: StatusCode,
    template: &str,
    ctx: &mut Value,
) -> Response {
    let english = lang::is_english();
    ctx["t"] = Value::Object(texts(english).clone());
    ctx["lang"] = json!(if english { "en" } else { "zh-CN" });
    if let Some(a) = actor {
        ctx["me"] = json!({
            "name": a.user.display_name, "username": a.user.username, "tenant": a.user.tenant,
            "unit": a.user.unit_name, "roles": a.roles, "admin": admin::is_admin(a),
        });
        ctx["csrf"] = json!(csrf_of(a));
    }
    let env = environment();
    let html = env
        .get_template(template)
        .and_then(|t| t.render(minijinja::value::Serde(&*ctx)));
    match html {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template, error = %e, "page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, text("page_failed")).into_response()
        }
    }
}

/// A page with one message (refusals, missing pages): never a stack trace.
fn message_page(actor: Option<&Actor>, status: StatusCode, message: &str) -> Response {
    message_page_back(actor, status, message, None)
}

/// A message page with a way back to where the user came from, besides the home page.
fn message_page_back(
    actor: Option<&Actor>,
    status: StatusCode,
    message: &str,
    back: Option<&str>,
) -> Response {
    let mut ctx = json!({"status": status.as_u16(), "message": message, "back": back});
    render_status(actor, status, "message.html", &mut ctx)
}

/// An API refusal as a page: 401 goes to the login, the rest says what happened.
fn error_page(actor: Option<&Actor>, e: ApiError, back_to: &str) -> Response {
    match e {
        ApiError::Unauthorized => login_redirect(back_to),
        ApiError::Internal(e) => {
            tracing::error!(error = ?e, "page failed");
            message_page(
                actor,
                StatusCode::INTERNAL_SERVER_ERROR,
                &text("page_failed"),
            )
        }
        e => {
            let body = e.body();
            let msg = body["message"].as_str().unwrap_or("").to_string();
            message_page(actor, e.status(), &msg)
        }
    }
}

/// To the login page, coming back to `next` afterwards.
fn login_redirect(next: &str) -> Response {
    let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
    Redirect::to(&format!("/login?next={next}")).into_response()
}

/// Only same-site paths are followed after a login or a language switch.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n.into()
        }
        _ => "/".into(),
    }
}

/// A signed-in user of a page; without a session the page redirects to the login.
pub struct Signed(pub Actor);

impl FromRequestParts<AppState> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let back = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        match Actor::from_request_parts(parts, app).await {
            Ok(a) => Ok(Signed(a)),
            Err(ApiError::Unauthorized) if had_session(&parts.headers) => {
                let next: String = url::form_urlencoded::byte_serialize(back.as_bytes()).collect();
                Err(Redirect::to(&format!("/login?expired=1&next={next}")).into_response())
            }
            Err(ApiError::Unauthorized) => Err(login_redirect(&back)),
            Err(e) => Err(error_page(None, e, &back)),
        }
    }
}

/// Whether the request carried a session cookie (one that no longer works: expired or
/// ended elsewhere).
fn had_session(headers: &HeaderMap) -> bool {
    cookie(headers, super::extract::SESSION_COOKIE).is_some_and(|v| !v.is_empty())
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A form posted from a page by a signed-in user, its `_csrf` checked against the session:
/// the user and the fields in order. Without a session the post goes to the login; with a
/// wrong token it is refused (403) before the handler runs.
pub struct Posted {
    /// Who posted.
    pub actor: Actor,
    /// The posted fields, in order.
    pub pairs: Vec<(String, String)>,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, app: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Signed(actor) = Signed::from_request_parts(&mut parts, app).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), app)
            .await
            .map_err(IntoResponse::into_response)?;
        let pairs = form_pairs(&bytes);
        match csrf_refusal(&actor, &pairs) {
            Some(refusal) => Err(refusal),
            None => Ok(Posted { actor, pairs }),
        }
    }
}

/// The posted fields of a page form, in order.
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The non-empty parameters of a query string, in order (an empty filter box means none).
fn filled(raw: Option<String>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .filter(|(_, v)| !v.trim().is_empty())
        .collect()
}

/// The value of one posted field.
fn field<'p>(pairs: &'p [(String, String)], name: &str) -> Option<&'p str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Handles `GET /static/{path}`: the stylesheets and scripts of the pages.
async fn static_file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(contents) = static_contents(&path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let kind = match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    };
    let tag = format!("\"{}\"", hex::encode(&Sha256::digest(&contents)[..8]));
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(tag.as_str())
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    (
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (header::ETAG, tag),
            (header::CACHE_CONTROL, "no-cache".to_string()),
        ],
        contents,
    )
        .into_response()
}

/// A static file's bytes: from the binary, or, when `FORMWORK_UI_DIR` names an `admin-ui`
/// folder, from that folder as it is now (for working on the scripts without rebuilding).
fn static_contents(path: &str) -> Option<Vec<u8>> {
    match std::env::var_os("FORMWORK_UI_DIR") {
        Some(dir) if !path.split('/').any(|p| p == ".." || p.is_empty()) => {
            std::fs::read(std::path::Path::new(&dir).join("static").join(path)).ok()
        }
        Some(_) => None,
        None => UI
            .get_file(format!("static/{path}"))
            .map(|f| f.contents().to_vec()),
    }
}

/// The path and query of a request, for coming back to it.
fn here(uri: &Uri) -> String {
    uri.path_and_query().map_or("/", |p| p.as_str()).to_string()
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_of_this_site_are_followed_after_a_login() {
        assert_eq!(safe_next(Some("/inbox?page=2")), "/inbox?page=2");
        for away in [
            "//evil.example/",
            "/\\evil.example",
            "/\t/evil.example",
            "https://evil.example/",
            "javascript:alert(1)",
            "",
        ] {
            assert_eq!(safe_next(Some(away)), "/", "{away:?}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
