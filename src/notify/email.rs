//! An alert by email (`lettre`): the subject is the alert's heading, the body its message.
//! The server comes as a URL: `smtps://user:password@host` (TLS from the start, port 465),
//! `smtp://user:password@host:587?tls=required` (STARTTLS), or `smtp://host:port` (plain,
//! for a relay on the same machine or network).

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::ntfy::SEND_TIMEOUT;
use super::{NOTIFY_EMAIL_ENV, NOTIFY_FROM_ENV, SMTP_URL_ENV, redact};
use crate::store::notifications::Outgoing;

/// The mail server, recipient and sender.
pub struct Target {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    to: Mailbox,
    from: Mailbox,
    host: String,
    password: Option<String>,
}

impl Target {
    /// Checks the server URL and the addresses.
    pub fn new(smtp_url: &str, to: &str, from: Option<String>) -> Result<Target, String> {
        let parsed = reqwest::Url::parse(smtp_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some());
        let Some(parsed) = parsed else {
            return Err(format!(
                "{SMTP_URL_ENV} is not a mail server address: give smtp://HOST:PORT or \
                 smtps://USER:PASSWORD@HOST"
            ));
        };
        let password = parsed.password().map(str::to_owned);
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| {
                let secrets: Vec<&str> = password.as_deref().into_iter().collect();
                redact(&format!("{SMTP_URL_ENV} could not be used: {e}"), &secrets)
            })?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        let to: Mailbox = to.parse().map_err(|_| {
            format!("{NOTIFY_EMAIL_ENV} is not an email address: give one like owner@example.com")
        })?;
        let from: Mailbox = match from {
            Some(from) => from.parse().map_err(|_| {
                format!(
                    "{NOTIFY_FROM_ENV} is not an email address: give one like fleetdash@example.com"
                )
            })?,
            None => to.clone(),
        };
        Ok(Target {
            transport,
            to,
            from,
            host: parsed.host_str().unwrap_or_default().to_owned(),
            password,
        })
    }

    /// Recipient and server, without credentials.
    pub fn describe(&self) -> String {
        format!("email to {} via {}", self.to.email, self.host)
    }

    /// Sends one alert; an error says why in words safe to log.
    pub async fn send(&self, note: &Outgoing) -> Result<(), String> {
        let secrets: Vec<&str> = self.password.as_deref().into_iter().collect();
        let body = format!(
            "{}\n\n-- \nfleetdash alert {} ({})\n",
            note.message, note.alert_id, note.rule
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(self.to.clone())
            .subject(&note.title)
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| format!("the email could not be written: {e}"))?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|e| redact(&format!("the mail server refused or failed: {e}"), &secrets))
    }
}
