//! Alerts in the app: the Fleet page's "Needs attention" lists and explains the open ones,
//! Settings' rules change what is open, a newly opened alert is announced once, and a
//! system without a notification service is told so.

use std::sync::Mutex;

use crate::*;
use egui_kittest::kittest::Queryable;
use fleetdash::domain::alerts::Rule;
use fleetdash::domain::time::MINUTE_MS;
use fleetdash::domain::zone::FleetZone;
use fleetdash::store::owner::{OwnerWrite, apply_all};
use fleetdash::ui::notify::{Note, Notifier, NotifyStatus};

const HOUR_MS: i64 = 60 * MINUTE_MS;

/// A seeded fleet of four in Berlin's time zone: "Van plugged" plugged in at 40 % and not
/// charging since `plugged_since_ms` (two hours ago), "Van quiet" silent for two days,
/// "Van three" and "Van four" unplugged at 70 % for the last hour.
struct Fleet {
    db: PathBuf,
    ids: [String; 4],
    plugged_since_ms: i64,
}

const NAMES: [&str; 4] = ["Van plugged", "Van quiet", "Van three", "Van four"];

fn reading(conn: &rusqlite::Connection, id: &str, at_ms: i64, percent: f64, plugged: bool) {
    conn.execute(
        "INSERT OR REPLACE INTO readings(vehicle_id, recorded_at, battery_percent, plugged_in, charging_state, source)
         VALUES (?1, ?2, ?3, ?4, 'NOT_CHARGING', 'api')",
        rusqlite::params![id, at_ms, percent, plugged],
    )
    .unwrap();
}

fn fleet_needing_attention(dir: &Path, rules: &[OwnerWrite]) -> Fleet {
    let db = seeded_db(dir, 4, 3);
    let now = now_ms();
    let mut conn = fleetdash::store::open(&db, &Default::default()).unwrap();
    let ids: Vec<String> = vehicle_ids(&conn);
    let mut owner = vec![OwnerWrite::TimeZone(Some("Europe/Berlin".into()))];
    for (id, name) in ids.iter().zip(NAMES) {
        owner.push(OwnerWrite::VehicleName {
            id: id.clone(),
            name: name.into(),
        });
    }
    owner.extend_from_slice(rules);
    apply_all(&mut conn, &owner).unwrap();
    let since = now - 2 * HOUR_MS;
    let recent = "DELETE FROM readings WHERE vehicle_id = ?1 AND recorded_at >= ?2";
    conn.execute(recent, rusqlite::params![ids[0], since - MINUTE_MS])
        .unwrap();
    // Unplugged just before, so the condition starts exactly then.
    reading(&conn, &ids[0], since - MINUTE_MS, 45.0, false);
    for k in 0..8 {
        reading(&conn, &ids[0], since + k * 15 * MINUTE_MS, 40.0, true);
    }
    conn.execute(recent, rusqlite::params![ids[1], now - 2 * DAY_MS])
        .unwrap();
    for id in &ids[2..] {
        conn.execute(recent, rusqlite::params![id, now - HOUR_MS])
            .unwrap();
        reading(&conn, id, now - HOUR_MS, 70.0, false);
    }
    // Rows written past the store's batches: derive sessions and trips from them.
    fleetdash::store::derived::rebuild(&conn).unwrap();
    Fleet {
        db,
        ids: ids.try_into().unwrap(),
        plugged_since_ms: since,
    }
}

fn is_open(app: &FleetApp, rule: Rule, vehicle_id: &str) -> bool {
    app.open_alerts().is_some_and(|alerts| {
        alerts
            .open
            .iter()
            .any(|l| l.alert.rule == rule && l.alert.vehicle_id.as_deref() == Some(vehicle_id))
    })
}

fn stored_rules(db: &Path) -> fleetdash::domain::alerts::Rules {
    let conn = fleetdash::store::open_read_only(db).unwrap();
    fleetdash::store::alerts::rules(&conn).unwrap()
}

