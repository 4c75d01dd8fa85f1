//! `fleetdash sync`: pull what a relay (an always-on `fleetdash serve`) archived into the
//! local database, once or following.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use tokio::sync::watch;

use crate::account::secrets::SecretStore;
use crate::account::{AccountPaths, SavedSettings};
use crate::commands::serve::SYNC_TOKEN_ENV;
use crate::domain::time::format_ms;
use crate::smartcar::client::Secret;
use crate::store::{self, StoreOptions};
use crate::sync::{Event, Progress, Relay, SyncError};

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
    let saved = SavedSettings::load(&paths.settings());
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
    let settings_path = paths.settings();
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

/// Refuses a relay that would get the token over plain HTTP across a network, unless the
/// user said the network is theirs (`--allow-insecure-http`).
pub fn check_transport(relay: &Relay, allow_insecure_http: bool) -> anyhow::Result<()> {
    if !relay.sends_token_in_clear() {
        return Ok(());
    }
    if !allow_insecure_http {
        anyhow::bail!(
            "refusing to sync from {} over plain http: the sync token and your fleet's data would \
             cross the network unencrypted, for anyone on the way to read. Use the relay's https:// \
             address (put HTTPS in front of it, see the README's always-on setup), or pass \
             --allow-insecure-http if the whole network between here and the relay is yours (a VPN)",
            relay.url()
        );
    }
    tracing::warn!(
        url = relay.url(),
        "the relay's address is plain http: the sync token and your fleet's data cross the \
         network unencrypted (--allow-insecure-http)"
    );
    Ok(())
}

/// Progress lines at most this often while catching up (and one when up to date).
const LINE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Deliveries per second, for the progress lines.
fn rate(deliveries: u64, since: Instant, now: Instant) -> String {
    let seconds = now.saturating_duration_since(since).as_secs_f64().max(1e-3);
    format!("{:.0} deliveries/s", deliveries as f64 / seconds)
}

/// Pulls from `relay` into `db` until up to date, or (`follow`) until Ctrl-C or SIGTERM,
/// printing progress with the current rate about once a second. Plain HTTP to another
/// host is refused unless `allow_insecure_http`.
pub fn run(
    relay: Relay,
    db: PathBuf,
    follow: bool,
    allow_insecure_http: bool,
) -> anyhow::Result<Progress> {
    check_transport(&relay, allow_insecure_http)?;
    let mut conn = store::open(&db, &StoreOptions::default())
        .with_context(|| format!("could not open the database {}", db.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("fleetdash-sync")
        .build()?;
    let started = Instant::now();
    // The last progress line: when, and the total pulled then (none yet: the first page
    // gets one, with the rate the sync starts at).
    let mut line: Option<(Instant, u64)> = None;
    let progress = runtime.block_on(async {
        let (stop_tx, stop) = watch::channel(false);
        let signalled = crate::commands::serve::shutdown_signal();
        tokio::spawn(async move {
            signalled.await;
            let _ = stop_tx.send(true);
        });
        crate::sync::run(&relay, &mut conn, follow, stop, |event| match event {
            Event::Progress(p) if p.totals.pulled > 0 || !p.up_to_date => {
                let now = Instant::now();
                let (since, pulled_then) = line.unwrap_or((started, 0));
                if line.is_some()
                    && !p.up_to_date
                    && now.saturating_duration_since(since) < LINE_EVERY
                {
                    return;
                }
                // The rate only while catching up: once up to date it would measure the
                // relay's quiet, not the sync.
                let current = if p.up_to_date {
                    String::new()
                } else {
                    let pulled = p.totals.pulled.saturating_sub(pulled_then);
                    format!(", {}", rate(pulled, since, now))
                };
                println!(
                    "{}: pulled {} so far ({} new, {} already here), {} waiting on the relay{current}",
                    format_ms(p.last_sync_at_ms),
                    p.totals.pulled,
                    p.totals.new,
                    p.totals.duplicates,
                    p.remaining
                );
                line = Some((now, p.totals.pulled));
            }
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
    let overall = if follow || progress.totals.pulled == 0 {
        String::new()
    } else {
        let now = Instant::now();
        format!(
            " in {:.1} s ({})",
            now.saturating_duration_since(started).as_secs_f64(),
            rate(progress.totals.pulled, started, now)
        )
    };
    println!(
        "{} {}: pulled {} deliveries ({} new, {} already here, {} unreadable kept in quarantine){overall}",
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
