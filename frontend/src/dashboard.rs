//! The default dashboards, chosen from the kind of data the lake holds (`GET /api/v1/lake`).
//! A dashboard is a few queries — one per extra filter, each a single `stats` carrying
//! every list and number its panels show, so one scan feeds many panels — and the panels,
//! each naming the aggregates it draws.

use shared_sketch::lake::DataKind;
use shared_sketch::query::Expr;
use shared_sketch::{Agg, Command, parse};

pub struct Dashboard {
    pub name: &'static str,
    pub queries: &'static [QuerySpec],
    pub panels: &'static [Panel],
}

/// One query of a dashboard: the user's search AND `filter`, then `| stats <stats>`.
pub struct QuerySpec {
    /// Narrows the search for some panels (`action:REJECT`); empty for none.
    pub filter: &'static str,
    pub stats: &'static str,
}

pub struct Panel {
    pub title: &'static str,
    pub testid: &'static str,
    /// Index into the dashboard's queries.
    pub query: usize,
    /// The aggregates of that query it draws, side by side, by their labels as answers
    /// name them (`dc(src_ip)`, `top(10, src_ip, dst_ip)`).
    pub aggs: &'static [&'static str],
}

impl QuerySpec {
    pub fn filter(&self) -> Option<Expr> {
        parse(self.filter).ok().and_then(|q| q.search)
    }

    pub fn command(&self) -> Command {
        parse(&format!("| stats {}", self.stats))
            .ok()
            .and_then(|q| q.command)
            .unwrap_or(Command::Stats {
                aggs: vec![Agg::Count],
                by: Vec::new(),
            })
    }
}

/// VPC flow logs, Zeek conn, CICFlowMeter: `src_ip`, `dst_ip` and `dst_port` find each
/// format's own names; rejected means `action:REJECT` (VPC) or `conn_state:REJ` (Zeek).
pub const FLOWS: Dashboard = Dashboard {
    name: "Network flows",
    queries: &[
        QuerySpec {
            filter: "",
            stats: "count, top(10, src_ip), top(10, dst_ip), top(10, dst_port), \
                    top(10, src_ip, dst_ip), dc(src_ip), dc(dst_ip), p50(bytes), p90(bytes), \
                    p99(bytes), max(bytes)",
        },
        QuerySpec {
            filter: "action:REJECT OR conn_state:REJ",
            stats: "count, top(10, src_ip), top(10, dst_port)",
        },
        // External: outside the private (RFC 1918) and loopback ranges.
        QuerySpec {
            filter: "NOT src_ip:10.0.0.0/8 NOT src_ip:172.16.0.0/12 NOT src_ip:192.168.0.0/16 \
                     NOT src_ip:127.0.0.0/8",
            stats: "count, rare(10, src_ip)",
        },
    ],
    panels: &[
        Panel {
            title: "Distinct sources",
            testid: "panel-dc-src",
            query: 0,
            aggs: &["dc(src_ip)"],
        },
        Panel {
            title: "Distinct destinations",
            testid: "panel-dc-dst",
            query: 0,
            aggs: &["dc(dst_ip)"],
        },
        Panel {
            title: "Bytes per flow",
            testid: "panel-bytes",
            query: 0,
            aggs: &["p50(bytes)", "p90(bytes)", "p99(bytes)", "max(bytes)"],
        },
        Panel {
            title: "Rejected flows",
            testid: "panel-rejected-count",
            query: 1,
            aggs: &["count"],
        },
        Panel {
            title: "Top sources",
            testid: "panel-top-src",
            query: 0,
            aggs: &["top(10, src_ip)"],
        },
        Panel {
            title: "Top destinations",
            testid: "panel-top-dst",
            query: 0,
            aggs: &["top(10, dst_ip)"],
        },
        Panel {
            title: "Top talkers: source → destination",
            testid: "panel-top-pair",
            query: 0,
            aggs: &["top(10, src_ip, dst_ip)"],
        },
        Panel {
            title: "Top destination ports",
            testid: "panel-top-port",
            query: 0,
            aggs: &["top(10, dst_port)"],
        },
        Panel {
            title: "Rejected: top sources",
            testid: "panel-rejected-src",
            query: 1,
            aggs: &["top(10, src_ip)"],
        },
        Panel {
            title: "Rejected: top ports",
            testid: "panel-rejected-port",
            query: 1,
            aggs: &["top(10, dst_port)"],
        },
        Panel {
            title: "Rare external sources",
            testid: "panel-rare-src",
            query: 2,
            aggs: &["rare(10, src_ip)"],
        },
    ],
};

