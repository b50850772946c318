//! Golden answers on real Cowrie honeypot logs (../shared/data/real/cowrie-honeypot): each
//! query's answer is checked against exact counts computed here from the parsed JSON,
//! independently of the query engine.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use common::read_text;
use serde_json::Value;
use shared_sketch::{AggValue, QueryResult};

const DAYS: [&str; 3] = ["2018-05-06", "2018-05-07", "2018-05-08"];

fn files() -> Vec<PathBuf> {
    DAYS.iter()
        .map(|day| common::real(&format!("cowrie-honeypot/cowrie.json.{day}.gz")))
        .collect()
}

/// Every event of the three days, parsed.
fn events() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for file in files() {
        for line in read_text(&file).lines().filter(|l| !l.trim().is_empty()) {
            out.push((line.to_string(), serde_json::from_str(line).unwrap()));
        }
    }
    out
}

/// The query over the three files, one partial each, merged: as the gateway runs it.
fn run(text: &str) -> QueryResult {
    common::run(&files(), text)
}

fn s<'a>(e: &'a Value, field: &str) -> Option<&'a str> {
    e.get(field).and_then(Value::as_str)
}

/// The parsed events of one `eventid`.
fn with_id<'a>(ev: &'a [(String, Value)], id: &str) -> Vec<&'a Value> {
    ev.iter()
        .map(|(_, e)| e)
        .filter(|e| s(e, "eventid") == Some(id))
        .collect()
}

fn count(result: &QueryResult) -> u64 {
    result.matched
}

#[test]
fn field_match_and_wildcards() {
    let ev = events();
    let failed = ev
        .iter()
        .filter(|(_, e)| s(e, "eventid") == Some("cowrie.login.failed"))
        .count() as u64;
    assert!(failed > 100);
    assert_eq!(count(&run("eventid:cowrie.login.failed")), failed);
    // Values ignore case; field names do not (as in Splunk).
    assert_eq!(count(&run("eventid=COWRIE.LOGIN.FAILED")), failed);
    assert_eq!(count(&run("EVENTID=cowrie.login.failed")), 0);
    let logins = ev
        .iter()
        .filter(|(_, e)| s(e, "eventid").is_some_and(|id| id.starts_with("cowrie.login.")))
        .count() as u64;
    assert_eq!(count(&run("eventid:cowrie.login.*")), logins);
    let not_root = ev
        .iter()
        .filter(|(_, e)| {
            s(e, "eventid") == Some("cowrie.login.failed") && s(e, "username") != Some("root")
        })
        .count() as u64;
    assert_eq!(
        count(&run("eventid:cowrie.login.failed NOT username:root")),
        not_root
    );
}

#[test]
fn cidr_numeric_and_boolean() {
    let ev = events();
    let in_net = |ip: &str, prefix: &str| ip.starts_with(prefix);
    let expected = ev
        .iter()
        .filter(|(_, e)| {
            let ip = s(e, "src_ip").unwrap_or("");
            (in_net(ip, "5.188.") || in_net(ip, "185."))
                && s(e, "eventid") == Some("cowrie.session.connect")
        })
        .count() as u64;
    assert!(expected > 0);
    assert_eq!(
        count(&run(
            "(src_ip:5.188.0.0/16 OR src_ip:185.0.0.0/8) AND eventid:cowrie.session.connect"
        )),
        expected
    );
    let long = ev
        .iter()
        .filter(|(_, e)| {
            e.get("duration")
                .and_then(Value::as_f64)
                .is_some_and(|d| d > 30.0)
        })
        .count() as u64;
    assert!(long > 0);
    assert_eq!(count(&run("duration>30")), long);
}

#[test]
fn bare_terms_are_token_matches() {
    let ev = events();
    // Independent: a whole-word, case-insensitive occurrence in the raw line.
    let word = |line: &str, w: &str| {
        let lower = line.to_ascii_lowercase();
        lower.match_indices(w).any(|(i, _)| {
            let before = lower[..i].chars().next_back();
            let after = lower[i + w.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_alphanumeric())
                && !after.is_some_and(|c| c.is_ascii_alphanumeric())
        })
    };
    let expected = ev.iter().filter(|(l, _)| word(l, "uname")).count() as u64;
    assert!(expected > 0);
    assert_eq!(count(&run("UNAME")), expected);
    let phrase = ev.iter().filter(|(l, _)| word(l, "login attempt")).count() as u64;
    assert!(phrase > 0);
    assert_eq!(count(&run("\"LOGIN ATTEMPT\"")), phrase);
}

