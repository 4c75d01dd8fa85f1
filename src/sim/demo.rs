//! Demo mode's engine: one call starts, in-process, the simulated Smartcar and a fleet
//! that delivers signed webhooks over loopback to a callback server. The fleet's recent
//! history goes out at once, then deliveries follow simulated time.

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::api::{SimApi, SimApiConfig, router};
use super::deliver::{DeliverOptions, LogEntry, Summary, deliver_all};
use super::fleet::{Faults, FleetConfig};
use super::schedule::Schedule;
use crate::domain::time::{DAY_MS, now_ms};
use crate::smartcar::{Format, ManagementToken};

/// Client id of the simulated application (demo mode, and `simulate --serve-api` when
/// `SMARTCAR_CLIENT_ID` is unset).
pub const DEMO_CLIENT_ID: &str = "fleetdash-demo-client";
/// Its client secret (a simulation's, not a secret).
pub const DEMO_CLIENT_SECRET: &str = "fleetdash-demo-secret";
/// Its management token.
pub const DEMO_MANAGEMENT_TOKEN: &str = "fleetdash-demo-management-token";
/// Its webhook id.
pub const DEMO_WEBHOOK_ID: &str = "fleetdash-demo-webhook";

/// What the demo simulates.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Vehicles in the fleet.
    pub vehicles: usize,
    /// Days of history delivered at start.
    pub history_days: u32,
    /// Seed of the fleet.
    pub seed: u64,
    /// Simulated seconds per real second after the history (1: real time).
    pub speed: f64,
    /// Payload format.
    pub format: Format,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            vehicles: 5,
            history_days: 3,
            seed: 1,
            speed: 1.0,
            format: Format::V4,
        }
    }
}

/// A running demo; dropping it (or [`Demo::stop`]) stops it.
pub struct Demo {
    /// Origin of the simulated Smartcar (Connect, token endpoint and Vehicle API).
    pub api_origin: String,
    /// The simulated Smartcar's state.
    pub api: SimApi,
    deliveries: JoinHandle<(Summary, Vec<LogEntry>)>,
    server: JoinHandle<()>,
}

impl Demo {
    /// Starts the simulated Smartcar on a free loopback port and the fleet's deliveries to
    /// `callback_url`, signed with `token`. Must run inside a tokio runtime.
    pub async fn start(
        callback_url: &str,
        token: ManagementToken,
        options: &DemoOptions,
    ) -> std::io::Result<Demo> {
        let now = now_ms();
        let fleet = FleetConfig {
            vehicles: options.vehicles,
            // A year ahead: the schedule is produced lazily as time goes by.
            days: options.history_days + 365,
            seed: options.seed,
            start_ms: now - i64::from(options.history_days) * DAY_MS,
            faults: demo_faults(options),
        };
        let api = SimApi::new(SimApiConfig {
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: DEMO_CLIENT_SECRET.into(),
            management_token: token.clone(),
            webhook_id: DEMO_WEBHOOK_ID.into(),
            fleet: fleet.clone(),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let api_origin = format!("http://{}", listener.local_addr()?);
        let app = router(api.clone());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "the simulated Smartcar stopped");
            }
        });
        let schedule = Schedule::new(&fleet, options.format);
        let deliver = DeliverOptions {
            url: callback_url.to_owned(),
            concurrency: 4,
            rate_per_sec: 0.0,
            speed: options.speed,
            paced_from_ms: Some(now),
        };
        let deliveries = tokio::spawn(async move { deliver_all(schedule, &token, &deliver).await });
        Ok(Demo {
            api_origin,
            api,
            deliveries,
            server,
        })
    }

    /// Stops delivering and serving.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.deliveries.abort();
        self.server.abort();
    }
}

/// The demo's trouble: its last car (a Ford E-Transit van in a fleet of five) comes home
/// to a dead charger every night of the history and after. On a first start the owner sees
/// it plugged in and not charging in the evening, low before the 06:00 shift in the
/// morning: the alerts have something to say at once.
pub fn demo_faults(options: &DemoOptions) -> Faults {
    Faults {
        dead_home_charger: (options.vehicles >= 2).then(|| (options.vehicles - 1, i64::MIN)),
    }
}

/// Purposes an owner would have given some of the demo's trips of its history, as
/// (vehicle id, an instant inside the trip, purpose): of every three drives, one business,
/// one private, one left for the owner to tag. The drives are the simulation's own, so the
/// instants fall inside the trips fleetdash will find.
pub fn demo_trip_purposes(
    options: &DemoOptions,
    now_ms: i64,
) -> Vec<(String, i64, crate::store::trips::Purpose)> {
    use crate::store::trips::Purpose;
    let fleet = FleetConfig {
        vehicles: options.vehicles,
        days: options.history_days + 1,
        seed: options.seed,
        start_ms: now_ms - i64::from(options.history_days) * DAY_MS,
        faults: demo_faults(options),
    };
    let mut purposes = Vec::new();
    for (index, spec) in crate::sim::fleet::vehicles(&fleet).into_iter().enumerate() {
        let id = spec.id.clone();
        let mut sim = crate::sim::fleet::VehicleSim::new(&fleet, spec, index);
        for sample in sim.by_ref() {
            if sample.at_ms > now_ms {
                break;
            }
        }
        for (i, trip) in sim.trips().iter().enumerate() {
            let Some(arrived) = trip.arrived_at_ms.filter(|a| *a < now_ms) else {
                continue;
            };
            let purpose = match i % 3 {
                0 => Purpose::Business,
                1 => Purpose::Private,
                _ => continue,
            };
            purposes.push((id.clone(), (trip.parked_until_ms + arrived) / 2, purpose));
        }
    }
    purposes
}
