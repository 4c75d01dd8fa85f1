//! `POST /webhooks/smartcar`: the answers in the product contract's table.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AppState, Sink, Slots};
use crate::domain::time::now_ms;
use crate::smartcar::{ParseError, Webhook, is_plain_challenge, parse_webhook};
use crate::store::Outcome;

/// Largest unsigned body read at all: only a verify challenge may come unsigned, and a
/// real one is a few hundred bytes.
const MAX_UNSIGNED_BYTES: usize = 4096;

/// Unsigned verify challenges note their time at most this often, so a flood of them
/// costs the database nothing.
pub(super) const UNSIGNED_NOTE_EVERY_MS: i64 = 1000;

/// How long a verify answer waits for its note to be committed.
const VERIFY_NOTE_WAIT: Duration = Duration::from_secs(3);

pub(super) async fn receive(
    State(state): State<AppState>,
    slots: Option<Extension<Slots>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let received_at_ms = now_ms();
    let token = &state.inner.token;
    let signed = match headers.get("sc-signature").map(HeaderValue::to_str) {
        None => false,
        Some(Ok(signature)) if token.verify(&body, signature) => true,
        Some(_) => return refuse_signature(&state),
    };
    if !signed && body.len() > MAX_UNSIGNED_BYTES {
        return refuse_signature(&state);
    }
    // The verify answer signs any plain token for anyone, so a body that is one carries
    // a signature its sender could have minted: it proves nothing.
    if signed && std::str::from_utf8(&body).is_ok_and(is_plain_challenge) {
        tracing::warn!("refused a signed body that is a plain token (a minted signature)");
        return refuse_signature(&state);
    }
    // Only now, with the signature checked, does the request take a shared slot.
    let _slot = match (signed, &slots) {
        (true, Some(Extension(slots))) => match slots.take() {
            Ok(slot) => Some(slot),
            Err(refused) => return super::admission::busy(refused, "requests"),
        },
        _ => None,
    };
    let parsed = parse_webhook(&body, received_at_ms);

    if let Ok(Webhook::Verify { challenge, .. }) = &parsed {
        if !is_plain_challenge(challenge) {
            tracing::warn!(
                signed,
                "refused a verify challenge that is not a plain token"
            );
            return error(
                StatusCode::BAD_REQUEST,
                "the challenge is not a plain token",
            );
        }
        let answer = token.sign(challenge.as_bytes());
        if let Sink::Store(writer) = &state.inner.sink {
            if signed {
                // The note is best-effort: the answer must not fail with the disk, and
                // must leave Smartcar's 15 s to spare.
                let note = writer.ingest(received_at_ms, body.clone(), parsed.clone());
                match tokio::time::timeout(VERIFY_NOTE_WAIT, note).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => tracing::warn!(%error, "could not note the verify challenge"),
                    Err(_) => {
                        tracing::warn!("noting the verify challenge is slow; answering first")
                    }
                }
            } else if state.inner.take_unsigned_note(received_at_ms) {
                // Anyone can send these: keep only their time, without waiting.
                writer.note_verify(received_at_ms);
            }
        }
        state.inner.stats.verified.fetch_add(1, Ordering::Relaxed);
        tracing::info!(kind = "verify", signed, "answered a verify challenge");
        return Json(json!({ "challenge": answer })).into_response();
    }
    if !signed {
        return refuse_signature(&state);
    }
    if matches!(parsed, Err(ParseError::ApiRecord)) {
        // This endpoint takes Smartcar's deliveries. An API record here is a mistake or a
        // forgery, and once archived, `reprocess` and every syncing desktop would read it
        // as a poll fleetdash made: refuse it before anything is stored.
        tracing::warn!(
            outcome = "refused",
            "refused a signed body that is a fleetdash API record, not a Smartcar delivery"
        );
        return error(
            StatusCode::BAD_REQUEST,
            "not a Smartcar delivery: fleetdash's own API records are never accepted here",
        );
    }

    let kind = match &parsed {
        Ok(Webhook::Event(event)) => format!("{}/{}", event.format.as_str(), event.kind),
        _ => "unreadable".to_owned(),
    };
    let writer = match &state.inner.sink {
        Sink::Discard => {
            return (StatusCode::OK, Json(json!({"outcome": "discarded"}))).into_response();
        }
        Sink::Store(writer) => writer,
    };
    tracing::debug!(kind, "delivery received; storing");
    match writer.ingest(received_at_ms, body, parsed).await {
        Ok(ingested) => {
            state.inner.stats.stored.fetch_add(1, Ordering::Relaxed);
            if ingested.outcome != Outcome::Duplicate {
                state.inner.arrivals.send_modify(|n| *n += 1);
            }
            tracing::info!(
                kind,
                vehicles = ingested.vehicles,
                readings = ingested.readings,
                outcome = ingested.outcome.as_str(),
                ms = started.elapsed().as_millis() as u64,
                "delivery"
            );
            (
                StatusCode::OK,
                Json(json!({ "outcome": ingested.outcome.as_str() })),
            )
                .into_response()
        }
        Err(store_error) => {
            state
                .inner
                .stats
                .unavailable
                .fetch_add(1, Ordering::Relaxed);
            state.inner.stats.note_error(format!(
                "a delivery could not be stored ({store_error}); Smartcar will retry it"
            ));
            tracing::warn!(
                kind,
                outcome = "refused",
                ms = started.elapsed().as_millis() as u64,
                error = %store_error,
                "delivery not stored; Smartcar will retry"
            );
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the delivery could not be stored; retry later",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("25"));
            response
        }
    }
}

fn refuse_signature(state: &AppState) -> Response {
    state
        .inner
        .stats
        .unauthorized
        .fetch_add(1, Ordering::Relaxed);
    state.inner.stats.note_error(
        "a request with a missing or wrong SC-Signature was refused: check that the \
         management token matches the one in Smartcar's dashboard"
            .into(),
    );
    tracing::warn!(
        outcome = "unauthorized",
        "refused a delivery with a missing or wrong SC-Signature"
    );
    error(StatusCode::UNAUTHORIZED, "missing or invalid SC-Signature")
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
