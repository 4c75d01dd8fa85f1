//! The Analytics chart: per period, one bar per vehicle stacked on the others (energy,
//! cost or sessions); a click on a bar picks its period.

use egui_plot::{Bar, BarChart, Plot};

use crate::store::sessions::SummaryRow;

/// What the bars measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// Energy added, kWh.
    #[default]
    Energy,
    /// Its cost, in the fleet's currency.
    Cost,
    /// Sessions started.
    Sessions,
}

impl Metric {
    fn of(self, row: &SummaryRow) -> f64 {
        let t = &row.totals;
        match self {
            Metric::Energy => t.energy_kwh.unwrap_or(0.0),
            Metric::Cost => t.cost.unwrap_or(0.0),
            Metric::Sessions => t.sessions as f64,
        }
    }
}

/// At most this many periods are drawn (the latest): a year of days stays readable.
pub const MAX_PERIODS: usize = 92;

/// The chart's data: periods left to right and, per vehicle, its value in each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stacks {
    /// `2026-01` or `2026-01-05`, oldest first.
    pub periods: Vec<String>,
    /// Vehicle name and one value per period.
    pub vehicles: Vec<(String, Vec<f64>)>,
}

impl Stacks {
    /// The latest [`MAX_PERIODS`] periods of `rows` (the fleet's rows left out: they are
    /// the stacks' tops).
    pub fn of(rows: &[SummaryRow], metric: Metric) -> Stacks {
        let mut periods: Vec<String> = rows.iter().map(|r| r.period.clone()).collect();
        periods.dedup();
        let skip = periods.len().saturating_sub(MAX_PERIODS);
        periods.drain(..skip);
        let mut vehicles: Vec<(String, String, Vec<f64>)> = Vec::new();
        for row in rows.iter().filter(|r| !r.vehicle_id.is_empty()) {
            let Ok(index) = periods.binary_search(&row.period) else {
                continue;
            };
            let slot = match vehicles.iter().position(|(id, _, _)| *id == row.vehicle_id) {
                Some(slot) => slot,
                None => {
                    let name = row.vehicle_name.clone();
                    vehicles.push((row.vehicle_id.clone(), name, vec![0.0; periods.len()]));
                    vehicles.len() - 1
                }
            };
            vehicles[slot].2[index] += metric.of(row);
        }
        vehicles.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        Stacks {
            periods,
            vehicles: vehicles.into_iter().map(|(_, n, v)| (n, v)).collect(),
        }
    }
}

/// Colours the vehicles take in turn.
const PALETTE: [egui::Color32; 8] = [
    egui::Color32::from_rgb(40, 110, 220),
    egui::Color32::from_rgb(60, 160, 90),
    egui::Color32::from_rgb(230, 140, 40),
    egui::Color32::from_rgb(150, 90, 200),
    egui::Color32::from_rgb(200, 70, 90),
    egui::Color32::from_rgb(40, 170, 180),
    egui::Color32::from_rgb(170, 150, 40),
    egui::Color32::from_rgb(120, 120, 120),
];

/// What a drawn chart tells its page.
#[derive(Debug, Default)]
pub struct Drawn {
    /// The period of the bar clicked, if any.
    pub clicked: Option<String>,
    /// Where each period's stack stands on screen (its middle), for tests and tooltips.
    pub centres: Vec<(String, egui::Pos2)>,
}

