//! `fleetdash login`, `vehicles`, `subscribe`, `unsubscribe` and `poll`: the Smartcar
//! account from the terminal.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use axum::extract::{Query, State};
use axum::response::Html;

use crate::account::{Account, Grant, new_state};
use crate::domain::time::now_ms;
use crate::domain::{Source, VehicleInfo};
use crate::smartcar::client::{ConnectOutcome, connect_outcome};
use crate::store::{self, Batch, StoreOptions};

/// How long `login` waits for the owner to finish in the browser.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(600);

/// The page the browser shows after Connect sends it back.
fn callback_page(outcome: &ConnectOutcome) -> Html<String> {
    let title = match outcome {
        ConnectOutcome::Code(_) | ConnectOutcome::Reconnected(_) => "Connected",
        ConnectOutcome::Refused(_) | ConnectOutcome::ForeignState => "Not connected",
    };
    let text = outcome.message();
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>fleetdash: {title}</title>\
         <h1>{title}</h1><p>{}</p>",
        escape(&text)
    ))
}

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
    let app = account.application()?;
    let (address, path) = callback_address(&app.redirect_uri)?;
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {address} for Smartcar's redirect: stop what uses that port \
             (fleetdash serve or the app), or register another redirect URI and set \
             SMARTCAR_REDIRECT_URI"
            )
        })?;
    let state = new_state();
    let url = account.client.authorize_url(&app, &state);
    println!("Sign in with Smartcar in your browser: {url}");
    if open_browser && let Err(error) = open::that_detached(&url) {
        tracing::debug!(%error, "no browser opened");
        println!("(No browser opened by itself: open the address above.)");
    }
    let (sender, receiver) = tokio::sync::mpsc::channel::<ConnectOutcome>(1);
    let expected = state.clone();
    let router = axum::Router::new()
        .route(
            &path,
            axum::routing::get(
                |State((sender, expected)): State<(
                    tokio::sync::mpsc::Sender<ConnectOutcome>,
                    String,
                )>,
                 Query(query): Query<Vec<(String, String)>>| async move {
                    let outcome = connect_outcome(&query, &expected);
                    let page = callback_page(&outcome);
                    // A forged or stray redirect is answered but does not end the login.
                    if outcome != ConnectOutcome::ForeignState {
                        let _ = sender.try_send(outcome);
                    }
                    page
                },
            ),
        )
        .with_state((sender, expected));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    let mut receiver = receiver;
    let outcome = tokio::time::timeout(LOGIN_TIMEOUT, receiver.recv()).await;
    let _ = stop.send(());
    let _ = server.await;
    let code = match outcome {
        Ok(Some(ConnectOutcome::Code(code))) => code,
        Ok(Some(ConnectOutcome::Refused(why))) => bail!("{why}"),
        Ok(Some(ConnectOutcome::Reconnected(_) | ConnectOutcome::ForeignState)) | Ok(None) => {
            bail!("Smartcar's answer was not a login: start `fleetdash login` again")
        }
        Err(_) => bail!(
            "no answer from Smartcar Connect within {} minutes: start `fleetdash login` again",
            LOGIN_TIMEOUT.as_secs() / 60
        ),
    };
    let grant = account.complete_login(&code).await?;
    let names = remember_vehicles(account, &grant, db).await?;
    println!(
        "Connected {} vehicle(s): {}",
        grant.vehicle_ids.len(),
        names.join(", ")
    );
    println!("Secrets are kept {}.", account.secrets.describe());
    Ok(grant)
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

fn set_subscribed(db: &Path, id: &str, subscribed: bool) -> anyhow::Result<()> {
    let conn = store::open(db, &StoreOptions::default())?;
    store::vehicles::set_subscribed(&conn, id, subscribed)?;
    Ok(())
}

