//! `fleetdash login`, `vehicles`, `subscribe`, `unsubscribe` and `poll`: the Smartcar
//! account from the terminal.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::account::poll::{FetchError, fetch};
use crate::account::{Account, Grant, new_state};
use crate::domain::time::now_ms;
use crate::server::oauth::{self, LoginWaiters};
use crate::smartcar::client::ConnectOutcome;
use crate::smartcar::{Webhook, parse_archived};
use crate::store::{self, Batch, StoreOptions};

/// How long `login` waits for the owner to finish in the browser.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(600);

/// Where the redirect URI points on this machine: (bind address, path).
fn callback_address(redirect_uri: &str) -> anyhow::Result<(String, String)> {
    let url = reqwest::Url::parse(redirect_uri)
        .with_context(|| format!("the redirect URI {redirect_uri} is not a URL"))?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if url.scheme() != "http" || !local {
        bail!(
            "the redirect URI {redirect_uri} does not point at this machine: for `fleetdash \
             login` use http://localhost:PORT/oauth/callback, registered in the Smartcar \
             Dashboard, in SMARTCAR_REDIRECT_URI"
        );
    }
    let port = url.port_or_known_default().unwrap_or(80);
    Ok((format!("127.0.0.1:{port}"), url.path().to_owned()))
}

/// Signs in with Smartcar Connect: prints the URL (and opens the browser), catches the
/// redirect on the redirect URI's port, trades the code, stores the grant and its vehicles.
pub async fn login(account: &Account, db: &Path, open_browser: bool) -> anyhow::Result<Grant> {
    let (grant, names) = login_with(account, db, None, |url| {
        println!("Sign in with Smartcar in your browser: {url}");
        if open_browser && let Err(error) = open::that_detached(url) {
            tracing::debug!(%error, "no browser opened");
            println!("(No browser opened by itself: open the address above.)");
        }
    })
    .await?;
    println!(
        "Connected {} vehicle(s): {}",
        grant.vehicle_ids.len(),
        names.join(", ")
    );
    println!("Secrets are kept {}.", account.secrets.describe());
    Ok(grant)
}

/// The login itself. With `server`, the redirect reaches an already running callback server
/// (the app's); without, a server of its own listens on the redirect URI's port until the
/// answer comes. `show` gets the Connect URL to open. Returns the grant and its vehicles'
/// names.
pub async fn login_with(
    account: &Account,
    db: &Path,
    server: Option<LoginWaiters>,
    show: impl FnOnce(&str),
) -> anyhow::Result<(Grant, Vec<String>)> {
    let app = account.application()?;
    let state = new_state();
    let url = account.client.authorize_url(&app, &state);
    let outcome = await_connect(&app.redirect_uri, server, &state, &url, show).await;
    let code = match outcome? {
        ConnectOutcome::Code(code) => code,
        ConnectOutcome::Refused(why) => bail!("{why}"),
        ConnectOutcome::Reconnected(_) | ConnectOutcome::ForeignState => {
            bail!("Smartcar's answer was not a login: start the sign-in again")
        }
    };
    let grant = account.complete_login(&code).await?;
    let names = remember_vehicles(account, &grant, db).await?;
    Ok((grant, names))
}