#[test]
fn stats_by_groups_are_exact() {
    let ev = events();
    let mut by_event: BTreeMap<String, (u64, HashSet<String>)> = BTreeMap::new();
    for (_, e) in &ev {
        if let Some(id) = s(e, "eventid") {
            let entry = by_event.entry(id.to_string()).or_default();
            entry.0 += 1;
            entry
                .1
                .insert(s(e, "src_ip").unwrap_or_default().to_string());
        }
    }
    let r = run("| stats count, dc(src_ip) by eventid");
    let groups = r.groups.unwrap();
    assert!(groups.complete);
    assert_eq!(groups.rows.len(), by_event.len());
    for row in &groups.rows {
        let (n, ips) = &by_event[&row.key[0]];
        assert_eq!(row.matched, *n, "{:?}", row.key);
        let AggValue::Distinct(dc) = &row.aggs[1].value else {
            panic!()
        };
        // Below 1,000 distinct values the count is exact.
        if ips.len() < 1000 {
            assert_eq!(dc.estimate, ips.len() as f64, "{:?}", row.key);
        }
        assert!(dc.lower <= ips.len() as f64 && ips.len() as f64 <= dc.upper);
    }
    // Rows are largest first.
    assert!(groups.rows.windows(2).all(|w| w[0].matched >= w[1].matched));
}

#[test]
fn top_by_and_where_and_head() {
    let ev = events();
    let mut users: HashMap<(String, String), u64> = HashMap::new();
    for (_, e) in &ev {
        if let (Some("cowrie.login.failed" | "cowrie.login.success"), Some(u)) =
            (s(e, "eventid"), s(e, "username"))
        {
            *users
                .entry((s(e, "eventid").unwrap().to_string(), u.to_string()))
                .or_default() += 1;
        }
    }
    let r = run("eventid:cowrie.login.* | top 3 username by eventid | head 1");
    let groups = r.groups.unwrap();
    assert_eq!(groups.rows.len(), 1, "head 1 keeps the largest group");
    let row = &groups.rows[0];
    let AggValue::Top { rows, .. } = &row.aggs[0].value else {
        panic!()
    };
    assert_eq!(rows.len(), 3);
    for top in rows {
        let exact = users[&(row.key[0].clone(), top.value.clone())];
        assert!(
            top.lower <= exact && exact <= top.upper,
            "{top:?} vs {exact}"
        );
    }
    let r = run("| stats count by eventid | where count < 10");
    let rows = r.groups.unwrap().rows;
    assert!(!rows.is_empty() && rows.iter().all(|g| g.matched < 10));
}

#[test]
fn time_bounds_and_timechart() {
    let ev = events();
    let hour = |t: &str| t[..13].to_string(); // 2018-05-06T17
    let mut per_hour: BTreeMap<String, u64> = BTreeMap::new();
    let mut in_range = 0;
    for (_, e) in &ev {
        let t = s(e, "timestamp").unwrap();
        if ("2018-05-07T00".."2018-05-07T12").contains(&&t[..13]) {
            in_range += 1;
            *per_hour.entry(hour(t)).or_default() += 1;
        }
    }
    assert!(in_range > 0);
    let r =
        run("earliest=2018-05-07T00:00:00Z latest=2018-05-07T12:00:00Z | timechart span=1h count");
    assert_eq!(r.matched, in_range);
    let series = r.series.unwrap();
    assert_eq!(series.span_seconds, 3600);
    let got: BTreeMap<String, u64> = series
        .points
        .iter()
        .map(|p| {
            (
                hour(&shared_sketch::time::format_timestamp(p.time)),
                p.matched,
            )
        })
        .collect();
    assert_eq!(got, per_hour);
}

