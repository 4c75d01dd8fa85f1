//! Unit conversion.

/// Kilometres in one statute mile.
pub const KM_PER_MILE: f64 = 1.609344;

/// Converts miles to kilometres, rounded to the metre.
pub fn miles_to_km(miles: f64) -> f64 {
    round6(miles * KM_PER_MILE)
}

/// Converts kilometres to miles.
pub fn km_to_miles(km: f64) -> f64 {
    round6(km / KM_PER_MILE)
}

/// Rounds to six decimals, so that `0.58 * 100.0` is stored and exported as `58`
/// rather than `57.99999999999999`.
pub fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// Reads a state of charge given as a fraction (v2 `0.58`) or a percent (v4 `58`).
/// Values above 1 are taken as percent already.
pub fn soc_percent(value: f64) -> Option<f64> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let percent = if value <= 1.0 { value * 100.0 } else { value };
    (percent <= 100.0 + 1e-9).then(|| round6(percent.min(100.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_become_whole_percent() {
        assert_eq!(soc_percent(0.58), Some(58.0));
        assert_eq!(soc_percent(1.0), Some(100.0));
        assert_eq!(soc_percent(78.0), Some(78.0));
        assert_eq!(soc_percent(-1.0), None);
        assert_eq!(soc_percent(150.0), None);
        assert_eq!(soc_percent(f64::NAN), None);
    }

    #[test]
    fn miles_convert_to_km() {
        assert_eq!(miles_to_km(100.0), 160.9344);
        assert_eq!(km_to_miles(160.9344), 100.0);
    }
}
