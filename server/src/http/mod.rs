//! The HTTP API under `/api/v1`: the one place where routes are assembled.
//!
//! Handlers stay thin: extract the actor, authorise, call the runtime and the store, shape
//! the answer. Every route is listed in [`routes`], which the OpenAPI test compares with
//! `docs/openapi.json`, so the document cannot silently miss an endpoint.

pub mod admin;
pub mod attachments;
pub mod auth;
pub mod batch;
pub mod dashboards;
pub mod designer;
pub mod documents;
pub mod error;
pub mod exports;
pub mod extract;
pub mod forms;
pub mod imports;
pub mod lang;
pub mod lists;
pub mod notifications;
pub mod packs;
pub mod pages;
pub mod records;
pub mod statistics;
pub mod versions;
pub mod views;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Router;

use crate::state::AppState;

/// The OpenAPI document, kept beside the other API notes.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// One route: method, path (axum syntax) and handler.
pub struct Route {
    /// HTTP method, upper case.
    pub method: &'static str,
    /// Path with `{param}` placeholders, as in OpenAPI.
    pub path: &'static str,
    handler: MethodRouter<AppState>,
}

fn route(method: &'static str, path: &'static str, handler: MethodRouter<AppState>) -> Route {
    Route {
        method,
        path,
        handler,
    }
}

