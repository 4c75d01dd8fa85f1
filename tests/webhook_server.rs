//! The callback server over real HTTP on loopback, one test per row of the contract's table.

mod common;

use common::*;
use fleetdash::server::MAX_BODY_BYTES;
use serde_json::Value;

const DOCS_EXAMPLE: &str = "v2-dynamic-docs-example.json";

async fn deliveries(server: &TestServer) -> i64 {
    count(&server.db(), "SELECT count(*) FROM deliveries")
}

#[tokio::test]
async fn a_missing_signature_is_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let body = fixture("v4-vehicle-state.json");
    let response = post(&server.webhook_url(), &body, None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(deliveries(&server).await, 0);
}

#[tokio::test]
async fn a_wrong_signature_is_refused_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let body = fixture("v4-vehicle-state.json");
    let wrong = fleetdash::smartcar::ManagementToken::new("not-the-token")
        .unwrap()
        .sign(&body);
    for signature in [wrong.as_str(), "zz", "", &sign(b"other body")] {
        let response = post(&server.webhook_url(), &body, Some(signature)).await;
        assert_eq!(response.status(), 401, "signature {signature:?}");
    }
    // A signature over the body with one byte changed is wrong too.
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let response = post(&server.webhook_url(), &tampered, Some(&sign(&body))).await;
    assert_eq!(response.status(), 401);
    assert_eq!(deliveries(&server).await, 0);
}

