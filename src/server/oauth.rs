//! `GET /oauth/callback`: where Smartcar Connect sends the owner's browser back. A login in
//! progress registers its random `state` here and waits; the redirect carrying that state
//! is handed to it, and the browser gets a plain page telling the owner what happened.
//! Redirects carrying any other state are answered and otherwise ignored.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::Html;
use tokio::sync::oneshot;

use crate::smartcar::client::{ConnectOutcome, connect_outcome};

/// The path Connect redirects to.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// Logins waiting for Connect's redirect, by `state`.
#[derive(Clone, Default)]
pub struct LoginWaiters {
    waiting: Arc<Mutex<HashMap<String, oneshot::Sender<ConnectOutcome>>>>,
}

impl LoginWaiters {
    /// Waits for the redirect carrying `state`.
    pub fn register(&self, state: &str) -> oneshot::Receiver<ConnectOutcome> {
        let (sender, receiver) = oneshot::channel();
        if let Ok(mut waiting) = self.waiting.lock() {
            // Forget logins whose waiter gave up.
            waiting.retain(|_, s| !s.is_closed());
            waiting.insert(state.to_owned(), sender);
        }
        receiver
    }

    /// Hands a redirect's query to the login that sent its state; returns the outcome.
    pub fn deliver(&self, query: &[(String, String)]) -> ConnectOutcome {
        let state = query
            .iter()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let waiter = self.waiting.lock().ok().and_then(|mut w| w.remove(&state));
        let Some(waiter) = waiter else {
            return ConnectOutcome::ForeignState;
        };
        let outcome = connect_outcome(query, &state);
        let _ = waiter.send(outcome.clone());
        outcome
    }
}

/// The page the browser shows.
pub fn page(outcome: &ConnectOutcome) -> Html<String> {
    let title = match outcome {
        ConnectOutcome::Code(_) | ConnectOutcome::Reconnected(_) => "Connected",
        ConnectOutcome::Refused(_) | ConnectOutcome::ForeignState => "Not connected",
    };
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>fleetdash: {title}</title>\
         <h1>{title}</h1><p>{}</p>",
        escape(&outcome.message())
    ))
}

/// The handler.
pub async fn callback(
    State(waiters): State<LoginWaiters>,
    Query(query): Query<Vec<(String, String)>>,
) -> Html<String> {
    page(&waiters.deliver(&query))
}
