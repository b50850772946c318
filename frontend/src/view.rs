//! What is on screen: the query as typed and the time range. Both live in the URL, so a
//! link reproduces the view; `View::queries` turns a view into the queries its widgets need.

use shared_sketch::query::{Compare, CompareOp, Expr, Post, Stage, TimeBound};
use shared_sketch::{Command, Query, parse};
use wasm_bindgen::JsValue;
use web_sys::UrlSearchParams;

use crate::dashboard::Dashboard;

/// The range picker's choices: the `earliest=` bound each stands for (`None`: all time).
pub const PRESETS: &[(Option<&str>, &str)] = &[
    (None, "All time"),
    (Some("-15m"), "Last 15 minutes"),
    (Some("-1h"), "Last hour"),
    (Some("-24h"), "Last 24 hours"),
    (Some("-7d"), "Last 7 days"),
    (Some("-30d"), "Last 30 days"),
];

/// `[earliest, latest)` in the query language's own bounds (`-7d`, `now`, absolute times).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimeRange {
    pub earliest: Option<TimeBound>,
    pub latest: Option<TimeBound>,
}

impl TimeRange {
    /// Each bound as `earliest=` would read it; a bad one is an error naming it.
    pub fn parse(earliest: Option<&str>, latest: Option<&str>) -> Result<TimeRange, String> {
        let bound = |name: &str, text: Option<&str>| match text.map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => parse(&format!("{name}={text}"))
                .map(|q| {
                    if name == "earliest" {
                        q.earliest
                    } else {
                        q.latest
                    }
                })
                .map_err(|e| format!("{name}: {}", e.message)),
        };
        Ok(TimeRange {
            earliest: bound("earliest", earliest)?,
            latest: bound("latest", latest)?,
        })
    }

    /// Absolute, from the histogram: `[start, end)` in epoch milliseconds.
    pub fn between(start: i64, end: i64) -> TimeRange {
        TimeRange {
            earliest: Some(TimeBound::At(start)),
            latest: Some(TimeBound::At(end)),
        }
    }

    /// The preset this range is, if it is one.
    pub fn preset(&self) -> Option<usize> {
        PRESETS.iter().position(|(earliest, _)| {
            self.latest.is_none() && self.earliest.map(|b| b.to_string()).as_deref() == *earliest
        })
    }

    pub fn label(&self) -> String {
        match self.preset() {
            Some(i) => PRESETS[i].1.to_string(),
            None => format!(
                "{} → {}",
                self.earliest.map_or("…".to_string(), |b| b.to_string()),
                self.latest.map_or("now".to_string(), |b| b.to_string())
            ),
        }
    }
}

/// The query text and range on screen, and how many events the events list keeps.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct View {
    pub q: String,
    pub range: TimeRange,
    /// The newest matching events the dashboard's list keeps; 0 for `LIST_DEFAULT`.
    pub hits: u32,
}

/// Events the dashboard's list keeps unless the view asks for more: enough to scroll
/// through an incident, and free to load with every view (10,000 or 100,000 add about
/// half a second to a 100,000-event dashboard; docs/BENCHMARKS.md).
pub const LIST_DEFAULT: u32 = 1_000;
/// What the list's "keep up to 100,000" asks for: the most a query may keep.
pub const LIST_MAX: u32 = shared_sketch::MAX_HITS_LIMIT as u32;

/// What a view runs: a dashboard over the search, or the user's own command.
#[derive(Debug, Clone, PartialEq)]
pub enum ViewQueries {
    /// No command: the dashboard's queries (one per filter), each with the search.
    Dashboard(Vec<Query>),
    /// `| stats …`, `| top …`: that query alone, shown as it asks.
    Command(Box<Query>),
}

impl View {
    /// The view the address bar holds (`?q=…&earliest=…&latest=…`); a bad range is dropped.
    pub fn from_url() -> View {
        let params = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .and_then(|s| UrlSearchParams::new_with_str(&s).ok());
        let get = |name: &str| params.as_ref().and_then(|p| p.get(name));
        View {
            q: get("q").unwrap_or_default(),
            range: TimeRange::parse(get("earliest").as_deref(), get("latest").as_deref())
                .unwrap_or_default(),
            hits: get("hits")
                .and_then(|h| h.parse::<u32>().ok())
                .map_or(0, |h| h.min(LIST_MAX)),
        }
    }

    /// Records the view in the address bar and the browser's history (Back returns to
    /// the previous view). Nothing is pushed when it is already there.
    pub fn push_to_url(&self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let Ok(params) = UrlSearchParams::new() else {
            return;
        };
        if !self.q.is_empty() {
            params.append("q", &self.q);
        }
        for (name, bound) in [
            ("earliest", self.range.earliest),
            ("latest", self.range.latest),
        ] {
            if let Some(bound) = bound {
                params.append(name, &bound.to_string());
            }
        }
        if self.hits != 0 {
            params.append("hits", &self.hits.to_string());
        }
        let search = String::from(params.to_string());
        let url = if search.is_empty() {
            window.location().pathname().unwrap_or_default()
        } else {
            format!("?{search}")
        };
        let current = window.location().search().unwrap_or_default();
        if current.trim_start_matches('?') != search
            && let Ok(history) = window.history()
        {
            let _ = history.push_state_with_url(&JsValue::NULL, "", Some(&url));
        }
    }

