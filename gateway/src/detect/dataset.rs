//! Alerts as a data set of their own. Each alert is an event — its rule, severity, entity,
//! group values, count, window and time — so the query language searches them
//! (`sketchlake alerts search`, `GET /api/v1/alerts/search`) and rules with
//! `dataset: alerts` correlate them, e.g. `| stats dc(rule) by entity | where dc(rule) >= 2`.
//!
//! A rule over the alerts is rolled up as a rule over the logs is, one minute of event
//! time at a time, but from the alerts rather than from ingest: each run first reads the
//! alerts created since the rule last read them (its mark, kept with its rollups in one
//! transaction), so a crash loses none and none counts twice. A new version of such a rule
//! starts from the first alert. It reads neither alerts of rules in staging nor those of
//! other rules over the alerts: a correlation never feeds on itself.

use std::time::Instant;

use lake::LakeError;
use lake::alerts::Alert;
use lake::catalog::{Catalog, CatalogError};
use lake::rollups::{Detected, RuleKey};
use serde_json::{Map, Value, json};
use shared_sketch::fold::Answer;
use shared_sketch::parse;
use shared_sketch::query::ParseError;
use shared_sketch::time::format_timestamp;
use workers::{Detector, Format, ScanOptions, Watch, scan_text};

/// How rollups and samples name the alerts data set.
pub const ALERTS_SOURCE: &str = "sketchlake:alerts";

/// The newest alerts a search reads.
pub const MAX_SEARCHED: u32 = 100_000;

/// The alert as an event of the alerts data set. Its time is its last event's (the
/// window's last millisecond when that is not known); each group value is also a field of
/// its own name (`src_ip`), unless that name is one of the alert's.
pub fn alert_event(alert: &Alert) -> Map<String, Value> {
    let (start, end) = alert.window;
    let time = alert.last_ms.unwrap_or(end - 1);
    let Value::Object(mut event) = json!({
        "time": format_timestamp(time),
        "id": alert.id,
        "rule": alert.rule,
        "rule_name": alert.name,
        "version": alert.version,
        "severity": alert.severity,
        "entity": alert.entity(),
        "count": alert.count,
        "window_start": format_timestamp(start),
        "window_end": format_timestamp(end),
        "state": alert.state.name(),
    }) else {
        unreachable!("json! of an object is an object")
    };
    for (field, value) in alert.fields.iter().zip(&alert.group) {
        if !event.contains_key(field) {
            event.insert(field.clone(), Value::String(value.clone()));
        }
    }
    event
}

/// The alerts' events, one JSON object a line.
fn ndjson(alerts: &[Alert]) -> Vec<u8> {
    let mut text = Vec::new();
    for alert in alerts {
        // A map of strings and numbers always serializes.
        if serde_json::to_writer(&mut text, &alert_event(alert)).is_ok() {
            text.push(b'\n');
        }
    }
    text
}

/// A search of the alerts that cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Query(#[from] ParseError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Lookup(#[from] lake::LookupsError),
}

/// The answer to the query `text` over the tenant's newest `MAX_SEARCHED` alerts, as
/// `POST /api/v1/query` answers over the logs. Relative times are taken from `now_ms`.
pub async fn search_alerts(
    catalog: &Catalog,
    text: &str,
    now_ms: i64,
) -> Result<Answer, SearchError> {
    let started = Instant::now();
    let mut query = parse(text)?;
    query.resolve_time(now_ms);
    let alerts = catalog.alerts(i64::MIN, MAX_SEARCHED).await?;
    let options = ScanOptions {
        format: Some(Format::Ndjson),
        time_field: Some("time".to_string()),
        lookups: catalog.read_lookups(&query.lookup_tables()).await?,
    };
    // Alerts are few (deduplicated per rule, group and period): read at once, here.
    let mut partial = scan_text(&ndjson(&alerts), ALERTS_SOURCE, &query, &options);
    if alerts.len() >= MAX_SEARCHED as usize {
        partial.stats.add_error(
            ALERTS_SOURCE,
            format!("only the newest {MAX_SEARCHED} alerts were searched"),
        );
    }
    Ok(Answer {
        result: partial.result(&query),
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        stopped: None,
    })
}

/// Rolls up, for each rule over the alerts, the alerts created since it last read them,
/// and stores the rollups with its new mark. `skip` names the rules whose alerts are not
/// read (the rules over the alerts themselves).
pub async fn roll_up_alerts(
    catalog: &Catalog,
    rules: &[(RuleKey, Watch)],
    skip: &[&str],
    now_ms: i64,
) -> Result<(), LakeError> {
    let mut marks = Vec::with_capacity(rules.len());
    for (key, _) in rules {
        let mark = catalog.read_mark(key, ALERTS_SOURCE).await?;
        marks.push(mark.unwrap_or(i64::MIN));
    }
    let Some(&furthest_behind) = marks.iter().min() else {
        return Ok(());
    };
    // Read once for all the rules; each takes those created after its own mark.
    let events: Vec<(i64, Vec<u8>)> = catalog
        .alerts_created_after(furthest_behind)
        .await?
        .iter()
        .filter(|a| !skip.contains(&a.rule.as_str()))
        .filter_map(|a| Some((a.created_ms, serde_json::to_vec(&alert_event(a)).ok()?)))
        .collect();
    for ((key, watch), mark) in rules.iter().zip(marks) {
        let mut detector = Detector::new(std::slice::from_ref(watch), ALERTS_SOURCE, now_ms);
        detector.read_time_from(&["time".to_string()]);
        let mut newest = None;
        for (i, (created, event)) in events.iter().enumerate() {
            if *created > mark {
                detector.object(i as u64 + 1, event);
                newest = newest.max(Some(*created));
            }
        }
        let Some(newest) = newest else {
            continue;
        };
        catalog
            .append_rollups_read(Detected {
                source: ALERTS_SOURCE.to_string(),
                modified_ms: newest,
                rules: vec![key.clone()],
                rollups: detector.finish().map_err(|e| CatalogError::Row {
                    uri: ALERTS_SOURCE.to_string(),
                    why: format!("rule rollups: {e}"),
                })?,
            })
            .await?;
    }
    Ok(())
}
