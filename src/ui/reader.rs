//! The UI's reads, on a thread of their own ("fleetdash-reader") with its own read-only
//! connection, so a frame never waits for SQLite: the UI sends [`Query`]s and picks up
//! [`Answer`]s at the start of the next frame. Queries of the same kind that pile up while
//! one runs are collapsed into the newest (a user dragging the plot asks for many windows;
//! only the last matters). Once a second the thread asks SQLite whether another connection
//! committed (`PRAGMA data_version`) and, if so, tells the UI, which re-asks for what it
//! shows; nothing reads the database every frame. The same thread watches the open alerts
//! ([`super::alerts`]): it publishes them after a change and at least once a minute.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use rusqlite::Connection;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::alerts::{OpenAlerts, Watch};
use super::data;
use super::notify::Notifications;
use super::owner::FleetSnapshot;
use crate::domain::sessions::Session;
use crate::store::drivers::{Assignment, Driver};
use crate::store::sessions::SummaryRow;
use crate::store::statement::{Statement, statement};

/// How often the reader looks for commits by others.
const CHANGE_CHECK: Duration = Duration::from_secs(1);

/// A read the UI wants.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// The vehicles, the fleet's settings and places (what every page shows).
    Fleet,
    /// The Fleet page's sparklines and this and last month's charging.
    Glance,
    /// Sessions, energy and cost per month (true) or day.
    Analytics {
        /// Per month rather than per day.
        by_month: bool,
    },
    /// The latest deliveries and the counts per outcome.
    Deliveries,
    /// One delivery's body, pretty-printed.
    DeliveryBody(i64),
    /// A vehicle's first and last reading, sessions and errors.
    Vehicle(String),
    /// Battery percent in a window, downsampled to `buckets` min/max pairs.
    Series {
        /// Whose.
        vehicle: String,
        /// Window start, ms.
        from_ms: i64,
        /// Window end, ms.
        to_ms: i64,
        /// About the plot's width in pixels.
        buckets: usize,
    },
    /// When the last delivery and the last verify challenge arrived.
    Reachability,
    /// The drivers and every assignment (the Drivers page, the map's homes).
    Drivers,
    /// Every driver's home-charging statement of a month (`YYYY-MM`, the fleet's zone).
    Statements(String),
    /// A vehicle's positions in a window (the map's trail).
    Trail {
        /// Whose.
        vehicle: String,
        /// Window start, ms.
        from_ms: i64,
        /// Window end, ms.
        to_ms: i64,
    },
    /// One trip's route: the vehicle's positions from its start to its end. A kind of its
    /// own so that it and the selected vehicle's trail never collapse into each other.
    Route {
        /// Whose.
        vehicle: String,
        /// The trip's start, ms.
        from_ms: i64,
        /// The trip's end (its last reading while ongoing), ms.
        to_ms: i64,
    },
}

/// About this many points of a route are drawn at most (a long trip of frequent readings
/// holds thousands; a line of this many looks the same on screen).
pub const ROUTE_POINTS: usize = 2000;

/// What the vehicle view shows besides the plot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VehicleDetails {
    /// First and last reading.
    pub span: Option<(i64, i64)>,
    /// Charging sessions, newest first.
    pub sessions: Vec<Session>,
    /// Errors Smartcar reported, newest first.
    pub errors: Vec<data::ErrorRow>,
    /// Trips with their purposes and notes, newest first.
    pub trips: Vec<crate::store::trips::TaggedTrip>,
    /// Every change of its trips' purposes and notes, newest first (read with the trips,
    /// so a tag and its change always show together).
    pub changes: Vec<crate::store::trips::TagChange>,
    /// Who drives it when, oldest first.
    pub assignments: Vec<Assignment>,
}

/// The drivers and who drives which vehicle when.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriversData {
    /// Every driver, by name.
    pub drivers: Vec<Driver>,
    /// Every assignment, by vehicle and time.
    pub assignments: Vec<Assignment>,
}

/// One driver's statement of a month, or why it can't be made (a sentence saying what
/// fixes it).
pub type DriverStatement = (String, Result<Statement, String>);

/// The latest deliveries, how many there are per outcome, and how many bodies archived
/// before compression existed still wait for the background compaction.
pub type DeliveriesPage = (Vec<data::DeliveryRow>, Vec<(String, i64)>, u64);