#[test]
fn needs_attention_lists_an_open_alert_with_its_car_since_when_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = fleet_needing_attention(dir.path(), &[]);
    // "Van three" stood plugged in without charging from five hours ago until it was
    // unplugged three hours ago: an alert from four to three hours ago, resolved.
    let now = now_ms();
    {
        let conn = fleetdash::store::open(&fleet.db, &Default::default()).unwrap();
        conn.execute(
            "DELETE FROM readings WHERE vehicle_id = ?1 AND recorded_at >= ?2 AND recorded_at < ?3",
            rusqlite::params![fleet.ids[2], now - 6 * HOUR_MS, now - HOUR_MS],
        )
        .unwrap();
        for k in 0..8 {
            reading(
                &conn,
                &fleet.ids[2],
                now - 5 * HOUR_MS + k * 15 * MINUTE_MS,
                40.0,
                true,
            );
        }
        reading(&conn, &fleet.ids[2], now - 3 * HOUR_MS, 40.0, false);
        fleetdash::store::derived::rebuild(&conn).unwrap();
    }
    let mut harness = harness(seeded_app(&fleet.db));
    step_until(&mut harness, "the plugged car's alert", |app| {
        app.vehicles().len() == 4 && is_open(app, Rule::PluggedNotCharging, &fleet.ids[0])
    });
    harness.run_steps(2);

    // What happened and is over: one click away, with when it began and ended.
    let berlin = FleetZone::parse("Europe/Berlin").unwrap();
    harness
        .get_by_label_contains("Resolved in the last 24 hours (")
        .click();
    harness.run_steps(2);
    assert!(has_label(&harness, "Van three: Plugged in, not charging"));
    let span = format!(
        "{} to {}",
        berlin.local_minutes(now - 4 * HOUR_MS),
        berlin.local_minutes(now - 3 * HOUR_MS)
    );
    assert!(has_label(&harness, &span), "{span}");
    harness
        .get_by_label_contains("Resolved in the last 24 hours (")
        .click();
    harness.run_steps(2);

    // What, which car, since when (an hour after it was plugged in, in Berlin's time),
    // and what to do.
    let opened = fleet.plugged_since_ms + HOUR_MS;
    assert!(has_label(&harness, "Plugged in, not charging"));
    assert!(
        has_label(&harness, &format!("since {}", berlin.local_minutes(opened))),
        "since {}",
        berlin.local_minutes(opened)
    );
    assert!(has_label(
        &harness,
        &format!(
            "Van plugged is plugged in but not charging, at 40 % (below its 80 % target) since {}",
            berlin.local_minutes(fleet.plugged_since_ms)
        )
    ));
    assert!(has_label(
        &harness,
        "check the charger, the cable and the car's charging schedule."
    ));

    // The quiet car is listed once, in the alert's words rather than the glance's.
    assert!(is_open(harness.state(), Rule::VehicleQuiet, &fleet.ids[1]));
    assert!(has_label(&harness, "No data from the car"));
    assert!(has_label(&harness, "Van quiet has sent nothing since"));
    assert!(!has_label(&harness, "Not seen for over a day"));
    let open = harness.state().open_alerts().unwrap().open.len();
    assert!(has_label(&harness, &format!("Needs attention ({open})")));

    // The car's name opens it, as the glance's items do; it reads as the car and what is
    // wrong (the row below has the link named the car alone).
    assert_eq!(harness.query_all_by_label("Van plugged").count(), 1);
    harness
        .get_by_label("Van plugged: Plugged in, not charging")
        .click();
    step_until(&mut harness, "the plugged car's page", |app| {
        app.vehicle_view().vehicle() == Some(fleet.ids[0].as_str())
    });
}

/// Scrolls the control labelled `label` into view and clicks it (Settings is taller than
/// the window).
fn press(harness: &mut Harness<'static, FleetApp>, label: &str) {
    harness.get_by_label(label).scroll_to_me();
    harness.step();
    harness.get_by_label(label).click();
    harness.step();
}