#[test]
fn fields_picks_what_each_hit_shows() {
    let r = run("eventid:cowrie.login.success | fields username, password, src_ip");
    assert!(!r.hits.is_empty());
    for hit in &r.hits {
        assert!(hit.time.is_some());
        let keys: Vec<&str> = hit.fields.keys().map(String::as_str).collect();
        assert_eq!(keys, ["password", "src_ip", "username"]);
    }
    // Newest first.
    assert!(r.hits.windows(2).all(|w| w[0].time >= w[1].time));
}

/// The rows of `| stats count by …` as key → count.
fn counts_by(result: &QueryResult) -> BTreeMap<Vec<String>, u64> {
    let groups = result.groups.as_ref().unwrap();
    assert!(groups.complete);
    groups
        .rows
        .iter()
        .map(|row| (row.key.clone(), row.matched))
        .collect()
}

#[test]
fn per_event_commands_compute_fields_the_aggregate_reads() {
    let ev = events();
    let failed: Vec<&Value> = with_id(&ev, "cowrie.login.failed");

    // eval, then where on what it made.
    let long = failed
        .iter()
        .filter(|e| s(e, "password").is_some_and(|p| p.chars().count() >= 8))
        .count() as u64;
    assert!(long > 10);
    let r = run(
        "eventid:cowrie.login.failed | eval plen = len(password) | where plen >= 8 | stats count",
    );
    assert_eq!(r.matched, long);

    // A field made of two, grouped by.
    let mut pairs: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for e in &failed {
        if let (Some(u), Some(ip)) = (s(e, "username"), s(e, "src_ip")) {
            *pairs
                .entry(vec![format!("{}@{ip}", u.to_lowercase())])
                .or_default() += 1;
        }
    }
    let r = run(
        "eventid:cowrie.login.failed | eval who = lower(username) . \"@\" . src_ip | stats count by who",
    );
    assert_eq!(counts_by(&r), pairs);

    // if() over a number, rename, and fillnull.
    let mut classes: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for (_, e) in &ev {
        // Without a port the condition is null, not true: if() takes its third argument.
        let class = match e.get("src_port").and_then(Value::as_f64) {
            Some(port) if port < 32768.0 => "low",
            _ => "ephemeral",
        };
        *classes.entry(vec![class.to_string()]).or_default() += 1;
    }
    let r = run(
        "| rename src_port AS port | eval class = if(port < 32768, \"low\", \"ephemeral\") | where isnull(src_port) | stats count by class",
    );
    assert_eq!(counts_by(&r), classes);
    let sessions = ev
        .iter()
        .filter(|(_, e)| s(e, "eventid") == Some("cowrie.session.connect"))
        .count() as u64;
    let r =
        run("eventid:cowrie.session.connect | fillnull value=none nosuch | stats count by nosuch");
    assert_eq!(
        counts_by(&r),
        BTreeMap::from([(vec!["none".to_string()], sessions)])
    );

    // search and match() after a pipe read the fields eval made.
    let root = failed
        .iter()
        .filter(|e| s(e, "username").is_some_and(|u| u.eq_ignore_ascii_case("root")))
        .count() as u64;
    let r = run("eventid:cowrie.login.failed | eval u = upper(username) | search u:root");
    assert_eq!(r.matched, root);
    let downloads = ev
        .iter()
        .filter(|(_, e)| {
            s(e, "eventid") == Some("cowrie.command.input")
                && s(e, "input").is_some_and(|i| i.starts_with("ls") || i.starts_with("find"))
        })
        .count() as u64;
    assert!(downloads > 0);
    let r = run("eventid:cowrie.command.input | where match(input, \"^(ls|find)\") | stats count");
    assert_eq!(r.matched, downloads);

    // rex: the user and password Cowrie writes into its message, against its own fields.
    let mut by_user: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for e in &failed {
        let message = s(e, "message").unwrap_or_default();
        if let (Some(u), Some(p)) = (s(e, "username"), s(e, "password"))
            && message == format!("login attempt [{u}/{p}] failed")
            && !u.is_empty()
            && !u.contains('/')
        {
            *by_user.entry(vec![u.to_string()]).or_default() += 1;
        }
    }
    assert!(by_user.len() > 10);
    let r = run(
        "eventid:cowrie.login.failed | rex field=message \"^login attempt \\[(?<u>[^/\\]]+)/(?<p>.*)\\] failed$\" \
         | where u == username AND p == password | stats count by u",
    );
    assert_eq!(counts_by(&r), by_user);
    // bin: failed logins per hour, `_time` being the event's.
    let mut hours: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for e in &failed {
        let ms = shared_sketch::time::parse_timestamp(s(e, "timestamp").unwrap()).unwrap();
        let hour = ms.div_euclid(3_600_000) * 3600;
        *hours.entry(vec![hour.to_string()]).or_default() += 1;
    }
    assert!(hours.len() > 24);
    let r = run("eventid:cowrie.login.failed | bin span=1h _time | stats count by _time");
    assert_eq!(counts_by(&r), hours);

    // On the raw record by default.
    let r = run("eventid:cowrie.login.failed | rex \"\\[(?<u>[^/\\]]+)/\" | stats count by u");
    assert_eq!(
        counts_by(&r).values().sum::<u64>(),
        by_user.values().sum::<u64>()
    );
}

