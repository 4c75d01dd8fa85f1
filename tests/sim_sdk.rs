//! The simulated Smartcar (`fleetdash simulate --serve-api`) driven by Smartcar's own Python
//! SDK (`smartcar` 6.19 from PyPI, in a venv cached under the target directory): the SDK
//! logs in through the simulated Connect and token endpoint, reads every vehicle, batches,
//! subscribes, refreshes and meets errors; tests/sdk/drive_smartcar_sdk.py prints what the
//! SDK made of each answer, and these tests check it against the simulated fleet.
//! Where pip cannot install the SDK (no network to PyPI), the tests say so and pass.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::{fleetdash, wait_until};
use fleetdash::domain::time::{DAY_MS, format_ms, now_ms, parse_time_text};
use fleetdash::domain::units::{km_to_miles, round6};
use fleetdash::sim::fleet::{FleetConfig, Sample, VehicleSim, VehicleSpec, vehicles};
use serde_json::Value;

const SDK_REQUIREMENT: &str = "smartcar==6.19.*";
const CLIENT_ID: &str = "sdk-client";
const CLIENT_SECRET: &str = "sdk-secret";
const MANAGEMENT_TOKEN: &str = "sdk-management-token";
const WEBHOOK_ID: &str = "sdk-webhook";
const REDIRECT_URI: &str = "http://localhost:8000/oauth/callback";
const VEHICLES: usize = 3;
const DAYS: u32 = 1;
const SEED: u64 = 7;

/// The venv's python with the SDK installed, or why pip could not install it.
fn sdk_python() -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("smartcar-sdk-6.19-venv");
    let python = dir.join("bin/python");
    let has_sdk = |python: &Path| {
        Command::new(python)
            .args([
                "-c",
                "import smartcar; assert smartcar.__version__.startswith('6.19.')",
            ])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if has_sdk(&python) {
        return Ok(python);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let venv = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .output()
        .expect("python3 is missing: install it (Debian: apt-get install python3 python3-venv)");
    assert!(
        venv.status.success(),
        "`python3 -m venv` failed: install python3-venv (Debian: apt-get install python3-venv): {}",
        String::from_utf8_lossy(&venv.stderr)
    );
    let pip = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "--timeout",
            "15",
            "--retries",
            "1",
            "--quiet",
            SDK_REQUIREMENT,
        ])
        .output()
        .expect("the venv has no python");
    if !pip.status.success() || !has_sdk(&python) {
        let _ = std::fs::remove_dir_all(&dir);
        let stderr = String::from_utf8_lossy(&pip.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        return Err(format!(
            "pip could not install {SDK_REQUIREMENT} (no network to PyPI?): {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ));
    }
    Ok(python)
}

/// `fleetdash simulate --serve-api 127.0.0.1:0`, killed on drop.
struct Simulator {
    child: Child,
    origin: String,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fleet the simulator serves: it starts yesterday (as of the first call) and runs
/// through today.
fn fleet() -> FleetConfig {
    static FLEET: OnceLock<FleetConfig> = OnceLock::new();
    FLEET
        .get_or_init(|| FleetConfig {
            vehicles: VEHICLES,
            // `--serve-api` adds today to the days asked for.
            days: DAYS + 1,
            seed: SEED,
            start_ms: (now_ms().div_euclid(DAY_MS) - 1) * DAY_MS,
            faults: Default::default(),
        })
        .clone()
}

fn start_simulator(config: &FleetConfig) -> Simulator {
    let mut child = fleetdash()
        .args(["simulate", "--serve-api", "127.0.0.1:0"])
        .args([
            "--vehicles",
            &VEHICLES.to_string(),
            "--days",
            &DAYS.to_string(),
        ])
        .args([
            "--seed",
            &SEED.to_string(),
            "--start",
            &format_ms(config.start_ms),
        ])
        .env("SMARTCAR_CLIENT_ID", CLIENT_ID)
        .env("SMARTCAR_CLIENT_SECRET", CLIENT_SECRET)
        .env("SMARTCAR_MANAGEMENT_TOKEN", MANAGEMENT_TOKEN)
        .env("SMARTCAR_WEBHOOK_ID", WEBHOOK_ID)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let origin = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no origin in {line:?}"))
        .to_owned();
    Simulator { child, origin }
}

/// What the SDK made of the simulator, once per test binary; `None` when pip could not
/// install the SDK.
fn sdk_run() -> Option<&'static (Value, String)> {
    static RUN: OnceLock<Option<(Value, String)>> = OnceLock::new();
    RUN.get_or_init(|| {
        let python = match sdk_python() {
            Ok(python) => python,
            Err(reason) => {
                // Straight to stderr, past the test harness's capture, so it shows.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: the Smartcar SDK checks did not run: {reason}"
                );
                return None;
            }
        };
        let simulator = start_simulator(&fleet());
        let origin = &simulator.origin;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/drive_smartcar_sdk.py");
        let mut child = Command::new(python)
            .arg(script)
            .env("SMARTCAR_API_ORIGIN", origin)
            .env("SMARTCAR_AUTH_ORIGIN", format!("{origin}/oauth/token"))
            .env("SMARTCAR_CONNECT_ORIGIN", origin)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("SIM_CLIENT_ID", CLIENT_ID)
            .env("SIM_CLIENT_SECRET", CLIENT_SECRET)
            .env("SIM_REDIRECT_URI", REDIRECT_URI)
            .env("SIM_MANAGEMENT_TOKEN", MANAGEMENT_TOKEN)
            .env("SIM_WEBHOOK_ID", WEBHOOK_ID)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut status = None;
        let finished = wait_until(Duration::from_secs(120), || {
            status = child.try_wait().unwrap();
            status.is_some()
        });
        if !finished {
            let _ = child.kill();
        }
        let (out, err) = (out.join().unwrap(), err.join().unwrap());
        assert!(
            finished && status.is_some_and(|s| s.success()),
            "the SDK script failed ({status:?}):\n{err}\n{out}"
        );
        let report: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("the SDK script printed no JSON ({e}):\n{out}"));
        Some((report, origin.clone()))
    })
    .as_ref()
}

