//! The vehicle page's plot: battery over time in local time, charging sessions shaded,
//! zoom and pan that read the newly visible window once the view settles.

use egui::Color32;
use egui_plot::{GridMark, Line, Plot, Span};

use super::VehicleView;
use crate::ui::reader::Reader;
use crate::ui::widgets::{local_time, to_local};

impl VehicleView {
    pub(super) fn plot_ui(&mut self, ui: &mut egui::Ui, reader: &Reader, id: &str) {
        let sessions = self
            .details
            .as_ref()
            .map(|d| d.sessions.as_slice())
            .unwrap_or_default();
        let reset = self.reset_to.take();
        let response = Plot::new(("battery", id))
            .height(280.0)
            .allow_zoom(egui::Vec2b::new(true, false))
            .allow_drag(egui::Vec2b::new(true, false))
            .allow_scroll(egui::Vec2b::new(true, false))
            .include_y(0.0)
            .include_y(100.0)
            .x_axis_formatter(|mark: GridMark, range| axis_time(mark.value, range))
            .label_formatter(|position| {
                let p = match position {
                    egui_plot::HoverPosition::NearDataPoint { position, .. }
                    | egui_plot::HoverPosition::Elsewhere { position } => position,
                };
                Some(format!("{}\n{:.1} %", local_time(p.x), p.y))
            })
            .show(ui, |plot| {
                if let Some((from, to)) = reset {
                    plot.set_plot_bounds_x(from as f64 / 1000.0..=to as f64 / 1000.0);
                    plot.set_plot_bounds_y(-2.0..=102.0);
                }
                let (from, to) = self.series_window.unwrap_or((i64::MIN, i64::MAX));
                for s in sessions {
                    let end_ms = s.ended_at_ms.unwrap_or(s.last_seen_ms);
                    if end_ms < from || s.started_at_ms > to {
                        continue;
                    }
                    let start = s.started_at_ms as f64 / 1000.0;
                    let end = end_ms as f64 / 1000.0;
                    plot.span(
                        Span::new("Charging", start..=end.max(start + 60.0))
                            .fill(Color32::from_rgba_unmultiplied(60, 160, 90, 40)),
                    );
                }
                plot.line(
                    Line::new("Battery %", egui_plot::PlotPoints::Borrowed(&self.series))
                        .color(Color32::from_rgb(40, 110, 220))
                        .width(1.5),
                );
            });
        self.plot_width_px = response.response.rect.width().max(1.0) as usize;
        // Read what the user panned or zoomed to, once the view settles on a new window.
        let bounds = response.transform.bounds();
        let visible = (
            (bounds.min()[0] * 1000.0) as i64,
            (bounds.max()[0] * 1000.0) as i64,
        );
        // Not while a read is under way: a range just chosen is being read, and a gesture
        // still moving will be looked at again when the read is in.
        if reset.is_none()
            && self.asked.is_none()
            && let Some(loaded) = self.series_window
            && needs_reload(loaded, visible)
        {
            // A margin either side, so small pans need no read.
            let width = visible.1 - visible.0;
            self.ask_series(
                (visible.0 - width / 4, visible.1 + width / 4),
                reader,
                false,
            );
        }
    }
}

/// True when the visible window has moved or zoomed far enough from the loaded one that
/// its points would be missing or too coarse.
fn needs_reload(loaded: (i64, i64), visible: (i64, i64)) -> bool {
    let loaded_width = (loaded.1 - loaded.0).max(1) as f64;
    let visible_width = (visible.1 - visible.0).max(1) as f64;
    let outside = visible.0 < loaded.0 || visible.1 > loaded.1;
    // Zoomed in to less than a third: the points are coarser than the pixels.
    let zoomed_in = visible_width * 3.0 < loaded_width;
    outside || zoomed_in
}

/// An axis label: hours when the view spans under two days, dates otherwise.
fn axis_time(seconds: f64, range: &std::ops::RangeInclusive<f64>) -> String {
    let span = range.end() - range.start();
    let format = if span < 2.0 * 86_400.0 {
        "%H:%M"
    } else if span < 120.0 * 86_400.0 {
        "%b %d"
    } else {
        "%Y-%m-%d"
    };
    to_local(seconds)
        .map(|t| t.format(format).to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::DAY_MS;
    use crate::ui::pages::vehicle::Range;

    #[test]
    fn panning_out_of_the_loaded_window_or_zooming_far_in_reloads() {
        let loaded = (1_000, 2_000);
        assert!(!needs_reload(loaded, (1_100, 1_900)));
        assert!(needs_reload(loaded, (900, 1_800)));
        assert!(needs_reload(loaded, (1_500, 1_700)));
    }

    #[test]
    fn a_range_ends_at_the_last_reading() {
        let span = (0, 10 * DAY_MS);
        assert_eq!(Range::Day.window(span), (9 * DAY_MS, 10 * DAY_MS));
        assert_eq!(Range::All.window(span), span);
    }
}