/// Draws `stacks`; `unit` labels the hover text.
pub fn chart_ui(ui: &mut egui::Ui, stacks: &Stacks, unit: &str, selected: Option<&str>) -> Drawn {
    let periods = &stacks.periods;
    let labels = periods.clone();
    let mut charts: Vec<BarChart> = Vec::new();
    for (i, (name, values)) in stacks.vehicles.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let bars = values
            .iter()
            .enumerate()
            .map(|(x, value)| {
                // Filled near-opaque: the chart's default fill is too faint to tell the
                // vehicles apart on a dark background.
                let mut bar = Bar::new(x as f64, *value)
                    .width(0.7)
                    .name(&periods[x])
                    .fill(color.gamma_multiply(0.85));
                if selected.is_some_and(|s| s == periods[x]) {
                    bar = bar.stroke(egui::Stroke::new(2.0, ui.visuals().strong_text_color()));
                }
                bar
            })
            .collect();
        let unit = unit.to_owned();
        let vehicle = name.clone();
        let mut chart = BarChart::new(name.clone(), bars)
            .color(color)
            .element_formatter(Box::new(move |bar, _| {
                format!("{} {vehicle}\n{:.1} {unit}", bar.name, bar.value)
            }));
        let below: Vec<&BarChart> = charts.iter().collect();
        chart = chart.stack_on(&below);
        charts.push(chart);
    }
    let response = Plot::new("analytics_chart")
        .height(220.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .include_y(0.0)
        .show_grid(egui::Vec2b::new(false, true))
        .legend(egui_plot::Legend::default())
        .x_axis_formatter(move |mark, _| {
            let index = mark.value.round();
            if (mark.value - index).abs() > 1e-6 || index < 0.0 {
                return String::new();
            }
            labels.get(index as usize).cloned().unwrap_or_default()
        })
        .show(ui, |plot| {
            for chart in charts {
                plot.bar_chart(chart);
            }
        });
    let tops: Vec<f64> = (0..periods.len())
        .map(|x| stacks.vehicles.iter().map(|(_, v)| v[x]).sum())
        .collect();
    let centres = periods
        .iter()
        .zip(&tops)
        .enumerate()
        .map(|(x, (period, top))| {
            let point = egui_plot::PlotPoint::new(x as f64, top / 2.0);
            (
                period.clone(),
                response.transform.position_from_point(&point),
            )
        })
        .collect();
    let clicked = if response.response.clicked() {
        let pointer = response.response.interact_pointer_pos();
        pointer
            .map(|pos| response.transform.value_from_position(pos))
            .and_then(|p| {
                let x = p.x.round();
                let index = x as usize;
                ((p.x - x).abs() <= 0.35 && x >= 0.0 && index < periods.len())
                    .then(|| periods[index].clone())
            })
    } else {
        None
    };
    Drawn { clicked, centres }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sessions::Totals;

    fn row(period: &str, id: &str, kwh: f64) -> SummaryRow {
        SummaryRow {
            period: period.into(),
            vehicle_id: id.into(),
            vehicle_name: if id.is_empty() { "All vehicles" } else { id }.into(),
            totals: Totals {
                sessions: 1,
                energy_kwh: Some(kwh),
                cost: Some(kwh * 0.3),
                ..Totals::default()
            },
        }
    }

    #[test]
    fn vehicles_stack_per_period_and_the_fleet_row_is_left_out() {
        let rows = [
            row("2026-01", "b", 10.0),
            row("2026-01", "", 10.0),
            row("2026-02", "a", 5.0),
            row("2026-02", "b", 7.0),
            row("2026-02", "", 12.0),
        ];
        let stacks = Stacks::of(&rows, Metric::Energy);
        assert_eq!(stacks.periods, ["2026-01", "2026-02"]);
        assert_eq!(
            stacks.vehicles,
            vec![("a".into(), vec![0.0, 5.0]), ("b".into(), vec![10.0, 7.0])]
        );
        let sessions = Stacks::of(&rows, Metric::Sessions);
        assert_eq!(sessions.vehicles[1].1, vec![1.0, 1.0]);
    }

    #[test]
    fn only_the_latest_periods_are_drawn() {
        let rows: Vec<SummaryRow> = (0..200)
            .map(|d| row(&format!("2026-{:03}", d), "a", 1.0))
            .collect();
        let stacks = Stacks::of(&rows, Metric::Cost);
        assert_eq!(stacks.periods.len(), MAX_PERIODS);
        assert_eq!(stacks.periods.last().unwrap(), "2026-199");
    }
}
