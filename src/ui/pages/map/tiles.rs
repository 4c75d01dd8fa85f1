//! Map tiles from the tile URL setting: OpenStreetMap by default, with an identifying
//! User-Agent, a disk cache and the attribution on the map, and a check that the server
//! answers.

use walkers::TileId;
use walkers::sources::{Attribution, TileSource};

use crate::ui::settings::OSM_TILES;

/// Sent with every tile request, as OpenStreetMap's tile usage policy asks.
pub const USER_AGENT: &str = concat!(
    "fleetdash/",
    env!("CARGO_PKG_VERSION"),
    " (desktop dashboard for EV fleets; contact: the fleet owner running it)"
);

/// A tile server given as a URL template with `{z}`, `{x}` and `{y}`.
pub(super) struct TemplateSource {
    pub(super) template: String,
}

impl TileSource for TemplateSource {
    fn tile_url(&self, tile_id: TileId) -> String {
        tile_url(&self.template, tile_id.zoom, tile_id.x, tile_id.y)
    }

    fn attribution(&self) -> Attribution {
        Attribution {
            text: "© OpenStreetMap contributors",
            url: "https://www.openstreetmap.org/copyright",
            logo_light: None,
            logo_dark: None,
        }
    }
}

pub(super) fn tile_url(template: &str, zoom: u8, x: u32, y: u32) -> String {
    template
        .trim()
        .replace("{z}", &zoom.to_string())
        .replace("{x}", &x.to_string())
        .replace("{y}", &y.to_string())
}

/// Whether the tile server answers.
#[derive(Debug, Clone, PartialEq)]
pub enum TileState {
    /// Still asking.
    Checking,
    /// Tiles load.
    Available,
    /// Tiles can't load; why, in words.
    Unavailable(String),
}

/// Where tiles are cached on disk (OpenStreetMap's policy asks clients to cache).
pub(super) fn tile_cache_dir() -> Option<std::path::PathBuf> {
    directories::ProjectDirs::from("", "", "fleetdash").map(|d| d.cache_dir().join("tiles"))
}

/// Fetches one tile to see whether the server answers.
pub(super) fn probe(url: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        let response = client.get(url).send().await.map_err(|e| {
            if e.is_connect() || e.is_timeout() {
                format!("no connection to {}", host_of(url))
            } else {
                e.to_string()
            }
        })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("{} answered {}", host_of(url), response.status()))
        }
    })
}

fn host_of(url: &str) -> &str {
    url.split("//")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(url)
}

/// Whether `template` is OpenStreetMap's own server.
pub fn is_osm(template: &str) -> bool {
    template.trim() == OSM_TILES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_urls_fill_in_zoom_x_and_y() {
        assert_eq!(
            tile_url(OSM_TILES, 3, 4, 5),
            "https://tile.openstreetmap.org/3/4/5.png"
        );
    }
}
