//! A rule's runs, by event time. Its windows are `[t − window, t)` for every `t` that is a
//! multiple of `every` (epoch-aligned, as a chart's buckets are). A run looks at the
//! minutes whose rollups were written since the last run, and evaluates every window that
//! holds one of them: so ingesting last week's logs raises last week's alerts, and an event
//! that arrives late counts in its own minute and its windows are evaluated again. Each
//! window merges its stored minutes — nothing is rescanned — and its `where` decides which
//! groups fire. An alert for the same dedup key within the rule's period is the same alert.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lake::alerts::{Alert, AlertState, Raised};
use lake::evaluate::{evaluate_raw_files, read_matching};
use lake::rollups::RuleKey;
use lake::{Lake, LakeError};
use sha2::{Digest, Sha256};
use shared_sketch::query::{Compare, CompareOp, Expr};
use shared_sketch::time::now_ms;
use shared_sketch::{Hit, Partial, Query};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use workers::{BIN_MS, ScanOptions, Watch};

use super::book::{Loaded, RuleBook};
use super::check::fired;
use super::dataset::roll_up_alerts;
use super::deliver::Deliverer;
use super::rule::{Dataset, Join, Rule, RuleState};

/// Sample events an alert keeps.
pub const ALERT_SAMPLES: usize = 10;
/// Alerts of one rule's run that may read their samples from the files (`read_samples`):
/// a rule firing for thousands of groups at once (a backlog, a threshold set too low)
/// must not turn its run into a scan per alert.
const SAMPLE_READS_PER_RUN: u32 = 20;

/// What one round of runs did.
#[derive(Debug, Default)]
pub struct Ran {
    /// Files read where they are, for rules that had not read them.
    pub files: u64,
    /// Windows evaluated.
    pub windows: u64,
    /// Alerts raised (their rule in staging included).
    pub raised: Vec<Alert>,
    /// Alerts the dedup period folded into one raised before.
    pub duplicates: u64,
}

/// Runs every rule that is not paused over what arrived since its last run: first the raw
/// files no rule has read yet, then each rule's windows over the logs, then the rules over
/// the alerts, which read the alerts raised so far (those just raised included).
pub async fn run_rules(
    lake: &Lake,
    loaded: &Loaded,
    options: &ScanOptions,
    now_ms: i64,
) -> Result<Ran, LakeError> {
    let mut ran = Ran {
        files: evaluate_raw_files(lake, &loaded.watching(), options).await?,
        ..Ran::default()
    };
    let running = || {
        loaded
            .rules
            .values()
            .filter(|r| r.state != RuleState::Paused)
    };
    for rule in running().filter(|r| r.dataset == Dataset::Logs) {
        run_rule(lake, rule, options, now_ms, &mut ran).await?;
    }
    let over_alerts: Vec<&Rule> = running().filter(|r| r.dataset == Dataset::Alerts).collect();
    if !over_alerts.is_empty() {
        let rules: Vec<_> = over_alerts.iter().map(|r| (r.key(), r.watch())).collect();
        // Also the paused ones: a correlation never reads another's alerts.
        let skip: Vec<&str> = loaded
            .rules
            .values()
            .filter(|r| r.dataset == Dataset::Alerts)
            .map(|r| r.id.as_str())
            .collect();
        roll_up_alerts(&lake.catalog, &rules, &skip, now_ms).await?;
        for rule in over_alerts {
            run_rule(lake, rule, options, now_ms, &mut ran).await?;
        }
    }
    Ok(ran)
}

/// `serve --rules DIR`: every `interval`, and as soon as `arrived` is notified (files were
/// ingested), reads the rules folder again if a file in it changed and runs the rules over
/// what arrived since; a run that raised alerts wakes `deliverer`. Until `stop`.
pub async fn keep_running(
    lake: Arc<Lake>,
    book: Arc<RuleBook>,
    options: ScanOptions,
    deliverer: Deliverer,
    (interval, arrived, stop): (Duration, Arc<Notify>, CancellationToken),
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
            () = arrived.notified() => {}
        }
        if let Err(e) = book.reload() {
            tracing::error!(dir = %book.dir().display(), error = %e, "cannot read the rules folder; running the rules as they were");
        }
        match run_rules(&lake, &book.loaded(), &options, now_ms()).await {
            Ok(ran) if !ran.raised.is_empty() => deliverer.wake(),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "running the rules failed; retrying next tick"),
        }
    }
}

/// The ends of the windows that hold any minute of `spans` (first and last minute, sorted
/// by first): every multiple of `every` in `(first, last + window]`.
pub fn window_ends(spans: &[(i64, i64)], window: i64, every: i64) -> Vec<i64> {
    let mut ends: Vec<i64> = Vec::new();
    for &(first, last) in spans {
        // The first end after the span's first minute begins.
        let mut end = (first.div_euclid(every) + 1) * every;
        if let Some(&newest) = ends.last() {
            end = end.max(newest + every);
        }
        while end <= last + window {
            ends.push(end);
            end += every;
        }
    }
    ends
}