#[test]
fn sort_and_tail_order_the_rows() {
    let ev = events();
    let mut by_user: HashMap<String, (u64, HashSet<String>)> = HashMap::new();
    for (_, e) in &ev {
        if let (Some("cowrie.login.failed"), Some(u), Some(ip)) =
            (s(e, "eventid"), s(e, "username"), s(e, "src_ip"))
        {
            let entry = by_user.entry(u.to_string()).or_default();
            entry.0 += 1;
            entry.1.insert(ip.to_string());
        }
    }
    // Most distinct addresses first, then the user's name; the last 5 of those.
    let mut want: Vec<(String, usize)> = by_user
        .iter()
        .map(|(u, (_, ips))| (u.clone(), ips.len()))
        .collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let want: Vec<String> = want[want.len() - 5..].iter().map(|w| w.0.clone()).collect();
    let r = run(
        "eventid:cowrie.login.failed | stats count, dc(src_ip) by username | sort -dc(src_ip), username | tail 5",
    );
    let groups = r.groups.unwrap();
    assert!(groups.complete);
    let got: Vec<String> = groups.rows.iter().map(|row| row.key[0].clone()).collect();
    assert_eq!(got, want);

    // A top's rows by value.
    let r = run("eventid:cowrie.login.failed | top 5 username | sort username");
    let AggValue::Top { rows, .. } = &r.aggs[0].value else {
        panic!()
    };
    let values: Vec<&str> = rows.iter().map(|r| r.value.as_str()).collect();
    let mut sorted = values.clone();
    sorted.sort_unstable();
    assert_eq!(values, sorted);
    assert_eq!(values.len(), 5);
}

#[test]
fn count_of_a_field_counts_the_events_that_have_it() {
    let ev = events();
    let mut want: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (_, e) in &ev {
        if let Some(id) = s(e, "eventid") {
            let entry = want.entry(id.to_string()).or_default();
            entry.0 += 1;
            entry.1 += u64::from(e.get("password").is_some_and(|p| !p.is_null()));
        }
    }
    let r = run("| stats count, count(password) by eventid | where count(password) > 0");
    let groups = r.groups.unwrap();
    let with_password = want.values().filter(|(_, p)| *p > 0).count();
    assert!(with_password > 0);
    assert_eq!(groups.rows.len(), with_password);
    for row in &groups.rows {
        let (n, p) = want[&row.key[0]];
        assert_eq!(row.matched, n, "{:?}", row.key);
        assert_eq!(row.aggs[1].label, "count(password)");
        assert_eq!(
            row.aggs[1].value,
            AggValue::Count { value: p },
            "{:?}",
            row.key
        );
    }
}

fn ms(e: &Value) -> i64 {
    let text = s(e, "timestamp").unwrap();
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp_millis()
}

