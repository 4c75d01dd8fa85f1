//! The Vehicle API (v2.0): vehicles, attributes, battery, charge, location, batch,
//! subscribe and unsubscribe, with Smartcar's headers and errors.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::SimApi;
use super::errors::{api_error, unauthenticated, unknown_path_body};
use crate::domain::time::format_ms;
use crate::domain::units::{km_to_miles, round6};
use crate::sim::fleet::{Sample, VehicleSim, VehicleSpec};

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

impl SimApi {
    /// The vehicles the request's access token may see; then one request off the bucket.
    fn authorize(&self, headers: &HeaderMap) -> Result<Vec<String>, Response> {
        let token = bearer(headers).ok_or_else(unauthenticated)?;
        let now = self.clock().now_ms();
        let vehicles = {
            let accounts = self.accounts();
            let issued = accounts
                .access_tokens
                .get(token.trim())
                .filter(|t| t.expires_ms > now)
                .ok_or_else(unauthenticated)?;
            accounts.grants[issued.grant].vehicles.clone()
        };
        self.take_request()?;
        Ok(vehicles)
    }

    /// The vehicle's index, when the token may see it and its account works.
    fn vehicle(&self, headers: &HeaderMap, id: &str) -> Result<usize, Response> {
        let allowed = self.authorize(headers)?;
        let index = self
            .vehicles()
            .iter()
            .position(|v| v.id == id)
            .filter(|_| allowed.iter().any(|a| a == id))
            .ok_or_else(|| {
                api_error(
                    StatusCode::NOT_FOUND,
                    "RESOURCE_NOT_FOUND",
                    Some("PATH"),
                    "The vehicle does not exist or is not connected to this application.",
                    json!({"type": null}),
                )
            })?;
        if self.accounts().needs_reauth.contains(id) {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            let url = format!(
                "http://{host}/oauth/reauthenticate?response_type=vehicle_id&client_id={}&vehicle_id={id}",
                self.config().client_id
            );
            return Err(api_error(
                StatusCode::BAD_REQUEST,
                "CONNECTED_SERVICES_ACCOUNT",
                Some("AUTHENTICATION_FAILED"),
                "Smartcar was unable to authenticate with the user's connected services account. Please prompt the user to re-authenticate using Smartcar Connect.",
                json!({"type": "REAUTHENTICATE", "url": url}),
            ));
        }
        Ok(index)
    }

    /// The vehicle's state now (the fleet runs in real time from its start).
    fn state(&self, index: usize) -> Sample {
        let now = self.clock().now_ms();
        let spec = self.vehicles()[index].clone();
        let mut last = None;
        for sample in VehicleSim::new(&self.config().fleet, spec, index) {
            if sample.at_ms > now && last.is_some() {
                break;
            }
            last = Some(sample);
        }
        last.unwrap_or(Sample {
            at_ms: now,
            soc_percent: 50.0,
            range_km: 150.0,
            plugged_in: false,
            charging: crate::domain::ChargingState::NotCharging,
            latitude: crate::sim::fleet::CITY_CENTER.0,
            longitude: crate::sim::fleet::CITY_CENTER.1,
            moving: false,
            odometer_km: 10_000.0,
        })
    }
}

fn imperial(headers: &HeaderMap) -> bool {
    headers
        .get("sc-unit-system")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("imperial"))
}

/// The body for one path, or an error body with its status. `""` is the attributes
/// (batch items ask for them as `/`).
fn read(
    path: &str,
    spec: &VehicleSpec,
    sample: &Sample,
    imperial: bool,
) -> Result<Value, (StatusCode, Value)> {
    match path.trim_end_matches('/') {
        "" => Ok(attributes_body(spec)),
        "/battery" => Ok(json!({
            "percentRemaining": round6(sample.soc_percent / 100.0),
            "range": if imperial { km_to_miles(sample.range_km) } else { sample.range_km },
        })),
        "/charge" => {
            Ok(json!({"isPluggedIn": sample.plugged_in, "state": sample.charging.as_str()}))
        }
        "/location" => Ok(json!({"latitude": sample.latitude, "longitude": sample.longitude})),
        _ => Err((StatusCode::NOT_FOUND, unknown_path_body())),
    }
}

fn attributes_body(spec: &VehicleSpec) -> Value {
    json!({"id": spec.id, "make": spec.make, "model": spec.model, "year": spec.year})
}

fn with_headers(body: Value, sample: &Sample, now_ms: i64, imperial: bool) -> Response {
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("sc-data-age", format_ms(sample.at_ms)),
        ("sc-fetched-at", format_ms(now_ms)),
        (
            "sc-unit-system",
            if imperial { "imperial" } else { "metric" }.to_owned(),
        ),
        ("sc-request-id", format!("simulated-{now_ms}")),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    response
}

