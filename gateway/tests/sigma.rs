//! Sigma rules through the command line a detection engineer uses: a rules folder of Sigma
//! rules ingested with, a correlation's sliding windows, and the backtest's answers.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::path::Path;

use serde_json::Value;

const FAILED_LOGIN: &str = r#"title: Failed console login
id: 5e4c0a8e-1111-4a4a-8a8a-000000000001
name: failed_console_login
status: test
level: low
logsource: {product: aws, service: cloudtrail}
detection:
    selection:
        eventName: ConsoleLogin
        responseElements.ConsoleLogin: Failure
    condition: selection
"#;

const BRUTE_FORCE: &str = r#"title: Console brute force
id: 5e4c0a8e-1111-4a4a-8a8a-000000000002
status: test
level: high
correlation:
    type: event_count
    rules: [failed_console_login]
    group-by: [sourceIPAddress]
    timespan: 5m
    condition: {gte: 10}
"#;

/// A failed console login from `ip` at `t` (epoch seconds).
fn failure(ip: &str, t: i64) -> String {
    format!(
        r#"{{"eventTime":{t},"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","sourceIPAddress":"{ip}","responseElements":{{"ConsoleLogin":"Failure"}}}}"#
    )
}

fn s(path: &Path) -> String {
    path.display().to_string()
}

/// `sketchlake ingest --data LAKE --rules RULES FILE`.
fn ingest(lake: &Path, rules: &Path, file: &Path) {
    common::cli(&["ingest", "--data", &s(lake), "--rules", &s(rules), &s(file)]);
}

/// `sketchlake rules backtest --format json --data DATA RULES`.
fn backtest(data: &Path, rules: &Path) -> Value {
    let (out, _) = common::cli(&[
        "rules",
        "backtest",
        "--format",
        "json",
        "--data",
        &s(data),
        &s(rules),
    ]);
    serde_json::from_str(&out).unwrap()
}

/// The backtest's answer for the rule titled `title`.
fn rule_titled(answer: &Value, title: &str) -> Value {
    answer["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["title"] == title)
        .cloned()
        .unwrap_or_else(|| panic!("no rule {title:?} in {answer:#}"))
}

/// The lake's alerts, as `sketchlake alerts list --format json` prints them.
fn alerts(lake: &Path) -> Vec<Value> {
    let (out, _) = common::cli(&["alerts", "list", "--data", &s(lake), "--format", "json"]);
    serde_json::from_str(&out).unwrap()
}

#[test]
fn a_burst_straddling_a_window_edge_fires_once_and_a_spread_one_never() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("failed_login.yml"), FAILED_LOGIN).unwrap();
    std::fs::write(rules.path().join("brute_force.yml"), BRUTE_FORCE).unwrap();
    let t0 = 1_794_700_800 + 10 * 3600; // 10:00
    let mut lines = Vec::new();
    // Ten failures in 51 seconds across 10:05, a minute's and a 5-minute window's edge.
    lines.extend((0..10).map(|i| failure("203.0.113.7", t0 + 270 + i * 5 + i / 2)));
    // Ten within 4m45s from 10:10:50: six minutes' bins, so only a window longer than the
    // timespan's five minutes holds them all.
    lines.extend((0..10).map(|i| failure("203.0.113.10", t0 + 650 + i * 31 + i / 9 * 6)));
    // Ten over eight minutes: never ten within five.
    lines.extend((0..10).map(|i| failure("203.0.113.8", t0 + i * 53)));
    // Nine within a minute: under the threshold.
    lines.extend((0..9).map(|i| failure("203.0.113.9", t0 + 60 + i)));
    let inbox = tempfile::tempdir().unwrap();
    let file = inbox.path().join("trail.json");
    std::fs::write(&file, lines.join("\n")).unwrap();

    // The backtest evaluates the correlation's windows as its runs will.
    let answer = backtest(&file, rules.path());
    let by_title = |title: &str| rule_titled(&answer, title);
    let base = by_title("Failed console login");
    assert_eq!(base["matches"], 39, "{answer:#}");
    let brute = by_title("Console brute force");
    assert_eq!(brute["matches"], 39, "{answer:#}");
    assert_eq!(brute["groups"], 2, "{answer:#}");
    assert_eq!(brute["refused"], Value::Null);

    // Ingested with the rules: one alert per burst; the rule it correlates raises none of
    // its own (`generate` is false).
    let lake = tempfile::tempdir().unwrap();
    ingest(lake.path(), rules.path(), &file);
    let alerts = alerts(lake.path());
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    for ip in ["203.0.113.7", "203.0.113.10"] {
        let alert = alerts
            .iter()
            .find(|a| a["group"] == serde_json::json!([ip]))
            .unwrap_or_else(|| panic!("no alert for {ip}: {alerts:#?}"));
        assert_eq!(alert["rule"], "5e4c0a8e-1111-4a4a-8a8a-000000000002");
        assert_eq!(alert["count"], 10, "{alert:#}");
        assert_eq!(alert["severity"], "high");
    }

    // What the folder holds, as `rules list` shows it: the base rule paused.
    let (out, _) = common::cli(&["rules", "list", &s(rules.path())]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("5e4c0a8e-1111-4a4a-8a8a-000000000001\tpaused")),
        "{out}"
    );
    assert!(
        out.contains("5e4c0a8e-1111-4a4a-8a8a-000000000002\tactive\thigh\t6m\t1m"),
        "{out}"
    );
}

