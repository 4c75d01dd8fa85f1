//! The columns of a `deliveries` row, read off a parse.

use crate::domain::Source;
use crate::smartcar::{ParseError, Webhook};

/// Columns of a `deliveries` row, as derived from a parse.
pub(crate) struct Classified {
    pub format: &'static str,
    pub kind: String,
    pub mode: Option<String>,
    pub detail: Option<String>,
    pub vehicle_ids: Option<String>,
}

pub(crate) fn classify(parsed: &Result<Webhook, ParseError>) -> Classified {
    match parsed {
        Ok(Webhook::Verify { format, .. }) => Classified {
            format: format.as_str(),
            kind: "verify".into(),
            mode: None,
            detail: None,
            vehicle_ids: None,
        },
        Ok(Webhook::Event(event)) => Classified {
            // fleetdash's own API records are told apart from Smartcar's formats.
            format: match event.source {
                Source::Api => "api",
                Source::Webhook => event.format.as_str(),
            },
            kind: event.kind.clone(),
            mode: event.mode.clone(),
            detail: (!event.notes.is_empty()).then(|| event.notes.join("; ")),
            vehicle_ids: join(event.units.iter().map(|u| u.vehicle_id.as_str())),
        },
        Err(error) => Classified {
            format: "unknown",
            kind: "unknown".into(),
            mode: None,
            detail: Some(error.to_string()),
            vehicle_ids: None,
        },
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> Option<String> {
    let joined = parts.collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}
