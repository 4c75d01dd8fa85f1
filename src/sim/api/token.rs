//! `POST /oauth/token`: code exchange and refresh with rotation.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use serde_json::json;

use super::{ACCESS_TOKEN_SECS, IssuedToken, REFRESH_TOKEN_SECS, SimApi};

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn client_authenticated(api: &SimApi, headers: &HeaderMap) -> bool {
    let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim()) else {
        return false;
    };
    let expected = format!("{}:{}", api.config().client_id, api.config().client_secret);
    decoded == expected.as_bytes()
}

pub(super) async fn exchange(
    State(api): State<SimApi>,
    headers: HeaderMap,
    Form(params): Form<Vec<(String, String)>>,
) -> Response {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    if !client_authenticated(&api, &headers) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client id or secret.",
        );
    }
    let now = api.clock().now_ms();
    let grant = match get("grant_type") {
        "authorization_code" => {
            // A code works once.
            let issued = api.accounts().codes.remove(get("code"));
            match issued {
                Some(code) if code.expires_ms > now && code.redirect_uri == get("redirect_uri") => {
                    code.grant
                }
                Some(code) if code.expires_ms <= now => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The code has expired.",
                    );
                }
                Some(_) => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "redirect_uri does not match the one the code was issued for.",
                    );
                }
                None => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The code is invalid or was already used.",
                    );
                }
            }
        }
        "refresh_token" => {
            // Every refresh returns a new refresh token; the old one dies now.
            let issued = api.accounts().refresh_tokens.remove(get("refresh_token"));
            match issued {
                Some(token) if token.expires_ms > now => token.grant,
                _ => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The refresh token is invalid, expired or already used.",
                    );
                }
            }
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token.",
            );
        }
    };
    let access_token = api.next_id("access");
    let refresh_token = api.next_id("refresh");
    {
        let mut accounts = api.accounts();
        accounts.access_tokens.insert(
            access_token.clone(),
            IssuedToken {
                grant,
                expires_ms: now + ACCESS_TOKEN_SECS * 1000,
            },
        );
        accounts.refresh_tokens.insert(
            refresh_token.clone(),
            IssuedToken {
                grant,
                expires_ms: now + REFRESH_TOKEN_SECS * 1000,
            },
        );
    }
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_SECS,
        "refresh_token": refresh_token,
    }))
    .into_response()
}