#[test]
fn import_sigma_prints_each_query_and_reports_refusals_by_reason() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("failed_login.yml"), FAILED_LOGIN).unwrap();
    std::fs::write(rules.path().join("brute_force.yml"), BRUTE_FORCE).unwrap();
    std::fs::write(
        rules.path().join("placeholder.yml"),
        FAILED_LOGIN
            .replace("000000000001", "000000000003")
            .replace("name: failed_console_login\n", "")
            .replace("eventName: ConsoleLogin", "eventName|expand: '%names%'"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sketchlake"))
        .args(["rules", "import-sigma", &s(rules.path())])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a refused rule fails the command"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(
            "eventSource:* AND eventName:* AND eventName:\"ConsoleLogin\" AND responseElements.ConsoleLogin:\"Failure\" | stats count by sourceIPAddress | where count >= 10"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("3 rules: 2 converted, 1 refused"),
        "{stdout}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("expand:"), "{stderr}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sketchlake"))
        .args(["rules", "import-sigma", "--report", &s(rules.path())])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("      1  expand"), "{stdout}");
}

/// Zeek's `conn` record of a session.
fn zeek_conn(ts: i64, (src, sport, dst, dport): (&str, u16, &str, u16)) -> String {
    format!(
        r#"{{"_path":"conn","ts":{ts}.25,"uid":"C{ts}","id.orig_h":"{src}","id.orig_p":{sport},"id.resp_h":"{dst}","id.resp_p":{dport},"proto":"tcp","conn_state":"SF"}}"#
    )
}

/// The VPC flow log line of a session (version 2's default fields).
fn vpc_flow(start: i64, (src, sport, dst, dport): (&str, u16, &str, u16)) -> String {
    format!(
        "2 123456789012 eni-0a1b2c3d {src} {dst} {sport} {dport} 6 12 4096 {start} {} ACCEPT OK",
        start + 30
    )
}

const ZEEK_SMB: &str = r#"title: SMB session seen by Zeek
name: zeek_smb
logsource: {product: zeek, service: conn}
detection:
    selection: {id.resp_p: 445}
    condition: selection
"#;

const VPC_SMB: &str = r#"title: SMB flow accepted by the VPC
name: vpc_smb
logsource: {product: aws, service: vpcflow}
detection:
    selection: {dstport: 445, action: ACCEPT}
    condition: selection
"#;

