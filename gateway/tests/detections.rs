//! Detection rules end to end: rules evaluated in the ingest pass (CLI `ingest` and
//! `serve --watch`), runs by event time, alerts deduplicated, and deliveries to real HTTP
//! receivers on loopback — one that takes everything, one that fails its first tries, one
//! that never answers.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::receiver::{Behaviour, Receiver};
use gateway::demo::{self, BRUTE_FORCE_TARGET, BRUTE_FORCER, DemoConfig, EXFIL_DESTINATION};
use gateway::demo::{EXFIL_SOURCE, PORT_SCANNER};
use gateway::detect::{Deliverer, IDEMPOTENCY_HEADER, SIGNATURE_HEADER};
use hmac::{Hmac, Mac};
use lake::alerts::{Alert, AlertState, Raised, Sink, SinkKind};
use lake::catalog::Catalog;
use serde_json::Value;
use sha2::Sha256;
use tempfile::TempDir;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules/examples")
}

/// Runs the binary off the async threads (the receivers answer on them).
async fn cli(args: Vec<String>) -> (String, String) {
    tokio::task::spawn_blocking(move || common::cli(&args))
        .await
        .unwrap()
}

fn arg(path: &Path) -> String {
    path.display().to_string()
}

/// The lake's alerts, as `sketchlake alerts list --format json` prints them.
async fn alerts(lake: &Path) -> Vec<Value> {
    let (out, _) = cli(vec![
        "alerts".into(),
        "list".into(),
        "--data".into(),
        arg(lake),
        "--format".into(),
        "json".into(),
    ])
    .await;
    serde_json::from_str::<Vec<Value>>(&out).unwrap()
}

/// `sketchlake sink set soc --kind webhook --url URL [--secret S]` on `lake`.
async fn set_webhook(lake: &Path, url: &str, secret: Option<&str>) {
    let mut args: Vec<String> = ["sink", "set", "soc", "--kind", "webhook", "--url", url]
        .into_iter()
        .map(String::from)
        .collect();
    args.extend(["--data".to_string(), arg(lake)]);
    if let Some(secret) = secret {
        args.extend(["--secret".to_string(), secret.to_string()]);
    }
    cli(args).await;
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_week_raises_exactly_its_three_stories_once_each_signed() {
    let src = tempfile::tempdir().unwrap();
    let config = DemoConfig {
        records: 200_000,
        days: 7,
        ..DemoConfig::default()
    };
    demo::generate(src.path(), &config).unwrap();
    let lake = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(Behaviour::Accept).await;
    set_webhook(lake.path(), &receiver.url, Some("s3cret")).await;
    let ingest = vec![
        "ingest".into(),
        "--data".into(),
        arg(lake.path()),
        "--rules".into(),
        arg(&examples()),
        arg(src.path()),
    ];
    let (out, _) = cli(ingest.clone()).await;
    assert!(out.contains("3 alerts raised"), "{out}");
    assert!(out.contains("3 deliveries sent, 0 pending"), "{out}");

    let hours = |h: i64| config.start * 1000 + h * 3_600_000;
    let week = i64::from(config.days) * 24;
    // Each story's entity, and when it starts (demo.rs plants them at these fractions).
    let stories = [
        ("port-scan", vec![PORT_SCANNER], hours(week * 40 / 100)),
        (
            "large-upload",
            vec![EXFIL_SOURCE, EXFIL_DESTINATION],
            hours(week * 65 / 100),
        ),
        (
            "ssh-brute-force",
            vec![BRUTE_FORCER, BRUTE_FORCE_TARGET],
            hours(week * 85 / 100),
        ),
    ];
    let raised = alerts(lake.path()).await;
    assert_eq!(raised.len(), 3, "{raised:#?}");
    for (rule, group, start) in &stories {
        let alert = raised.iter().find(|a| a["rule"] == *rule).unwrap();
        assert_eq!(alert["group"], serde_json::json!(group), "{alert:#}");
        // The first window that fired holds the story's start.
        let (from, to) = (
            alert["window"][0].as_i64().unwrap(),
            alert["window"][1].as_i64().unwrap(),
        );
        assert!(
            from <= *start + 5 * 60_000 && *start < to,
            "{rule}: {alert:#}"
        );
        let samples = alert["samples"].as_array().unwrap();
        assert!(!samples.is_empty() && samples.len() <= 10, "{alert:#}");
        for sample in samples {
            let text = sample["text"].as_str().unwrap();
            assert!(text.contains(group[0]), "{rule}: sample {text}");
        }
    }

    // Delivered once each, signed with the sink's secret, each with its own stable key.
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    let mut keys: Vec<&str> = received
        .iter()
        .map(|r| r.header(IDEMPOTENCY_HEADER))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 3);
    for request in &received {
        let expected = format!("sha256={}", hmac_hex("s3cret", &request.body));
        assert_eq!(request.header(SIGNATURE_HEADER), expected);
        let body = request.json();
        assert_eq!(body["idempotency_key"], request.header(IDEMPOTENCY_HEADER));
        assert!(
            stories.iter().any(|(rule, _, _)| body["rule"] == *rule),
            "{body}"
        );
    }

    // Ingesting the same files again raises nothing and sends nothing.
    let (out, _) = cli(ingest).await;
    assert!(out.contains("0 alerts raised"), "{out}");
    assert_eq!(alerts(lake.path()).await.len(), 3);
    assert_eq!(receiver.received().len(), 3);
}

