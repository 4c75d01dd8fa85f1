//! The Account page's lower half: the connected vehicles (subscribe, re-connect, fetch
//! now) and whether Smartcar can reach the callback server.

use std::path::Path;
use std::sync::Arc;

use egui::RichText;

use super::AccountView;
use crate::server::oauth::LoginWaiters;
use crate::ui::data::VehicleRow;

impl AccountView {
    pub(super) fn vehicles_ui(
        &mut self,
        ui: &mut egui::Ui,
        fleet: &[VehicleRow],
        db: &Path,
        server: Option<LoginWaiters>,
        wake: &Arc<dyn Fn() + Send + Sync>,
    ) {
        ui.heading("Vehicles");
        let connected: Vec<&VehicleRow> = fleet
            .iter()
            .filter(|v| self.grants.iter().any(|g| g.vehicle_ids.contains(&v.id)))
            .collect();
        if connected.is_empty() {
            ui.label("Vehicles appear here once a car owner has signed in.");
            return;
        }
        let idle = self.job.is_none();
        let mut action: Option<(&'static str, Vec<String>)> = None;
        egui::Grid::new("account vehicles")
            .striped(true)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                for v in &connected {
                    ui.label(&v.name);
                    match v.subscribed {
                        Some(true) => {
                            ui.label("subscribed");
                            if ui.add_enabled(idle, egui::Button::new("Unsubscribe").small()).clicked() {
                                action = Some(("unsubscribe", vec![v.id.clone()]));
                            }
                        }
                        _ => {
                            ui.label(if v.subscribed == Some(false) { "not subscribed" } else { "–" });
                            if ui.add_enabled(idle, egui::Button::new("Subscribe").small()).clicked() {
                                action = Some(("subscribe", vec![v.id.clone()]));
                            }
                        }
                    }
                    if v.needs_reauth {
                        if ui
                            .add_enabled(idle, egui::Button::new("Re-connect").small())
                            .on_hover_text("Its owner changed their password: they sign in again on Smartcar's page")
                            .clicked()
                        {
                            action = Some(("reconnect", vec![v.id.clone()]));
                        }
                    } else {
                        ui.label("");
                    }
                    ui.end_row();
                }
            });
        ui.horizontal(|ui| {
            if ui
                .add_enabled(idle, egui::Button::new("Subscribe all"))
                .clicked()
            {
                action = Some(("subscribe", Vec::new()));
            }
            if ui
                .add_enabled(idle, egui::Button::new("Refresh now"))
                .on_hover_text("Fetch battery, charge and location now through Smartcar's API")
                .clicked()
            {
                action = Some(("poll", Vec::new()));
            }
            ui.label("Also fetch every");
            let before = self.form.poll_minutes;
            egui::ComboBox::from_id_salt("poll every")
                .selected_text(match self.form.poll_minutes {
                    0 => "never".to_owned(),
                    m => format!("{m} min"),
                })
                .show_ui(ui, |ui| {
                    for minutes in [0, 15, 30, 60, 180] {
                        let text = if minutes == 0 {
                            "never".to_owned()
                        } else {
                            format!("{minutes} min")
                        };
                        ui.selectable_value(&mut self.form.poll_minutes, minutes, text);
                    }
                });
            if self.form.poll_minutes != before {
                let _ = self.form.save(&self.paths.settings());
            }
            ui.label(
                RichText::new(
                    "while the app runs (fills gaps when webhooks can't get through; one \
                     request per vehicle, within Smartcar's limit of about 120 an hour)",
                )
                .weak(),
            );
        });
        let Some((what, ids)) = action else { return };
        let db = db.to_owned();
        let open_browser = self.open_browser;
        match what {
            "subscribe" => self.start("Subscribing", wake.clone(), move |account, _| async move {
                let all = ids.is_empty();
                let n = crate::commands::account::subscribe(&account, &db, &ids, all).await?;
                Ok(format!(
                    "Subscribed {n} vehicle(s): Smartcar now sends their data."
                ))
            }),
            "unsubscribe" => self.start(
                "Unsubscribing",
                wake.clone(),
                move |account, _| async move {
                    let n =
                        crate::commands::account::unsubscribe(&account, &db, &ids, false).await?;
                    Ok(format!("Unsubscribed {n} vehicle(s)."))
                },
            ),
            "reconnect" => self.start(
                "Re-connecting",
                wake.clone(),
                move |account, url| async move {
                    let id = ids.first().cloned().unwrap_or_default();
                    crate::commands::account::reconnect_with(&account, &db, &id, server, |link| {
                        if let Ok(mut u) = url.lock() {
                            *u = Some(link.to_owned());
                        }
                        if open_browser {
                            let _ = open::that_detached(link);
                        }
                    })
                    .await?;
                    Ok("Re-connected: Smartcar reaches the car again.".into())
                },
            ),
            _ => self.start("Fetching", wake.clone(), move |account, _| async move {
                let n = crate::commands::account::poll(&account, &db, &[]).await?;
                Ok(format!("Fetched {n} reading(s) through Smartcar's API."))
            }),
        }
    }

    pub(super) fn reachability_ui(
        &mut self,
        ui: &mut egui::Ui,
        callback: Option<&str>,
        (last_delivery, last_verify): (Option<i64>, Option<i64>),
        wake: &Arc<dyn Fn() + Send + Sync>,
    ) {
        ui.heading("Can Smartcar reach fleetdash?");
        ui.label(format!(
            "Callback server on this machine: {}",
            callback.unwrap_or(
                "not running (set the management token above and start fleetdash again)"
            )
        ));
        let ago = |t: Option<i64>| t.map_or("never".to_owned(), crate::ui::widgets::local_time_ms);
        ui.label(format!(
            "Last delivery: {} · last verify challenge: {}",
            ago(last_delivery),
            ago(last_verify)
        ));
        ui.horizontal(|ui| {
            ui.label("Public address");
            ui.add(
                egui::TextEdit::singleline(&mut self.form.public_url)
                    .hint_text("https://your-host.example/webhooks/smartcar")
                    .desired_width(380.0),
            );
            let ready = self.job.is_none() && self.form.public_url.trim().starts_with("http");
            if ui
                .add_enabled(ready, egui::Button::new("Test"))
                .on_hover_text("Sends a signed challenge there, as Smartcar does, and checks fleetdash's answer")
                .clicked()
            {
                let mut url = self.form.public_url.trim().trim_end_matches('/').to_owned();
                if !url.ends_with(crate::server::WEBHOOK_PATH) {
                    url.push_str(crate::server::WEBHOOK_PATH);
                }
                let form = self.form.clone();
                let path = self.paths.settings();
                self.start("Testing", wake.clone(), move |account, _| async move {
                    form.save(&path)?;
                    crate::commands::account::test_reachability(&account, &url).await
                });
            }
        });
        ui.label(
            RichText::new(
                "Smartcar delivers only to a public HTTPS address and gives up after a few \
                 minutes. Expose the callback with a tunnel (cloudflared, ngrok or Tailscale \
                 Funnel) to this machine's callback server, or run `fleetdash serve` on an \
                 always-on host behind HTTPS (Caddy), and enter that address + \
                 /webhooks/smartcar as the webhook's callback URI in the Smartcar Dashboard.",
            )
            .weak(),
        );
    }
}
