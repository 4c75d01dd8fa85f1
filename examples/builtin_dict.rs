//! Writes `assets/zstd/builtin.dict`, the zstd dictionary fleetdash compresses its first
//! deliveries with (before it has trained one on the fleet's own), from simulated v2 and
//! v4 deliveries. Run it again after changing the simulator's payloads:
//!
//! ```sh
//! cargo run --example builtin_dict
//! ```
//!
//! Seeds and start date differ from `fleetdash simulate`'s defaults, so figures measured
//! with the simulator do not flatter the built-in dictionary. Shipping a new dictionary is
//! safe: databases store each dictionary they used and keep reading old rows with it.

use fleetdash::sim::fleet::{Faults, FleetConfig};
use fleetdash::sim::schedule::Schedule;
use fleetdash::smartcar::Format;

/// The dictionary's size: the issue's measurements found 16 KiB the sweet spot.
const DICT_BYTES: usize = 16 * 1024;

/// Samples per format: zstd's trainer wants about 100 times the dictionary's size.
const SAMPLES_PER_FORMAT: usize = 1_500;

fn main() -> std::io::Result<()> {
    let mut samples = Vec::new();
    for (format, seed) in [(Format::V4, 0xD1C7_0004), (Format::V2, 0xD1C7_0002)] {
        let config = FleetConfig {
            vehicles: 12,
            days: 21,
            seed,
            // 2023-03-01: a start of its own, away from the simulator's default.
            start_ms: 1_677_628_800_000,
            faults: Faults::default(),
        };
        samples.extend(
            Schedule::new(&config, format)
                .filter(|d| !d.body.is_empty())
                .take(SAMPLES_PER_FORMAT)
                .map(|d| d.body),
        );
    }
    let dict = zstd::dict::from_samples(&samples, DICT_BYTES)?;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/zstd/builtin.dict");
    std::fs::write(&path, &dict)?;
    println!(
        "{} bytes from {} samples written to {}",
        dict.len(),
        samples.len(),
        path.display()
    );
    Ok(())
}