/// AWS CloudTrail: who called what, from where, and what failed.
pub const CLOUDTRAIL: Dashboard = Dashboard {
    name: "CloudTrail",
    queries: &[
        QuerySpec {
            filter: "",
            stats: "count, top(10, eventName), top(10, eventSource), top(10, sourceIPAddress), \
                    rare(10, sourceIPAddress), dc(userIdentity.arn), dc(sourceIPAddress), \
                    top(10, userIdentity.arn)",
        },
        QuerySpec {
            filter: "errorCode:*",
            stats: "count, top(10, errorCode), top(10, eventName)",
        },
    ],
    panels: &[
        Panel {
            title: "Distinct principals",
            testid: "panel-dc-principals",
            query: 0,
            aggs: &["dc(userIdentity.arn)"],
        },
        Panel {
            title: "Distinct source IPs",
            testid: "panel-dc-src",
            query: 0,
            aggs: &["dc(sourceIPAddress)"],
        },
        Panel {
            title: "Failed calls",
            testid: "panel-failed-count",
            query: 1,
            aggs: &["count"],
        },
        Panel {
            title: "Top event names",
            testid: "panel-top-events",
            query: 0,
            aggs: &["top(10, eventName)"],
        },
        Panel {
            title: "Top services",
            testid: "panel-top-services",
            query: 0,
            aggs: &["top(10, eventSource)"],
        },
        Panel {
            title: "Top principals",
            testid: "panel-top-principals",
            query: 0,
            aggs: &["top(10, userIdentity.arn)"],
        },
        Panel {
            title: "Top source IPs",
            testid: "panel-top-src",
            query: 0,
            aggs: &["top(10, sourceIPAddress)"],
        },
        Panel {
            title: "Rare source IPs",
            testid: "panel-rare-src",
            query: 0,
            aggs: &["rare(10, sourceIPAddress)"],
        },
        Panel {
            title: "Failed: error codes",
            testid: "panel-failed-codes",
            query: 1,
            aggs: &["top(10, errorCode)"],
        },
        Panel {
            title: "Failed: event names",
            testid: "panel-failed-events",
            query: 1,
            aggs: &["top(10, eventName)"],
        },
    ],
};

/// Anything else: the timeline and the events.
pub const EVENTS: Dashboard = Dashboard {
    name: "Events",
    queries: &[QuerySpec {
        filter: "",
        stats: "count",
    }],
    panels: &[],
};

/// The dashboard for the kind of data the lake holds.
pub fn for_kind(kind: DataKind) -> &'static Dashboard {
    match kind {
        DataKind::Flows => &FLOWS,
        DataKind::Cloudtrail => &CLOUDTRAIL,
        DataKind::Events => &EVENTS,
    }
}

/// Most queries any dashboard runs at once (the page keeps that many result slots).
pub const MAX_QUERIES: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every spec parses, and every panel names aggregates its query computes.
    #[test]
    fn dashboards_are_well_formed() {
        for d in [&FLOWS, &CLOUDTRAIL, &EVENTS] {
            assert!(d.queries.len() <= MAX_QUERIES, "{}", d.name);
            for q in d.queries {
                assert!(q.filter.is_empty() || q.filter().is_some(), "{}", q.filter);
                let parsed = parse(&format!("| stats {}", q.stats));
                assert!(parsed.is_ok(), "{}: {parsed:?}", q.stats);
            }
            for p in d.panels {
                let labels: Vec<String> = d.queries[p.query]
                    .command()
                    .aggs()
                    .iter()
                    .map(Agg::label)
                    .collect();
                for agg in p.aggs {
                    assert!(
                        labels.iter().any(|l| l == agg),
                        "{}: {agg} in {labels:?}",
                        p.title
                    );
                }
            }
        }
    }
}
