//! An alert POSTed to an ntfy-compatible URL: the body is the message, the headers
//! `Title`, `Tags` and `Priority` say what it is. A self-hosted ntfy, an ntfy.sh topic,
//! or anything that takes such a POST (a Home Assistant webhook, a script) works as is.

use std::time::Duration;

use base64::Engine;
use reqwest::header::{AUTHORIZATION, HeaderValue};

use super::{NOTIFY_URL_ENV, redact};
use crate::store::notifications::Outgoing;

/// How long one POST may take before it counts as failed (and is tried again later).
pub const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// The URL and its optional token.
pub struct Target {
    url: reqwest::Url,
    token: Option<String>,
}

impl Target {
    /// Checks the URL: http or https with a host.
    pub fn new(url: &str, token: Option<String>) -> Result<Target, String> {
        let parsed = reqwest::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| {
                format!(
                    "{NOTIFY_URL_ENV} is not an http(s) address: give the full topic URL, for \
                     example https://ntfy.sh/my-fleet-alerts"
                )
            })?;
        Ok(Target { url: parsed, token })
    }

    /// Host and path, without credentials or query (an `?auth=` there is a secret).
    pub fn describe(&self) -> String {
        let host = self.url.host_str().unwrap_or_default();
        match self.url.port() {
            Some(port) => format!("{host}:{port}{}", self.url.path()),
            None => format!("{host}{}", self.url.path()),
        }
    }

    /// POSTs one alert; an error says why in words safe to log.
    pub async fn send(&self, client: &reqwest::Client, note: &Outgoing) -> Result<(), String> {
        let mut request = client
            .post(self.url.clone())
            .timeout(SEND_TIMEOUT)
            .header("Title", header_text(&note.title))
            .header("Tags", tags(&note.rule))
            .header("Priority", priority(&note.rule))
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(note.message.clone());
        if let Some(token) = &self.token
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {token}"))
        {
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        let secrets: Vec<&str> = self
            .token
            .as_deref()
            .into_iter()
            .chain(self.url.query())
            .chain(self.url.password())
            .collect();
        let answer = request
            .send()
            .await
            .map_err(|e| redact(&e.without_url().to_string(), &secrets))?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let body = answer.text().await.unwrap_or_default();
        let body: String = body.chars().take(200).collect();
        Err(redact(&format!("HTTP {status}: {}", body.trim()), &secrets))
    }
}

/// A header value from any text: plain ASCII as it is, anything else as an RFC 2047
/// encoded word (which ntfy decodes), so a van named "Müller" arrives as "Müller".
fn header_text(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).collect();
    if clean.is_ascii() {
        clean
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(clean.as_bytes())
        )
    }
}

/// ntfy tags: emoji short codes for the phone's notification, and the rule's name.
fn tags(rule: &str) -> String {
    let emoji = match rule {
        "low_battery_before_shift" => "battery",
        "plugged_not_charging" | "charging_stopped_early" => "electric_plug",
        "vehicle_quiet" => "mute",
        "no_deliveries" => "rotating_light",
        "needs_reconnect" => "key",
        _ => "warning",
    };
    format!("{emoji},fleetdash,{rule}")
}

/// What risks the next shift is high; the rest default.
fn priority(rule: &str) -> &'static str {
    match rule {
        "low_battery_before_shift" | "plugged_not_charging" | "no_deliveries" => "high",
        _ => "default",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_ascii_or_encoded_words() {
        assert_eq!(header_text("Van 1"), "Van 1");
        assert_eq!(header_text("Müller\n"), "=?UTF-8?B?TcO8bGxlcg==?=");
        assert!(HeaderValue::from_str(&header_text("Plugged in: Ünal's ☃ van")).is_ok());
        assert_eq!(tags("vehicle_quiet"), "mute,fleetdash,vehicle_quiet");
        assert_eq!(priority("no_deliveries"), "high");
        assert_eq!(priority("vehicle_quiet"), "default");
    }

    #[test]
    fn only_http_addresses_are_taken_and_described_without_secrets() {
        assert!(Target::new("ftp://example.com/x", None).is_err());
        assert!(Target::new("example.com/topic", None).is_err());
        let target =
            Target::new("https://u:pw@ntfy.example.com:8443/fleet?auth=abc", None).unwrap();
        assert_eq!(target.describe(), "ntfy.example.com:8443/fleet");
    }
}
