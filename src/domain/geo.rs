//! Distances on the Earth's surface.

/// Mean Earth radius, metres.
const EARTH_RADIUS_M: f64 = 6_371_000.0;

/// Great-circle (haversine) distance in metres between two (latitude, longitude) points.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.min(1.0).sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::distance_m;

    #[test]
    fn known_distances() {
        for (a, b, metres, tolerance) in [
            ((48.137, 11.575), (48.137, 11.575), 0.0, 1e-9),
            // One degree of latitude is about 111.2 km.
            ((0.0, 0.0), (1.0, 0.0), 111_195.0, 1.0),
            // Munich to Berlin, about 504 km.
            ((48.1372, 11.5756), (52.5200, 13.4050), 504_000.0, 2_000.0),
            // Antipodes: half the circumference, no NaN.
            ((0.0, 0.0), (0.0, 180.0), 20_015_087.0, 1.0),
        ] {
            let d = distance_m(a, b);
            assert!((d - metres).abs() <= tolerance, "{a:?} {b:?}: {d}");
            assert_eq!(d, distance_m(b, a));
        }
    }
}