fn number_of(result: &QueryResult, label: &str) -> f64 {
    let agg = result.aggs.iter().find(|a| a.label == label).unwrap();
    agg.value.number().unwrap()
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

#[test]
fn spread_and_value_aggregates_are_exact() {
    let ev = events();
    let closed: Vec<&Value> = with_id(&ev, "cowrie.session.closed");
    let durations: Vec<f64> = closed
        .iter()
        .filter_map(|e| e.get("duration").and_then(Value::as_f64))
        .collect();
    assert!(durations.len() > 100);
    let n = durations.len() as f64;
    let mean = durations.iter().sum::<f64>() / n;
    let squares: f64 = durations.iter().map(|d| (d - mean).powi(2)).sum();
    let (lo, hi) = durations
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), d| (lo.min(*d), hi.max(*d)));
    let r = run(
        "eventid:cowrie.session.closed | stats var(duration), varp(duration), stdev(duration), \
         stdevp(duration), range(duration)",
    );
    for (label, want) in [
        ("var(duration)", squares / (n - 1.0)),
        ("varp(duration)", squares / n),
        ("stdev(duration)", (squares / (n - 1.0)).sqrt()),
        ("stdevp(duration)", (squares / n).sqrt()),
        ("range(duration)", hi - lo),
    ] {
        let got = number_of(&r, label);
        assert!(close(got, want), "{label}: {got} vs {want}");
    }

    // values, mode, earliest and latest of the failed logins' user names.
    let failed: Vec<&Value> = with_id(&ev, "cowrie.login.failed");
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for e in &failed {
        *counts.entry(s(e, "username").unwrap()).or_default() += 1;
    }
    let top = counts.values().max().unwrap();
    let modes: Vec<&str> = counts
        .iter()
        .filter(|(_, c)| *c == top)
        .map(|(u, _)| *u)
        .collect();
    let at = |e: &&Value| (ms(e), s(e, "username").unwrap().to_string());
    let earliest = failed.iter().map(at).min().unwrap();
    let latest = failed.iter().map(at).max().unwrap();
    let r = run(
        "eventid:cowrie.login.failed | stats values(username), mode(username), \
         earliest(username), latest(username)",
    );
    assert_eq!(
        r.aggs[0].value,
        AggValue::Values {
            values: counts.keys().map(|u| u.to_string()).collect(),
            complete: true
        }
    );
    let AggValue::Top { rows, .. } = &r.aggs[1].value else {
        panic!("{:?}", r.aggs[1])
    };
    assert_eq!(rows.len(), 1);
    assert!(
        modes.contains(&rows[0].value.as_str()),
        "{rows:?} vs {modes:?}"
    );
    assert_eq!(
        r.aggs[2].value,
        AggValue::Timed {
            value: Some(earliest.1),
            time: Some(earliest.0)
        }
    );
    assert_eq!(
        r.aggs[3].value,
        AggValue::Timed {
            value: Some(latest.1),
            time: Some(latest.0)
        }
    );

    // Over 100 distinct values: the first 100 in text order, and says so.
    let mut sessions: Vec<String> = ev
        .iter()
        .filter_map(|(_, e)| s(e, "session").map(str::to_string))
        .collect();
    sessions.sort();
    sessions.dedup();
    assert!(sessions.len() > 100);
    let r = run("| stats values(session)");
    assert_eq!(
        r.aggs[0].value,
        AggValue::Values {
            values: sessions[..100].to_vec(),
            complete: false
        }
    );

    // Per group, and under 100 values: every value, complete.
    let r = run(
        "eventid:cowrie.login.failed | stats count, values(src_ip) by username | where count > 50",
    );
    let groups = r.groups.unwrap();
    assert!(!groups.rows.is_empty());
    for row in &groups.rows {
        let mut want: Vec<String> = failed
            .iter()
            .filter(|e| s(e, "username") == Some(row.key[0].as_str()))
            .map(|e| s(e, "src_ip").unwrap().to_string())
            .collect();
        want.sort();
        want.dedup();
        assert!(want.len() < 100);
        assert_eq!(
            row.aggs[1].value,
            AggValue::Values {
                values: want,
                complete: true
            },
            "{:?}",
            row.key
        );
    }
}

