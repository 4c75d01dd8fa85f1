//! Versioned migrations, applied in order; `PRAGMA user_version` records how far.

use rusqlite::Connection;

use super::StoreError;

/// Each entry moves the schema one version up. Never edit a released entry: add one.
const MIGRATIONS: &[&str] = &[
    // 1: the archive and the derived tables.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value ANY
    ) WITHOUT ROWID;

    -- Every accepted delivery, append-only. `body` is the raw bytes as received (NULL
    -- for a duplicate, whose original holds them). Times are ms since the Unix epoch, UTC.
    CREATE TABLE deliveries (
        id           INTEGER PRIMARY KEY,
        received_at  INTEGER NOT NULL,
        format       TEXT NOT NULL,            -- v2 | v4 | unknown
        kind         TEXT NOT NULL,            -- dynamic, VEHICLE_STATE, verify, ...
        mode         TEXT,                     -- live | test | simulated
        event_key    TEXT,                     -- dedup key(s), space separated
        outcome      TEXT NOT NULL CHECK (outcome IN ('parsed', 'quarantined', 'duplicate', 'verify')),
        detail       TEXT,                     -- why quarantined, or what was skipped
        vehicle_ids  TEXT,                     -- space separated
        duplicate_of INTEGER REFERENCES deliveries(id),
        body         BLOB
    );
    -- Ids are in arrival order, so time windows over the archive use them; only the
    -- rare quarantined deliveries need an index of their own.
    CREATE INDEX deliveries_quarantined ON deliveries(id) WHERE outcome = 'quarantined';

    -- Dedup keys of every event unit stored (one per vehicle per delivery).
    CREATE TABLE event_keys (
        key         TEXT PRIMARY KEY,
        delivery_id INTEGER NOT NULL REFERENCES deliveries(id)
    ) WITHOUT ROWID;

    CREATE TABLE vehicles (
        id            TEXT PRIMARY KEY,
        make          TEXT,
        model         TEXT,
        year          INTEGER,
        name          TEXT,                    -- set by the owner; survives reprocess
        first_seen_at INTEGER,
        last_seen_at  INTEGER,
        needs_reauth  INTEGER NOT NULL DEFAULT 0,
        reauth_url    TEXT
    );

    -- One row per vehicle and moment, whatever it carries: v4 sends every signal at once,
    -- usually with one timestamp, so one row (and one b-tree page per vehicle) takes it
    -- all. A later delivery of the same moment fills gaps. `delivery_id` is the delivery
    -- that first reported the moment.
    CREATE TABLE readings (
        vehicle_id      TEXT NOT NULL,
        recorded_at     INTEGER NOT NULL,
        battery_percent REAL,
        range_km        REAL,
        plugged_in      INTEGER,
        charging_state  TEXT,
        latitude        REAL,
        longitude       REAL,
        source          TEXT NOT NULL,
        delivery_id     INTEGER REFERENCES deliveries(id),
        PRIMARY KEY (vehicle_id, recorded_at)
    ) WITHOUT ROWID;

    -- The three kinds of reading as the exports and views see them.
    CREATE VIEW battery_readings AS
        SELECT vehicle_id, recorded_at, battery_percent AS percent, range_km, source, delivery_id
        FROM readings WHERE battery_percent IS NOT NULL OR range_km IS NOT NULL;
    CREATE VIEW charge_readings AS
        SELECT vehicle_id, recorded_at, plugged_in, charging_state, source, delivery_id
        FROM readings WHERE plugged_in IS NOT NULL OR charging_state IS NOT NULL;
    CREATE VIEW locations AS
        SELECT vehicle_id, recorded_at, latitude, longitude, source, delivery_id
        FROM readings WHERE latitude IS NOT NULL;

    CREATE TABLE vehicle_errors (
        vehicle_id     TEXT NOT NULL,
        recorded_at    INTEGER NOT NULL,
        source_path    TEXT NOT NULL,
        error_type     TEXT NOT NULL,
        error_code     TEXT NOT NULL,
        description    TEXT NOT NULL,
        resolution_url TEXT,
        active         INTEGER NOT NULL,
        source         TEXT NOT NULL,
        delivery_id    INTEGER REFERENCES deliveries(id),
        PRIMARY KEY (vehicle_id, recorded_at, source_path, error_code)
    ) WITHOUT ROWID;
    "#,
    // 2: what session energy and cost need, set by the owner.
    r#"
    ALTER TABLE vehicles ADD COLUMN capacity_kwh REAL;     -- usable battery capacity

    -- Charging places with their own price (home, depot, a public network).
    CREATE TABLE places (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL,
        latitude      REAL NOT NULL,
        longitude     REAL NOT NULL,
        radius_m      REAL NOT NULL DEFAULT 150,
        price_per_kwh REAL
    );
    "#,
    // 3: whether the vehicle is subscribed to the webhook (1 yes, 0 no, NULL not known).
    r#"
    ALTER TABLE vehicles ADD COLUMN subscribed INTEGER;
    "#,
    // 4: the sync API (a relay serves its archive) and where a desktop's sync left off.
    r#"
    -- What the sync API serves: deliveries that carry a body worth deriving from.
    CREATE INDEX deliveries_served ON deliveries(id) WHERE outcome IN ('parsed', 'quarantined');

    -- One row per relay this database pulls from. `cursor` is the relay's id of the last
    -- delivery taken; it moves in the same transaction as the deliveries it covers.
    CREATE TABLE sync_sources (
        url          TEXT PRIMARY KEY,
        cursor       INTEGER NOT NULL DEFAULT 0,
        last_sync_at INTEGER,                  -- ms; the last answer from the relay
        remaining    INTEGER                   -- the relay's backlog after that answer
    );
    "#,
    // 5: the owner's charge target per vehicle (percent).
    r#"
    ALTER TABLE vehicles ADD COLUMN charge_target REAL;
    "#,
    // 6: the odometer (km), read from v4 `odometer-traveleddistance` and v2 `/odometer`;
    // `reprocess` fills it for deliveries archived before.
    // Trip purposes and notes (owner data): each anchored at an instant inside its trip,
    // with every change kept.
    r#"
    ALTER TABLE readings ADD COLUMN odometer_km REAL;

    CREATE TABLE trip_tags (
        vehicle_id  TEXT NOT NULL,
        at_ms       INTEGER NOT NULL,
        purpose     TEXT CHECK (purpose IN ('business', 'private', 'commute')),
        note        TEXT,
        changed_at  INTEGER NOT NULL,
        PRIMARY KEY (vehicle_id, at_ms)
    ) WITHOUT ROWID;

    CREATE TABLE trip_tag_changes (
        id          INTEGER PRIMARY KEY,
        vehicle_id  TEXT NOT NULL,
        at_ms       INTEGER NOT NULL,
        changed_at  INTEGER NOT NULL,
        old_purpose TEXT,
        new_purpose TEXT,
        old_note    TEXT,
        new_note    TEXT
    );
    "#,
    // 7: charging sessions and trips, materialised (derived: `store::derived` keeps them
    // equal to a detection over every reading, re-deriving only a vehicle's tail from the
    // latest checkpoint before the earliest reading a batch touched). `settled_at` is
    // the reading after which nothing can change the row (MAX while provisional: an
    // ongoing session or trip).
    r#"
    CREATE TABLE sessions (
        id                   INTEGER PRIMARY KEY,
        vehicle_id           TEXT NOT NULL,
        started_at           INTEGER NOT NULL,
        ended_at             INTEGER,
        last_seen_at         INTEGER NOT NULL,
        start_percent        REAL,
        end_percent          REAL,
        latitude             REAL,
        longitude            REAL,
        charging_minutes     REAL NOT NULL,
        segments             INTEGER NOT NULL,
        start_uncertainty_min REAL NOT NULL,
        end_uncertainty_min  REAL NOT NULL,
        inferred             INTEGER NOT NULL,
        settled_at           INTEGER NOT NULL
    );
    CREATE INDEX sessions_by_start ON sessions(vehicle_id, started_at);
    CREATE INDEX sessions_by_settled ON sessions(vehicle_id, settled_at);

    CREATE TABLE trips (
        id                INTEGER PRIMARY KEY,
        vehicle_id        TEXT NOT NULL,
        started_at        INTEGER NOT NULL,
        ended_at          INTEGER,
        last_seen_at      INTEGER NOT NULL,
        start_latitude    REAL NOT NULL,
        start_longitude   REAL NOT NULL,
        end_latitude      REAL NOT NULL,
        end_longitude     REAL NOT NULL,
        gps_km            REAL NOT NULL,
        start_odometer_km REAL,
        end_odometer_km   REAL,
        start_percent     REAL,
        end_percent       REAL,
        gap_ms            INTEGER NOT NULL,
        settled_at        INTEGER NOT NULL
    );
    CREATE INDEX trips_by_start ON trips(vehicle_id, started_at);
    CREATE INDEX trips_by_settled ON trips(vehicle_id, settled_at);

    -- The detectors' state after the reading at `at_ms` (the latest of its UTC day):
    -- where a re-derivation resumes.
    CREATE TABLE derive_checkpoints (
        vehicle_id TEXT NOT NULL,
        at_ms      INTEGER NOT NULL,
        state      TEXT NOT NULL,
        PRIMARY KEY (vehicle_id, at_ms)
    ) WITHOUT ROWID;
    "#,
    // 8: drivers (owner data): home, reimbursement rate and off-peak window (minutes after
    // local midnight; the end before the start crosses midnight), who drives which vehicle
    // when, and an off-peak price for places too.
    r#"
    CREATE TABLE drivers (
        id                    INTEGER PRIMARY KEY,
        name                  TEXT NOT NULL UNIQUE COLLATE NOCASE,
        email                 TEXT,
        home_latitude         REAL,
        home_longitude        REAL,
        home_radius_m         REAL NOT NULL DEFAULT 100,
        rate_per_kwh          REAL,
        off_peak_start_min    INTEGER,
        off_peak_end_min      INTEGER,
        off_peak_rate_per_kwh REAL
    );

    CREATE TABLE driver_assignments (
        id         INTEGER PRIMARY KEY,
        vehicle_id TEXT NOT NULL,
        driver_id  INTEGER NOT NULL REFERENCES drivers(id),
        from_ms    INTEGER NOT NULL,
        until_ms   INTEGER                     -- exclusive; NULL while it lasts
    );
    CREATE INDEX driver_assignments_by_vehicle ON driver_assignments(vehicle_id, from_ms);

    ALTER TABLE places ADD COLUMN off_peak_start_min INTEGER;
    ALTER TABLE places ADD COLUMN off_peak_end_min INTEGER;
    ALTER TABLE places ADD COLUMN off_peak_rate_per_kwh REAL;
    "#,
    // 9: the owner's alert rules: on or off and `key=value` settings over the defaults.
    r#"
    CREATE TABLE alert_rules (
        rule     TEXT PRIMARY KEY,
        enabled  INTEGER NOT NULL,
        settings TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;
    "#,
    // 10: the alerts `serve` sends, one row per alert and channel: queued when the alert
    // is seen open, `sent_at` once delivered, so a restart neither sends twice nor loses
    // one. Not derived (a record of what went out): `reprocess` keeps it. And arrivals by
    // time, for `no_deliveries` (Smartcar's own: not the relay's API polls).
    r#"
    CREATE TABLE alert_notifications (
        alert_id        TEXT NOT NULL,
        channel         TEXT NOT NULL,          -- url | email
        rule            TEXT NOT NULL,
        vehicle_id      TEXT,
        title           TEXT NOT NULL,
        message         TEXT NOT NULL,
        opened_at       INTEGER NOT NULL,
        queued_at       INTEGER NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_error      TEXT,
        sent_at         INTEGER,
        PRIMARY KEY (alert_id, channel)
    ) WITHOUT ROWID;
    CREATE INDEX alert_notifications_due ON alert_notifications(next_attempt_at)
        WHERE sent_at IS NULL;
    CREATE INDEX deliveries_by_time ON deliveries(received_at)
        WHERE outcome != 'verify' AND format != 'api';
    "#,
    // 11: compressed bodies (`store::bodies`). `body_codec`: NULL for a body written raw
    // before compression existed (the background compaction visits these, through the
    // partial index, and shrinks them), 0 for a body kept raw on purpose, else the zstd
    // dictionary it was compressed with. Dictionaries are never deleted: old rows need them.
    r#"
    CREATE TABLE zstd_dictionaries (
        id         INTEGER PRIMARY KEY,
        sha256     BLOB NOT NULL UNIQUE,
        source     TEXT NOT NULL CHECK (source IN ('builtin', 'trained')),
        created_at INTEGER NOT NULL,
        samples    INTEGER,                 -- deliveries it was trained on
        dict       BLOB NOT NULL
    );
    ALTER TABLE deliveries ADD COLUMN body_codec INTEGER;
    CREATE INDEX deliveries_uncompressed ON deliveries(id)
        WHERE body_codec IS NULL AND body IS NOT NULL;
    "#,
];

/// The first version with materialised sessions and trips: a database migrated past it
/// derives them once from its readings.
const DERIVED_TABLES_VERSION: i64 = 7;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to [`SCHEMA_VERSION`] in one transaction.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Another process may have migrated while this one waited for the lock.
    let found: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for sql in MIGRATIONS.iter().skip(found.max(0) as usize) {
        tx.execute_batch(sql)?;
    }
    if found < DERIVED_TABLES_VERSION {
        super::derived::rebuild_all(&tx)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_applies_to_an_empty_database_and_checks_clean() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let integrity: String = conn
            .pragma_query_value(None, "integrity_check", |r| r.get(0))
            .unwrap();
        assert_eq!(integrity, "ok");
        let mut fk = conn.prepare("PRAGMA foreign_key_check").unwrap();
        assert!(fk.query([]).unwrap().next().unwrap().is_none());
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        let schema = |c: &Connection| -> Vec<String> {
            let mut s = c
                .prepare("SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
                .unwrap();
            s.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let before = schema(&conn);
        migrate(&mut conn).unwrap();
        assert_eq!(schema(&conn), before);
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_clear_error() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let error = migrate(&mut conn).unwrap_err();
        assert!(error.to_string().contains("update fleetdash"), "{error}");
    }
}
