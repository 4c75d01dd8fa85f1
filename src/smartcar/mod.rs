//! Smartcar's wire formats: webhook payloads (v2 and v4) and their signatures.
//! Nothing here touches the database or the UI.

pub mod client;
pub mod json;
pub mod signature;
pub mod webhook;

pub use signature::{ManagementToken, is_plain_challenge};
pub use webhook::{Event, EventUnit, Format, ParseError, Webhook, parse_archived, parse_webhook};