    /// The queries this view runs, or the parse error to show.
    pub fn queries(&self, dashboard: &Dashboard) -> Result<ViewQueries, String> {
        let mut query = parse(&self.q).map_err(|e| e.to_string())?;
        query.earliest = query.earliest.or(self.range.earliest);
        query.latest = query.latest.or(self.range.latest);
        if query.command.is_some() {
            return Ok(ViewQueries::Command(Box::new(query)));
        }
        // `sort`, `dedup` and `table` shape the events themselves: the events are the
        // answer, drawn as the query orders them, not beside a dashboard.
        if query.post.iter().any(|p| {
            matches!(
                p,
                Post::Sort(_) | Post::Dedup { .. } | Post::Table(_) | Post::Tail(_)
            )
        }) {
            // As many as the list keeps, unless the query says (`head N`, `sort N`, `tail N`).
            if !query
                .post
                .iter()
                .any(|p| matches!(p, Post::Head(_) | Post::Tail(_)))
            {
                query.hits = self.events();
            }
            return Ok(ViewQueries::Command(Box::new(query)));
        }
        Ok(ViewQueries::Dashboard(
            dashboard
                .queries
                .iter()
                .enumerate()
                .map(|(i, spec)| {
                    let mut q = query.clone();
                    if let Some(filter) = spec.filter() {
                        and(&mut q, filter);
                    }
                    q.command = Some(spec.command());
                    // The first query's events fill the list.
                    if i == 0 {
                        q.hits = self.events();
                    }
                    q
                })
                .collect(),
        ))
    }

    /// How many events the dashboard's list keeps.
    pub fn events(&self) -> u32 {
        if self.hits == 0 {
            LIST_DEFAULT
        } else {
            self.hits
        }
    }

    /// This view over `range` instead.
    pub fn with_range(&self, range: TimeRange) -> View {
        View {
            range,
            ..self.clone()
        }
    }

    /// This view narrowed to events where `field` is (or, `exclude`, is not) `value`.
    pub fn with_filter(&self, field: &str, value: &str, exclude: bool) -> View {
        let Ok(mut query) = parse(&self.q) else {
            return self.clone();
        };
        let compare = equals(field, value);
        let filter = if exclude {
            Expr::Not(Box::new(compare))
        } else {
            compare
        };
        // A field a per-event command makes exists only after it: filtered there.
        if query.stage_outputs().iter().any(|f| f == field) {
            query.stages.push(Stage::Search(filter));
        } else {
            and(&mut query, filter);
        }
        View {
            q: query.to_string(),
            ..self.clone()
        }
    }

    /// A new search for `field` = `value` over the same range (keeping the command).
    pub fn pivot(&self, field: &str, value: &str) -> View {
        let parsed = parse(&self.q).ok();
        let made = parsed
            .as_ref()
            .is_some_and(|q| q.stage_outputs().iter().any(|f| f == field));
        let (index, mut stages, command) =
            parsed.map_or((None, Vec::new(), None), |q| (q.index, q.stages, q.command));
        let search = if made {
            stages.push(Stage::Search(equals(field, value)));
            None
        } else {
            Some(equals(field, value))
        };
        let query = Query {
            search,
            earliest: None,
            latest: None,
            // The folders searched stay, as the range does.
            index,
            // The per-event commands stay: the command may read what they make.
            stages,
            command: command.filter(|c| !matches!(c, Command::Timechart { .. })),
            post: Vec::new(),
            hits: shared_sketch::MAX_HITS as u32,
        };
        View {
            q: query.to_string(),
            ..self.clone()
        }
    }
}

/// `field:value`, literal (a value is never taken for a wildcard or a network).
fn equals(field: &str, value: &str) -> Expr {
    Expr::Compare(Compare {
        field: field.to_string(),
        op: CompareOp::Eq,
        value: value.to_string(),
        quoted: value.contains(['*', '/']),
    })
}