#[test]
fn sort_and_dedup_choose_the_events_kept_across_files() {
    let ev = events();
    let closed: Vec<&Value> = with_id(&ev, "cowrie.session.closed");
    // The five longest sessions of all three days, longest first: not among the newest
    // 100 events, which a sort of the kept events alone would have ranked.
    let mut durations: Vec<f64> = closed
        .iter()
        .filter_map(|e| e.get("duration").and_then(Value::as_f64))
        .collect();
    durations.sort_by(|a, b| b.total_cmp(a));
    assert!(closed.len() > 100);
    for text in [
        "eventid:cowrie.session.closed | sort -duration | head 5",
        "eventid:cowrie.session.closed | sort 5 -duration",
        "eventid:cowrie.session.closed | sort limit=5 - duration | table duration, src_ip",
    ] {
        let r = run(text);
        let got: Vec<f64> = r
            .hits
            .iter()
            .map(|h| h.fields["duration"].parse::<f64>().unwrap())
            .collect();
        assert_eq!(got, durations[..5], "{text}");
    }
    let r = run("eventid:cowrie.session.closed | table src_ip, duration");
    assert!(r.hits.iter().all(|h| h.fields.contains_key("src_ip")));

    // One event per address: the newest of each, newest first.
    let failed: Vec<&Value> = with_id(&ev, "cowrie.login.failed");
    let mut newest: BTreeMap<&str, i64> = BTreeMap::new();
    for e in &failed {
        let at = newest.entry(s(e, "src_ip").unwrap()).or_insert(i64::MIN);
        *at = (*at).max(ms(e));
    }
    let r = run("eventid:cowrie.login.failed | dedup src_ip");
    let mut want: Vec<(i64, &str)> = newest.iter().map(|(ip, t)| (*t, *ip)).collect();
    want.sort_by(|a, b| b.cmp(a));
    let got: Vec<(i64, &str)> = r
        .hits
        .iter()
        .map(|h| (h.time.unwrap(), h.fields["src_ip"].as_str()))
        .collect();
    assert_eq!(got.len(), want.len());
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        want.iter().map(|w| w.0).collect::<Vec<_>>()
    );
    assert_eq!(
        got.iter().map(|g| g.1).collect::<HashSet<_>>(),
        want.iter().map(|w| w.1).collect::<HashSet<_>>()
    );

    // The earliest failure per user: sort first, then one per user, in user order.
    let mut first: BTreeMap<&str, i64> = BTreeMap::new();
    for e in &failed {
        let at = first.entry(s(e, "username").unwrap()).or_insert(i64::MAX);
        *at = (*at).min(ms(e));
    }
    let r = run("eventid:cowrie.login.failed | sort username, _time | dedup username");
    let got: Vec<(&str, i64)> = r
        .hits
        .iter()
        .map(|h| (h.fields["username"].as_str(), h.time.unwrap()))
        .collect();
    let want: Vec<(&str, i64)> = first.into_iter().collect();
    assert_eq!(got, want);

    // keepevents: every event kept; later duplicates lose the field.
    let r = run("eventid:cowrie.login.failed | head 30 | dedup username keepevents=true");
    assert_eq!(r.hits.len(), 30);
    let named = r.hits.iter().filter(|h| h.fields.contains_key("username"));
    let distinct: HashSet<&str> = r
        .hits
        .iter()
        .take(30)
        .filter_map(|h| h.fields.get("username").map(String::as_str))
        .collect();
    assert_eq!(named.count(), distinct.len());
}

#[test]
fn table_and_dedup_shape_aggregated_rows() {
    let r = run("| stats count, dc(src_ip) by eventid, protocol | table eventid, count");
    let groups = r.groups.unwrap();
    assert_eq!(groups.by, ["eventid"]);
    assert!(
        groups
            .rows
            .iter()
            .all(|row| row.key.len() == 1 && row.aggs.len() == 1)
    );
    assert!(groups.rows.iter().all(|row| row.aggs[0].label == "count"));

    let ev = events();
    let ids: HashSet<&str> = ev.iter().filter_map(|(_, e)| s(e, "eventid")).collect();
    let r = run("| stats count by eventid, sensor | dedup eventid");
    let groups = r.groups.unwrap();
    assert_eq!(groups.rows.len(), ids.len());
    for text in [
        "| stats count by a | table b",
        "| stats count by a | dedup count",
    ] {
        let err = shared_sketch::parse(text).unwrap_err();
        assert_eq!(err.column, 28, "{text}: {err}");
    }
}

