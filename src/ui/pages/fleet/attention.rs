//! The Fleet page's "Needs attention" area: each open alert (what, which car, since when
//! in the fleet's time zone, and what to do), then what the glance finds in the cars'
//! latest values that no open alert already says (a car whose quiet spell has an alert
//! is listed once, with the alert's words).

use egui::RichText;

use crate::domain::alerts::Rule;
use crate::domain::glance::Attention;
use crate::domain::zone::FleetZone;
use crate::store::alerts::Listed;
use crate::ui::alerts::OpenAlerts;
use crate::ui::data::VehicleRow;
use crate::ui::notify::NotifyStatus;
use crate::ui::widgets::{GOOD, PROBLEM, WARNING, local_time_ms, staleness};

/// What the area shows, besides the cars' rows.
pub struct AttentionCx<'a> {
    /// The alerts at the reader's last look (`None` before the first).
    pub alerts: Option<&'a OpenAlerts>,
    /// The fleet's time zone (alerts' times are in it).
    pub zone: &'a FleetZone,
    /// Whether alerts are announced on the desktop.
    pub notify: Option<NotifyStatus>,
    /// Now, ms.
    pub now_ms: i64,
}

/// One line of the area.
enum Item<'a> {
    Alert(&'a Listed),
    Glance(&'a VehicleRow, Attention),
}

/// The "Needs attention" area; returns the vehicle whose name was clicked.
pub fn attention_ui(ui: &mut egui::Ui, rows: &[&VehicleRow], cx: &AttentionCx) -> Option<String> {
    let open: &[Listed] = cx.alerts.map_or(&[], |a| &a.open);
    let said = |row: &VehicleRow, attention: &Attention| {
        open.iter().any(|l| {
            l.alert.rule == attention.said_by() && l.alert.vehicle_id.as_deref() == Some(&row.id)
        })
    };
    let items: Vec<Item> = open
        .iter()
        .map(Item::Alert)
        .chain(rows.iter().flat_map(|row: &&VehicleRow| {
            let row: &VehicleRow = row;
            Attention::of(&row.now(), cx.now_ms)
                .into_iter()
                .filter(move |a| !said(row, a))
                .map(move |a| Item::Glance(row, a))
        }))
        .collect();
    let mut clicked = None;
    if items.is_empty() {
        ui.label(RichText::new("Nothing needs you now.").color(GOOD));
    } else {
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.strong(format!("Needs attention ({})", items.len()));
            egui::ScrollArea::vertical()
                .id_salt("attention")
                .max_height(260.0)
                .show(ui, |ui| {
                    for item in &items {
                        let opened = match item {
                            Item::Alert(listed) => alert_ui(ui, listed, rows, cx),
                            Item::Glance(row, attention) => glance_ui(ui, row, attention, cx),
                        };
                        if opened.is_some() {
                            clicked = opened;
                        }
                    }
                });
        });
    }
    let resolved: &[Listed] = cx.alerts.map_or(&[], |a| &a.resolved);
    if !resolved.is_empty() {
        // Closed: what is open comes first, and the vehicles' table stays in view; one
        // click shows the owner who looks in the morning what happened overnight.
        egui::CollapsingHeader::new(format!(
            "Resolved in the last 24 hours ({})",
            resolved.len()
        ))
        .id_salt("resolved alerts")
        .show(ui, |ui| {
            for listed in resolved {
                if let Some(id) = resolved_ui(ui, listed, cx) {
                    clicked = Some(id);
                }
            }
        });
    }
    if cx.notify == Some(NotifyStatus::Unavailable) {
        ui.label(
            RichText::new(
                "Desktop notifications are unavailable on this system: open alerts show here.",
            )
            .weak(),
        );
    }
    clicked
}