/// A rule being run: what it evaluates, and under which version.
struct Running<'r> {
    rule: &'r Rule,
    key: RuleKey,
    watch: Watch,
}

async fn run_rule(
    lake: &Lake,
    rule: &Rule,
    options: &ScanOptions,
    now_ms: i64,
    ran: &mut Ran,
) -> Result<(), LakeError> {
    let catalog = &lake.catalog;
    let running = Running {
        rule,
        key: rule.key(),
        watch: rule.watch(),
    };
    // The rule's rollups are its own, or each part's of a joined correlation; the run's
    // mark is the rule's.
    let parts = rule.watches();
    let mark = catalog.run_mark(&running.key).await?;
    let mut spans = Vec::new();
    let mut newest = mark;
    for (key, _) in &parts {
        let (part_spans, part_newest) = catalog.rollups_since(key, mark).await?;
        spans.extend(part_spans);
        newest = newest.max(part_newest);
    }
    spans.sort_unstable();
    let (window, every) = (i64::from(rule.window) * 1000, i64::from(rule.every) * 1000);
    let ends = window_ends(&spans, window, every);
    let (Some(&first), Some(&last)) = (ends.first(), ends.last()) else {
        return Ok(());
    };
    let mut rollups = Vec::with_capacity(parts.len());
    for (key, _) in &parts {
        rollups.push(catalog.rollups(key, (first - window, last)).await?);
    }
    let mut sample_reads = 0;
    for end in ends {
        let start = end - window;
        let in_window: Vec<&[(i64, Partial)]> = rollups
            .iter()
            .map(|minutes| minutes_in(minutes, start, end))
            .collect();
        if in_window.iter().all(|m| m.is_empty()) {
            continue;
        }
        ran.windows += 1;
        // The alert's samples come from the minutes themselves (`Running::alert`), or from
        // the files when those kept none (`Running::read_samples`).
        let fires = window_fires(rule, &in_window);
        if fires.is_empty() {
            continue;
        }
        // A joined correlation's alerts read all its parts' minutes.
        let joined_minutes: Vec<(i64, Partial)>;
        let minutes: &[(i64, Partial)] = match in_window.as_slice() {
            [one] => one,
            many => {
                joined_minutes = many.iter().flat_map(|m| m.iter().cloned()).collect();
                &joined_minutes
            }
        };
        for (group, count) in fires {
            let mut alert = running.alert((start, end), group, count, minutes, now_ms);
            // A joined correlation's search is its parts': it has none of its own to read.
            if alert.samples.is_empty()
                && rule.joined.is_none()
                && sample_reads < SAMPLE_READS_PER_RUN
            {
                sample_reads += 1;
                running.read_samples(lake, &mut alert, options).await;
            }
            let period = i64::from(rule.dedup.period) * 1000;
            match catalog.raise(&alert, period, &rule.sinks).await? {
                Raised::New => {
                    tracing::info!(rule = %rule.id, group = ?alert.group, window_end = end, "alert raised");
                    ran.raised.push(alert);
                }
                Raised::Duplicate { .. } => ran.duplicates += 1,
            }
        }
    }
    catalog.set_run_mark(&running.key, newest, now_ms).await?;
    Ok(())
}

/// The minutes of `minutes` (in minute order) in `[start, end)`.
pub fn minutes_in(minutes: &[(i64, Partial)], start: i64, end: i64) -> &[(i64, Partial)] {
    let lo = minutes.partition_point(|(m, _)| *m < start);
    let hi = minutes.partition_point(|(m, _)| *m < end);
    &minutes[lo..hi]
}

