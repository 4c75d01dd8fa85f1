//! The Account page: the Smartcar application's settings (secrets go to the secret store,
//! and the page says where), signing in with Smartcar Connect, the logins and their expiry,
//! the vehicles' subscriptions and re-connection, "Refresh now", and whether Smartcar can
//! reach the callback. Every operation runs on a thread of its own; the page shows its
//! progress and outcome in plain words.

mod vehicles;

use std::path::Path;
use std::sync::{Arc, Mutex};

use egui::{Color32, RichText};

use crate::account::{Account, AccountConfig, AccountPaths, Grant, SavedSettings};
use crate::domain::time::now_ms;
use crate::server::oauth::LoginWaiters;
use crate::smartcar::client::Secret;
use crate::ui::data::VehicleRow;

/// An operation under way.
struct Job {
    what: String,
    /// The Connect page to open, while a sign-in waits for it.
    url: Arc<Mutex<Option<String>>>,
    outcome: Arc<Mutex<Option<Result<String, String>>>>,
}

/// The page's state.
pub struct AccountView {
    paths: AccountPaths,
    form: SavedSettings,
    client_secret: String,
    management_token: String,
    grants: Vec<Grant>,
    job: Option<Job>,
    message: Option<(bool, String)>,
    /// Open the system browser on Connect's page (tests turn it off).
    pub open_browser: bool,
    loaded: bool,
    /// Whether the secrets are stored, and where: read with the logins (not every frame:
    /// the credential store may be a D-Bus round trip).
    has_client_secret: bool,
    has_management_token: bool,
    store_description: String,
    /// When the last automatic fetch started.
    last_poll: Option<std::time::Instant>,
}

impl AccountView {
    /// The page for the files in `paths`.
    pub fn new(paths: AccountPaths) -> Self {
        AccountView {
            form: SavedSettings::load(&paths.settings()),
            paths,
            client_secret: String::new(),
            management_token: String::new(),
            grants: Vec::new(),
            job: None,
            message: None,
            open_browser: true,
            loaded: false,
            has_client_secret: false,
            has_management_token: false,
            store_description: String::new(),
            last_poll: None,
        }
    }

    fn account(&self) -> Account {
        Account::new(AccountConfig::load(&self.form), self.paths.store())
    }

    /// The logins as last read.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// The last outcome: (succeeded, sentence).
    pub fn message(&self) -> Option<&(bool, String)> {
        self.message.as_ref()
    }

    /// The Connect page a waiting sign-in shows.
    pub fn login_url(&self) -> Option<String> {
        self.job
            .as_ref()
            .and_then(|j| j.url.lock().ok().and_then(|u| u.clone()))
    }

    /// True while an operation runs.
    pub fn busy(&self) -> bool {
        self.job.is_some()
    }

    /// The form, to fill it in as a user would.
    pub fn form_mut(&mut self) -> &mut SavedSettings {
        &mut self.form
    }

    /// Sets the secrets as typed in the form.
    pub fn type_secrets(&mut self, client_secret: &str, management_token: &str) {
        self.client_secret = client_secret.to_owned();
        self.management_token = management_token.to_owned();
    }

    /// Starts the automatic fetch when it is due (called every frame, whatever the page).
    pub fn tick(&mut self, db: &Path, wake: Arc<dyn Fn() + Send + Sync>) -> bool {
        let finished = self.collect();
        let minutes = self.form.poll_minutes;
        if minutes == 0 {
            return finished;
        }
        if !self.loaded {
            self.loaded = true;
            self.reload_grants();
        }
        let period = std::time::Duration::from_secs(u64::from(minutes) * 60);
        let due = self.last_poll.is_none_or(|t| t.elapsed() >= period);
        if due && self.job.is_none() && !self.grants.is_empty() {
            self.last_poll = Some(std::time::Instant::now());
            let db = db.to_owned();
            self.start("Fetching (automatic)", wake, move |account, _| async move {
                let n = crate::commands::account::poll(&account, &db, &[]).await?;
                Ok(format!(
                    "Fetched {n} reading(s) through Smartcar's API (every {minutes} min)."
                ))
            });
        }
        finished
    }

    fn reload_grants(&mut self) {
        let account = self.account();
        self.has_client_secret = account.has_client_secret();
        self.has_management_token = account.has_management_token();
        self.store_description = account.secrets.describe();
        match account.grants() {
            Ok(grants) => self.grants = grants,
            Err(error) => self.message = Some((false, error.to_string())),
        }
    }