async fn one_path(api: SimApi, headers: HeaderMap, id: String, path: &str) -> Response {
    let index = match api.vehicle(&headers, &id) {
        Ok(index) => index,
        Err(response) => return response,
    };
    let sample = api.state(index);
    let imperial = imperial(&headers);
    match read(path, &api.vehicles()[index], &sample, imperial) {
        Ok(body) => with_headers(body, &sample, api.clock().now_ms(), imperial),
        Err((status, body)) => (status, Json(body)).into_response(),
    }
}

pub(super) async fn battery(
    State(api): State<SimApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    one_path(api, headers, id, "/battery").await
}

pub(super) async fn charge(
    State(api): State<SimApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    one_path(api, headers, id, "/charge").await
}

pub(super) async fn location(
    State(api): State<SimApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    one_path(api, headers, id, "/location").await
}

pub(super) async fn attributes(
    State(api): State<SimApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    match api.vehicle(&headers, &id) {
        Ok(index) => Json(attributes_body(&api.vehicles()[index])).into_response(),
        Err(response) => response,
    }
}

#[derive(serde::Deserialize)]
pub(super) struct Paging {
    limit: Option<usize>,
    offset: Option<usize>,
}

pub(super) async fn list(
    State(api): State<SimApi>,
    headers: HeaderMap,
    paging: Result<Query<Paging>, QueryRejection>,
) -> Response {
    let vehicles = match api.authorize(&headers) {
        Ok(vehicles) => vehicles,
        Err(response) => return response,
    };
    let Ok(Query(paging)) = paging else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION",
            Some("PARAMETER"),
            "limit and offset must be whole numbers.",
            json!({"type": null}),
        );
    };
    let limit = paging.limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return api_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION",
            Some("PARAMETER"),
            "limit must be between 1 and 50.",
            json!({"type": null}),
        );
    }
    let offset = paging.offset.unwrap_or(0);
    let page: Vec<&String> = vehicles.iter().skip(offset).take(limit).collect();
    Json(json!({"paging": {"count": vehicles.len(), "offset": offset}, "vehicles": page}))
        .into_response()
}

pub(super) async fn batch(
    State(api): State<SimApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    *api.accounts().batch_requests.entry(id.clone()).or_default() += 1;
    let index = match api.vehicle(&headers, &id) {
        Ok(index) => index,
        Err(response) => return response,
    };
    if api.accounts().asleep.contains(&id) {
        return api_error(
            StatusCode::CONFLICT,
            "VEHICLE_STATE",
            Some("ASLEEP"),
            "The vehicle is in a sleep state and temporarily unable to perform your request.",
            json!({"type": "RETRY_LATER"}),
        );
    }
    let requests: Vec<String> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("requests").and_then(Value::as_array).cloned())
        .map(|items| {
            items
                .iter()
                .filter_map(|r| r.get("path").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if requests.is_empty() {
        return api_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION",
            Some("PARAMETER"),
            "The body must be {\"requests\": [{\"path\": ...}]}.",
            json!({"type": null}),
        );
    }
    let sample = api.state(index);
    let imperial = imperial(&headers);
    let unit = if imperial { "imperial" } else { "metric" };
    let responses: Vec<Value> = requests
        .iter()
        .map(|path| match read(path, &api.vehicles()[index], &sample, imperial) {
            Ok(body) => json!({"path": path, "code": 200, "body": body,
                               "headers": {"sc-data-age": format_ms(sample.at_ms), "sc-unit-system": unit}}),
            Err((status, body)) => json!({"path": path, "code": status.as_u16(), "body": body, "headers": {}}),
        })
        .collect();
    Json(json!({"responses": responses})).into_response()
}

pub(super) async fn subscribe(
    State(api): State<SimApi>,
    headers: HeaderMap,
    Path((id, webhook_id)): Path<(String, String)>,
) -> Response {
    if let Err(response) = api.vehicle(&headers, &id) {
        return response;
    }
    if webhook_id != api.config().webhook_id {
        return api_error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_FOUND",
            Some("PATH"),
            "No webhook with this id.",
            json!({"type": null}),
        );
    }
    api.accounts()
        .subscriptions
        .insert((id.clone(), webhook_id.clone()));
    Json(json!({"vehicleId": id, "webhookId": webhook_id})).into_response()
}

pub(super) async fn unsubscribe(
    State(api): State<SimApi>,
    headers: HeaderMap,
    Path((id, webhook_id)): Path<(String, String)>,
) -> Response {
    // Unsubscribing takes the application management token, not a user's token.
    let is_management_token = bearer(&headers).is_some_and(|t| api.config().management_token.is(t));
    if !is_management_token {
        return unauthenticated();
    }
    if let Err(response) = api.take_request() {
        return response;
    }
    api.accounts().subscriptions.remove(&(id, webhook_id));
    Json(json!({"status": "success"})).into_response()
}