/// The groups `rule` fires for in one window, with their counts, given each of its
/// watches' minutes in the window (`Rule::watches`' order).
pub fn window_fires(rule: &Rule, parts: &[&[(i64, Partial)]]) -> Vec<(Vec<String>, u64)> {
    let merge = |query: &Query, minutes: &mut dyn Iterator<Item = &Partial>| {
        let mut merged = Partial::new(query);
        for partial in minutes {
            if let Err(e) = merged.merge(partial) {
                tracing::error!(rule = %rule.id, error = %e, "a stored rollup does not merge; skipped");
            }
        }
        merged.result_without_hits(query)
    };
    let Some(joined) = &rule.joined else {
        let query = &rule.watch().query;
        let result = merge(
            query,
            &mut parts.iter().flat_map(|m| m.iter().map(|(_, p)| p)),
        );
        return fired(query, &result);
    };
    match joined.join {
        Join::Merge => {
            let result = merge(
                &rule.query,
                &mut parts.iter().flat_map(|m| m.iter().map(|(_, p)| p)),
            );
            fired(&rule.query, &result)
        }
        Join::Temporal { min, ordered } => {
            // Per part: each group it saw, its count, and the minutes it was seen in.
            let mut seen: Vec<HashMap<Vec<String>, Seen>> = Vec::new();
            for (query, minutes) in joined.parts.iter().zip(parts) {
                let mut groups: HashMap<Vec<String>, Seen> = HashMap::new();
                for (minute, partial) in minutes.iter() {
                    let result = partial.result_without_hits(query);
                    for (group, count) in fired(query, &result) {
                        let entry = groups.entry(group).or_default();
                        entry.count += count;
                        entry.minutes.push(*minute);
                    }
                }
                seen.push(groups);
            }
            let mut all: Vec<&Vec<String>> = seen.iter().flat_map(|g| g.keys()).collect();
            all.sort();
            all.dedup();
            let mut out = Vec::new();
            for group in all {
                let by: Vec<Option<&Seen>> = seen.iter().map(|g| g.get(group)).collect();
                if by.iter().flatten().count() < min {
                    continue;
                }
                if ordered && !in_order(&by) {
                    continue;
                }
                let count = by.iter().flatten().map(|s| s.count).sum();
                out.push((group.clone(), count));
            }
            out
        }
    }
}

/// A group as one part of a joined correlation saw it in a window.
#[derive(Default)]
struct Seen {
    count: u64,
    /// Ascending.
    minutes: Vec<i64>,
}

/// Whether every part saw the group, in the parts' order: a chain of minutes, each part's
/// the earliest no earlier than the previous part's (to the minute: one minute's events
/// count as in order).
fn in_order(parts: &[Option<&Seen>]) -> bool {
    let mut after = i64::MIN;
    for part in parts {
        let Some(Seen { minutes, .. }) = part else {
            return false;
        };
        match minutes.iter().find(|&&m| m >= after) {
            Some(&m) => after = m,
            None => return false,
        }
    }
    true
}

impl Running<'_> {
    /// The alert for `group` firing in `window`, with `count` events: its samples, and
    /// its first and last event times (`event_span`).
    fn alert(
        &self,
        window: (i64, i64),
        group: Vec<String>,
        count: u64,
        minutes: &[(i64, Partial)],
        now_ms: i64,
    ) -> Alert {
        let Running { rule, key, watch } = self;
        let of_group = |hit: &&Hit| {
            watch
                .group
                .iter()
                .zip(&group)
                .all(|(field, value)| hit.fields.get(field) == Some(value))
        };
        let mut samples: Vec<Hit> = minutes
            .iter()
            .flat_map(|(_, partial)| partial.hits.iter().filter(of_group))
            .cloned()
            .collect();
        samples.sort();
        let (first_ms, last_ms) = event_span(minutes, &group, &samples);
        samples.truncate(ALERT_SAMPLES);
        let dedup: Vec<String> = rule
            .dedup
            .fields
            .iter()
            .filter_map(|field| {
                let at = watch.group.iter().position(|f| f == field)?;
                Some(format!("{field}={}", group.get(at)?))
            })
            .collect();
        let dedup_key = format!("{} {}", rule.id, dedup.join(" "))
            .trim_end()
            .to_string();
        let digest = Sha256::digest(format!("{dedup_key}\n{}", window.1).as_bytes());
        let id: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Alert {
            id: format!("{}-{id}", rule.id),
            tenant: String::new(),
            rule: rule.id.clone(),
            version: key.version.clone(),
            name: rule.name.clone(),
            query: rule.text.clone(),
            severity: rule.severity.name().to_string(),
            fields: watch.group.clone(),
            group,
            window,
            count,
            first_ms,
            last_ms,
            samples,
            dedup_key,
            state: AlertState::New,
            staging: rule.state == RuleState::Staging,
            created_ms: now_ms,
        }
    }

    /// For an alert whose minutes kept no sample of its group (a rule keeps 50 a file,
    /// first come: in a noisy file, a group that starts late has none), its newest events
    /// read from the files its window reaches — which also make its last event time exact,
    /// and its first too when they are all its events.
    /// A failure to read them leaves the alert as it was.
    async fn read_samples(&self, lake: &Lake, alert: &mut Alert, options: &ScanOptions) {
        // A per-event rule's group may be empty for an absent field: no term finds it.
        if self.rule.dataset != Dataset::Logs || alert.group.iter().any(String::is_empty) {
            return;
        }
        let terms = self
            .watch
            .group
            .iter()
            .zip(&alert.group)
            .map(|(field, value)| {
                Expr::Compare(Compare {
                    field: field.clone(),
                    op: CompareOp::Eq,
                    value: value.clone(),
                    quoted: true,
                })
            });
        let all: Vec<Expr> = self
            .watch
            .query
            .search
            .iter()
            .cloned()
            .chain(terms)
            .collect();
        let mut query = Query {
            search: (!all.is_empty()).then_some(Expr::And(all)),
            earliest: None,
            latest: None,
            index: None,
            command: None,
            stages: Vec::new(),
            post: Vec::new(),
            hits: ALERT_SAMPLES as u32,
        };
        query.restrict_time(Some(alert.window.0), Some(alert.window.1));
        match read_matching(lake, &query, options).await {
            Ok(samples) => {
                let times = samples.iter().filter_map(|h| h.time);
                alert.last_ms = alert.last_ms.max(times.clone().max());
                // Fewer than asked for: every event of the group in the window.
                if samples.len() < ALERT_SAMPLES {
                    alert.first_ms = times.min().or(alert.first_ms);
                }
                alert.samples = samples;
            }
            Err(e) => {
                tracing::warn!(rule = %self.rule.id, error = %e, "cannot read the alert's samples")
            }
        }
    }
}