/// A read's result (errors as sentences for the user).
#[derive(Debug)]
pub enum Answer {
    /// Another connection committed: what is on screen may be stale.
    Changed,
    /// The fleet, with the number of the last owner write finished before it was read
    /// (see [`super::owner`]).
    Fleet(u64, Result<FleetSnapshot, String>),
    /// The Fleet page's glance.
    Glance(Result<data::Glance, String>),
    /// Analytics rows, with the grouping they were asked for.
    Analytics(bool, Result<Vec<SummaryRow>, String>),
    /// Latest deliveries and counts per outcome.
    Deliveries(Result<DeliveriesPage, String>),
    /// A delivery's body.
    DeliveryBody(i64, Result<Option<String>, String>),
    /// A vehicle's details.
    Vehicle(String, Result<VehicleDetails, String>),
    /// A plot window: the query it answers and its points (x in seconds).
    Series(Query, Result<Vec<[f64; 2]>, String>),
    /// Last delivery and last verify challenge (ms).
    Reachability(Option<i64>, Option<i64>),
    /// A trail: the query it answers and its points (latitude, longitude).
    Trail(Query, Result<Vec<(f64, f64)>, String>),
    /// A trip's route: the query it answers and its points (latitude, longitude), in time
    /// order, thinned to about [`ROUTE_POINTS`] with both ends kept.
    Route(Query, Result<Vec<(f64, f64)>, String>),
    /// The drivers and assignments.
    Drivers(Result<DriversData, String>),
    /// The month asked for and each driver's statement of it.
    Statements(String, Result<Vec<DriverStatement>, String>),
    /// The alerts open now: sent unasked, after a change and at least once a minute.
    Alerts(Result<OpenAlerts, String>),
}

/// The UI's end of the reader thread.
pub struct Reader {
    queries: Sender<Query>,
    answers: Receiver<Answer>,
}

impl Reader {
    /// Opens `db` read-only on a new thread; `wake` is called after every answer.
    /// `writes_done` is the owner-writes thread's count of finished writes; alerts that
    /// open while the reader runs go to `notes`.
    pub fn start(
        db: PathBuf,
        writes_done: Arc<AtomicU64>,
        notes: Option<Notifications>,
        wake: impl Fn() + Send + 'static,
    ) -> Result<Self, String> {
        let conn = crate::store::open_read_only(&db)
            .map_err(|e| format!("Cannot read {}: {e}", db.display()))?;
        let (queries, incoming) = mpsc::channel();
        let (outgoing, answers) = mpsc::channel();
        std::thread::Builder::new()
            .name("fleetdash-reader".into())
            .spawn(move || {
                let mut watch = Watch::new(notes);
                serve(&conn, &writes_done, &mut watch, &incoming, &outgoing, &wake);
            })
            .map_err(|e| format!("Cannot start reading: {e}"))?;
        Ok(Reader { queries, answers })
    }

    /// Asks for a read; the answer comes through [`Reader::answers`].
    pub fn ask(&self, query: Query) {
        let _ = self.queries.send(query);
    }

    /// Answers that arrived since the last call.
    pub fn answers(&self) -> Vec<Answer> {
        self.answers.try_iter().collect()
    }
}