/// The car's name as a link to it; returns its id when clicked. Read out as the car and
/// what is wrong with it ("Van 2: Plugged in, not charging"): a list of names alone says
/// nothing to a screen reader, and the rows below already have a link named the car.
fn car_ui(ui: &mut egui::Ui, id: &str, name: &str, what: &str) -> Option<String> {
    let response = ui.link(name).on_hover_text(id);
    ui.ctx().accesskit_node_builder(response.id, |node| {
        node.set_label(format!("{name}: {what}"));
    });
    response.clicked().then(|| id.to_owned())
}

fn alert_ui(
    ui: &mut egui::Ui,
    listed: &Listed,
    rows: &[&VehicleRow],
    cx: &AttentionCx,
) -> Option<String> {
    let alert = &listed.alert;
    let row = alert
        .vehicle_id
        .as_deref()
        .and_then(|id| rows.iter().find(|r| r.id == id));
    let mut clicked = None;
    ui.horizontal_wrapped(|ui| {
        match (&alert.vehicle_id, row) {
            // The name as shown (an owner's rename shows before it is read back).
            (Some(id), Some(row)) => clicked = car_ui(ui, id, &row.name, alert.rule.title()),
            (Some(id), None) => {
                clicked = car_ui(ui, id, &listed.vehicle_name, alert.rule.title());
            }
            (None, _) => {
                ui.label("Whole fleet");
            }
        }
        let color = match alert.rule {
            Rule::NeedsReconnect | Rule::NoDeliveries => PROBLEM,
            _ => WARNING,
        };
        ui.colored_label(color, RichText::new(alert.rule.title()).strong());
        ui.label(format!(
            "since {}",
            cx.zone.local_minutes(alert.opened_at_ms)
        ))
        .on_hover_text(format!(
            "{}, in the fleet's time zone ({})",
            staleness(cx.now_ms - alert.opened_at_ms).0,
            cx.zone.name()
        ));
    });
    ui.indent(alert.id(), |ui| {
        ui.label(&alert.message);
        if let (Rule::NeedsReconnect, Some(url)) =
            (alert.rule, row.and_then(|r| r.reauth_url.as_deref()))
        {
            ui.hyperlink_to("Re-connect", url);
        }
    });
    ui.add_space(4.0);
    clicked
}

fn glance_ui(
    ui: &mut egui::Ui,
    row: &VehicleRow,
    attention: &Attention,
    cx: &AttentionCx,
) -> Option<String> {
    let mut clicked = None;
    ui.horizontal_wrapped(|ui| {
        clicked = car_ui(ui, &row.id, &row.name, &attention.what());
        let color = match attention {
            Attention::NeedsReconnect => PROBLEM,
            Attention::NotSeen { .. } | Attention::LowBattery { .. } => WARNING,
        };
        ui.colored_label(color, RichText::new(attention.what()).strong());
        if let Attention::NotSeen { since_ms } = attention {
            ui.label(format!("last seen {}", staleness(cx.now_ms - since_ms).0))
                .on_hover_text(local_time_ms(*since_ms));
        }
    });
    ui.indent((&row.id, attention.what()), |ui| {
        ui.label(attention.what_to_do());
        if let (Attention::NeedsReconnect, Some(url)) = (attention, row.reauth_url.as_deref()) {
            ui.hyperlink_to("Re-connect", url);
        }
    });
    ui.add_space(4.0);
    clicked
}

/// One resolved alert in a line: the car, what, and from when to when.
fn resolved_ui(ui: &mut egui::Ui, listed: &Listed, cx: &AttentionCx) -> Option<String> {
    let alert = &listed.alert;
    let mut clicked = None;
    ui.horizontal_wrapped(|ui| {
        match &alert.vehicle_id {
            Some(id) => clicked = car_ui(ui, id, &listed.vehicle_name, alert.rule.title()),
            None => {
                ui.label("Whole fleet");
            }
        }
        ui.label(RichText::new(alert.rule.title()).strong());
        let until = alert
            .resolved_at_ms
            .map(|r| cx.zone.local_minutes(r))
            .unwrap_or_default();
        ui.label(format!(
            "{} to {until}",
            cx.zone.local_minutes(alert.opened_at_ms)
        ))
        .on_hover_text(&alert.message);
    });
    clicked
}
