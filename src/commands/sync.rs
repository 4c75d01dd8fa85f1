//! `fleetdash sync`: pull what a relay (an always-on `fleetdash serve`) archived into the
//! local database, once or following.

use std::path::PathBuf;

use anyhow::Context;
use tokio::sync::watch;

use crate::account::SavedSettings;
use crate::account::secrets::SecretStore;
use crate::commands::serve::SYNC_TOKEN_ENV;
use crate::domain::time::format_ms;
use crate::smartcar::client::Secret;
use crate::store::{self, StoreOptions};
use crate::sync::{Event, Progress, Relay, SyncError};
use crate::ui::account::AccountPaths;

/// The secret store's key for the sync token.
pub const TOKEN_SECRET_KEY: &str = "sync_token";

/// What the app saved: the relay's address and token (either may be missing).
pub struct SavedRelay {
    /// The relay's address (empty: none).
    pub url: String,
    /// Its token.
    pub token: Option<Secret>,
}

/// Reads the saved relay address and token.
pub fn saved_relay(paths: &AccountPaths) -> anyhow::Result<SavedRelay> {
    let saved = SavedSettings::load(&SavedSettings::path_beside(&paths.secrets));
    let token = paths
        .store()
        .get(TOKEN_SECRET_KEY)
        .context("could not read the sync token from the credential store")?;
    Ok(SavedRelay {
        url: saved.sync_url,
        token,
    })
}

/// Saves the relay's address (in `account.json`) and token (in the secret store); an
/// empty address and no token turn receiving off.
pub fn save_relay(paths: &AccountPaths, url: &str, token: Option<&Secret>) -> anyhow::Result<()> {
    let settings_path = SavedSettings::path_beside(&paths.secrets);
    let mut saved = SavedSettings::load(&settings_path);
    saved.sync_url = url.trim().to_owned();
    store_token(&paths.store(), token)?;
    saved
        .save(&settings_path)
        .with_context(|| format!("could not save {}", settings_path.display()))
}

fn store_token(store: &SecretStore, token: Option<&Secret>) -> anyhow::Result<()> {
    store
        .set(TOKEN_SECRET_KEY, token)
        .context("could not keep the sync token in the credential store")
}

/// The relay to pull from: `from` (else the saved address) with `FLEETDASH_SYNC_TOKEN`
/// (else the saved token).
pub fn relay(from: Option<&str>, paths: &AccountPaths) -> anyhow::Result<Relay> {
    let env_token = std::env::var(SYNC_TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty());
    let saved = if from.is_some() && env_token.is_some() {
        None
    } else {
        Some(saved_relay(paths)?)
    };
    let url = match from {
        Some(url) => url.to_owned(),
        None => saved.as_ref().map(|s| s.url.clone()).unwrap_or_default(),
    };
    if url.trim().is_empty() {
        anyhow::bail!(
            "no relay address: give the always-on fleetdash's address with --from https://fleet.example.com"
        );
    }
    let token = env_token
        .map(Secret::new)
        .or_else(|| saved.and_then(|s| s.token))
        .ok_or(SyncError::NoToken)?;
    Ok(Relay::new(&url, token)?)
}

/// Pulls from `relay` into `db` until up to date, or (`follow`) until Ctrl-C or SIGTERM,
/// printing a line per page.
pub fn run(relay: Relay, db: PathBuf, follow: bool) -> anyhow::Result<Progress> {
    if relay.sends_token_in_clear() {
        tracing::warn!(
            url = relay.url(),
            "the relay's address is plain http: the sync token and your fleet's data cross the \
             network unencrypted; put HTTPS in front of the relay (see the README's always-on setup)"
        );
    }
    let mut conn = store::open(&db, &StoreOptions::default())
        .with_context(|| format!("could not open the database {}", db.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("fleetdash-sync")
        .build()?;
    let progress = runtime.block_on(async {
        let (stop_tx, stop) = watch::channel(false);
        let signalled = crate::commands::serve::shutdown_signal();
        tokio::spawn(async move {
            signalled.await;
            let _ = stop_tx.send(true);
        });
        crate::sync::run(&relay, &mut conn, follow, stop, |event| match event {
            Event::Progress(p) if p.totals.pulled > 0 || !p.up_to_date => println!(
                "{}: pulled {} so far ({} new, {} already here), {} waiting on the relay",
                format_ms(p.last_sync_at_ms),
                p.totals.pulled,
                p.totals.new,
                p.totals.duplicates,
                p.remaining
            ),
            Event::Progress(_) => {}
            Event::StartingOver { cursor } => println!(
                "the relay's archive ends before the last sync (delivery {cursor}): it was restored \
                 or replaced, so starting again from its first delivery; nothing is stored twice"
            ),
            Event::Retrying { error, retry_in } => {
                eprintln!("{error}; trying again in {} s", retry_in.as_secs())
            }
        })
        .await
    })?;
    println!(
        "{} {}: pulled {} deliveries ({} new, {} already here, {} unreadable kept in quarantine)",
        if progress.up_to_date {
            "up to date with"
        } else {
            "stopped syncing from"
        },
        relay.url(),
        progress.totals.pulled,
        progress.totals.new,
        progress.totals.duplicates,
        progress.totals.quarantined,
    );
    Ok(progress)
}