/// Replaces what the field labelled `label` holds with `text`.
fn type_into_field(harness: &mut Harness<'static, FleetApp>, label: &str, text: &str) {
    harness.get_by_label(label).scroll_to_me();
    harness.step();
    harness.get_by_label(label).focus();
    harness.step();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.step();
    harness.get_by_label(label).type_text(text);
    harness.step();
}

#[test]
fn the_rules_in_settings_change_what_is_open_on_the_fleet_page() {
    let dir = tempfile::tempdir().unwrap();
    let fleet = fleet_needing_attention(dir.path(), &[]);
    let plugged = fleet.ids[0].clone();
    let mut harness = harness(seeded_app(&fleet.db));
    step_until(&mut harness, "the plugged car's alert", |app| {
        is_open(app, Rule::PluggedNotCharging, &plugged)
    });
    let shown_on_fleet = |h: &Harness<'_, FleetApp>| has_label(h, "Plugged in, not charging");
    assert!(shown_on_fleet(&harness));

    // Off: stored, and gone from the Fleet page.
    harness.get_by_label("Settings").click();
    step_until_shown(&mut harness, "the rules", |h| {
        has_label(h, "Plugged in, not charging: minutes")
    });
    press(&mut harness, "Plugged in, not charging");
    step_until(&mut harness, "the rule off in the database", |_| {
        !stored_rules(&fleet.db).plugged_not_charging.on
    });
    harness.get_by_label("Fleet").click();
    step_until(&mut harness, "the alert closed", |app| {
        !is_open(app, Rule::PluggedNotCharging, &plugged)
    });
    harness.run_steps(2);
    assert!(!shown_on_fleet(&harness));
    // The other rules still work.
    assert!(is_open(harness.state(), Rule::VehicleQuiet, &fleet.ids[1]));

    // On again, and open again.
    harness.get_by_label("Settings").click();
    harness.step();
    press(&mut harness, "Plugged in, not charging");
    step_until(&mut harness, "the rule on in the database", |_| {
        stored_rules(&fleet.db).plugged_not_charging.on
    });
    harness.get_by_label("Fleet").click();
    step_until(&mut harness, "the alert open again", |app| {
        is_open(app, Rule::PluggedNotCharging, &plugged)
    });

    // Three hours instead of one: two hours plugged in is not enough any more.
    harness.get_by_label("Settings").click();
    harness.step();
    type_into_field(&mut harness, "Plugged in, not charging: minutes", "180");
    press(&mut harness, "Save the alert rules");
    step_until(&mut harness, "180 minutes in the database", |_| {
        stored_rules(&fleet.db).plugged_not_charging.minutes == 180
    });
    harness.get_by_label("Fleet").click();
    step_until(&mut harness, "the alert closed by the longer wait", |app| {
        !is_open(app, Rule::PluggedNotCharging, &plugged)
    });
    harness.run_steps(2);
    assert!(!shown_on_fleet(&harness));

    // A value the rule can't take is refused in words, and nothing is stored.
    harness.get_by_label("Settings").click();
    harness.step();
    type_into_field(&mut harness, "Plugged in, not charging: minutes", "20000");
    press(&mut harness, "Save the alert rules");
    harness.run_steps(2);
    assert!(has_label(
        &harness,
        "Plugged in, not charging: minutes must be a number from 0 to 10080, not \"20000\""
    ));
    type_into_field(&mut harness, "Low battery before the shift: time", "6 am");
    press(&mut harness, "Save the alert rules");
    harness.run_steps(2);
    assert!(has_label(
        &harness,
        "Low battery before the shift: time must be HH:MM (24-hour), not \"6 am\""
    ));
    assert!(!harness.state().persisted().settings.demo);
    let stored = stored_rules(&fleet.db);
    assert_eq!(stored.plugged_not_charging.minutes, 180);
    assert_eq!(stored.low_battery_before_shift.time_min, 6 * 60);
}

/// Keeps every note it is asked to show.
struct Recorder(Arc<Mutex<Vec<Note>>>);

impl Notifier for Recorder {
    fn probe(&mut self) -> Result<(), String> {
        Ok(())
    }