/// The first and last event time of `group` over the window's `minutes`: the first and
/// last minute holding the group (each minute's rollup names its groups), and within that
/// minute the time of a sample of the group where one falls there, else the minute's start.
/// Where a minute cannot tell whether it holds the group (a group past the groups' limit,
/// counted in "other"; a `top` or `rare` value), the samples' times alone.
fn event_span(
    minutes: &[(i64, Partial)],
    group: &[String],
    samples: &[Hit],
) -> (Option<i64>, Option<i64>) {
    let times = samples.iter().filter_map(|h| h.time);
    let held: Vec<(i64, Option<bool>)> =
        minutes.iter().map(|(m, p)| (*m, holds(p, group))).collect();
    // Of the minutes that may hold the group, the first (or last) one, if it surely does.
    let surely = |found: Option<&(i64, Option<bool>)>| match found {
        Some((minute, Some(true))) => Some(*minute),
        _ => None,
    };
    let within = |minute: i64| move |t: &i64| (minute..minute + BIN_MS).contains(t);
    let first = match surely(held.iter().find(|(_, h)| *h != Some(false))) {
        Some(minute) => Some(times.clone().filter(within(minute)).min().unwrap_or(minute)),
        None => times.clone().min(),
    };
    let last = match surely(held.iter().rev().find(|(_, h)| *h != Some(false))) {
        Some(minute) => Some(times.filter(within(minute)).max().unwrap_or(minute)),
        None => times.max(),
    };
    (first, last)
}

/// Whether a minute's rollup holds events of `group` (`None`: it cannot tell).
fn holds(partial: &Partial, group: &[String]) -> Option<bool> {
    if partial.matched() == 0 {
        return Some(false);
    }
    if group.is_empty() {
        return Some(true);
    }
    let groups = partial.groups.as_ref()?;
    match groups.get(group) {
        Some(_) => Some(true),
        None if groups.complete() => Some(false),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_in_order_when_a_chain_of_their_minutes_rises() {
        let seen = |minutes: &[i64]| Seen {
            count: minutes.len() as u64,
            minutes: minutes.to_vec(),
        };
        let (a, b, c) = (seen(&[5]), seen(&[3, 7]), seen(&[7]));
        assert!(in_order(&[Some(&a), Some(&b), Some(&c)]));
        assert!(
            in_order(&[Some(&a), Some(&seen(&[5]))]),
            "one minute: in order"
        );
        assert!(!in_order(&[Some(&a), Some(&seen(&[3]))]));
        assert!(!in_order(&[Some(&b), Some(&seen(&[1]))]));
        assert!(!in_order(&[Some(&a), None]));
    }

    #[test]
    fn the_windows_holding_a_minute_are_those_ending_after_it_within_the_window() {
        let (m, h) = (60_000, 3_600_000);
        // A 15-minute window every 5 minutes: the three windows that hold minute 7.
        assert_eq!(
            window_ends(&[(7 * m, 7 * m)], 15 * m, 5 * m),
            [10 * m, 15 * m, 20 * m]
        );
        // Neighbouring spans share their windows once.
        assert_eq!(
            window_ends(&[(7 * m, 8 * m), (12 * m, 12 * m)], 15 * m, 5 * m),
            [10 * m, 15 * m, 20 * m, 25 * m]
        );
        // Windows of an hour every hour: the one an hour's span is in, the two it crosses.
        assert_eq!(window_ends(&[(h, h + 59 * m)], h, h), [2 * h]);
        assert_eq!(
            window_ends(&[(h + 30 * m, 2 * h + 10 * m)], h, h),
            [2 * h, 3 * h]
        );
    }
}