fn and(query: &mut Query, filter: Expr) {
    // Flat, as the parser reads `a AND b AND c`: the text parses back to the same query.
    let parts = |e: Expr| match e {
        Expr::And(parts) => parts,
        e => vec![e],
    };
    query.search = Some(match query.search.take() {
        None => filter,
        Some(search) => Expr::And([parts(search), parts(filter)].concat()),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::FLOWS;

    fn view(q: &str, earliest: Option<&str>) -> View {
        View {
            q: q.to_string(),
            range: TimeRange::parse(earliest, None).unwrap(),
            hits: 0,
        }
    }

    #[test]
    fn a_search_runs_the_dashboard_with_its_range_and_filters() {
        let Ok(ViewQueries::Dashboard(queries)) = view("dst_port:22", Some("-7d")).queries(&FLOWS)
        else {
            panic!("a search runs the dashboard");
        };
        assert_eq!(queries.len(), 3);
        // The first query fills the events list; the others need no events.
        let hits: Vec<u32> = queries.iter().map(|q| q.hits).collect();
        assert_eq!(hits, [LIST_DEFAULT, 100, 100]);
        let more = View {
            hits: LIST_MAX,
            ..view("x", None)
        };
        let Ok(ViewQueries::Dashboard(kept)) = more.queries(&FLOWS) else {
            panic!("a search runs the dashboard");
        };
        assert_eq!(kept[0].hits, 100_000);
        assert_eq!(more.with_filter("a", "b", false).hits, LIST_MAX);
        let texts: Vec<String> = queries.iter().map(ToString::to_string).collect();
        assert!(texts[0].starts_with("dst_port:22 earliest=-7d | stats count, top(10, src_ip)"));
        assert!(texts[1].starts_with(
            "dst_port:22 AND (action:REJECT OR conn_state:REJ) earliest=-7d | stats count"
        ));
        assert!(texts[2].starts_with("dst_port:22 AND NOT src_ip:10.0.0.0/8 AND NOT"));
        // Each is a query the gateway parses back to the same thing (`hits` travels beside
        // the text).
        for (text, query) in texts.iter().zip(&queries) {
            let mut parsed = parse(text).unwrap();
            parsed.hits = query.hits;
            assert_eq!(&parsed, query);
        }
    }

    #[test]
    fn a_command_runs_alone_and_the_query_s_own_range_wins() {
        let Ok(ViewQueries::Command(q)) =
            view("earliest=-1h | top 5 src_ip", Some("-7d")).queries(&FLOWS)
        else {
            panic!("a command runs alone");
        };
        assert_eq!(q.to_string(), "earliest=-1h | top 5 src_ip");
        let error = view("| top", None).queries(&FLOWS).unwrap_err();
        assert!(error.starts_with("column 6:"), "{error}");
    }

    #[test]
    fn clicked_values_filter_exclude_and_pivot() {
        let v = view("action:REJECT | top 10 src_ip", Some("-24h"));
        assert_eq!(
            v.with_filter("src_ip", "198.51.100.23", false).q,
            "action:REJECT AND src_ip:198.51.100.23 | top 10 src_ip"
        );
        assert_eq!(
            v.with_filter("dst_port", "22", true).q,
            "action:REJECT AND NOT dst_port:22 | top 10 src_ip"
        );
        // A value is literal: `*` and `/` are quoted, not a wildcard or a network.
        assert_eq!(
            view("", None).with_filter("uri", "/a*", false).q,
            r#"uri:"/a*""#
        );
        let pivot = v.pivot("dst_port", "22");
        assert_eq!(pivot.q, "dst_port:22 | top 10 src_ip");
        assert_eq!(pivot.range, v.range);

        // A field `eval` or `rex` makes is filtered after the command that makes it.
        let made = view(
            r#"x | eval n = len(user) | rex "u=(?<who>\w+)" | top 10 n"#,
            None,
        );
        assert_eq!(
            made.with_filter("who", "root", false).q,
            r#"x | eval n = len(user) | rex field=_raw "u=(?<who>\w+)" | search who:root | top 10 n"#
        );
        assert_eq!(
            made.pivot("n", "4").q,
            r#"| eval n = len(user) | rex field=_raw "u=(?<who>\w+)" | search n:4 | top 10 n"#
        );
    }

    #[test]
    fn sorted_deduplicated_or_tabled_events_are_the_answer() {
        for q in ["x | sort -bytes", "x | dedup src_ip", "x | table a, b"] {
            let Ok(ViewQueries::Command(query)) = view(q, None).queries(&FLOWS) else {
                panic!("{q}: the events are the answer");
            };
            assert!(query.command.is_none());
            assert_eq!(query.hits, LIST_DEFAULT);
        }
        let Ok(ViewQueries::Command(query)) = view("x | sort 20 -bytes", None).queries(&FLOWS)
        else {
            panic!("the events are the answer");
        };
        assert_eq!(query.hits, 20);
    }

    #[test]
    fn ranges_are_presets_or_absolute() {
        assert_eq!(TimeRange::default().label(), "All time");
        assert_eq!(view("", Some("-7d")).range.label(), "Last 7 days");
        let r = TimeRange::between(1_794_700_800_000, 1_794_704_400_000);
        assert_eq!(r.preset(), None);
        assert_eq!(r.label(), "2026-11-15T00:00:00Z → 2026-11-15T01:00:00Z");
        let err = TimeRange::parse(Some("yesterday"), None).unwrap_err();
        assert!(err.starts_with("earliest:"), "{err}");
    }
}