/// The fleet's sample for `vehicle` at the answer's `data_age`.
fn sample_at(specs: &[VehicleSpec], vehicle: usize, answer: &Value) -> Sample {
    let age = answer["meta"]["data_age"]
        .as_str()
        .unwrap_or_else(|| panic!("no data age in {answer}"));
    let at_ms = parse_time_text(age).unwrap_or_else(|| panic!("{age}"));
    VehicleSim::new(&fleet(), specs[vehicle].clone(), vehicle)
        .find(|s| s.at_ms == at_ms)
        .unwrap_or_else(|| panic!("the fleet has no sample at {age}"))
}

fn ok<'a>(answer: &'a Value, what: &str) -> &'a Value {
    answer
        .get("ok")
        .unwrap_or_else(|| panic!("{what}: the SDK raised {answer}"))
}

fn error<'a>(answer: &'a Value, what: &str) -> &'a Value {
    answer
        .get("error")
        .unwrap_or_else(|| panic!("{what}: the SDK raised nothing: {answer}"))
}

/// Checks one vehicle's battery, charge and location answers against the fleet.
fn check_readings(specs: &[VehicleSpec], i: usize, answers: &Value, unit_system: &str) {
    let battery = ok(&answers["battery"], "battery");
    let sample = sample_at(specs, i, battery);
    assert_eq!(
        battery["percent_remaining"],
        round6(sample.soc_percent / 100.0)
    );
    assert_eq!(battery["range"], sample.range_km, "{battery}");
    assert_eq!(battery["meta"]["unit_system"], unit_system);
    let charge = ok(&answers["charge"], "charge");
    let sample = sample_at(specs, i, charge);
    assert_eq!(charge["is_plugged_in"], sample.plugged_in);
    assert_eq!(charge["state"], sample.charging.as_str());
    let location = ok(&answers["location"], "location");
    let sample = sample_at(specs, i, location);
    assert_eq!(location["latitude"], sample.latitude);
    assert_eq!(location["longitude"], sample.longitude);
}

fn check_attributes(spec: &VehicleSpec, attributes: &Value) {
    assert_eq!(attributes["id"], spec.id.as_str());
    assert_eq!(attributes["make"], spec.make);
    assert_eq!(attributes["model"], spec.model);
    assert_eq!(attributes["year"], spec.year);
}

#[test]
fn smartcars_python_sdk_logs_in_through_connect_and_lists_the_fleet() {
    let Some((run, _)) = sdk_run() else { return };
    assert!(run["sdk_version"].as_str().unwrap().starts_with("6.19."));
    let connect = &run["connect"];
    assert_eq!(connect["consent_status"], 200);
    assert_eq!(connect["redirect_status"], 302);
    assert_eq!(connect["redirect_location_base"], REDIRECT_URI);
    assert_eq!(connect["state"], "sdk-state");
    assert_eq!(run["access"]["token_type"], "Bearer");
    assert_eq!(run["access"]["expires_in"], 7200);
    let ids: Vec<String> = vehicles(&fleet()).into_iter().map(|v| v.id).collect();
    let listed = ok(&run["vehicles"], "get_vehicles");
    assert_eq!(listed["vehicles"], serde_json::json!(ids));
    assert_eq!(listed["paging"]["count"], VEHICLES);
    assert!(listed["meta"]["request_id"].is_string(), "{listed}");
    let page = ok(&run["first_page"], "get_vehicles with paging");
    assert_eq!(page["vehicles"], serde_json::json!([ids[1]]));
    assert_eq!(page["paging"]["offset"], 1);
}

