//! Smartcar Connect: the consent page and its redirect back to the application.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::{CODE_SECS, Grant, IssuedCode, SimApi};

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A hidden form field carrying a query parameter through the consent form.
fn hidden(params: &Params, name: &str) -> String {
    format!(
        r#"<input type="hidden" name="{name}" value="{}">"#,
        escape(param(params, name).unwrap_or_default())
    )
}

/// An error Connect cannot redirect (the redirect URI itself is not trusted).
fn error_page(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!(
            "<!doctype html><title>Smartcar Connect (simulated)</title><h1>Configuration error</h1><p>{}</p>",
            escape(message)
        )),
    )
        .into_response()
}

/// Redirect URIs Smartcar accepts: `http://` only for localhost, any `https://`, or the
/// custom scheme `sc{clientId}://`.
fn redirect_uri_allowed(uri: &str, client_id: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(uri) else {
        return false;
    };
    match url.scheme() {
        "https" => true,
        "http" => matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
        scheme => scheme == format!("sc{client_id}"),
    }
}

fn redirect(uri: &str, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut url) = reqwest::Url::parse(uri) else {
        return error_page("The redirect URI is not a URL.");
    };
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

fn check_client(api: &SimApi, params: &Params) -> Result<String, Response> {
    if param(params, "client_id") != Some(api.config().client_id.as_str()) {
        return Err(error_page(
            "Unknown client_id: check the application's client id.",
        ));
    }
    let redirect_uri = param(params, "redirect_uri").unwrap_or_default();
    if !redirect_uri_allowed(redirect_uri, &api.config().client_id) {
        return Err(error_page(
            "The redirect_uri is not allowed: use http://localhost, https://, or sc{clientId}://.",
        ));
    }
    Ok(redirect_uri.to_owned())
}

/// `GET /oauth/authorize`: the consent page listing the account's vehicles.
pub(super) async fn page(State(api): State<SimApi>, Query(params): Query<Params>) -> Response {
    let redirect_uri = match check_client(&api, &params) {
        Ok(uri) => uri,
        Err(page) => return page,
    };
    if param(&params, "response_type") != Some("code") {
        return error_page("response_type must be code.");
    }
    let mode = param(&params, "mode").unwrap_or("live");
    if !matches!(mode, "live" | "test" | "simulated") {
        return redirect(
            &redirect_uri,
            &[
                ("error", "configuration_error"),
                ("error_description", "mode must be live, test or simulated"),
                ("state", param(&params, "state").unwrap_or_default()),
            ],
        );
    }
    let vehicles: String = api
        .vehicles()
        .iter()
        .map(|v| {
            format!(
                r#"<label><input type="checkbox" name="vehicle" value="{id}" checked> {make} {model} {year}</label><br>"#,
                id = escape(&v.id),
                make = escape(v.make),
                model = escape(v.model),
                year = v.year
            )
        })
        .collect();
    let hidden = |name: &str| hidden(&params, name);
    Html(format!(
        r#"<!doctype html><title>Smartcar Connect (simulated)</title>
<h1>Connect your vehicles</h1>
<p>The application asks for: {scope}</p>
<form method="post" action="/oauth/authorize">
{client}{redirect}{state}
{vehicles}
<button name="decision" value="allow">Allow</button>
<button name="decision" value="deny">Deny</button>
</form>"#,
        scope = escape(param(&params, "scope").unwrap_or_default()),
        client = hidden("client_id"),
        redirect = hidden("redirect_uri"),
        state = hidden("state"),
    ))
    .into_response()
}

/// `POST /oauth/authorize`: Allow or Deny, then back to the application.
pub(super) async fn decide(State(api): State<SimApi>, Form(params): Form<Params>) -> Response {
    let redirect_uri = match check_client(&api, &params) {
        Ok(uri) => uri,
        Err(page) => return page,
    };
    let state = param(&params, "state").unwrap_or_default();
    if param(&params, "decision") != Some("allow") {
        return redirect(
            &redirect_uri,
            &[
                ("error", "access_denied"),
                (
                    "error_description",
                    "The user denied access to their vehicles.",
                ),
                ("state", state),
            ],
        );
    }
    let chosen: Vec<String> = params
        .iter()
        .filter(|(k, v)| k == "vehicle" && api.vehicles().iter().any(|s| &s.id == v))
        .map(|(_, v)| v.clone())
        .collect();
    if chosen.is_empty() {
        return redirect(
            &redirect_uri,
            &[
                ("error", "no_vehicles"),
                ("error_description", "No vehicle was chosen."),
                ("state", state),
            ],
        );
    }
    let code = api.next_id("code");
    let expires_ms = api.clock().now_ms() + CODE_SECS * 1000;
    {
        let mut accounts = api.accounts();
        accounts.grants.push(Grant { vehicles: chosen });
        let grant = accounts.grants.len() - 1;
        accounts.codes.insert(
            code.clone(),
            IssuedCode {
                grant,
                redirect_uri: redirect_uri.clone(),
                expires_ms,
            },
        );
    }
    redirect(&redirect_uri, &[("code", &code), ("state", state)])
}

/// `GET /oauth/reauthenticate`: re-connect one vehicle after AUTHENTICATION_FAILED.
pub(super) async fn reauth_page(
    State(api): State<SimApi>,
    Query(params): Query<Params>,
) -> Response {
    if let Err(page) = check_client(&api, &params) {
        return page;
    }
    let vehicle_id = param(&params, "vehicle_id").unwrap_or_default();
    if !api.vehicles().iter().any(|v| v.id == vehicle_id) {
        return error_page("Unknown vehicle_id.");
    }
    let hidden = |name: &str| hidden(&params, name);
    Html(format!(
        r#"<!doctype html><title>Smartcar Connect (simulated)</title>
<h1>Re-connect your vehicle</h1>
<form method="post" action="/oauth/reauthenticate">{}{}{}{}
<button name="decision" value="allow">Re-connect</button></form>"#,
        hidden("client_id"),
        hidden("redirect_uri"),
        hidden("state"),
        hidden("vehicle_id")
    ))
    .into_response()
}

/// `POST /oauth/reauthenticate`: the owner signed in again.
pub(super) async fn reauth_decide(
    State(api): State<SimApi>,
    Form(params): Form<Params>,
) -> Response {
    let redirect_uri = match check_client(&api, &params) {
        Ok(uri) => uri,
        Err(page) => return page,
    };
    let vehicle_id = param(&params, "vehicle_id").unwrap_or_default().to_owned();
    api.accounts().needs_reauth.remove(&vehicle_id);
    redirect(
        &redirect_uri,
        &[
            ("vehicle_id", &vehicle_id),
            ("state", param(&params, "state").unwrap_or_default()),
        ],
    )
}
