//! The whole callback server (`fleetdash::server::router` through `oneshot`) on any body
//! posted to the webhook path. The first byte chooses how the body is sent: bit 0 signed
//! with the management token, bit 1 (when not signed) with a wrong `SC-Signature` (the
//! body's HMAC under another key), bit 2 without a JSON content type. Checks: no panic;
//! every status is one of the contract's; a wrong signature always gets 401; nothing
//! unsigned gets a 2xx unless it is a plain verify challenge, answered with that
//! challenge's HMAC.
#![no_main]

use std::sync::OnceLock;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use fleetdash::server::{AppState, Sink, WEBHOOK_PATH, router};
use fleetdash::smartcar::{ManagementToken, Webhook, is_plain_challenge, parse_webhook};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use tower::ServiceExt;

/// The management token the tests sign with.
const TOKEN: &str = "amt";

/// Answers the contract's table allows on this path (408 and 503 come from the limits).
const CONTRACT_STATUSES: [u16; 6] = [200, 400, 401, 408, 413, 503];

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: Router,
    token: ManagementToken,
    /// A key that is not the server's.
    wrong_key: ManagementToken,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let token = ManagementToken::new(TOKEN).expect("a token");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        // Discard: the signed path ends where the store would begin, at 10^5 runs a second
        // instead of one fsync each.
        let app = router(AppState::new(token.clone(), Sink::Discard));
        Fixture {
            runtime,
            app,
            token,
            wrong_key: ManagementToken::new("not-the-token").expect("a token"),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let fixture = fixture();
    let signed = mode & 1 != 0;
    let wrong_signature = !signed && mode & 2 != 0;
    let mut request = Request::post(WEBHOOK_PATH);
    if mode & 4 == 0 {
        request = request.header("content-type", "application/json");
    }
    if signed {
        request = request.header("sc-signature", fixture.token.sign(body));
    } else if wrong_signature {
        // The body's HMAC under another key: well-formed, and never the right one (an HMAC
        // of other bytes under the right key would be right whenever the body is those
        // bytes, which the fuzzer found at once).
        request = request.header("sc-signature", fixture.wrong_key.sign(body));
    }
    let request = request.body(Body::from(body.to_vec())).expect("a request");
    let (status, answer) = fixture.runtime.block_on(async {
        let response = fixture
            .app
            .clone()
            .oneshot(request)
            .await
            .expect("the router is infallible");
        let status = response.status();
        let answer = to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (status, answer)
    });
    assert!(
        CONTRACT_STATUSES.contains(&status.as_u16()),
        "status {status} is not in the contract"
    );
    if wrong_signature {
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a wrong signature was let in"
        );
    }
    let verify = match parse_webhook(body, 0) {
        Ok(Webhook::Verify { challenge, .. }) if is_plain_challenge(&challenge) => Some(challenge),
        _ => None,
    };
    if !signed && status.is_success() {
        assert!(verify.is_some(), "an unsigned non-verify body got {status}");
    }
    if status.is_success()
        && let Some(challenge) = verify
    {
        let answer: Value = serde_json::from_slice(&answer).expect("a JSON answer");
        assert_eq!(
            answer["challenge"].as_str(),
            Some(fixture.token.sign(challenge.as_bytes()).as_str()),
            "a verify answer that is not the challenge's HMAC"
        );
    }
});
