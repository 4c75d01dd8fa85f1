//! Choosing what the map shows: the box around a set of positions, and the centre and
//! zoom that bring a box into a view of a given size.

use egui::Vec2;

/// A box of latitudes and longitudes (degrees), as the map shows or a route spans.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoBox {
    /// Southern edge.
    pub lat_min: f64,
    /// Northern edge.
    pub lat_max: f64,
    /// Western edge.
    pub lon_min: f64,
    /// Eastern edge.
    pub lon_max: f64,
}

impl GeoBox {
    /// The smallest box holding every point (latitude, longitude); `None` without points.
    pub fn around(points: &[(f64, f64)]) -> Option<GeoBox> {
        let first = points.first()?;
        let start = GeoBox {
            lat_min: first.0,
            lat_max: first.0,
            lon_min: first.1,
            lon_max: first.1,
        };
        Some(points.iter().fold(start, |b, p| GeoBox {
            lat_min: b.lat_min.min(p.0),
            lat_max: b.lat_max.max(p.0),
            lon_min: b.lon_min.min(p.1),
            lon_max: b.lon_max.max(p.1),
        }))
    }

    /// Its middle (latitude, longitude).
    pub fn centre(&self) -> (f64, f64) {
        (
            (self.lat_min + self.lat_max) / 2.0,
            (self.lon_min + self.lon_max) / 2.0,
        )
    }

    /// Whether `other` lies wholly inside it.
    pub fn contains(&self, other: &GeoBox) -> bool {
        self.lat_min <= other.lat_min
            && other.lat_max <= self.lat_max
            && self.lon_min <= other.lon_min
            && other.lon_max <= self.lon_max
    }

    /// Its width and height as fractions of the Web Mercator world (what a zoom level
    /// scales: the world is 256 × 2^zoom pixels across).
    pub fn mercator_size(&self) -> (f64, f64) {
        let (x0, y0) = mercator(self.lat_max, self.lon_min);
        let (x1, y1) = mercator(self.lat_min, self.lon_max);
        (x1 - x0, y1 - y0)
    }
}

/// The middle of the box around `points`.
pub fn centre_of(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    GeoBox::around(points).map(|b| b.centre())
}

/// Web Mercator, 0..1 across the world.
fn mercator(lat: f64, lon: f64) -> (f64, f64) {
    let x = (lon + 180.0) / 360.0;
    let lat = lat.clamp(-85.0, 85.0).to_radians();
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    (x, y)
}

/// The centre and zoom that show every point in a view of `size` pixels, with a margin.
/// Whole zoom levels only, so tiles draw sharp: the box then fills between 40 % and 80 %
/// of the view in its tighter direction (less only where the zoom is clamped).
pub fn fit(points: &[(f64, f64)], size: Vec2) -> ((f64, f64), f64) {
    let Some(bounds) = GeoBox::around(points) else {
        return (crate::sim::fleet::CITY_CENTER, 11.0);
    };
    let (box_width, box_height) = bounds.mercator_size();
    let width = f64::from(size.x.max(1.0)) * 0.8;
    let height = f64::from(size.y.max(1.0)) * 0.8;
    let zoom_x = (width / (256.0 * box_width.max(1e-9))).log2();
    let zoom_y = (height / (256.0 * box_height.max(1e-9))).log2();
    let zoom = zoom_x.min(zoom_y).clamp(2.0, 16.0);
    (bounds.centre(), zoom.floor())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_a_city_fleet_zooms_in_and_centres_between_the_extremes() {
        let points = [(48.10, 11.50), (48.20, 11.65)];
        let (centre, zoom) = fit(&points, Vec2::new(800.0, 600.0));
        assert!((centre.0 - 48.15).abs() < 1e-9 && (centre.1 - 11.575).abs() < 1e-9);
        assert!((10.0..=13.0).contains(&zoom), "zoom {zoom}");
        // One car alone: as close as the fit allows.
        assert_eq!(fit(&points[..1], Vec2::new(800.0, 600.0)).1, 16.0);
    }

    #[test]
    fn a_fitted_box_fills_between_two_fifths_and_four_fifths_of_the_view() {
        let size = Vec2::new(900.0, 500.0);
        for points in [
            [(52.50, 13.30), (52.56, 13.45)],
            [(48.10, 11.50), (48.30, 11.52)],
            [(40.0, -3.8), (40.9, -3.6)],
        ] {
            let (_, zoom) = fit(&points, size);
            let (w, h) = GeoBox::around(&points).unwrap().mercator_size();
            let world = 256.0 * 2f64.powf(zoom);
            let fill = (w * world / f64::from(size.x)).max(h * world / f64::from(size.y));
            assert!((0.4..=0.8).contains(&fill), "{points:?}: fill {fill}");
        }
    }

    #[test]
    fn a_box_contains_what_lies_inside_it_only() {
        let outer = GeoBox::around(&[(48.0, 11.0), (49.0, 12.0)]).unwrap();
        let inner = GeoBox::around(&[(48.2, 11.2), (48.8, 11.9)]).unwrap();
        let across = GeoBox::around(&[(48.2, 11.2), (49.1, 11.9)]).unwrap();
        assert!(outer.contains(&inner));
        assert!(!outer.contains(&across));
        assert!(!inner.contains(&outer));
    }
}
