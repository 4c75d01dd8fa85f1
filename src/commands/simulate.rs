//! `fleetdash simulate`: the simulated fleet, written straight into a database or
//! delivered as signed webhooks to a callback server.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::domain::{
    BatteryReading, ChargeReading, LocationReading, OdometerReading, Readings, Source, VehicleInfo,
};
use crate::sim::api::{SimApi, SimApiConfig};
use crate::sim::deliver::{DeliverOptions, deliver_all, verify_callback};
pub use crate::sim::demo::{
    DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_MANAGEMENT_TOKEN, DEMO_WEBHOOK_ID,
};
use crate::sim::fleet::{FleetConfig, VehicleSim, vehicles};
use crate::sim::schedule::Schedule;
use crate::smartcar::{Format, ManagementToken};
use crate::store::{self, Batch, StoreOptions};

/// Samples written per transaction by `--db`.
const SAMPLES_PER_COMMIT: usize = 50_000;

/// What `simulate --db` wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct DbSummary {
    /// Vehicles simulated.
    pub vehicles: usize,
    /// Readings rows written (one per vehicle and minute, each with battery, charge and
    /// location).
    pub readings: u64,
    /// Wall-clock seconds.
    pub elapsed_secs: f64,
}

/// Writes the fleet's minute-by-minute history into the database at `db`, through the
/// same store code the callback server uses.
pub fn write_history(config: &FleetConfig, db: &Path) -> anyhow::Result<DbSummary> {
    let started = Instant::now();
    let mut conn = store::open(db, &StoreOptions::default())
        .with_context(|| format!("could not open the database {}", db.display()))?;
    let mut readings_written = 0u64;
    let specs = vehicles(config);
    for (index, spec) in specs.iter().enumerate() {
        let info = VehicleInfo {
            make: Some(spec.make.to_owned()),
            model: Some(spec.model.to_owned()),
            year: Some(spec.year),
        };
        let mut sim = VehicleSim::new(config, spec.clone(), index).peekable();
        while sim.peek().is_some() {
            let mut batch = Batch::begin(&mut conn)?;
            for sample in sim.by_ref().take(SAMPLES_PER_COMMIT) {
                let readings = Readings {
                    battery: vec![BatteryReading {
                        recorded_at_ms: sample.at_ms,
                        percent: Some(sample.soc_percent),
                        range_km: Some(sample.range_km),
                    }],
                    charge: vec![ChargeReading {
                        recorded_at_ms: sample.at_ms,
                        plugged_in: Some(sample.plugged_in),
                        state: Some(sample.charging),
                    }],
                    locations: vec![LocationReading {
                        recorded_at_ms: sample.at_ms,
                        latitude: sample.latitude,
                        longitude: sample.longitude,
                    }],
                    odometer: vec![OdometerReading {
                        recorded_at_ms: sample.at_ms,
                        km: sample.odometer_km,
                    }],
                    errors: Vec::new(),
                };
                batch.store_readings(&spec.id, Some(&info), &readings, Source::Webhook, None)?;
                readings_written += 1;
            }
            batch.commit()?;
        }
        // The simulation knows what an owner would enter: the usable capacity.
        conn.execute(
            "UPDATE vehicles SET capacity_kwh = coalesce(capacity_kwh, ?2) WHERE id = ?1",
            rusqlite::params![spec.id, spec.capacity_kwh],
        )?;
    }
    Ok(DbSummary {
        vehicles: specs.len(),
        readings: readings_written,
        elapsed_secs: started.elapsed().as_secs_f64(),
    })
}

/// Delivers the fleet's webhooks to `url`: first a verify challenge, then every delivery
/// in simulated time order.
pub fn deliver(
    config: &FleetConfig,
    format: Format,
    options: DeliverOptions,
) -> anyhow::Result<crate::sim::deliver::Summary> {
    let token = crate::commands::serve::management_token_from_env()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("fleetdash-simulate")
        .build()?;
    runtime.block_on(async {
        if let Err(problem) = verify_callback(&options.url, &token, format == Format::V4).await {
            bail!("{problem}");
        }
        let schedule = Schedule::new(config, format);
        let (summary, log) = deliver_all(schedule, &token, &options).await;
        for entry in log.iter().filter(|e| !e.acknowledged) {
            tracing::warn!(
                key = entry.key,
                attempts = entry.attempts,
                last_answer = entry.last_answer,
                "delivery dropped after the last retry"
            );
        }
        Ok(summary)
    })
}

/// Serves the simulated Smartcar on `address` until Ctrl-C or SIGTERM. The application's
/// credentials come from the same variables fleetdash reads (`SMARTCAR_CLIENT_ID`,
/// `SMARTCAR_CLIENT_SECRET`, `SMARTCAR_MANAGEMENT_TOKEN`, `SMARTCAR_WEBHOOK_ID`), so both
/// sides agree; unset ones take the demo values the README lists.
pub fn serve_api(config: &FleetConfig, address: &str) -> anyhow::Result<()> {
    let var = |name: &str, default: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| default.to_owned())
    };
    let mut fleet = config.clone();
    // The API reports the fleet as it is now: run it through today.
    fleet.days += 1;
    let api_config = SimApiConfig {
        client_id: var("SMARTCAR_CLIENT_ID", DEMO_CLIENT_ID),
        client_secret: var("SMARTCAR_CLIENT_SECRET", DEMO_CLIENT_SECRET),
        management_token: ManagementToken::new(var(
            "SMARTCAR_MANAGEMENT_TOKEN",
            DEMO_MANAGEMENT_TOKEN,
        ))
        .context("the management token is empty")?,
        webhook_id: var("SMARTCAR_WEBHOOK_ID", DEMO_WEBHOOK_ID),
        fleet,
    };
    let client_id = api_config.client_id.clone();
    let webhook_id = api_config.webhook_id.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("fleetdash-sim-api")
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("could not listen on {address}: choose another --serve-api address"))?;
        let local = listener.local_addr()?;
        println!(
            "simulated Smartcar listening on http://{local} (client id {client_id}, webhook id {webhook_id})"
        );
        axum::serve(listener, crate::sim::api::router(SimApi::new(api_config)))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}
