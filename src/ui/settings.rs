//! The user's settings and the UI state kept between runs (eframe's storage, as RON in the
//! platform's config folder). Every field has a default, so a file from an older or newer
//! version still loads.

use serde::{Deserialize, Serialize};

/// OpenStreetMap's standard tiles (their usage policy: identify the app, cache, attribute).
pub const OSM_TILES: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";

/// Distance units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Units {
    /// Kilometres.
    #[default]
    Km,
    /// Miles.
    Mi,
}

impl Units {
    /// `312 km` or `194 mi`.
    pub fn distance(self, km: f64) -> String {
        match self {
            Units::Km => format!("{km:.0} km"),
            Units::Mi => format!("{:.0} mi", crate::domain::units::km_to_miles(km)),
        }
    }
}

/// Light, dark, or as the system says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Theme {
    /// Follow the system.
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl Theme {
    /// egui's preference for it.
    pub fn preference(self) -> egui::ThemePreference {
        match self {
            Theme::System => egui::ThemePreference::System,
            Theme::Light => egui::ThemePreference::Light,
            Theme::Dark => egui::ThemePreference::Dark,
        }
    }
}

/// What the user chose in Settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Distance units.
    pub units: Units,
    /// Colour theme.
    pub theme: Theme,
    /// Map tiles, with `{z}`, `{x}` and `{y}` placeholders.
    pub tile_url: String,
    /// Show the simulated fleet (until the user leaves demo mode).
    pub demo: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            units: Units::Km,
            theme: Theme::System,
            tile_url: OSM_TILES.into(),
            demo: true,
        }
    }
}

/// Checks a tile URL template; the error says what to fix.
pub fn check_tile_url(url: &str) -> Result<(), String> {
    let url = url.trim();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err("The tile URL must start with http:// or https://".into());
    }
    for part in ["{z}", "{x}", "{y}"] {
        if !url.contains(part) {
            return Err(format!(
                "The tile URL needs {part}: for example {OSM_TILES}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_urls_need_a_scheme_and_all_three_placeholders() {
        assert!(check_tile_url(OSM_TILES).is_ok());
        assert!(check_tile_url("http://localhost:8080/{z}/{x}/{y}.png").is_ok());
        assert!(check_tile_url("tile.openstreetmap.org/{z}/{x}/{y}.png").is_err());
        assert!(check_tile_url("https://example.com/{z}/{x}.png").is_err());
    }

    #[test]
    fn settings_from_an_older_file_keep_the_defaults_for_what_it_lacks() {
        let settings: Settings = serde_json::from_str(r#"{"units":"Mi"}"#).unwrap();
        assert_eq!(settings.units, Units::Mi);
        assert_eq!(settings.tile_url, OSM_TILES);
        assert!(settings.demo);
    }
}
