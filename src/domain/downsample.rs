//! Downsampling a time series to a plot's width, keeping each bucket's minimum and maximum
//! so that spikes survive.

/// Reduces `points` (sorted by x) to at most about `2 * buckets` points: per equal-width x
/// bucket, its minimum and maximum in x order.
pub fn min_max(points: &[[f64; 2]], buckets: usize) -> Vec<[f64; 2]> {
    if points.len() <= 2 * buckets.max(1) {
        return points.to_vec();
    }
    let (first, last) = (points[0][0], points[points.len() - 1][0]);
    let width = (last - first) / buckets as f64;
    if width <= 0.0 {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(2 * buckets + 2);
    let mut start = 0;
    while start < points.len() {
        let bucket = ((points[start][0] - first) / width).floor();
        let end_x = first + (bucket + 1.0) * width;
        let mut end = start;
        while end < points.len() && (points[end][0] < end_x || end == start) {
            end += 1;
        }
        let slice = &points[start..end];
        let (mut lo, mut hi) = (0, 0);
        for (i, p) in slice.iter().enumerate() {
            if p[1] < slice[lo][1] {
                lo = i;
            }
            if p[1] > slice[hi][1] {
                hi = i;
            }
        }
        let (a, b) = (lo.min(hi), lo.max(hi));
        out.push(slice[a]);
        if b != a {
            out.push(slice[b]);
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_spikes_and_bounds_the_size() {
        let mut points: Vec<[f64; 2]> = (0..10_000).map(|i| [i as f64, 50.0]).collect();
        points[4321][1] = 99.0;
        points[777][1] = 1.0;
        let reduced = min_max(&points, 100);
        assert!(reduced.len() <= 202, "{}", reduced.len());
        assert!(reduced.iter().any(|p| p[1] == 99.0));
        assert!(reduced.iter().any(|p| p[1] == 1.0));
        assert!(reduced.windows(2).all(|w| w[0][0] <= w[1][0]));
        assert_eq!(min_max(&points[..10], 100), points[..10].to_vec());
    }
}
