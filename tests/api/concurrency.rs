//! Optimistic locking: of two writers holding the same row version one wins, the other gets
//! 409, and no update is lost or half-applied.

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{application, TestApp};

#[tokio::test]
async fn concurrent_patches_with_the_same_version_one_wins_one_gets_409() {
    let app = TestApp::spawn().await;
    let a = app.login("redcross", "pudong_staff").await;
    let rec = a.create(application("并发"), None).await;
    let id = rec["id"].as_str().unwrap().to_string();
    let v = rec["version"].clone();

    for round in 0..5 {
        let (_, cur) = a.get(&format!("/api/v1/records/{id}")).await;
        let v = cur["version"].clone();
        let path = format!("/api/v1/records/{id}");
        let (r1, r2) = tokio::join!(
            a.patch(
                &path,
                json!({"version": v, "data": {"street": format!("甲街道{round}")}})
            ),
            a.patch(
                &path,
                json!({"version": v, "data": {"address": format!("乙地址{round}")}})
            ),
        );
        let mut statuses = [r1.0, r2.0];
        statuses.sort();
        assert_eq!(
            statuses,
            [StatusCode::OK, StatusCode::CONFLICT],
            "round {round}: {:?} {:?}",
            r1.1,
            r2.1
        );
        let loser = if r1.0 == StatusCode::CONFLICT {
            &r1.1
        } else {
            &r2.1
        };
        assert_eq!(loser["error"]["code"], "stale_version");
        let winner = if r1.0 == StatusCode::OK { &r1.1 } else { &r2.1 };
        let (_, now) = a.get(&path).await;
        assert_eq!(now["version"], v.as_i64().unwrap() + 1);
        assert_eq!(
            now["data"], winner["data"],
            "the stored data is exactly the winner's"
        );
    }
    // A write with an old version is refused and changes nothing.
    let (s, _) = a
        .patch(
            &format!("/api/v1/records/{id}"),
            json!({"version": v, "data": {"street": "过期"}}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (_, events) = a.get(&format!("/api/v1/records/{id}/events")).await;
    assert_eq!(
        events["items"].as_array().unwrap().len(),
        1 + 5,
        "one create and one update per round"
    );
}
