//! Every route the server has is described in the OpenAPI document, and nothing else is.

use std::collections::BTreeSet;

use reqwest::StatusCode;

use crate::harness::TestApp;

#[tokio::test]
async fn openapi_document_lists_exactly_the_servers_routes() {
    let app = TestApp::spawn().await;
    let (s, doc) = app.anonymous().get("/api/v1/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = formwork::http::routes()
        .iter()
        .map(|r| (r.method.to_string(), r.path.replace("{*", "{")))
        .collect();
    assert_eq!(documented, served);
    assert_eq!(app.anonymous().get("/healthz").await.0, StatusCode::OK);
}