    /// Runs `work` on a thread of its own with a small runtime; `wake` repaints.
    fn start<F, Fut>(&mut self, what: &str, wake: Arc<dyn Fn() + Send + Sync>, work: F)
    where
        F: FnOnce(Account, Arc<Mutex<Option<String>>>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = anyhow::Result<String>>,
    {
        if self.job.is_some() {
            return;
        }
        let job = Job {
            what: what.to_owned(),
            url: Arc::default(),
            outcome: Arc::default(),
        };
        let (url, outcome) = (job.url.clone(), job.outcome.clone());
        let account = self.account();
        let spawned = std::thread::Builder::new()
            .name("fleetdash-account".into())
            .spawn(move || {
                let result = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(anyhow::Error::from)
                    .and_then(|rt| rt.block_on(work(account, url)));
                if let Ok(mut o) = outcome.lock() {
                    *o = Some(result.map_err(|e| format!("{e:#}")));
                }
                wake();
            });
        match spawned {
            Ok(_) => {
                self.message = None;
                self.job = Some(job);
            }
            Err(error) => self.message = Some((false, format!("Could not start: {error}"))),
        }
    }

    fn collect(&mut self) -> bool {
        let Some(job) = &self.job else { return false };
        let outcome = job.outcome.lock().ok().and_then(|mut o| o.take());
        let Some(outcome) = outcome else { return false };
        self.message = Some(match outcome {
            Ok(text) => (true, text),
            Err(why) => (false, why),
        });
        self.job = None;
        self.reload_grants();
        true
    }

    /// Draws the page. Returns true when an operation finished (the data may have changed).
    #[allow(clippy::too_many_arguments)]
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        fleet: &[VehicleRow],
        db: &Path,
        server: Option<LoginWaiters>,
        callback: Option<&str>,
        reachability: (Option<i64>, Option<i64>),
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> bool {
        if !self.loaded {
            self.loaded = true;
            self.reload_grants();
        }
        let finished = self.collect();
        self.status_ui(ui);
        egui::ScrollArea::vertical().show(ui, |ui| {
            self.application_ui(ui, &wake);
            ui.separator();
            self.logins_ui(ui, db, server.clone(), &wake);
            ui.separator();
            self.vehicles_ui(ui, fleet, db, server, &wake);
            ui.separator();
            self.reachability_ui(ui, callback, reachability, &wake);
        });
        if self.job.is_some() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(250));
        }
        finished
    }

    fn status_ui(&self, ui: &mut egui::Ui) {
        if let Some(job) = &self.job {
            ui.horizontal_wrapped(|ui| {
                ui.spinner();
                ui.label(format!("{}...", job.what));
            });
            if let Some(url) = job.url.lock().ok().and_then(|u| u.clone()) {
                ui.horizontal_wrapped(|ui| {
                    ui.label("Waiting for Smartcar Connect in your browser. If no page opened:");
                    ui.hyperlink_to("open Smartcar Connect", url);
                });
            }
        }
        if let Some((ok, text)) = &self.message {
            let color = if *ok {
                Color32::from_rgb(60, 160, 90)
            } else {
                Color32::from_rgb(200, 60, 60)
            };
            ui.label(RichText::new(text).color(color));
        }
    }

    fn application_ui(&mut self, ui: &mut egui::Ui, wake: &Arc<dyn Fn() + Send + Sync>) {
        ui.heading("Smartcar application");
        ui.label(
            RichText::new(
                "From the Smartcar Dashboard (dashboard.smartcar.com > Configuration and \
                 Webhooks). Environment variables (SMARTCAR_CLIENT_ID, ...) win over these.",
            )
            .weak(),
        );
        let has_secret = self.has_client_secret;
        let has_amt = self.has_management_token;
        egui::Grid::new("application")
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                ui.label("Client id");
                ui.add(egui::TextEdit::singleline(&mut self.form.client_id).desired_width(360.0));
                ui.end_row();
                ui.label("Client secret");
                ui.add(
                    egui::TextEdit::singleline(&mut self.client_secret)
                        .password(true)
                        .hint_text(if has_secret {
                            "stored (type to replace)"
                        } else {
                            ""
                        })
                        .desired_width(360.0),
                );
                ui.end_row();
                ui.label("Management token");
                ui.add(
                    egui::TextEdit::singleline(&mut self.management_token)
                        .password(true)
                        .hint_text(if has_amt {
                            "stored (type to replace)"
                        } else {
                            ""
                        })
                        .desired_width(360.0),
                );
                ui.end_row();
                ui.label("Webhook id");
                ui.add(egui::TextEdit::singleline(&mut self.form.webhook_id).desired_width(360.0));
                ui.end_row();
                ui.label("Redirect URI");
                ui.add(
                    egui::TextEdit::singleline(&mut self.form.redirect_uri)
                        .hint_text(crate::account::DEFAULT_REDIRECT_URI)
                        .desired_width(360.0),
                );
                ui.end_row();
                ui.label("Mode");
                ui.horizontal(|ui| {
                    for mode in ["live", "test", "simulated"] {
                        let chosen =
                            self.form.mode == mode || (self.form.mode.is_empty() && mode == "live");
                        if ui.selectable_label(chosen, mode).clicked() {
                            self.form.mode = mode.into();
                        }
                    }
                });
                ui.end_row();
            });
        egui::CollapsingHeader::new("Smartcar's addresses (for a simulator)").show(ui, |ui| {
            egui::Grid::new("endpoints").num_columns(2).show(ui, |ui| {
                for (label, value, default) in [
                    (
                        "Connect",
                        &mut self.form.connect_url,
                        "https://connect.smartcar.com",
                    ),
                    (
                        "Tokens",
                        &mut self.form.auth_url,
                        "https://auth.smartcar.com",
                    ),
                    (
                        "Vehicle API",
                        &mut self.form.api_url,
                        "https://api.smartcar.com",
                    ),
                ] {
                    ui.label(label);
                    ui.add(
                        egui::TextEdit::singleline(value)
                            .hint_text(default)
                            .desired_width(360.0),
                    );
                    ui.end_row();
                }
            });
        });
        ui.horizontal_wrapped(|ui| {
            if ui
                .add_enabled(self.job.is_none(), egui::Button::new("Save"))
                .clicked()
            {
                let form = self.form.clone();
                let path = self.paths.settings();
                let secret = std::mem::take(&mut self.client_secret);
                let amt = std::mem::take(&mut self.management_token);
                self.start("Saving", wake.clone(), move |account, _| async move {
                    form.save(&path)?;
                    let secret = (!secret.trim().is_empty()).then(|| Secret::new(secret.trim()));
                    let amt = (!amt.trim().is_empty()).then(|| Secret::new(amt.trim()));
                    account.store_app_secrets(secret.as_ref(), amt.as_ref())?;
                    Ok(format!(
                        "Saved. Secrets are kept {}.",
                        account.secrets.describe()
                    ))
                });
            }
            ui.label(RichText::new(format!("Secrets are kept {}.", self.store_description)).weak());
        });
    }

    fn logins_ui(
        &mut self,
        ui: &mut egui::Ui,
        db: &Path,
        server: Option<LoginWaiters>,
        wake: &Arc<dyn Fn() + Send + Sync>,
    ) {
        ui.heading("Logins");
        if self.grants.is_empty() {
            ui.label("No car owner has signed in yet.");
        }
        let now = now_ms();
        let mut forget = None;
        let mut sign_in_again = false;
        for grant in &self.grants {
            ui.horizontal_wrapped(|ui| {
                ui.label(format!(
                    "Signed in {}: {} vehicle(s)",
                    crate::ui::widgets::local_time_ms(grant.created_at_ms),
                    grant.vehicle_ids.len()
                ));
                match grant.expiry_warning(now) {
                    Some(warning) => {
                        ui.colored_label(Color32::from_rgb(210, 160, 40), warning);
                        if (grant.dead || grant.refresh_expires_ms <= now)
                            && ui
                                .add_enabled(
                                    self.job.is_none(),
                                    egui::Button::new("Sign in again").small(),
                                )
                                .clicked()
                        {
                            sign_in_again = true;
                        }
                    }
                    None => {
                        ui.label(
                            RichText::new(format!(
                                "(valid until {})",
                                crate::ui::widgets::local_time_ms(grant.refresh_expires_ms)
                            ))
                            .weak(),
                        );
                    }
                }
                if ui.small_button("Forget").clicked() {
                    forget = Some(grant.id.clone());
                }
            });
        }
        if let Some(id) = forget {
            if let Err(error) = self.account().remove_grant(&id) {
                self.message = Some((false, error.to_string()));
            }
            self.reload_grants();
        }
        let open_browser = self.open_browser;
        let db = db.to_owned();
        let clicked = ui
            .add_enabled(self.job.is_none(), egui::Button::new("Sign in with Smartcar"))
            .on_hover_text("Opens Smartcar Connect in your browser, where a car owner chooses the vehicles to share")
            .clicked();
        if clicked || sign_in_again {
            self.start("Signing in", wake.clone(), move |account, url| async move {
                let (grant, names) =
                    crate::commands::account::login_with(&account, &db, server, |link| {
                        if let Ok(mut u) = url.lock() {
                            *u = Some(link.to_owned());
                        }
                        if open_browser {
                            let _ = open::that_detached(link);
                        }
                    })
                    .await?;
                Ok(format!(
                    "Signed in: {} vehicle(s) connected ({}). Subscribe them below so \
                     Smartcar sends their data.",
                    grant.vehicle_ids.len(),
                    names.join(", ")
                ))
            });
        }
    }
}