    fn show(&mut self, note: &Note) -> Result<(), String> {
        self.0.lock().unwrap().push(note.clone());
        Ok(())
    }
}

#[test]
fn an_alert_that_opens_while_the_app_runs_is_announced_once_and_those_open_at_start_are_not() {
    let dir = tempfile::tempdir().unwrap();
    // Plugged in and not charging counts at once: the test needs no hour's wait.
    let fleet = fleet_needing_attention(
        dir.path(),
        &[OwnerWrite::AlertRule {
            rule: Rule::PluggedNotCharging,
            on: None,
            settings: vec![("minutes".into(), "0".into())],
        }],
    );
    let notes = Arc::new(Mutex::new(Vec::new()));
    let app = seeded_app(&fleet.db).with_notifier(Box::new(Recorder(notes.clone())));
    let mut harness = harness(app);
    step_until(&mut harness, "the first look", |app| {
        is_open(app, Rule::PluggedNotCharging, &fleet.ids[0])
            && is_open(app, Rule::VehicleQuiet, &fleet.ids[1])
            && app.notify_status() == Some(NotifyStatus::Available)
    });
    let first_look = harness.state().open_alerts().unwrap().at_ms;
    assert!(!is_open(
        harness.state(),
        Rule::PluggedNotCharging,
        &fleet.ids[2]
    ));

    // The third car is plugged in and does not charge.
    let writer = rusqlite::Connection::open(&fleet.db).unwrap();
    let plugged_at = now_ms().max(first_look + 1);
    reading(&writer, &fleet.ids[2], plugged_at, 30.0, true);
    step_until(&mut harness, "the third car's alert", |app| {
        is_open(app, Rule::PluggedNotCharging, &fleet.ids[2])
    });
    step_until(&mut harness, "its note", |_| {
        !notes.lock().unwrap().is_empty()
    });

    // A reading that changes nothing, then the fourth car plugged in: its note comes
    // after any the third car's alert could still cause (one thread, in order).
    reading(&writer, &fleet.ids[2], plugged_at + 1000, 30.0, true);
    reading(
        &writer,
        &fleet.ids[3],
        now_ms().max(plugged_at + 1),
        25.0,
        true,
    );
    step_until(&mut harness, "two notes", |_| {
        notes.lock().unwrap().len() >= 2
    });
    let notes = notes.lock().unwrap().clone();
    let titles: Vec<&str> = notes.iter().map(|n| n.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Plugged in, not charging: Van three",
            "Plugged in, not charging: Van four"
        ]
    );
    assert!(
        notes[0]
            .body
            .starts_with("Van three is plugged in but not charging, at 30 %"),
        "{}",
        notes[0].body
    );
    // What was open at the first look is shown, not announced.
    assert!(is_open(harness.state(), Rule::VehicleQuiet, &fleet.ids[1]));
}

#[test]
fn without_a_notification_service_the_app_says_desktop_notifications_are_unavailable() {
    // The real notifier asks the session bus; on a desktop there is one, so run this test
    // again in a process whose bus address leads nowhere.
    const CHILD: &str = "FLEETDASH_TEST_WITHOUT_BUS";
    if std::env::var_os(CHILD).is_none() {
        let name = "alerts::without_a_notification_service_the_app_says_desktop_notifications_are_unavailable";
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/fleetdash-test-bus",
            )
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{text}");
        assert!(text.contains("1 passed"), "{text}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 1, 1);
    let app = seeded_app(&db).with_notifier(Box::new(fleetdash::ui::notify::Desktop));
    let mut harness = harness(app);
    step_until(&mut harness, "the notifier's answer", |app| {
        app.notify_status() == Some(NotifyStatus::Unavailable) && app.vehicles().len() == 1
    });
    harness.run_steps(2);
    assert!(has_label(
        &harness,
        "Desktop notifications are unavailable on this system"
    ));
    harness.get_by_label("Settings").click();
    harness.run_steps(2);
    assert!(has_label(
        &harness,
        "Desktop notifications are unavailable on this system"
    ));
}
