//! The systemd unit and the exit code it relies on: a misconfigured `fleetdash serve` exits
//! with EX_CONFIG (78), which the unit does not restart, and the unit bounds what the
//! server may take (files, memory, tasks) and see (other processes).

mod common;

use std::path::Path;
use std::process::Stdio;

use fleetdash::commands::exit::EXIT_CONFIG;

fn unit_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/linux/fleetdash.service");
    std::fs::read_to_string(path).unwrap()
}

/// The value of `key=` in the unit's `[Service]` section, if set.
fn service_setting(unit: &str, key: &str) -> Option<String> {
    let mut in_service = false;
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            in_service = line == "[Service]";
        } else if in_service && let Some(value) = line.strip_prefix(&format!("{key}=")) {
            return Some(value.to_owned());
        }
    }
    None
}

#[test]
fn serve_without_a_management_token_exits_78_so_systemd_does_not_restart_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::fleetdash()
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("db.sqlite3"))
        .env_remove("SMARTCAR_MANAGEMENT_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(78), "{stderr}");
    assert!(stderr.contains("SMARTCAR_MANAGEMENT_TOKEN"), "{stderr}");
    // Other failures keep the ordinary code, so systemd restarts them.
    let output = common::fleetdash()
        .args(["export", "battery", "--db"])
        .arg(dir.path().join("missing.sqlite3"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

/// `serve` with `SMARTCAR_MANAGEMENT_TOKEN` set, `args` after it and `env` set: its output.
fn serve_with(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut command = common::fleetdash();
    command
        .arg("serve")
        .args(args)
        .arg("--db")
        .arg(dir.path().join("db.sqlite3"))
        .env("SMARTCAR_MANAGEMENT_TOKEN", "a-management-token")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[test]
fn every_setting_serve_refuses_exits_78_and_a_taken_port_exits_1() {
    let guessable = [("FLEETDASH_SYNC_TOKEN", "short")];
    let not_proxies = [("FLEETDASH_TRUSTED_PROXIES", "caddy, 10.0.0.1")];
    for (what, args, env) in [
        (
            "a short sync token",
            &["--listen", "127.0.0.1:0"][..],
            &guessable[..],
        ),
        (
            "trusted proxies that are not addresses",
            &["--listen", "127.0.0.1:0"],
            &not_proxies,
        ),
        (
            "a listen address that is not one",
            &["--listen", "localhost:port"],
            &[],
        ),
        (
            "an address of another machine",
            &["--listen", "203.0.113.9:8787"],
            &[],
        ),
    ] {
        let output = serve_with(args, env);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(78), "{what}: {stderr}");
    }
    // A port another program holds may be free on the next start: systemd restarts that.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = serve_with(&["--listen", &address], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("already running"), "{stderr}");
}

#[test]
fn the_unit_bounds_the_server_hides_other_processes_and_does_not_restart_a_misconfigured_one() {
    let unit = unit_text();
    let setting = |key: &str| {
        service_setting(&unit, key).unwrap_or_else(|| panic!("{key}= is not set in [Service]"))
    };
    assert_eq!(
        setting("RestartPreventExitStatus"),
        EXIT_CONFIG.to_string(),
        "the unit must not restart on the exit code of a configuration error"
    );
    assert_eq!(setting("Restart"), "on-failure");
    // A socket per connection, with room to spare over the server's own connection cap.
    let files: u32 = setting("LimitNOFILE").parse().unwrap();
    assert!(files >= 4096, "LimitNOFILE={files}");
    assert!(setting("MemoryMax").ends_with('M') || setting("MemoryMax").ends_with('G'));
    let tasks: u32 = setting("TasksMax").parse().unwrap();
    assert!((32..=1024).contains(&tasks), "TasksMax={tasks}");
    assert_eq!(setting("ProtectProc"), "invisible");
    assert_eq!(setting("ProcSubset"), "pid");
}

#[test]
fn systemd_accepts_every_line_of_the_unit() {
    let Ok(version) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped: systemd-analyze is not installed (apt-get install systemd)");
        return;
    };
    assert!(version.status.success());
    // Verify a copy that starts this build's binary: verify checks that ExecStart exists.
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("fleetdash.service");
    std::fs::write(
        &unit,
        unit_text().replace("/usr/bin/fleetdash", env!("CARGO_BIN_EXE_fleetdash")),
    )
    .unwrap();
    let output = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    // systemd ignores a line it can't read with only a warning (and exit 0): none may come.
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(said.trim().is_empty(), "{said}");
}