/// Shows `url` and waits for Connect's redirect carrying `state`: on `server` (a running
/// callback server's waiters) or on a server of its own on the redirect URI's port.
async fn await_connect(
    redirect_uri: &str,
    server: Option<LoginWaiters>,
    state: &str,
    url: &str,
    show: impl FnOnce(&str),
) -> anyhow::Result<ConnectOutcome> {
    let (waiters, own_server) =
        match server {
            Some(waiters) => (waiters, None),
            None => {
                let (address, path) = callback_address(redirect_uri)?;
                let listener = tokio::net::TcpListener::bind(&address).await.with_context(|| {
                format!(
                    "cannot listen on {address} for Smartcar's redirect: stop what uses that \
                     port (fleetdash serve or the app), or register another redirect URI and \
                     set SMARTCAR_REDIRECT_URI"
                )
            })?;
                let waiters = LoginWaiters::default();
                let router = axum::Router::new()
                    .route(&path, axum::routing::get(oauth::callback))
                    .with_state(waiters.clone());
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(async move {
                    axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await
                });
                (waiters, Some((stop, task)))
            }
        };
    let answer = waiters.register(state);
    show(url);
    let outcome = tokio::time::timeout(LOGIN_TIMEOUT, answer).await;
    if let Some((stop, task)) = own_server {
        let _ = stop.send(());
        let _ = task.await;
    }
    match outcome {
        Ok(Ok(outcome)) => Ok(outcome),
        Ok(Err(_)) => bail!("the sign-in was abandoned: start it again"),
        Err(_) => bail!(
            "no answer from Smartcar Connect within {} minutes: start the sign-in again",
            LOGIN_TIMEOUT.as_secs() / 60
        ),
    }
}

/// Re-connects one vehicle after AUTHENTICATION_FAILED: its owner signs in again on
/// Smartcar's re-authentication page; the flag clears when Smartcar confirms.
pub async fn reconnect_with(
    account: &Account,
    db: &Path,
    vehicle_id: &str,
    server: Option<LoginWaiters>,
    show: impl FnOnce(&str),
) -> anyhow::Result<()> {
    let app = account.application()?;
    let state = new_state();
    let url = account.client.reauthenticate_url(&app, vehicle_id, &state);
    match await_connect(&app.redirect_uri, server, &state, &url, show).await? {
        ConnectOutcome::Reconnected(id) if id == vehicle_id => {
            let conn = store::open(db, &StoreOptions::default())?;
            store::vehicles::clear_needs_reauth(&conn, vehicle_id)?;
            Ok(())
        }
        ConnectOutcome::Refused(why) => bail!("{why}"),
        _ => bail!("Smartcar's answer was not this vehicle's re-connection: try again"),
    }
}

/// Sends a signed verify challenge to `callback_url` (the public address Smartcar
/// delivers to) and checks the answer, as Smartcar does when a webhook is verified.
pub async fn test_reachability(account: &Account, callback_url: &str) -> anyhow::Result<String> {
    let token = account.management_token()?;
    let amt = crate::smartcar::ManagementToken::new(token.expose())
        .context("the management token is empty")?;
    let challenge = new_state();
    let body = serde_json::json!({
        "eventId": new_state(),
        "eventType": "VERIFY",
        "data": {"challenge": challenge},
        "meta": {"version": "4.0", "deliveredAt": now_ms(), "mode": "test"},
    })
    .to_string();
    let signature = amt.sign(body.as_bytes());
    let response = reqwest::Client::new()
        .post(callback_url)
        .header("content-type", "application/json")
        .header("sc-signature", signature)
        .timeout(Duration::from_secs(15))
        .body(body)
        .send()
        .await
        .with_context(|| {
            format!(
                "nothing answered at {callback_url}: is the tunnel or the always-on host \
                 running, and does it forward to fleetdash?"
            )
        })?;
    let status = response.status();
    let answer: serde_json::Value = response.json().await.unwrap_or_default();
    if status.is_success() && answer["challenge"] == amt.sign(challenge.as_bytes()) {
        Ok(format!(
            "{callback_url} answered Smartcar's challenge correctly: deliveries will get through."
        ))
    } else if status.as_u16() == 401 {
        bail!(
            "{callback_url} answered, but refused the signature: the fleetdash there uses \
             another management token"
        )
    } else {
        bail!(
            "{callback_url} answered {status}, not fleetdash's answer to the challenge: check \
             that the address ends in /webhooks/smartcar and reaches fleetdash"
        )
    }
}

