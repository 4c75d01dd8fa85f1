//! Alerts sent from `serve`, the always-on box: to an ntfy-compatible URL and by email.
//!
//! A thread of its own ([`worker`]) evaluates the rules (at least once a minute, and soon
//! after deliveries change the data), queues each newly open alert in the database, and
//! sends what is queued, retrying failures with backoff. It reads through its own
//! connection and writes only its small queue rows, so ingest never waits on a send.

pub mod email;
pub mod ntfy;
pub mod worker;

use std::time::Duration;

use crate::store::notifications::Channel;

/// The ntfy-compatible URL each new alert is POSTed to.
pub const NOTIFY_URL_ENV: &str = "FLEETDASH_NOTIFY_URL";
/// An access token for that URL (sent as `Authorization: Bearer`), for a protected topic.
pub const NOTIFY_TOKEN_ENV: &str = "FLEETDASH_NOTIFY_TOKEN";
/// The SMTP server for email alerts, e.g. `smtps://user:password@mail.example.com`.
pub const SMTP_URL_ENV: &str = "FLEETDASH_SMTP_URL";
/// Who receives email alerts.
pub const NOTIFY_EMAIL_ENV: &str = "FLEETDASH_NOTIFY_EMAIL";
/// Who email alerts come from (default: the recipient).
pub const NOTIFY_FROM_ENV: &str = "FLEETDASH_NOTIFY_FROM";

/// Where `serve` sends alerts; empty when nothing is set.
#[derive(Default)]
pub struct NotifyConfig {
    /// The ntfy-compatible target.
    pub url: Option<ntfy::Target>,
    /// The email target.
    pub email: Option<email::Target>,
}

impl NotifyConfig {
    /// Reads the settings from the environment.
    pub fn from_env() -> Result<NotifyConfig, String> {
        NotifyConfig::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var` (the environment, or a test's map). A value that is
    /// set but unusable is refused with what to change, not ignored: the owner would
    /// otherwise learn of it only when an alert fails to arrive.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<NotifyConfig, String> {
        let var = |name: &str| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let url = var(NOTIFY_URL_ENV)
            .map(|url| ntfy::Target::new(&url, var(NOTIFY_TOKEN_ENV)))
            .transpose()?;
        let email = match (var(SMTP_URL_ENV), var(NOTIFY_EMAIL_ENV)) {
            (Some(smtp), Some(to)) => Some(email::Target::new(&smtp, &to, var(NOTIFY_FROM_ENV))?),
            (None, None) => None,
            (Some(_), None) => {
                return Err(format!(
                    "{SMTP_URL_ENV} is set but {NOTIFY_EMAIL_ENV} is not: set {NOTIFY_EMAIL_ENV} \
                     to the address that should receive alerts, or unset {SMTP_URL_ENV}"
                ));
            }
            (None, Some(_)) => {
                return Err(format!(
                    "{NOTIFY_EMAIL_ENV} is set but {SMTP_URL_ENV} is not: set {SMTP_URL_ENV} to \
                     your mail server (e.g. smtps://user:password@mail.example.com), or unset \
                     {NOTIFY_EMAIL_ENV}"
                ));
            }
        };
        Ok(NotifyConfig { url, email })
    }

    /// The channels set.
    pub fn channels(&self) -> Vec<Channel> {
        let mut channels = Vec::new();
        if self.url.is_some() {
            channels.push(Channel::Url);
        }
        if self.email.is_some() {
            channels.push(Channel::Email);
        }
        channels
    }

    /// Where alerts go, for the start-up line: hosts and addresses, never a secret.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(url) = &self.url {
            parts.push(url.describe());
        }
        if let Some(email) = &self.email {
            parts.push(email.describe());
        }
        (!parts.is_empty()).then(|| parts.join(" and "))
    }
}

/// How long to wait before the next attempt after `attempts` failed ones: 5 s, doubling,
/// at most 30 minutes, so a notification service that is down for a day is not hammered
/// and one that is back is used within half an hour.
pub fn backoff(attempts: u32) -> Duration {
    let seconds = 5u64.saturating_mul(1u64 << attempts.saturating_sub(1).min(20));
    Duration::from_secs(seconds.min(30 * 60))
}

/// An error's text with anything after a URL's credentials cut: sends fail with messages
/// that may quote the address, and the address may hold a token.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut text = text.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        text = text.replace(secret, "[hidden]");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_to_at_most_half_an_hour() {
        let table = [
            (1, 5),
            (2, 10),
            (3, 20),
            (4, 40),
            (9, 1280),
            (10, 1800),
            (64, 1800),
        ];
        for (attempts, seconds) in table {
            assert_eq!(
                backoff(attempts),
                Duration::from_secs(seconds),
                "{attempts}"
            );
        }
    }

    #[test]
    fn half_set_email_settings_are_refused_with_what_to_set() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let error = NotifyConfig::from_vars(vars(&[(SMTP_URL_ENV, "smtp://localhost:25")]))
            .err()
            .unwrap();
        assert!(error.contains(NOTIFY_EMAIL_ENV), "{error}");
        let error = NotifyConfig::from_vars(vars(&[(NOTIFY_EMAIL_ENV, "a@example.com")]))
            .err()
            .unwrap();
        assert!(error.contains(SMTP_URL_ENV), "{error}");
        let error = NotifyConfig::from_vars(vars(&[(NOTIFY_URL_ENV, "ntfy.sh/fleet")]))
            .err()
            .unwrap();
        assert!(error.contains("http"), "{error}");
        let error = NotifyConfig::from_vars(vars(&[
            (SMTP_URL_ENV, "smtp://localhost:25"),
            (NOTIFY_EMAIL_ENV, "not an address"),
        ]))
        .err()
        .unwrap();
        assert!(error.contains(NOTIFY_EMAIL_ENV), "{error}");
        let none = NotifyConfig::from_vars(vars(&[(NOTIFY_URL_ENV, "  ")])).unwrap();
        assert!(none.channels().is_empty());
        let both = NotifyConfig::from_vars(vars(&[
            (NOTIFY_URL_ENV, "https://ntfy.sh/fleet-alerts"),
            (NOTIFY_TOKEN_ENV, "tk_secret_token"),
            (SMTP_URL_ENV, "smtps://me:hunter22@mail.example.com"),
            (NOTIFY_EMAIL_ENV, "owner@example.com"),
        ]))
        .unwrap();
        assert_eq!(both.channels(), [Channel::Url, Channel::Email]);
        let said = both.describe().unwrap();
        assert!(
            said.contains("ntfy.sh") && said.contains("owner@example.com"),
            "{said}"
        );
        assert!(
            !said.contains("hunter22") && !said.contains("tk_secret"),
            "{said}"
        );
    }
}
