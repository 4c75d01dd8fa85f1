//! Settings → "Receive data from an always-on fleetdash": the relay's address and sync
//! token, and the live sync that follows it on a thread of its own ("fleetdash-sync").
//!
//! The sync writes into the user's database through its own connection, like a second
//! writer; the UI learns of what arrived the way it learns of local deliveries (the
//! reader watches `PRAGMA data_version`). Everything that touches the credential store or
//! the network runs on the sync thread, never in a frame.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use egui::{Color32, RichText};
use tokio::sync::watch;

use crate::account::AccountPaths;
use crate::commands::sync::{save_relay, saved_relay};
use crate::domain::time::now_ms;
use crate::smartcar::client::Secret;
use crate::store::archive::sync_position;
use crate::store::{self, StoreOptions};
use crate::sync::{Event, Relay, normalize_url};

/// What the sync is doing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SyncState {
    /// Reading the saved settings.
    #[default]
    Starting,
    /// No relay is set: nothing to do.
    Off,
    /// Pulling the backlog.
    Syncing,
    /// Everything the relay had is here; waiting for the next delivery.
    UpToDate,
    /// A passing problem (the relay is unreachable): trying again by itself.
    Retrying(String),
    /// Stopped until the user changes something (wrong token, wrong address).
    Failed(String),
    /// Saved, not followed: demo mode shows simulated data only.
    Paused,
}

/// What the sync reports to the UI.
#[derive(Debug, Clone, Default)]
pub struct SyncStatus {
    /// The relay's address, once read.
    pub url: Option<String>,
    /// A token is saved for it.
    pub token_saved: bool,
    /// What it is doing.
    pub state: SyncState,
    /// When the relay last answered (ms), from this run or an earlier one.
    pub last_sync_at_ms: Option<i64>,
    /// Deliveries still waiting on the relay after its last answer.
    pub remaining: Option<u64>,
    /// Deliveries pulled since the sync started.
    pub pulled: u64,
    /// The address is plain http to another machine: the token crosses the network in
    /// the clear.
    pub in_clear: bool,
}

/// A change to the saved relay, applied by the sync thread before it starts.
enum Change {
    /// Save this address; a token when one was typed, else keep the saved one.
    Set { url: String, token: Option<Secret> },
    /// Forget the address and the token.
    Clear,
}