fn serve(
    conn: &Connection,
    writes_done: &AtomicU64,
    watch: &mut Watch,
    incoming: &Receiver<Query>,
    outgoing: &Sender<Answer>,
    wake: &dyn Fn(),
) {
    let mut pending: VecDeque<Query> = VecDeque::new();
    let mut seen_version = crate::store::data_version(conn);
    loop {
        if pending.is_empty() {
            match incoming.recv_timeout(CHANGE_CHECK) {
                Ok(query) => pending.push_back(query),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        for query in incoming.try_iter() {
            let kind = std::mem::discriminant(&query);
            pending.retain(|q| std::mem::discriminant(q) != kind);
            pending.push_back(query);
        }
        let version = crate::store::data_version(conn);
        if version != seen_version {
            seen_version = version;
            watch.data_changed();
            if outgoing.send(Answer::Changed).is_err() {
                return;
            }
            wake();
        }
        if let Some(query) = pending.pop_front() {
            if outgoing.send(answer(conn, writes_done, query)).is_err() {
                return;
            }
            wake();
        }
        // After the query: what is on screen comes first, and a look is never more than
        // one query late.
        if watch.due() {
            let text = |e: crate::store::StoreError| format!("Cannot read the alerts: {e}");
            let look = watch.look(conn, crate::domain::time::now_ms());
            if outgoing.send(Answer::Alerts(look.map_err(text))).is_err() {
                return;
            }
            wake();
        }
    }
}

/// Answers one query as the reader thread does (benchmarks time it; `writes_done` is the
/// owner-writes count noted for a fleet read).
pub fn answer(conn: &Connection, writes_done: &AtomicU64, query: Query) -> Answer {
    let text = |e: crate::store::StoreError| format!("Cannot read the data: {e}");
    match query {
        Query::Fleet => {
            // Noted before the read: every write up to it is in what is read.
            let done = writes_done.load(Ordering::Acquire);
            let snapshot = (|| {
                Ok(FleetSnapshot {
                    vehicles: data::fleet(conn)?,
                    settings: crate::store::owner::fleet_settings(conn)?,
                    places: crate::store::sessions::places(conn)?,
                    alert_rules: crate::store::alerts::rules(conn)?,
                })
            })();
            Answer::Fleet(done, snapshot.map_err(text))
        }
        Query::Glance => {
            Answer::Glance(data::glance(conn, crate::domain::time::now_ms()).map_err(text))
        }
        Query::Analytics { by_month } => Answer::Analytics(
            by_month,
            crate::store::sessions::summary(conn, &crate::store::ExportFilter::default(), by_month)
                .map_err(text),
        ),
        Query::Deliveries => Answer::Deliveries(
            data::deliveries(conn, 200)
                .and_then(|rows| {
                    Ok((
                        rows,
                        data::outcome_counts(conn)?,
                        crate::store::upkeep::uncompressed_count(conn)?,
                    ))
                })
                .map_err(text),
        ),
        Query::DeliveryBody(id) => {
            Answer::DeliveryBody(id, data::delivery_body(conn, id).map_err(text))
        }
        Query::Vehicle(id) => {
            let details = (|| {
                Ok(VehicleDetails {
                    span: data::span(conn, &id)?,
                    sessions: data::sessions(conn, &id)?,
                    errors: data::errors(conn, &id, 100)?,
                    trips: {
                        let mut trips = crate::store::trips::vehicle_trips(conn, &id)?;
                        trips.reverse();
                        trips
                    },
                    changes: {
                        let mut changes = crate::store::trips::history(conn, &id)?;
                        changes.reverse();
                        changes
                    },
                    assignments: crate::store::drivers::assignments(conn)?
                        .into_iter()
                        .filter(|a| a.vehicle_id == id)
                        .collect(),
                })
            })();
            Answer::Vehicle(id, details.map_err(text))
        }
        Query::Series {
            ref vehicle,
            from_ms,
            to_ms,
            buckets,
        } => {
            let points = data::battery_series(conn, vehicle, from_ms, to_ms, buckets);
            Answer::Series(query, points.map_err(text))
        }
        Query::Reachability => {
            let last = |outcome: &str| -> Option<i64> {
                conn.query_row(
                    "SELECT max(received_at) FROM deliveries WHERE (outcome = 'verify') = (?1 = 'verify')",
                    [outcome],
                    |r| r.get(0),
                )
                .ok()
                .flatten()
            };
            // Signed challenges are archived; unsigned ones leave only their time in `meta`.
            let unsigned_verify: Option<i64> = conn
                .query_row(
                    "SELECT value FROM meta WHERE key = ?1",
                    [crate::store::LAST_VERIFY_KEY],
                    |r| r.get(0),
                )
                .ok();
            let verify = last("verify").max(unsigned_verify);
            Answer::Reachability(last("parsed"), verify)
        }
        Query::Trail {
            ref vehicle,
            from_ms,
            to_ms,
        } => {
            let points = data::trail(conn, vehicle, from_ms, to_ms, 4000);
            Answer::Trail(query, points.map_err(text))
        }
        Query::Route {
            ref vehicle,
            from_ms,
            to_ms,
        } => {
            let points = data::trail(conn, vehicle, from_ms, to_ms, ROUTE_POINTS);
            Answer::Route(query, points.map_err(text))
        }
        Query::Drivers => Answer::Drivers(
            (|| {
                Ok(DriversData {
                    drivers: crate::store::drivers::drivers(conn)?,
                    assignments: crate::store::drivers::assignments(conn)?,
                })
            })()
            .map_err(text),
        ),
        Query::Statements(month) => {
            let statements = (|| -> Result<Vec<DriverStatement>, crate::store::StoreError> {
                crate::store::drivers::drivers(conn)?
                    .into_iter()
                    .map(|d| Ok((d.name.clone(), statement(conn, &d.name, &month)?)))
                    .collect()
            })();
            Answer::Statements(month, statements.map_err(text))
        }
    }
}
