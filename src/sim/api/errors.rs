//! Smartcar's error bodies, and the application-wide rate limit.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::SimApi;

/// Requests in the application-wide bucket.
pub const RATE_LIMIT_BUCKET: f64 = 120.0;
/// The bucket refills at two requests per minute.
const REFILL_PER_MS: f64 = 2.0 / 60_000.0;

/// A Vehicle API error in Smartcar's shape.
pub fn api_error(
    status: StatusCode,
    error_type: &str,
    code: Option<&str>,
    description: &str,
    resolution: serde_json::Value,
) -> Response {
    (
        status,
        Json(error_body(
            status,
            error_type,
            code,
            description,
            resolution,
        )),
    )
        .into_response()
}

fn error_body(
    status: StatusCode,
    error_type: &str,
    code: Option<&str>,
    description: &str,
    resolution: serde_json::Value,
) -> serde_json::Value {
    json!({
        "type": error_type,
        "code": code,
        "description": description,
        "docURL": format!("https://smartcar.com/docs/errors/api-errors/{}", error_type.to_ascii_lowercase()),
        "statusCode": status.as_u16(),
        "requestId": "simulated-request",
        "resolution": resolution,
        "suggestedUserMessage": description,
    })
}

/// The body of Smartcar's 404 for a path (or method) the API does not have; batch items
/// carry it too.
pub fn unknown_path_body() -> serde_json::Value {
    error_body(
        StatusCode::NOT_FOUND,
        "RESOURCE_NOT_FOUND",
        Some("PATH"),
        "The requested resource does not exist. Check the URL and the HTTP method.",
        json!({"type": null}),
    )
}

/// 404 in Smartcar's shape for any path (or method) the service does not have.
pub async fn unknown_path() -> Response {
    (StatusCode::NOT_FOUND, Json(unknown_path_body())).into_response()
}

/// 401 for a missing, unknown or expired token.
pub fn unauthenticated() -> Response {
    api_error(
        StatusCode::UNAUTHORIZED,
        "AUTHENTICATION",
        None,
        "The authorization header is missing or malformed, or it contains an invalid or expired token.",
        json!({"type": "REAUTHENTICATE"}),
    )
}

impl SimApi {
    /// Takes one request from the bucket, or answers 429 with `retry-after`.
    pub(super) fn take_request(&self) -> Result<(), Response> {
        let now = self.clock().now_ms();
        let mut accounts = self.accounts();
        let refill = (now - accounts.bucket_at_ms).max(0) as f64 * REFILL_PER_MS;
        accounts.bucket = (accounts.bucket + refill).min(RATE_LIMIT_BUCKET);
        accounts.bucket_at_ms = now;
        if accounts.bucket >= 1.0 {
            accounts.bucket -= 1.0;
            return Ok(());
        }
        let wait_secs = ((1.0 - accounts.bucket) / REFILL_PER_MS / 1000.0).ceil() as u64;
        let mut response = api_error(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT",
            Some("SMARTCAR_API"),
            "You have reached the throttling rate limit for this application.",
            json!({"type": "RETRY_LATER"}),
        );
        if let Ok(value) = HeaderValue::from_str(&wait_secs.max(1).to_string()) {
            response.headers_mut().insert("retry-after", value);
        }
        Err(response)
    }
}