#[test]
fn smartcars_python_sdk_reads_attributes_battery_charge_and_location_as_the_fleet_has_them() {
    let Some((run, _)) = sdk_run() else { return };
    let specs = vehicles(&fleet());
    // The last car of a fleet of three needs re-authentication: the others answer.
    for (i, spec) in specs.iter().enumerate().take(VEHICLES - 1) {
        let report = &run["reports"][&spec.id];
        let attributes = ok(&report["attributes"], "attributes");
        check_attributes(spec, attributes);
        assert!(attributes["meta"]["request_id"].is_string(), "{attributes}");
        check_readings(&specs, i, report, "metric");
        let imperial = ok(&report["imperial_battery"], "battery in imperial units");
        let sample = sample_at(&specs, i, imperial);
        assert_eq!(imperial["range"], km_to_miles(sample.range_km));
        assert_eq!(imperial["meta"]["unit_system"], "imperial");
    }
}

#[test]
fn smartcars_python_sdk_batch_answers_each_path_or_raises_its_error() {
    let Some((run, _)) = sdk_run() else { return };
    let specs = vehicles(&fleet());
    for (i, spec) in specs.iter().enumerate().take(VEHICLES - 1) {
        let batch = &run["reports"][&spec.id]["batch"];
        check_readings(&specs, i, batch, "metric");
        check_attributes(spec, ok(&batch["attributes"], "batch attributes"));
        let odometer = error(&batch["odometer"], "batch odometer");
        assert_eq!(odometer["type"], "RESOURCE_NOT_FOUND");
        assert_eq!(odometer["status_code"], 404);
    }
}

#[test]
fn smartcars_python_sdk_reads_typed_errors_for_unknown_paths_reauthentication_and_bad_tokens() {
    let Some((run, origin)) = sdk_run() else {
        return;
    };
    let specs = vehicles(&fleet());
    let odometer = error(&run["reports"][&specs[0].id]["odometer"], "odometer");
    assert_eq!(odometer["type"], "RESOURCE_NOT_FOUND", "{odometer}");
    assert_eq!(odometer["code"], "PATH");
    assert_eq!(odometer["status_code"], 404);
    let last = &run["reports"][&specs[VEHICLES - 1].id];
    for what in ["attributes", "battery", "charge", "location", "batch"] {
        let failed = error(&last[what], what);
        assert_eq!(failed["type"], "CONNECTED_SERVICES_ACCOUNT", "{failed}");
        assert_eq!(failed["code"], "AUTHENTICATION_FAILED");
        assert_eq!(failed["status_code"], 400);
        assert_eq!(failed["resolution"]["type"], "REAUTHENTICATE");
        let url = failed["resolution"]["url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{origin}/oauth/reauthenticate?")),
            "{url}"
        );
    }
    let user_token = error(&run["unsubscribe_with_user_token"], "unsubscribe");
    assert_eq!(user_token["type"], "AUTHENTICATION");
    assert_eq!(user_token["status_code"], 401);
    let bad_code = error(&run["bad_code"], "exchange_code");
    assert_eq!(bad_code["type"], "invalid_grant");
    assert_eq!(bad_code["status_code"], 400);
}

#[test]
fn smartcars_python_sdk_subscribes_unsubscribes_and_rotates_the_refresh_token() {
    let Some((run, _)) = sdk_run() else { return };
    let first = &vehicles(&fleet())[0];
    let subscribed = ok(&run["subscribe"], "subscribe");
    assert_eq!(subscribed["webhook_id"], WEBHOOK_ID);
    assert_eq!(subscribed["vehicle_id"], first.id.as_str());
    // Every answer names its request, as Smartcar's do: the SDK keeps it in `meta`.
    assert!(subscribed["meta"]["request_id"].is_string(), "{subscribed}");
    let unsubscribed = ok(&run["unsubscribe"], "unsubscribe");
    assert_eq!(unsubscribed["status"], "success");
    assert!(
        unsubscribed["meta"]["request_id"].is_string(),
        "{unsubscribed}"
    );
    let refresh = &run["refresh"];
    assert_eq!(refresh["rotated"], true);
    assert_eq!(refresh["new_access_works"], true);
    let reused = error(&refresh["old_refresh_again"], "a used refresh token");
    assert_eq!(reused["type"], "invalid_grant");
}
