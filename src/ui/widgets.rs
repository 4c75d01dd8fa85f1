//! What several pages draw alike: battery colours, charge words, "5 min ago", local
//! times, money, and a problem in red. One place, so the pages stay alike.

use egui::{Color32, RichText};

use crate::domain::ChargingState;
use crate::domain::money::Currency;

/// The red of problems the owner must act on.
pub const PROBLEM: Color32 = Color32::from_rgb(200, 60, 60);
/// The amber of things worth a look.
pub const WARNING: Color32 = Color32::from_rgb(210, 160, 40);
/// The green of things as they should be.
pub const GOOD: Color32 = Color32::from_rgb(60, 160, 90);

/// Red under 20 %, amber under 50 %, green above.
pub fn battery_color(percent: f64) -> Color32 {
    if percent < 20.0 {
        Color32::from_rgb(200, 70, 60)
    } else if percent < 50.0 {
        WARNING
    } else {
        GOOD
    }
}

/// "Charging", "Plugged in, full", "Plugged in", "Unplugged".
pub fn charge_text(plugged: Option<bool>, charging: Option<ChargingState>) -> &'static str {
    match (plugged, charging) {
        (_, Some(ChargingState::Charging)) => "Charging",
        (Some(true), Some(ChargingState::FullyCharged)) => "Plugged in, full",
        (Some(true), _) => "Plugged in",
        (Some(false), _) => "Unplugged",
        (None, _) => "–",
    }
}

/// "5 min ago" and a colour that turns amber after two hours and red after a day.
pub fn staleness(age_ms: i64) -> (String, Color32) {
    let minutes = age_ms.max(0) / 60_000;
    let text = if minutes < 1 {
        "just now".to_owned()
    } else if minutes < 120 {
        format!("{minutes} min ago")
    } else if minutes < 48 * 60 {
        format!("{} h ago", minutes / 60)
    } else {
        format!("{} days ago", minutes / 1440)
    };
    let color = if minutes < 120 {
        GOOD
    } else if minutes < 24 * 60 {
        WARNING
    } else {
        Color32::from_rgb(200, 70, 60)
    };
    (text, color)
}

/// A moment (seconds since the epoch) in the system's time.
pub fn to_local(seconds: f64) -> Option<chrono::DateTime<chrono::Local>> {
    chrono::DateTime::<chrono::Utc>::from_timestamp(seconds as i64, 0)
        .map(|t| t.with_timezone(&chrono::Local))
}

/// A moment in local time, to the minute.
pub fn local_time(seconds: f64) -> String {
    to_local(seconds)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A moment in local time, to the second (deliveries arrive many a minute).
pub fn local_time_secs(ms: i64) -> String {
    to_local(ms as f64 / 1000.0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// [`local_time`] of milliseconds.
pub fn local_time_ms(ms: i64) -> String {
    local_time(ms as f64 / 1000.0)
}

/// An amount with its currency, or `–` when it cannot be known.
pub fn money(amount: Option<f64>, currency: &Currency) -> String {
    amount.map_or("–".into(), |a| currency.amount(a))
}

/// Energy in kWh, or `–`.
pub fn energy(kwh: Option<f64>) -> String {
    kwh.map_or("–".into(), |e| format!("{e:.1} kWh"))
}

/// A number typed by the owner (a decimal comma too), or a sentence naming `what`.
pub fn number(text: &str, what: &str) -> Result<f64, String> {
    text.trim()
        .replace(',', ".")
        .parse()
        .map_err(|_| format!("{what} must be a number, not {:?}", text.trim()))
}

/// Where files the app writes go unless the user picks another place: Documents, else
/// home.
pub fn default_folder() -> std::path::PathBuf {
    directories::UserDirs::new()
        .and_then(|d| d.document_dir().map(std::path::Path::to_owned))
        .or_else(|| directories::UserDirs::new().map(|d| d.home_dir().to_owned()))
        .unwrap_or_else(|| std::path::PathBuf::from("."))
}

/// A problem in red.
pub fn problem_ui(ui: &mut egui::Ui, text: &str) {
    ui.colored_label(PROBLEM, text);
}

/// A quiet explanation under a control.
pub fn hint_ui(ui: &mut egui::Ui, text: &str) {
    ui.label(RichText::new(text).weak());
}

/// A date typed as text (`2026-01-05`, or RFC 3339 for an exact instant) with a calendar
/// button beside it; picking a day writes it into the text. `id` keeps pickers apart.
pub fn date_field_ui(ui: &mut egui::Ui, text: &mut String, hint: &str, id: &str) {
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(text)
                .hint_text(hint)
                .desired_width(240.0),
        );
        // The calendar opens on the typed day, else today. No icon: egui's default fonts
        // have no glyph for the calendar emoji (a debug build panics on it).
        let typed = text
            .trim()
            .get(..10)
            .and_then(|d| d.parse::<jiff::civil::Date>().ok());
        let mut date = typed.unwrap_or_else(|| jiff::Zoned::now().date());
        let before = date;
        ui.add(
            egui_extras::DatePickerButton::new(&mut date)
                .id_salt(id)
                .show_icon(false),
        );
        if date != before {
            *text = date.to_string();
        }
    });
}

/// A small battery line: `points` (x in seconds, y percent) over `[from_s, to_s]`, coloured
/// by the latest percent. `label` names it for screen readers (and tests).
pub fn sparkline_ui(
    ui: &mut egui::Ui,
    points: &[[f64; 2]],
    (from_s, to_s): (f64, f64),
    label: &str,
) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(96.0, 18.0), egui::Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, label));
    if !ui.is_rect_visible(rect) {
        return response;
    }
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, ui.visuals().faint_bg_color);
    let span = (to_s - from_s).max(1.0);
    let at = |p: &[f64; 2]| {
        egui::pos2(
            rect.left() + (((p[0] - from_s) / span).clamp(0.0, 1.0) as f32) * rect.width(),
            rect.bottom() - ((p[1] / 100.0).clamp(0.0, 1.0) as f32) * rect.height(),
        )
    };
    let Some(last) = points.last() else {
        return response.on_hover_text("No battery reading in the last 24 hours.");
    };
    let color = battery_color(last[1]);
    if points.len() == 1 {
        painter.circle_filled(at(last), 2.0, color);
    } else {
        let line: Vec<egui::Pos2> = points.iter().map(at).collect();
        painter.add(egui::Shape::line(line, egui::Stroke::new(1.5, color)));
    }
    let (low, high) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p[1]), hi.max(p[1]))
    });
    response.on_hover_text(format!(
        "Battery over the last 24 hours: {low:.0} to {high:.0} %, now {:.0} %.",
        last[1]
    ))
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