/// The sync thread; dropping it stops the sync (within a moment: the long poll is
/// abandoned, a page being stored is finished).
struct Worker {
    status: Arc<Mutex<SyncStatus>>,
    stop: watch::Sender<bool>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Worker {
    fn start(
        paths: AccountPaths,
        db: PathBuf,
        change: Option<Change>,
        follow: bool,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        let status = Arc::new(Mutex::new(SyncStatus::default()));
        let (stop, stopped) = watch::channel(false);
        let shared = status.clone();
        let spawned = std::thread::Builder::new()
            .name("fleetdash-sync".into())
            .spawn(move || {
                if let Err(error) =
                    work(&paths, &db, change, follow, &shared, wake.as_ref(), stopped)
                {
                    set(&shared, |s| s.state = SyncState::Failed(sentence(&error)));
                    wake();
                }
            });
        if let Err(error) = spawned {
            set(&status, |s| {
                s.state = SyncState::Failed(format!("The sync could not start: {error}"))
            });
        }
        Worker { status, stop }
    }

    fn status(&self) -> SyncStatus {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

fn set(status: &Mutex<SyncStatus>, change: impl FnOnce(&mut SyncStatus)) {
    if let Ok(mut s) = status.lock() {
        change(&mut s);
    }
}

/// "The relay at … refused …": the errors are written as clauses for the command line.
fn sentence(error: &impl std::fmt::Display) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// Saves `change`, reads the saved relay and follows it until `stopped`.
fn work(
    paths: &AccountPaths,
    db: &Path,
    change: Option<Change>,
    follow: bool,
    status: &Mutex<SyncStatus>,
    wake: &(dyn Fn() + Send + Sync),
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    match change {
        Some(Change::Set { url, token }) => {
            let token = match token {
                Some(token) => Some(token),
                None => saved_relay(paths)?.token,
            };
            save_relay(paths, &url, token.as_ref())?;
        }
        Some(Change::Clear) => save_relay(paths, "", None)?,
        None => {}
    }
    let saved = saved_relay(paths)?;
    if saved.url.trim().is_empty() {
        set(status, |s| {
            *s = SyncStatus {
                state: SyncState::Off,
                token_saved: saved.token.is_some(),
                ..SyncStatus::default()
            }
        });
        wake();
        return Ok(());
    }
    let url = normalize_url(&saved.url).unwrap_or(saved.url.clone());
    set(status, |s| {
        s.url = Some(url.clone());
        s.token_saved = saved.token.is_some();
    });
    if !follow {
        set(status, |s| s.state = SyncState::Paused);
        wake();
        return Ok(());
    }
    let Some(token) = saved.token else {
        anyhow::bail!(
            "There is no sync token for {url}: enter the token the relay's `fleetdash serve` \
             runs with (FLEETDASH_SYNC_TOKEN on the relay), then Save and connect."
        );
    };
    let relay = Relay::new(&url, token)?;
    set(status, |s| s.in_clear = relay.sends_token_in_clear());
    let mut conn = store::open(db, &StoreOptions::default()).map_err(|e| {
        anyhow::anyhow!(
            "the database {} could not be opened for the sync: {e}",
            db.display()
        )
    })?;
    let position = sync_position(&conn, relay.url())?;
    set(status, |s| {
        s.state = SyncState::Syncing;
        s.last_sync_at_ms = position.last_sync_at_ms;
        s.remaining = position.remaining;
    });
    wake();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(crate::sync::run(
        &relay,
        &mut conn,
        true,
        stopped,
        |event| {
            set(status, |s| match event {
                Event::Progress(p) => {
                    s.last_sync_at_ms = Some(p.last_sync_at_ms);
                    s.remaining = Some(p.remaining);
                    s.pulled = p.totals.pulled;
                    s.state = if p.up_to_date {
                        SyncState::UpToDate
                    } else {
                        SyncState::Syncing
                    };
                }
                Event::StartingOver { .. } => s.state = SyncState::Syncing,
                Event::Retrying { error, retry_in } => {
                    s.state = SyncState::Retrying(format!(
                        "{}; trying again in {} s",
                        sentence(&error),
                        retry_in.as_secs().max(1)
                    ))
                }
            });
            wake();
        },
    ))?;
    Ok(())
}

/// The Settings section and the sync it controls.
pub struct RelayView {
    paths: Option<AccountPaths>,
    worker: Option<Worker>,
    url_draft: String,
    token_draft: String,
    /// The drafts were filled from the saved settings.
    drafts_loaded: bool,
    problem: Option<String>,
}

impl RelayView {
    /// The section for the account files in `paths` (none: the section says it is not
    /// available).
    pub fn new(paths: Option<AccountPaths>) -> Self {
        RelayView {
            paths,
            worker: None,
            url_draft: String::new(),
            token_draft: String::new(),
            drafts_loaded: false,
            problem: None,
        }
    }

    /// Starts following the saved relay into `db` (none saved: the sync says it is off);
    /// in demo mode (`demo`) only reads what is saved, since the simulated fleet has a
    /// database of its own.
    pub fn follow(&mut self, db: &Path, demo: bool, wake: Arc<dyn Fn() + Send + Sync>) {
        self.start(db, demo, None, wake);
    }

    /// Stops the running sync, then starts one that first saves `change` (if any) and
    /// follows the saved relay; in demo mode it saves only.
    fn start(
        &mut self,
        db: &Path,
        demo: bool,
        change: Option<Change>,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) {
        // The old sync stops before the new one starts.
        self.worker = None;
        self.worker = self
            .paths
            .clone()
            .map(|paths| Worker::start(paths, db.to_owned(), change, !demo, wake));
    }

    /// The sync's status (none without account files).
    pub fn status(&self) -> Option<SyncStatus> {
        self.worker.as_ref().map(Worker::status)
    }

    /// The address and token typed into the form (tests).
    pub fn type_relay(&mut self, url: &str, token: &str) {
        self.drafts_loaded = true;
        self.url_draft = url.into();
        self.token_draft = token.into();
    }

    /// The banner's status line, when a relay is set.
    pub fn banner_ui(&self, ui: &mut egui::Ui) {
        let Some(status) = self.status() else { return };
        let Some(url) = &status.url else { return };
        let last = match status.last_sync_at_ms {
            Some(at) => format!(
                "last sync {}",
                crate::ui::widgets::staleness(now_ms() - at).0
            ),
            None => "never synced".into(),
        };
        ui.horizontal_wrapped(|ui| match &status.state {
            SyncState::Starting | SyncState::Off | SyncState::Paused => {}
            SyncState::Syncing => {
                ui.spinner();
                match status.remaining {
                    Some(remaining) => ui.label(format!(
                        "Syncing from {url}: {remaining} deliveries still on the relay · {last}"
                    )),
                    None => ui.label(format!("Syncing from {url} · {last}")),
                };
            }
            SyncState::UpToDate => {
                ui.label(format!(
                    "Receiving from {url}: up to date · {last} · backlog 0"
                ));
            }
            SyncState::Retrying(problem) => {
                ui.colored_label(
                    Color32::from_rgb(210, 160, 40),
                    format!("Receiving from {url} · {last} · {problem}"),
                );
            }
            SyncState::Failed(problem) => {
                ui.colored_label(
                    Color32::from_rgb(200, 60, 60),
                    format!("Not receiving from the always-on fleetdash: {problem} See Settings."),
                );
            }
        });
    }

    /// The Settings rows: address, token, the buttons and the status.
    pub fn settings_ui(
        &mut self,
        ui: &mut egui::Ui,
        db: &Path,
        demo: bool,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) {
        let Some(paths) = self.paths.clone() else {
            ui.label("Not available in this window.");
            return;
        };
        let status = self.status();
        if !self.drafts_loaded {
            // account.json only: the token stays on the sync thread's side.
            let saved = crate::account::SavedSettings::load(&paths.settings());
            self.url_draft = saved.sync_url;
            self.drafts_loaded = true;
        }
        ui.vertical(|ui| {
            ui.label(
                "Pull every delivery from a `fleetdash serve` that runs day and night (a \
                 small server, a Raspberry Pi), so nothing is lost while this computer sleeps.",
            );
            egui::Grid::new("relay").num_columns(2).show(ui, |ui| {
                ui.label("Address");
                ui.add(
                    egui::TextEdit::singleline(&mut self.url_draft)
                        .hint_text("https://fleet.example.com")
                        .desired_width(360.0),
                );
                ui.end_row();
                ui.label("Sync token");
                let saved = status.as_ref().is_some_and(|s| s.token_saved);
                ui.add(
                    egui::TextEdit::singleline(&mut self.token_draft)
                        .password(true)
                        .hint_text(if saved {
                            "saved (type to replace)"
                        } else {
                            "FLEETDASH_SYNC_TOKEN of the relay"
                        })
                        .desired_width(360.0),
                );
                ui.end_row();
            });
            ui.horizontal(|ui| {
                if ui.button("Save and connect").clicked() {
                    match normalize_url(&self.url_draft) {
                        Err(_) if self.url_draft.trim().is_empty() => {
                            self.problem = Some(
                                "Enter the address of the always-on fleetdash, like \
                                 https://fleet.example.com"
                                    .into(),
                            )
                        }
                        Ok(url) => {
                            let token = self.token_draft.trim();
                            let token = (!token.is_empty()).then(|| Secret::new(token.to_owned()));
                            self.problem = None;
                            self.url_draft = url.clone();
                            self.token_draft.clear();
                            self.start(db, demo, Some(Change::Set { url, token }), wake.clone());
                        }
                        Err(error) => self.problem = Some(sentence(&error)),
                    }
                }
                let set = status.as_ref().is_some_and(|s| s.url.is_some());
                if set && ui.button("Stop receiving").clicked() {
                    self.url_draft.clear();
                    self.token_draft.clear();
                    self.problem = None;
                    self.start(db, demo, Some(Change::Clear), wake.clone());
                }
            });
            if let Some(problem) = &self.problem {
                ui.colored_label(Color32::from_rgb(200, 60, 60), problem);
            }
            if let Some(status) = &status {
                status_ui(ui, status);
            }
            ui.label(
                RichText::new(
                    "The token is kept with your other secrets (the system's credential \
                     store, or a file only you can read). The relay lends its deliveries \
                     only: your Smartcar tokens never leave it.",
                )
                .weak(),
            );
        });
    }
}

fn status_ui(ui: &mut egui::Ui, status: &SyncStatus) {
    let last = status.last_sync_at_ms.map(|at| {
        format!(
            "{} ({})",
            crate::ui::widgets::staleness(now_ms() - at).0,
            crate::domain::time::format_ms(at / 1000 * 1000)
        )
    });
    match &status.state {
        SyncState::Starting => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading the saved settings...");
            });
        }
        SyncState::Off => {
            ui.label("Off: this computer receives only what reaches its own callback.");
        }
        SyncState::Paused => {
            ui.label(
                "Saved. Demo mode shows simulated data only: the sync starts when you leave \
                 demo mode, into your own database.",
            );
        }
        SyncState::Syncing => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!(
                    "Syncing: {} pulled, {} still on the relay",
                    status.pulled,
                    status
                        .remaining
                        .map_or_else(|| "some".to_owned(), |n| n.to_string())
                ));
            });
        }
        SyncState::UpToDate => {
            let pulled = match status.pulled {
                0 => String::new(),
                n => format!(" ({n} deliveries pulled since the app started)"),
            };
            ui.colored_label(
                Color32::from_rgb(60, 160, 90),
                format!("Up to date{pulled}: new deliveries arrive within seconds."),
            );
        }
        SyncState::Retrying(problem) => {
            ui.colored_label(Color32::from_rgb(210, 160, 40), problem);
        }
        SyncState::Failed(problem) => {
            ui.colored_label(Color32::from_rgb(200, 60, 60), problem);
        }
    }
    if status.url.is_some() && status.state != SyncState::Paused {
        ui.label(match last {
            Some(last) => format!("Last sync: {last}"),
            None => "Last sync: never".to_owned(),
        });
    }
    if status.in_clear {
        ui.colored_label(
            Color32::from_rgb(210, 160, 40),
            "This address is plain http: the sync token and your fleet's data cross the \
             network unencrypted. Put HTTPS in front of the relay (see the README's \
             always-on setup) and use its https:// address.",
        );
    }
}