/// Subscribes vehicles to the webhook, each with its own grant's access token.
pub async fn subscribe(
    account: &Account,
    db: &Path,
    ids: &[String],
    all: bool,
) -> anyhow::Result<usize> {
    let webhook = account.webhook_id()?;
    let ids = chosen(account, ids, all)?;
    let mut failed = 0;
    for id in &ids {
        let grant = account
            .grant_for(id)?
            .with_context(|| format!("{id} is not a connected vehicle"))?;
        let access = account.access_token(&grant.id).await?;
        match account.client.subscribe(&access, id, &webhook).await {
            Ok(()) => {
                set_subscribed(db, id, true)?;
                println!("subscribed {id}");
            }
            Err(error) => {
                failed += 1;
                eprintln!("{id} was not subscribed: {error}");
            }
        }
    }
    if failed > 0 {
        bail!(
            "{failed} of {} vehicle(s) could not be subscribed (see above)",
            ids.len()
        );
    }
    Ok(ids.len())
}

/// Unsubscribes vehicles (with the application management token, as Smartcar requires).
pub async fn unsubscribe(
    account: &Account,
    db: &Path,
    ids: &[String],
    all: bool,
) -> anyhow::Result<usize> {
    let webhook = account.webhook_id()?;
    let token = account.management_token()?;
    let ids = chosen(account, ids, all)?;
    let mut failed = 0;
    for id in &ids {
        match account.client.unsubscribe(&token, id, &webhook).await {
            Ok(()) => {
                set_subscribed(db, id, false)?;
                println!("unsubscribed {id}");
            }
            Err(error) => {
                failed += 1;
                eprintln!("{id} was not unsubscribed: {error}");
            }
        }
    }
    if failed > 0 {
        bail!(
            "{failed} of {} vehicle(s) could not be unsubscribed (see above)",
            ids.len()
        );
    }
    Ok(ids.len())
}

/// Fetches battery, charge and location of vehicles through the batch endpoint into the
/// store (`source = api`); returns the readings stored.
pub async fn poll(account: &Account, db: &Path, ids: &[String]) -> anyhow::Result<usize> {
    let ids = chosen(account, ids, ids.is_empty())?;
    let mut conn = store::open(db, &StoreOptions::default())?;
    let mut stored = 0;
    let mut failures = Vec::new();
    for id in &ids {
        let Some(grant) = account.grant_for(id)? else {
            continue;
        };
        let access = account.access_token(&grant.id).await?;
        let items = match account.client.batch(&access, id).await {
            Ok(items) => items,
            Err(error) => {
                if error.code.as_deref() == Some("AUTHENTICATION_FAILED") {
                    let url = account.client.reauthenticate_url(
                        &account.application()?,
                        id,
                        &new_state(),
                    );
                    store::vehicles::mark_needs_reauth(&conn, id, &url)?;
                    failures.push(format!("{id}: its owner must re-connect it: {url}"));
                } else {
                    failures.push(format!("{id}: {error}"));
                }
                continue;
            }
        };
        let (readings, notes) = crate::smartcar::webhook::readings_from_batch(&items, now_ms());
        for note in notes {
            tracing::warn!(vehicle = %id, note, "part of a batch answer was not read");
        }
        let mut batch = Batch::begin(&mut conn)?;
        let count = batch.store_readings(id, None::<&VehicleInfo>, &readings, Source::Api, None)?;
        batch.commit()?;
        // An answer at all proves Smartcar reaches the car again.
        if !readings
            .errors
            .iter()
            .any(|e| e.error_code == "AUTHENTICATION_FAILED")
        {
            store::vehicles::clear_needs_reauth(&conn, id)?;
        }
        println!(
            "{id}: {} battery, {} charge, {} location, {} error reading(s)",
            readings.battery.len(),
            readings.charge.len(),
            readings.locations.len(),
            readings.errors.len()
        );
        stored += count;
    }
    for failure in &failures {
        eprintln!("{failure}");
    }
    if !failures.is_empty() && stored == 0 {
        bail!("no vehicle could be polled");
    }
    Ok(stored)
}