#[tokio::test]
async fn the_documented_known_answer_signature_is_accepted() {
    let server = TestServer::start().await;
    let body = br#"{"pizza":"pasta"}"#;
    let documented = "4c05a8da471f05156ad717baa4017acd13a3a809850b9ca7d3301dcaaa854f70";
    let response = post(&server.webhook_url(), body, Some(documented)).await;
    // Authentic but not a Smartcar payload: kept in quarantine, acknowledged.
    assert_eq!(response.status(), 200);
    let outcome: String = server
        .db()
        .query_row("SELECT outcome FROM deliveries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(outcome, "quarantined");
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_refused_with_413() {
    let server = TestServer::start().await;
    let mut body = fixture(DOCS_EXAMPLE);
    // Pad inside the JSON (trailing whitespace) so only the size is wrong.
    body.resize(MAX_BODY_BYTES + 1, b' ');
    let response = server.post_signed(&body).await;
    assert_eq!(response.status(), 413);
    assert_eq!(deliveries(&server).await, 0);
}

#[tokio::test]
async fn a_body_of_exactly_one_mebibyte_is_accepted() {
    let server = TestServer::start().await;
    let mut body = fixture(DOCS_EXAMPLE);
    body.resize(MAX_BODY_BYTES, b' ');
    let response = server.post_signed(&body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        count(&server.db(), "SELECT count(*) FROM battery_readings"),
        1
    );
}

async fn challenge_answer(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.unwrap();
    body["challenge"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn signed_verify_challenges_are_answered_in_both_formats_and_noted() {
    let server = TestServer::start().await;
    for name in ["v2-verify.json", "v4-verify.json"] {
        let body = fixture(name);
        let answer = challenge_answer(server.post_signed(&body).await).await;
        assert_eq!(
            answer,
            sign(b"3a5c8f72-e6d9-4b1a-9f2e-8c7d6a5b4e3f"),
            "{name}"
        );
    }
    assert!(wait_until(std::time::Duration::from_secs(5), || count(
        &server.db(),
        "SELECT count(*) FROM deliveries WHERE outcome = 'verify'"
    ) == 2));
}

#[tokio::test]
async fn the_documented_known_answer_challenge_is_answered() {
    let server = TestServer::start().await;
    let body =
        br#"{"eventType":"VERIFY","data":{"challenge":"challenge"},"meta":{"version":"4.0"}}"#;
    let answer = challenge_answer(server.post_signed(body).await).await;
    assert_eq!(
        answer,
        "9baf5a7464bd86740ad5a06e439dcf535a075022ed2c92d74efacf646d79328e"
    );
}

#[tokio::test]
async fn an_unsigned_verify_challenge_is_answered_but_a_wrongly_signed_one_is_not() {
    let server = TestServer::start().await;
    let body = fixture("v2-verify.json");
    let answer = challenge_answer(post(&server.webhook_url(), &body, None).await).await;
    assert_eq!(answer, sign(b"3a5c8f72-e6d9-4b1a-9f2e-8c7d6a5b4e3f"));
    let response = post(&server.webhook_url(), &body, Some(&sign(b"x"))).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_challenge_that_is_not_a_plain_token_is_never_signed() {
    let server = TestServer::start().await;
    // Signing this would hand the caller a valid SC-Signature for a forged delivery.
    let forged = r#"{"eventType":"VEHICLE_STATE","vehicleId":"x","data":{"signals":[]}}"#;
    for challenge in [forged, "has space", "", &"a".repeat(257), "ünïcode"] {
        let body = serde_json::json!({"eventType": "VERIFY", "data": {"challenge": challenge}})
            .to_string();
        for signature in [None, Some(sign(body.as_bytes()))] {
            let response = post(&server.webhook_url(), body.as_bytes(), signature.as_deref()).await;
            assert_eq!(response.status(), 400, "challenge {challenge:?}");
            let text = response.text().await.unwrap();
            assert!(!text.contains(&sign(challenge.as_bytes())));
        }
    }
    assert_eq!(deliveries(&server).await, 0);
}

#[tokio::test]
async fn the_documentation_example_ingests_completely_trailing_comma_and_all() {
    let server = TestServer::start().await;
    let body = fixture(DOCS_EXAMPLE);
    assert!(
        serde_json::from_slice::<Value>(&body).is_err(),
        "fixture must stay byte for byte"
    );
    let response = server.post_signed(&body).await;
    assert_eq!(response.status(), 200);
    let db = server.db();
    let (percent, range, at): (f64, f64, i64) = db
        .query_row(
            "SELECT percent, range_km, recorded_at FROM battery_readings",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((percent, range), (58.0, 283.244544));
    assert_eq!(at, 1_726_869_486_000); // 2024-09-20T21:58:06Z
    let (plugged, state, at): (bool, String, i64) = db
        .query_row(
            "SELECT plugged_in, charging_state, recorded_at FROM charge_readings",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (plugged, state.as_str(), at),
        (false, "NOT_CHARGING", 1_726_869_486_000)
    );
    let (lat, lon, at): (f64, f64, i64) = db
        .query_row(
            "SELECT latitude, longitude, recorded_at FROM locations",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((lat, lon, at), (37.4292, 122.1381, 1_726_869_528_000)); // 21:58:48Z
    // The archive keeps the raw bytes, and the readings point back at it.
    let id: i64 = db
        .query_row("SELECT id FROM deliveries", [], |r| r.get(0))
        .unwrap();
    let stored = fleetdash::store::bodies::read(&db, id).unwrap().unwrap();
    assert_eq!(stored, body);
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM locations WHERE delivery_id = {id}")
        ),
        1
    );
}

#[tokio::test]
async fn every_fixture_is_acknowledged_and_stored_with_the_expected_outcome() {
    let server = TestServer::start().await;
    for name in FIXTURES {
        let response = server.post_signed(&fixture(name)).await;
        assert_eq!(response.status(), 200, "{name}");
    }
    let db = server.db();
    assert!(wait_until(std::time::Duration::from_secs(5), || count(
        &db,
        "SELECT count(*) FROM deliveries"
    ) == FIXTURES.len()
        as i64));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM deliveries WHERE outcome = 'parsed'"
        ),
        5
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM deliveries WHERE outcome = 'verify'"
        ),
        2
    );
    // The v2 AUTHENTICATION_FAILED item marks its vehicle and keeps the re-auth link.
    let (needs, url): (bool, String) = db
        .query_row(
            "SELECT needs_reauth, reauth_url FROM vehicles WHERE id = '11111111-1111-4111-A111-111111111111'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(needs);
    assert!(url.starts_with("https://connect.smartcar.com/oauth/reauthenticate?"));
    // v4: make/model/year come from the payload; a failed signal is an error row.
    let make: String = db
        .query_row(
            "SELECT make FROM vehicles WHERE id = '9af13248-3b73-4c9d-9a4b-d937ce6bc8e2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(make, "TESLA");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM vehicle_errors WHERE source_path = 'location-isathome'"
        ),
        1
    );
    // The v2 eventBased CHARGING_STARTED is a charge reading at its eventTime.
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM charge_readings WHERE charging_state = 'CHARGING' AND recorded_at = 1726869900000"
        ),
        1
    );
}