const SSH_RULE: &str = r#"id: ssh-many
name: Many SSH sessions
severity: medium
query: dst_port:22 | stats count by src_ip | where count > 5
window: 1h
every: 5m
dedup: { fields: [src_ip], period: 6h }
"#;

/// `n` flows from `src` to `port` as NDJSON, a minute apart from `start` (epoch seconds).
fn flows(src: &str, port: u16, start: i64, n: i64) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{{\"ts\":{},\"src_ip\":\"{src}\",\"dst_ip\":\"10.0.1.22\",\"dst_port\":{port}}}\n",
                start + i * 60
            )
        })
        .collect()
}

/// `sketchlake ingest` of `text`, written to `inbox/name`, into `lake` with `rules`.
fn ingest_text(lake: &Path, rules: &Path, inbox: &Path, name: &str, text: String) -> Vec<String> {
    let file = inbox.join(name);
    std::fs::write(&file, text).unwrap();
    vec![
        "ingest".to_string(),
        "--data".into(),
        arg(lake),
        "--rules".into(),
        arg(rules),
        arg(&file),
    ]
}

/// A rules folder holding `SSH_RULE`, an empty lake, and an inbox.
fn ssh_rule_lake_inbox() -> (TempDir, TempDir, TempDir) {
    let rules = tempfile::tempdir().unwrap();
    std::fs::write(rules.path().join("ssh.yml"), SSH_RULE).unwrap();
    (
        rules,
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn events_arriving_late_raise_alerts_for_their_own_window_and_never_twice() {
    let (rules, lake, inbox) = ssh_rule_lake_inbox();
    let ingest =
        |name: &str, text: String| ingest_text(lake.path(), rules.path(), inbox.path(), name, text);
    let day = 86_400;
    let t0 = 1_794_700_800; // a midnight

    // Day 2 arrives first.
    cli(ingest("day2.json", flows("192.0.2.1", 22, t0 + day, 6))).await;
    // Then a sensor that was offline sends day 1: its window is day 1's.
    cli(ingest("day1.json", flows("192.0.2.2", 22, t0, 6))).await;
    let raised = alerts(lake.path()).await;
    assert_eq!(raised.len(), 2, "{raised:#?}");
    let late = raised
        .iter()
        .find(|a| a["group"][0] == "192.0.2.2")
        .unwrap();
    let (from, to) = (
        late["window"][0].as_i64().unwrap(),
        late["window"][1].as_i64().unwrap(),
    );
    assert!(from <= t0 * 1000 && (t0 + 6 * 60) * 1000 <= to, "{late:#}");
    assert_eq!(late["count"], 6);
    // Its first and last events, a minute apart from t0: the last has no sample (a group
    // keeps 3 per 10 minutes), its minute does.
    assert_eq!(late["samples"].as_array().unwrap().len(), 3, "{late:#}");
    assert_eq!(late["first_ms"], t0 * 1000, "{late:#}");
    assert_eq!(late["last_ms"], (t0 + 5 * 60) * 1000, "{late:#}");

    // More of day 2's source in the same hour: the same alert, counted up, not a new one.
    let (out, _) = cli(ingest(
        "day2-more.json",
        flows("192.0.2.1", 22, t0 + day + 600, 3),
    ))
    .await;
    assert!(out.contains("0 alerts raised"), "{out}");
    let raised = alerts(lake.path()).await;
    assert_eq!(raised.len(), 2);
    let first = raised
        .iter()
        .find(|a| a["group"][0] == "192.0.2.1")
        .unwrap();
    assert_eq!(first["count"], 9, "{first:#}");
    // Under the threshold alone: quiet.
    cli(ingest(
        "quiet.json",
        flows("192.0.2.3", 22, t0 + 2 * day, 5),
    ))
    .await;
    assert_eq!(alerts(lake.path()).await.len(), 2);

    // An ingest without the rules: they never see its events, and it says so; into a lake
    // whose rules never ran, it has nothing to say.
    let without_rules = |lake: &Path, name: &str| {
        let file = inbox.path().join(name);
        std::fs::write(&file, flows("192.0.2.4", 22, t0 + 3 * day, 9)).unwrap();
        vec!["ingest".to_string(), "--data".into(), arg(lake), arg(&file)]
    };
    let (_, err) = cli(without_rules(lake.path(), "unruled.json")).await;
    assert!(err.contains("they did not see these events"), "{err}");
    assert_eq!(alerts(lake.path()).await.len(), 2);
    let other = tempfile::tempdir().unwrap();
    let (_, err) = cli(without_rules(other.path(), "unruled-too.json")).await;
    assert!(!err.contains("detection rules"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_whose_group_came_late_in_a_noisy_file_reads_its_samples_from_the_data() {
    let (rules, lake, inbox) = ssh_rule_lake_inbox();
    let t0 = 1_794_700_800;
    // Sixty sources once each use up the rule's samples of the file (50) before the one
    // that fires shows up.
    let mut text: String = (0..60)
        .map(|i| flows(&format!("198.51.100.{i}"), 22, t0 + i, 1))
        .collect();
    text += &flows("192.0.2.200", 22, t0 + 90, 6);
    cli(ingest_text(
        lake.path(),
        rules.path(),
        inbox.path(),
        "noisy.json",
        text,
    ))
    .await;
    let raised = alerts(lake.path()).await;
    assert_eq!(raised.len(), 1, "{raised:#?}");
    let alert = &raised[0];
    assert_eq!(alert["group"][0], "192.0.2.200");
    let samples = alert["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 6, "{alert:#}");
    assert!(
        samples
            .iter()
            .all(|s| s["text"].as_str().unwrap().contains("192.0.2.200")),
        "{alert:#}"
    );
    // All its events were read: its first and last event times are exact.
    assert_eq!(alert["first_ms"], (t0 + 90) * 1000, "{alert:#}");
    assert_eq!(alert["last_ms"], (t0 + 90 + 5 * 60) * 1000, "{alert:#}");
}

/// Tiers of one count: `SSH_RULE` at a higher threshold, and at a high one with a
/// stricter filter.
const SSH_TIERS: [(&str, &str); 2] = [
    (
        "ssh-very-many",
        "dst_port:22 | stats count by src_ip | where count > 10",
    ),
    (
        "ssh-very-many-tcp",
        "dst_port:22 proto:tcp | stats count by src_ip | where count > 10",
    ),
];

#[tokio::test(flavor = "multi_thread")]
async fn rules_that_differ_in_their_threshold_roll_up_once_and_each_fires_at_its_own() {
    let (rules, lake, inbox) = ssh_rule_lake_inbox();
    for (id, query) in SSH_TIERS {
        let text = SSH_RULE
            .replace("id: ssh-many", &format!("id: {id}"))
            .replace(
                "dst_port:22 | stats count by src_ip | where count > 5",
                query,
            );
        std::fs::write(rules.path().join(format!("{id}.yml")), text).unwrap();
    }
    let t0 = 1_794_700_800;
    let text = flows("192.0.2.7", 22, t0, 7) + &flows("192.0.2.12", 22, t0, 12);
    cli(ingest_text(
        lake.path(),
        rules.path(),
        inbox.path(),
        "ssh.json",
        text,
    ))
    .await;
    let mut fired: Vec<(String, String, i64)> = alerts(lake.path())
        .await
        .iter()
        .map(|a| {
            let rule = a["rule"].as_str().unwrap().to_string();
            let group = a["group"][0].as_str().unwrap().to_string();
            (rule, group, a["count"].as_i64().unwrap())
        })
        .collect();
    fired.sort();
    // The shared rollup counts each source's sessions once for both rules; the stricter
    // filter (no `proto` in these flows) matches nothing.
    assert_eq!(
        fired,
        [
            ("ssh-many".to_string(), "192.0.2.12".to_string(), 12),
            ("ssh-many".to_string(), "192.0.2.7".to_string(), 7),
            ("ssh-very-many".to_string(), "192.0.2.12".to_string(), 12),
        ]
    );
}

const WEB_RULE: &str = r#"id: web-many
name: Many web requests
severity: low
query: dst_port:80 | stats count by src_ip | where count > 5
window: 1h
every: 5m
"#;

const CORRELATION_RULE: &str = r#"id: two-detections
name: One source, two detections
severity: critical
dataset: alerts
query: "| stats dc(rule) by entity | where dc(rule) >= 2"
window: 1d
every: 1h
"#;

#[tokio::test(flavor = "multi_thread")]
async fn alerts_are_a_data_set_that_searches_and_correlation_rules_read() {
    let rules = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("ssh.yml", SSH_RULE),
        ("web.yml", WEB_RULE),
        ("two.yml", CORRELATION_RULE),
    ] {
        std::fs::write(rules.path().join(name), text).unwrap();
    }
    let lake = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    let ingest =
        |name: &str, text: String| ingest_text(lake.path(), rules.path(), inbox.path(), name, text);
    let t0 = 1_794_700_800;
    // 192.0.2.1 sets off both log rules; 192.0.2.2 only the SSH one, for now.
    let both = flows("192.0.2.1", 22, t0, 8) + &flows("192.0.2.1", 80, t0 + 30, 8);
    let (out, _) = cli(ingest(
        "first.json",
        both + &flows("192.0.2.2", 22, t0 + 600, 8),
    ))
    .await;
    assert!(out.contains("4 alerts raised"), "{out}");
    let correlated = |raised: &[Value]| -> Vec<String> {
        let mut entities: Vec<String> = raised
            .iter()
            .filter(|a| a["rule"] == "two-detections")
            .map(|a| a["group"][0].as_str().unwrap().to_string())
            .collect();
        entities.sort();
        entities
    };
    let raised = alerts(lake.path()).await;
    assert_eq!(correlated(&raised), ["src_ip=192.0.2.1"], "{raised:#?}");
    let alert = raised
        .iter()
        .find(|a| a["rule"] == "two-detections")
        .unwrap();
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["count"], 2, "{alert:#}");
    let sample = alert["samples"][0]["text"].as_str().unwrap();
    assert!(
        sample.contains("\"entity\":\"src_ip=192.0.2.1\""),
        "{sample}"
    );

    // Later, 192.0.2.2's web requests: its second detection, correlated with its first,
    // which the correlation read in the earlier run. 192.0.2.1 is not raised again.
    let (out, _) = cli(ingest("later.json", flows("192.0.2.2", 80, t0 + 900, 8))).await;
    assert!(out.contains("2 alerts raised"), "{out}");
    let raised = alerts(lake.path()).await;
    assert_eq!(
        correlated(&raised),
        ["src_ip=192.0.2.1", "src_ip=192.0.2.2"],
        "{raised:#?}"
    );
    assert_eq!(raised.len(), 6);

    // Searched with the query language, as the logs are.
    let search = |query: &str| {
        cli(vec![
            "alerts".into(),
            "search".into(),
            "--data".into(),
            arg(lake.path()),
            "--format".into(),
            "json".into(),
            query.into(),
        ])
    };
    let (out, _) = search("NOT severity:critical | stats count, dc(rule) by src_ip").await;
    let answer: Value = serde_json::from_str(&out).unwrap();
    let rows = answer["groups"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{answer:#}");
    for row in rows {
        assert_eq!(row["aggs"][0]["value"]["value"], 2, "{row}");
    }
    let (out, _) = search("rule:two-detections entity:\"src_ip=192.0.2.2\"").await;
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["matched"], 1, "{answer:#}");
    let hit = answer["hits"][0]["text"].as_str().unwrap();
    assert!(hit.contains("\"rule\":\"two-detections\""), "{hit}");
}

fn test_alert(id: &str, window_end: i64) -> Alert {
    Alert {
        id: id.to_string(),
        tenant: String::new(),
        rule: "r".into(),
        version: "v".into(),
        name: "R".into(),
        query: "dst_port:22".into(),
        severity: "high".into(),
        fields: vec!["src_ip".into()],
        group: vec!["192.0.2.9".into()],
        window: (window_end - 3_600_000, window_end),
        count: 7,
        first_ms: None,
        last_ms: None,
        samples: Vec::new(),
        dedup_key: "r src_ip=192.0.2.9".into(),
        state: AlertState::New,
        staging: false,
        created_ms: 1,
    }
}

async fn sqlite_catalog(dir: &Path) -> Catalog {
    let url = format!("sqlite://{}?mode=rwc", dir.join("c.db").display());
    Catalog::open(&url).await.unwrap()
}

/// A CLI waits for deliveries that can succeed, not for those to a sink nobody has set:
/// they are tried once, told, and left in the outbox for when someone does.
#[tokio::test(flavor = "multi_thread")]
async fn a_drain_does_not_wait_on_a_sink_nobody_set_up() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = sqlite_catalog(dir.path()).await;
    catalog
        .raise(
            &test_alert("r-1", 10_000_000),
            3_600_000,
            &["soc".to_string()],
        )
        .await
        .unwrap();
    let deliverer = Deliverer::new(catalog.clone()).unwrap();
    // An hour's drain: it would retry until then if it waited on the missing sink.
    let drained = tokio::time::timeout(
        Duration::from_secs(60),
        deliverer.drain(Duration::from_secs(3600)),
    )
    .await
    .expect("the drain ended without waiting for the missing sink")
    .unwrap();
    assert_eq!((drained.delivered, drained.pending), (0, 1));
    let tried = &catalog.deliveries("r-1").await.unwrap()[0];
    assert_eq!((tried.state.as_str(), tried.attempts), ("pending", 1));
    assert!(tried.last_error.as_ref().unwrap().contains("no sink named"));

    // Past its retry time (at most 1.5 s), it is not tried again while the sink is unset…
    tokio::time::sleep(Duration::from_millis(1600)).await;
    deliverer.drain(Duration::from_secs(1)).await.unwrap();
    let waiting = &catalog.deliveries("r-1").await.unwrap()[0];
    assert_eq!((waiting.state.as_str(), waiting.attempts), ("pending", 1));
    // …and goes once someone sets it.
    let receiver = Receiver::start(Behaviour::Accept).await;
    catalog
        .set_sink(&Sink {
            tenant: String::new(),
            name: "soc".into(),
            kind: SinkKind::Webhook,
            url: receiver.url.clone(),
            secret: "s".into(),
            created_ms: 0,
        })
        .await
        .unwrap();
    let drained = deliverer.drain(Duration::from_secs(5)).await.unwrap();
    assert_eq!((drained.delivered, drained.pending), (1, 0));
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_sink_gets_its_alert_once_it_recovers_and_a_hanging_one_holds_up_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = sqlite_catalog(dir.path()).await;
    let good = Receiver::start(Behaviour::Accept).await;
    let flaky = Receiver::start(Behaviour::FailFirst(2)).await;
    let stuck = Receiver::start(Behaviour::Hang).await;
    let mut sinks = Vec::new();
    for (name, receiver, kind) in [
        ("good", &good, SinkKind::Slack),
        ("flaky", &flaky, SinkKind::PagerDuty),
        ("stuck", &stuck, SinkKind::Webhook),
    ] {
        catalog
            .set_sink(&Sink {
                tenant: String::new(),
                name: name.into(),
                kind,
                url: receiver.url.clone(),
                secret: "routing-key".into(),
                created_ms: 0,
            })
            .await
            .unwrap();
        sinks.push(name.to_string());
    }
    sinks.push("not-set-up".into());
    let raised = catalog
        .raise(&test_alert("r-1", 10_000_000), 3_600_000, &sinks)
        .await
        .unwrap();
    assert_eq!(raised, Raised::New);
    // The same dedup key within the period: the same alert.
    let again = catalog
        .raise(&test_alert("r-2", 10_300_000), 3_600_000, &sinks)
        .await
        .unwrap();
    assert_eq!(again, Raised::Duplicate { id: "r-1".into() });

    let deliverer = Deliverer::new(catalog.clone())
        .unwrap()
        .with_attempt_timeout(Duration::from_millis(700));
    let started = Instant::now();
    let drain = tokio::spawn({
        let deliverer = deliverer.clone();
        async move { deliverer.drain(Duration::from_secs(8)).await.unwrap() }
    });
    // The good sink is served while the stuck one hangs.
    let got = good.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1);
    assert!(
        started.elapsed() < Duration::from_millis(650),
        "{:?}",
        started.elapsed()
    );
    let slack = got[0].json();
    assert!(
        slack["text"]
            .as_str()
            .unwrap()
            .contains("[HIGH] R for src_ip=192.0.2.9"),
        "{slack}"
    );

    let drained = drain.await.unwrap();
    // Delivered: good and flaky (third try). Pending: stuck, and the sink never set up.
    assert_eq!(drained.delivered, 2);
    assert_eq!(drained.pending, 2);
    let pagerduty = flaky.received();
    assert_eq!(pagerduty.len(), 3, "two failures, then taken");
    let event = pagerduty[2].json();
    assert_eq!(event["routing_key"], "routing-key");
    assert_eq!(event["event_action"], "trigger");
    assert_eq!(event["dedup_key"], "r src_ip=192.0.2.9");
    assert_eq!(event["payload"]["severity"], "error");
    assert_eq!(event["payload"]["source"], "sketchlake");
    // Every try carried the same idempotency key.
    assert!(
        pagerduty
            .iter()
            .all(|r| r.header(IDEMPOTENCY_HEADER) == "r-1/flaky")
    );

    let deliveries = catalog.deliveries("r-1").await.unwrap();
    let state = |sink: &str| deliveries.iter().find(|d| d.sink == sink).unwrap().clone();
    assert_eq!(state("good").state, "delivered");
    assert_eq!(
        (state("flaky").state.as_str(), state("flaky").attempts),
        ("delivered", 3)
    );
    let stuck_state = state("stuck");
    assert_eq!(stuck_state.state, "pending");
    assert!(stuck_state.last_error.unwrap().contains("no answer"));
    assert!(
        state("not-set-up")
            .last_error
            .unwrap()
            .contains("no sink named")
    );
    assert!(
        stuck.received().len() >= 2,
        "retried while the drain lasted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_each_tenants_rules_over_that_tenants_data() {
    let (rules, lake, inbox) = ssh_rule_lake_inbox();
    // acme's data: a file in its folder, read where it is.
    let acme = tempfile::tempdir().unwrap();
    let t0 = 1_794_700_800;
    std::fs::write(
        acme.path().join("flows.json"),
        flows("192.0.2.5", 22, t0, 6),
    )
    .unwrap();
    cli(vec![
        "tenant".into(),
        "set".into(),
        "acme".into(),
        "--folder".into(),
        arg(acme.path()),
        "--data".into(),
        arg(lake.path()),
    ])
    .await;
    let tenant_rules = format!("acme={}", arg(rules.path()));
    let _server = common::Served::watching(
        lake.path(),
        inbox.path(),
        &[
            "--rules".as_ref(),
            rules.path().as_os_str(),
            "--tenant-rules".as_ref(),
            tenant_rules.as_ref(),
        ],
    );
    let acme_alerts = || {
        cli(vec![
            "alerts".into(),
            "list".into(),
            "--data".into(),
            arg(lake.path()),
            "--tenant".into(),
            "acme".into(),
            "--format".into(),
            "json".into(),
        ])
    };
    let started = Instant::now();
    let raised = loop {
        let (out, _) = acme_alerts().await;
        let raised = serde_json::from_str::<Vec<Value>>(&out).unwrap();
        if !raised.is_empty() {
            break raised;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no alert for acme"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0]["group"][0], "192.0.2.5");
    assert_eq!(raised[0]["count"], 6);
    // The default tenant's rules read the default tenant's data only.
    assert!(alerts(lake.path()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_alerts_on_files_landing_in_the_watched_folder_and_a_broken_edit_keeps_the_rule() {
    let rules = tempfile::tempdir().unwrap();
    let rule_file = rules.path().join("ssh.yml");
    std::fs::write(&rule_file, SSH_RULE).unwrap();
    let lake = tempfile::tempdir().unwrap();
    let inbox = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(Behaviour::Accept).await;
    set_webhook(lake.path(), &receiver.url, None).await;
    std::fs::write(&rule_file, format!("{SSH_RULE}sinks: [soc]\n")).unwrap();
    let server = common::Served::watching(
        lake.path(),
        inbox.path(),
        &["--rules".as_ref(), rules.path().as_os_str()],
    );
    let base = server.base.clone();
    let get = |path: &str| {
        let url = format!("{base}{path}");
        async move {
            let response = reqwest::get(url).await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };

    let t0 = 1_794_700_800;
    // As a log shipper does: written elsewhere, renamed in whole.
    let elsewhere = tempfile::tempdir().unwrap();
    let land = |name: &str, text: String| {
        let staged = elsewhere.path().join(name);
        std::fs::write(&staged, text).unwrap();
        std::fs::rename(&staged, inbox.path().join(name)).unwrap();
    };
    land("a.json", flows("192.0.2.1", 22, t0, 6));
    let got = receiver.wait_for(1, Duration::from_secs(60)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["group"]["src_ip"], "192.0.2.1");
    let listed = get("/api/v1/alerts").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed:#}");
    let rules_now = get("/api/v1/rules").await;
    assert_eq!(rules_now["rules"][0]["id"], "ssh-many");
    assert!(
        rules_now["rules"][0]["last_run_ms"].is_i64(),
        "{rules_now:#}"
    );

    // A broken edit: refused, shown, and the rule runs as it last read.
    std::fs::write(&rule_file, format!("{SSH_RULE}sinks: [soc\n")).unwrap();
    let started = Instant::now();
    let shown = loop {
        let now = get("/api/v1/rules").await;
        if now["refused"].as_array().unwrap().len() == 1 {
            break now;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{now:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(shown["rules"][0]["kept"], true, "{shown:#}");
    assert!(
        shown["refused"][0].as_str().unwrap().contains("ssh.yml:"),
        "{shown:#}"
    );
    land("b.json", flows("192.0.2.7", 22, t0 + 86_400, 6));
    let got = receiver.wait_for(2, Duration::from_secs(60)).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["group"]["src_ip"], "192.0.2.7");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backfill_runs_rules_over_ingested_history_from_since_and_counts_nothing_twice() {
    let src = tempfile::tempdir().unwrap();
    let config = DemoConfig {
        records: 100_000,
        days: 7,
        ..DemoConfig::default()
    };
    demo::generate(src.path(), &config).unwrap();
    let lake = tempfile::tempdir().unwrap();
    // Ingested before any rule existed: no rollups, no alerts.
    common::ingest(lake.path(), src.path());
    assert!(alerts(lake.path()).await.is_empty());
    let backfill = |since: String| {
        vec![
            "rules".to_string(),
            "backfill".into(),
            "--data".into(),
            arg(lake.path()),
            "--rules".into(),
            arg(&examples()),
            "--since".into(),
            since,
            "port-scan".into(),
            "ssh-brute-force".into(),
            "large-upload".into(),
        ]
    };
    // From day 6 on: only the brute force (day 6, hour 142) is in range.
    let day6 = shared_sketch::time::format_timestamp((config.start + 132 * 3600) * 1000);
    let (out, _) = cli(backfill(day6)).await;
    assert!(out.contains("1 alerts raised"), "{out}");
    let raised = alerts(lake.path()).await;
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0]["rule"], "ssh-brute-force");
    let count = raised[0]["count"].clone();

    // The whole week: the other two, and the brute force again only as itself.
    let week = shared_sketch::time::format_timestamp(config.start * 1000);
    let (out, _) = cli(backfill(week.clone())).await;
    assert!(out.contains("2 alerts raised"), "{out}");
    assert!(out.contains("ruled out by time"), "{out}");
    // Again: nothing new, nothing counted twice.
    let (out, _) = cli(backfill(week)).await;
    assert!(out.contains("0 alerts raised"), "{out}");
    let raised = alerts(lake.path()).await;
    assert_eq!(raised.len(), 3, "{raised:#?}");
    let brute = raised
        .iter()
        .find(|a| a["rule"] == "ssh-brute-force")
        .unwrap();
    assert_eq!(brute["count"], count);
    let unknown = tokio::task::spawn_blocking({
        let lake = lake.path().to_path_buf();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_sketchlake"))
                .args(["rules", "backfill", "--data"])
                .arg(lake)
                .args(["--rules"])
                .arg(examples())
                .arg("no-such-rule")
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no rule \"no-such-rule\""));
}