/// Reads each vehicle's make, model and year into the database; returns their names.
async fn remember_vehicles(
    account: &Account,
    grant: &Grant,
    db: &Path,
) -> anyhow::Result<Vec<String>> {
    let access = account.access_token(&grant.id).await?;
    let conn = store::open(db, &StoreOptions::default())?;
    let mut infos = Vec::new();
    for id in &grant.vehicle_ids {
        match account.client.attributes(&access, id).await {
            Ok(attributes) => infos.push(attributes),
            // One car's trouble doesn't stop the others.
            Err(error) if error.code.as_deref() == Some("AUTHENTICATION_FAILED") => {
                // Smartcar's own resolution URL may lack the redirect URI and state.
                let url =
                    account
                        .client
                        .reauthenticate_url(&account.application()?, id, &new_state());
                store::vehicles::mark_needs_reauth(&conn, id, &url)?;
                eprintln!("{id}: its owner must re-connect it: {url}");
            }
            Err(error) => eprintln!("{id}: {error}"),
        }
    }
    let mut names = Vec::new();
    for a in &infos {
        store::vehicles::upsert_attributes(
            &conn,
            &a.id,
            a.make.as_deref(),
            a.model.as_deref(),
            a.year,
        )?;
        names.push(
            [
                a.make.clone(),
                a.model.clone(),
                a.year.map(|y| y.to_string()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
        );
    }
    Ok(names)
}

/// One row of `fleetdash vehicles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VehicleLine {
    /// Smartcar's id.
    pub id: String,
    /// Make, model and year (or the owner's name).
    pub name: String,
    /// Subscribed, not subscribed, or not known.
    pub subscribed: Option<bool>,
}

/// Every connected vehicle with its subscription state (refreshing what the database
/// knows of their make, model and year).
pub async fn vehicles(account: &Account, db: &Path) -> anyhow::Result<Vec<VehicleLine>> {
    let grants = account.grants()?;
    if grants.is_empty() {
        bail!("no vehicle is connected yet: run `fleetdash login` first");
    }
    for grant in &grants {
        if let Some(warning) = grant.expiry_warning(now_ms()) {
            eprintln!("{warning}");
        }
        remember_vehicles(account, grant, db).await?;
    }
    let conn = store::open(db, &StoreOptions::default())?;
    let mut lines = Vec::new();
    for grant in &grants {
        for id in &grant.vehicle_ids {
            let (name, subscribed) = store::vehicles::name_and_subscription(&conn, id)?
                .unwrap_or_else(|| (id.clone(), None));
            lines.push(VehicleLine {
                id: id.clone(),
                name,
                subscribed,
            });
        }
    }
    Ok(lines)
}

/// The vehicles a command acts on: `ids`, or every connected one with `all`.
fn chosen(account: &Account, ids: &[String], all: bool) -> anyhow::Result<Vec<String>> {
    let known: Vec<String> = account
        .grants()?
        .into_iter()
        .flat_map(|g| g.vehicle_ids)
        .collect();
    if all {
        if known.is_empty() {
            bail!("no vehicle is connected yet: run `fleetdash login` first");
        }
        return Ok(known);
    }
    if ids.is_empty() {
        bail!("name a vehicle id (see `fleetdash vehicles`) or use --all");
    }
    for id in ids {
        if !known.contains(id) {
            bail!("{id} is not a connected vehicle: see `fleetdash vehicles`");
        }
    }
    Ok(ids.to_vec())
}

/// Subscribes vehicles to the webhook, each with its own grant's access token.
pub async fn subscribe(
    account: &Account,
    db: &Path,
    ids: &[String],
    all: bool,
) -> anyhow::Result<usize> {
    change_subscriptions(account, db, ids, all, true).await
}

/// Unsubscribes vehicles (with the application management token, as Smartcar requires).
pub async fn unsubscribe(
    account: &Account,
    db: &Path,
    ids: &[String],
    all: bool,
) -> anyhow::Result<usize> {
    change_subscriptions(account, db, ids, all, false).await
}

/// Subscribes or unsubscribes each chosen vehicle, recording each success; one vehicle's
/// failure is reported and the others go on.
async fn change_subscriptions(
    account: &Account,
    db: &Path,
    ids: &[String],
    all: bool,
    subscribe: bool,
) -> anyhow::Result<usize> {
    let webhook = account.webhook_id()?;
    // Unsubscribing takes the management token; subscribing, each owner's token.
    let management_token = if subscribe {
        None
    } else {
        Some(account.management_token()?)
    };
    let ids = chosen(account, ids, all)?;
    let conn = store::open(db, &StoreOptions::default())?;
    let verb = if subscribe {
        "subscribed"
    } else {
        "unsubscribed"
    };
    let mut failed = 0;
    for id in &ids {
        let result = match &management_token {
            Some(token) => account.client.unsubscribe(token, id, &webhook).await,
            None => {
                let grant = account
                    .grant_for(id)?
                    .with_context(|| format!("{id} is not a connected vehicle"))?;
                let access = account.access_token(&grant.id).await?;
                account.client.subscribe(&access, id, &webhook).await
            }
        };
        match result {
            Ok(()) => {
                store::vehicles::set_subscribed(&conn, id, subscribe)?;
                println!("{verb} {id}");
            }
            Err(error) => {
                failed += 1;
                eprintln!("{id} was not {verb}: {error}");
            }
        }
    }
    if failed > 0 {
        bail!(
            "{failed} of {} vehicle(s) could not be {verb} (see above)",
            ids.len()
        );
    }
    Ok(ids.len())
}

/// Fetches battery, charge and location of vehicles through the batch endpoint and archives
/// each answer as a delivery (fleetdash's own API record: `format` = `api`), read by the same
/// code as webhooks (`source` = `api`), so `reprocess` keeps the readings and a desktop that
/// syncs from this database gets them too. Returns the readings stored.
pub async fn poll(account: &Account, db: &Path, ids: &[String]) -> anyhow::Result<usize> {
    let ids = chosen(account, ids, ids.is_empty())?;
    let mut conn = store::open(db, &StoreOptions::default())?;
    let mut stored = 0;
    let mut failures = Vec::new();
    for id in &ids {
        let fetched = match fetch(account, id, &now_ms).await {
            Ok(fetched) => fetched,
            Err(FetchError::NoLogin) => continue,
            Err(error) => {
                failures.push(format!("{id}: {error}"));
                continue;
            }
        };
        let parsed = parse_archived(&fetched.body, fetched.fetched_at_ms);
        let mut batch = Batch::begin(&mut conn)?;
        let ingested = batch.ingest(fetched.fetched_at_ms, &fetched.body, &parsed)?;
        batch.commit()?;
        let Ok(Webhook::Event(event)) = &parsed else {
            failures.push(format!(
                "{id}: Smartcar's answer could not be read; it is kept in quarantine"
            ));
            continue;
        };
        for note in &event.notes {
            tracing::warn!(vehicle = %id, note, "part of a batch answer was not read");
        }
        let readings = &event.units[0].readings;
        if let Some(locked_out) = readings
            .errors
            .iter()
            .find(|e| e.needs_reauthentication() && e.active)
        {
            let url = locked_out.resolution_url.as_deref().unwrap_or_default();
            failures.push(format!("{id}: its owner must re-connect it: {url}"));
            continue;
        }
        println!(
            "{id}: {} battery, {} charge, {} location, {} error reading(s)",
            readings.battery.len(),
            readings.charge.len(),
            readings.locations.len(),
            readings.errors.len()
        );
        stored += ingested.readings;
    }
    for failure in &failures {
        eprintln!("{failure}");
    }
    if !failures.is_empty() && stored == 0 {
        bail!("no vehicle could be polled");
    }
    Ok(stored)
}