#[tokio::test]
async fn a_signed_unreadable_body_is_acknowledged_and_quarantined() {
    let server = TestServer::start().await;
    let bodies: [&[u8]; 4] = [
        b"not json at all",
        br#"{"eventType":"VEHICLE_TELEPORTED","vehicleId":"v","data":{}}"#,
        br#"{"version":"2.0","eventName":"weather","payload":{}}"#,
        br#"[1,2,3]"#,
    ];
    for body in bodies {
        let response = server.post_signed(body).await;
        assert_eq!(response.status(), 200);
    }
    let db = server.db();
    let mut statement = db
        .prepare("SELECT id, detail FROM deliveries WHERE outcome = 'quarantined' ORDER BY id")
        .unwrap();
    let rows: Vec<(Vec<u8>, String)> = statement
        .query_map([], |r| {
            let body = fleetdash::store::bodies::read(&db, r.get(0)?)?;
            Ok((body.unwrap_or_default(), r.get(1)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 4);
    for ((stored, detail), sent) in rows.iter().zip(bodies) {
        assert_eq!(stored.as_slice(), sent);
        assert!(!detail.is_empty());
    }
    assert!(rows[1].1.contains("VEHICLE_TELEPORTED"));
}

#[tokio::test]
async fn concurrent_retries_of_one_delivery_store_one_copy() {
    let server = TestServer::start().await;
    let bodies = [
        fixture("v4-vehicle-state.json"),
        fixture(DOCS_EXAMPLE),
        fixture("v2-event-based.json"),
    ];
    let mut tasks = Vec::new();
    for body in &bodies {
        for _ in 0..16 {
            let url = server.webhook_url();
            let body = body.clone();
            tasks.push(tokio::spawn(async move {
                post(&url, &body, Some(&sign(&body))).await.status()
            }));
        }
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let db = server.db();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM deliveries WHERE outcome = 'parsed'"
        ),
        3
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM deliveries WHERE outcome = 'duplicate'"
        ),
        45
    );
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM deliveries WHERE outcome = 'duplicate' AND body IS NOT NULL"
        ),
        0
    );
    assert_eq!(count(&db, "SELECT count(*) FROM battery_readings"), 2);
    assert_eq!(count(&db, "SELECT count(*) FROM locations"), 2);
}

#[tokio::test]
async fn a_v2_batch_that_repeats_one_vehicle_stores_only_the_new_vehicle() {
    let server = TestServer::start().await;
    let first = fixture("v2-dynamic-with-error.json");
    assert_eq!(server.post_signed(&first).await.status(), 200);
    // Smartcar's retry carries the same vehicleId + requestId: a duplicate.
    assert_eq!(server.post_signed(&first).await.status(), 200);
    let db = server.db();
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM deliveries WHERE outcome = 'duplicate'"
        ),
        1
    );
    // A later batch repeats that vehicle's entry next to a new vehicle's.
    let mut batch: Value = serde_json::from_slice(&first).unwrap();
    let mut other = batch["payload"]["vehicles"][0].clone();
    other["vehicleId"] = "22222222-2222-4222-A222-222222222222".into();
    batch["payload"]["vehicles"]
        .as_array_mut()
        .unwrap()
        .push(other);
    let body = batch.to_string().into_bytes();
    assert_eq!(server.post_signed(&body).await.status(), 200);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM deliveries WHERE outcome = 'parsed'"
        ),
        2
    );
    assert_eq!(count(&db, "SELECT count(*) FROM battery_readings"), 2);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM battery_readings WHERE vehicle_id LIKE '2222%'"
        ),
        1
    );
}

#[tokio::test]
async fn healthz_answers_200_while_the_database_takes_writes() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn while_another_connection_holds_the_database_deliveries_get_503_and_nothing_is_stored() {
    let server = TestServer::start_with(std::time::Duration::from_millis(200)).await;
    let locker = server.db();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let body = fixture("v4-vehicle-state.json");
    let response = server.post_signed(&body).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let health = reqwest::get(server.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 503);
    locker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(deliveries(&server).await, 0);
    // Smartcar's retry then succeeds.
    assert_eq!(server.post_signed(&body).await.status(), 200);
    assert_eq!(deliveries(&server).await, 1);
    // The health answer is reused for a second, so the recovery shows within one.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut status = 0;
    while status != 200 && std::time::Instant::now() < deadline {
        status = reqwest::get(server.url("/healthz"))
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_oauth_callback_answers_a_redirect_no_login_is_waiting_for_with_a_plain_page() {
    let server = TestServer::start().await;
    let response = reqwest::get(server.url("/oauth/callback?code=c&state=nobody-asked"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("Not connected"), "{page}");
    assert!(page.contains("did not send"), "{page}");
}