/// Every route of the server.
pub fn routes() -> Vec<Route> {
    let mut all = vec![
        route("GET", "/healthz", get(healthz)),
        route("GET", "/api/v1/openapi.json", get(openapi)),
        route("POST", "/api/v1/auth/login", post(auth::login)),
        route("POST", "/api/v1/auth/logout", post(auth::logout)),
        route("GET", "/api/v1/me", get(auth::me)),
        route("POST", "/api/v1/me/password", post(auth::change_password)),
        route("GET", "/api/v1/admin/users", get(admin::list_users)),
        route("POST", "/api/v1/admin/users", post(admin::create_user)),
        route(
            "POST",
            "/api/v1/admin/users/{id}/lock",
            post(admin::lock_user),
        ),
        route(
            "POST",
            "/api/v1/admin/users/{id}/password",
            post(admin::reset_password),
        ),
        route(
            "PUT",
            "/api/v1/admin/users/{id}/roles",
            put(admin::set_roles),
        ),
        route("GET", "/api/v1/admin/org", get(admin::org)),
        route("PUT", "/api/v1/admin/org/{code}", put(admin::rename_unit)),
        route("PUT", "/api/v1/admin/users/{id}/unit", put(admin::set_unit)),
        route("GET", "/api/v1/admin/packs", get(packs::installed)),
        route("POST", "/api/v1/admin/packs", post(packs::import_pack)),
        route("POST", "/api/v1/admin/org", post(admin::add_unit)),
        route("GET", "/api/v1/designer/packs", get(designer::list_packs)),
        route(
            "GET",
            "/api/v1/designer/packs/{pack}",
            get(designer::get_pack),
        ),
        route(
            "POST",
            "/api/v1/designer/packs/{pack}/check",
            post(designer::check),
        ),
        route(
            "POST",
            "/api/v1/designer/packs/{pack}/publish",
            post(designer::publish),
        ),
        route(
            "GET",
            "/api/v1/designer/packs/{pack}/export",
            get(designer::export),
        ),
        route("GET", "/api/v1/forms", get(forms::list_forms)),
        route("GET", "/api/v1/forms/{form}", get(forms::get_form)),
        route(
            "GET",
            "/api/v1/forms/{form}/versions",
            get(versions::list_versions),
        ),
        route(
            "GET",
            "/api/v1/forms/{form}/versions/{version}/diff",
            get(versions::version_diff),
        ),
        route(
            "POST",
            "/api/v1/forms/{form}/records",
            post(records::create_record),
        ),
        route("GET", "/api/v1/records/{id}", get(records::get_record)),
        route(
            "GET",
            "/api/v1/records/{id}/documents",
            get(documents::list_documents),
        ),
        route(
            "GET",
            "/api/v1/records/{id}/documents/{doc}",
            get(documents::render_document),
        ),
        route(
            "POST",
            "/api/v1/batch/transitions/{action}",
            post(batch::batch_transition),
        ),
        route(
            "POST",
            "/api/v1/records/{id}/upgrade",
            post(versions::upgrade_record),
        ),
        route(
            "PATCH",
            "/api/v1/records/{id}",
            patch(records::patch_record),
        ),
        route(
            "POST",
            "/api/v1/records/{id}/transitions/{action}",
            post(records::fire_transition),
        ),
        route(
            "GET",
            "/api/v1/records/{id}/events",
            get(records::record_events),
        ),
        route("GET", "/api/v1/lists/{list}", get(lists::get_list)),
        route("GET", "/api/v1/lists/{list}/views", get(views::list_views)),
        route(
            "POST",
            "/api/v1/lists/{list}/views",
            post(views::create_view),
        ),
        route(
            "DELETE",
            "/api/v1/lists/{list}/views/{id}",
            delete(views::delete_view),
        ),
        route("GET", "/api/v1/inbox", get(lists::inbox)),
        route(
            "GET",
            "/api/v1/lists/{list}/export",
            get(exports::export_list),
        ),
        route(
            "GET",
            "/api/v1/lists/{list}/export-templates",
            get(exports::list_templates),
        ),
        route(
            "POST",
            "/api/v1/lists/{list}/export-templates",
            post(exports::save_personal),
        ),
        route(
            "DELETE",
            "/api/v1/lists/{list}/export-templates/{id}",
            delete(exports::delete_personal),
        ),
        route("GET", "/api/v1/export-jobs", get(exports::list_jobs)),
        route("GET", "/api/v1/export-jobs/{id}", get(exports::get_job)),
        route(
            "DELETE",
            "/api/v1/export-jobs/{id}",
            delete(exports::delete_job),
        ),
        route(
            "GET",
            "/api/v1/export-jobs/{id}/file",
            get(exports::job_file),
        ),
        route("GET", "/api/v1/batch-rules", get(batch::list_rules)),
        route(
            "POST",
            "/api/v1/batch-rules/{key}/preview",
            post(batch::preview_rule),
        ),
        route(
            "POST",
            "/api/v1/batch-rules/{key}/run",
            post(batch::run_rule),
        ),
        route(
            "GET",
            "/api/v1/notifications",
            get(notifications::list_notifications),
        ),
        route(
            "POST",
            "/api/v1/notifications/{id}/read",
            post(notifications::read_notification),
        ),
        route(
            "POST",
            "/api/v1/notifications/read-all",
            post(notifications::read_all),
        ),
        route("GET", "/api/v1/outbox", get(notifications::list_outbox)),
        route("POST", "/api/v1/outbox/claim", post(notifications::claim)),
        route(
            "POST",
            "/api/v1/outbox/{id}/result",
            post(notifications::report),
        ),
        route("GET", "/api/v1/webhooks", get(notifications::list_webhooks)),
        route("POST", "/api/v1/webhooks", post(notifications::add_webhook)),
        route(
            "DELETE",
            "/api/v1/webhooks/{id}",
            delete(notifications::remove_webhook),
        ),
        route(
            "GET",
            "/api/v1/records/{id}/kept-documents",
            get(documents::list_kept),
        ),
        route(
            "GET",
            "/api/v1/records/{id}/kept-documents/{doc}",
            get(documents::get_kept),
        ),
        route(
            "GET",
            "/api/v1/dashboards",
            get(dashboards::list_dashboards),
        ),
        route(
            "GET",
            "/api/v1/dashboards/{key}",
            get(dashboards::get_dashboard),
        ),
        route(
            "GET",
            "/api/v1/statistics",
            get(statistics::list_statistics),
        ),
        route(
            "GET",
            "/api/v1/statistics/{key}",
            get(statistics::get_statistic),
        ),
        route(
            "POST",
            "/api/v1/forms/{form}/fields/{field}/attachments",
            post(attachments::upload),
        ),
        route(
            "GET",
            "/api/v1/attachments/{id}",
            get(attachments::download),
        ),
        route(
            "DELETE",
            "/api/v1/attachments/{id}",
            delete(attachments::delete),
        ),
        route(
            "GET",
            "/api/v1/attachments/{id}/meta",
            get(attachments::get_meta),
        ),
        route(
            "POST",
            "/api/v1/forms/{form}/imports",
            post(imports::import_records),
        ),
        route(
            "GET",
            "/api/v1/forms/{form}/import-template.xlsx",
            get(imports::import_template),
        ),
        route(
            "GET",
            "/api/v1/imports/{id}/errors.xlsx",
            get(imports::error_workbook),
        ),
    ];
    all.extend(pages::routes());
    all
}

/// The router with every route and the state.
pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    for route in routes() {
        r = r.route(route.path, route.handler);
    }
    r.fallback(not_found)
        .layer(axum::middleware::from_fn(lang::scope))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Handles `GET /healthz`: 200 once the database answers.
async fn healthz(State(app): State<AppState>) -> impl IntoResponse {
    match app.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

/// Handles `GET /api/v1/openapi.json`.
async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn not_found() -> error::ApiError {
    error::ApiError::NotFound("没有这个地址".into())
}