#[test]
fn multivalue_and_relative_time_functions() {
    let ev = events();
    let words: u64 = ev
        .iter()
        .filter(|(_, e)| s(e, "eventid") == Some("cowrie.command.input"))
        .filter_map(|(_, e)| s(e, "input"))
        .map(|input| input.split(' ').count() as u64)
        .sum();
    assert!(words > 0);
    let r = run(
        r#"eventid:cowrie.command.input | eval words = mvcount(split(input, " ")) | stats sum(words)"#,
    );
    assert_eq!(number_of(&r, "sum(words)"), words as f64);

    // Per UTC day, by the start of its day.
    let mut per_day: BTreeMap<String, u64> = BTreeMap::new();
    for (_, e) in &ev {
        let day = ms(e).div_euclid(86_400_000) * 86_400;
        *per_day.entry(day.to_string()).or_default() += 1;
    }
    let r = run(r#"| eval day = relative_time(_time, "@d") | stats count by day"#);
    assert_eq!(
        counts_by(&r),
        per_day.into_iter().map(|(d, n)| (vec![d], n)).collect()
    );
}

#[test]
fn tail_keeps_the_last_events_of_all_in_reverse() {
    let ev = events();
    let mut failed: Vec<i64> = ev
        .iter()
        .filter(|(_, e)| s(e, "eventid") == Some("cowrie.login.failed"))
        .map(|(_, e)| ms(e))
        .collect();
    failed.sort_unstable();
    let r = run("eventid:cowrie.login.failed | tail 5");
    let got: Vec<i64> = r.hits.iter().map(|h| h.time.unwrap()).collect();
    assert_eq!(got, failed[..5], "the five oldest, oldest first");

    let mut durations: Vec<f64> = ev
        .iter()
        .filter(|(_, e)| s(e, "eventid") == Some("cowrie.session.closed"))
        .filter_map(|(_, e)| e.get("duration").and_then(Value::as_f64))
        .collect();
    durations.sort_by(f64::total_cmp);
    let r = run("eventid:cowrie.session.closed | sort -duration | tail 3");
    let got: Vec<f64> = r
        .hits
        .iter()
        .map(|h| h.fields["duration"].parse().unwrap())
        .collect();
    // serde_json reads the last digit of a long fraction differently; the text is the
    // record's own.
    assert_eq!(got.len(), 3);
    for (g, w) in got.iter().zip(&durations) {
        assert!(close(*g, *w), "the three shortest, shortest first: {got:?}");
    }
}

#[test]
fn lookup_joins_a_table_to_the_events_it_lists() {
    use std::sync::Arc;

    use shared_sketch::lookup::{LookupTable, Lookups};
    use workers::ScanOptions;

    let ev = events();
    let mut per_ip: BTreeMap<&str, u64> = BTreeMap::new();
    for e in with_id(&ev, "cowrie.login.failed") {
        *per_ip.entry(s(e, "src_ip").unwrap()).or_default() += 1;
    }
    // Every other address that failed a login, labelled in turn.
    let listed: Vec<(&str, &str)> = per_ip
        .keys()
        .step_by(2)
        .zip(["scanner", "brute"].into_iter().cycle())
        .map(|(ip, label)| (*ip, label))
        .collect();
    let mut csv = String::from("ip,threat\n");
    for (ip, label) in &listed {
        csv.push_str(&format!("{ip},{label}\n"));
    }
    let mut want: BTreeMap<Vec<String>, u64> = BTreeMap::new();
    for (ip, label) in &listed {
        *want.entry(vec![label.to_string()]).or_default() += per_ip[ip];
    }
    let table = LookupTable::from_csv(csv.as_bytes()).unwrap();
    let options = ScanOptions {
        lookups: Lookups::from([("bad_ips".to_string(), Arc::new(table))]),
        ..ScanOptions::default()
    };
    let r = common::run_with(
        &files(),
        "eventid:cowrie.login.failed | lookup bad_ips ip AS src_ip OUTPUT threat \
         | where isnotnull(threat) | stats count by threat",
        &options,
    );
    assert_eq!(counts_by(&r), want);
}