/// One story across two sensors: the session's four-tuple, named differently by each.
const SMB_STORY: &str = r#"title: SMB session seen by both sensors
id: 7a0b5c1e-2222-4b4b-9b9b-000000000001
level: medium
correlation:
    type: temporal
    rules: [zeek_smb, vpc_smb]
    group-by: [src, sport, dst, dport]
    timespan: 30s
    aliases:
        src: {zeek_smb: id.orig_h, vpc_smb: srcaddr}
        sport: {zeek_smb: id.orig_p, vpc_smb: srcport}
        dst: {zeek_smb: id.resp_h, vpc_smb: dstaddr}
        dport: {zeek_smb: id.resp_p, vpc_smb: dstport}
"#;

#[test]
fn a_session_seen_by_two_sensors_with_skewed_clocks_is_one_story() {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("zeek_smb.yml"), ZEEK_SMB).unwrap();
    std::fs::write(rules.path().join("vpc_smb.yml"), VPC_SMB).unwrap();
    std::fs::write(rules.path().join("smb_story.yml"), SMB_STORY).unwrap();
    let t0 = 1_794_700_800 + 8 * 3600 + 50; // 08:00:50: sessions straddle minute edges
    let one = ("10.0.1.5", 49_152, "10.0.2.9", 445);
    let two = ("10.0.1.6", 50_001, "10.0.2.9", 445);
    let alone = ("10.0.1.7", 50_002, "10.0.2.9", 445);
    let mut zeek = vec![
        zeek_conn(t0, one),         // the VPC's clock is 4 s ahead
        zeek_conn(t0 + 100, two),   // and 3 s behind for this one
        zeek_conn(t0 + 200, alone), // never in the VPC's log
        zeek_conn(t0 + 2000, one),  // the same four-tuple again, much later…
    ];
    zeek.push(zeek_conn(t0 + 300, ("10.0.1.8", 50_003, "10.0.2.9", 139)));
    let vpc = [
        vpc_flow(t0 + 4, one),
        vpc_flow(t0 + 97, two),
        vpc_flow(t0 + 2000 + 900, one), // …whose VPC record is 15 minutes off: no story
        vpc_flow(t0 + 300, ("10.0.1.8", 50_003, "10.0.2.9", 445)), // Zeek saw port 139
        vpc_flow(t0 + 400, ("10.0.1.9", 50_004, "10.0.2.9", 445)), // the VPC alone
    ];
    let inbox = tempfile::tempdir().unwrap();
    std::fs::write(inbox.path().join("conn.log.json"), zeek.join("\n")).unwrap();
    std::fs::write(inbox.path().join("flows.log"), vpc.join("\n")).unwrap();

    let answer = backtest(inbox.path(), rules.path());
    let story = rule_titled(&answer, "SMB session seen by both sensors");
    assert_eq!(story["refused"], Value::Null, "{story:#}");
    assert_eq!(story["groups"], 2, "{answer:#}");

    let lake = tempfile::tempdir().unwrap();
    for name in ["conn.log.json", "flows.log"] {
        ingest(lake.path(), rules.path(), &inbox.path().join(name));
    }
    let alerts = alerts(lake.path());
    let mut groups: Vec<Value> = alerts.iter().map(|a| a["group"].clone()).collect();
    groups.sort_by_key(Value::to_string);
    assert_eq!(
        groups,
        [
            serde_json::json!(["10.0.1.5", "49152", "10.0.2.9", "445"]),
            serde_json::json!(["10.0.1.6", "50001", "10.0.2.9", "445"]),
        ],
        "{alerts:#?}"
    );
    for alert in &alerts {
        assert_eq!(alert["rule"], "7a0b5c1e-2222-4b4b-9b9b-000000000001");
        assert_eq!(
            alert["fields"],
            serde_json::json!(["src", "sport", "dst", "dport"])
        );
        assert_eq!(alert["count"], 2, "one record from each sensor: {alert:#}");
    }
}
