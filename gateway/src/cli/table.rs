//! `sketchlake query --format table`: the answer as plain text for a terminal. Every
//! approximate number carries its bound, as in the web UI.

use std::fmt::Write as _;

use shared_sketch::time::format_timestamp;
use shared_sketch::{AggResult, AggValue, QueryResult};

/// Hits shown (the JSON output has them all); longer texts are cut.
const HITS_SHOWN: usize = 20;
const HIT_TEXT_CHARS: usize = 160;

pub fn render(result: &QueryResult, elapsed_ms: u64) -> String {
    let mut out = String::new();
    let s = &result.stats;
    let _ = writeln!(
        out,
        "{}\n{} matched · {} files, {} records, {} malformed · {elapsed_ms} ms",
        result.query, result.matched, s.files, s.records, s.malformed
    );
    for e in &s.errors {
        let _ = writeln!(out, "error: {}: {}", e.file, e.message);
    }
    if let Some(groups) = &result.groups {
        let mut header: Vec<String> = groups.by.clone();
        header.push("count".into());
        if let Some(row) = groups.rows.first() {
            header.extend(row.aggs.iter().map(|a| a.label.clone()));
        }
        let mut rows: Vec<Vec<String>> = groups
            .rows
            .iter()
            .chain(&groups.other)
            .map(|row| {
                let mut cells = row.key.clone();
                if cells.is_empty() {
                    cells = vec!["(other)".to_string(); groups.by.len()];
                }
                cells.push(row.matched.to_string());
                cells.extend(row.aggs.iter().map(|a| scalar(&a.value)));
                cells
            })
            .collect();
        rows.insert(0, header);
        out.push('\n');
        table(&mut out, &rows);
        if !groups.complete {
            out.push_str("(groups are a sample: more keys are counted in \"other\")\n");
        }
    } else {
        for agg in &result.aggs {
            aggregate(&mut out, agg);
        }
    }
    if let Some(series) = &result.series {
        let mut rows = vec![vec!["time".to_string(), "count".into(), "value".into()]];
        rows.extend(series.points.iter().map(|p| {
            vec![
                format_timestamp(p.time),
                p.matched.to_string(),
                scalar(&p.value),
            ]
        }));
        let _ = writeln!(out, "\ntime series, {} s buckets", series.span_seconds);
        table(&mut out, &rows);
    }
    if !result.hits.is_empty() {
        let _ = writeln!(out, "\nlatest hits ({} kept)", result.hits.len());
        for hit in result.hits.iter().rev().take(HITS_SHOWN) {
            let time = hit.time.map_or_else(|| "-".to_string(), format_timestamp);
            let text: String = if hit.fields.is_empty() {
                hit.text.chars().take(HIT_TEXT_CHARS).collect()
            } else {
                hit.fields
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let _ = writeln!(out, "{time}  {}:{}  {text}", hit.file, hit.line);
        }
    }
    out
}

fn aggregate(out: &mut String, agg: &AggResult) {
    match &agg.value {
        AggValue::Top {
            rows,
            maximum_error,
        } => {
            let _ = writeln!(out, "\n{} (counts within ±{maximum_error})", agg.label);
            let mut cells = vec![vec!["value".to_string(), "count".into(), "range".into()]];
            cells.extend(rows.iter().map(|r| {
                vec![
                    r.value.clone(),
                    r.estimate.to_string(),
                    format!("{}–{}", r.lower, r.upper),
                ]
            }));
            table(out, &cells);
        }
        AggValue::Rare(rare) => {
            let _ = writeln!(
                out,
                "\n{} (sample of {:.1}% of values; rare total ≈{:.0}, {:.0}–{:.0} at {:.0}%)",
                agg.label,
                rare.sample_fraction * 100.0,
                rare.rare_total,
                rare.rare_total_lower,
                rare.rare_total_upper,
                rare.confidence * 100.0
            );
            let mut cells = vec![vec!["value".to_string(), "count".into()]];
            cells.extend(
                rare.rows
                    .iter()
                    .map(|r| vec![r.value.clone(), r.count.to_string()]),
            );
            table(out, &cells);
        }
        value => {
            let _ = writeln!(out, "{}: {}", agg.label, scalar(value));
        }
    }
}

/// One value as a table cell (lists are summarised by their first entry).
fn scalar(value: &AggValue) -> String {
    match value {
        AggValue::Count { value } => value.to_string(),
        AggValue::Distinct(d) if d.exact => format!("{:.0}", d.estimate),
        AggValue::Distinct(d) => format!(
            "≈{:.0} ({:.0}–{:.0} at {:.0}%)",
            d.estimate,
            d.lower,
            d.upper,
            d.confidence * 100.0
        ),
        AggValue::Number { value } => value.map_or_else(|| "-".to_string(), number),
        AggValue::Quantile {
            value,
            relative_error,
        } => value.map_or_else(
            || "-".to_string(),
            |v| format!("{} ±{:.1}%", number(v), relative_error * 100.0),
        ),
        AggValue::Top { rows, .. } => rows
            .first()
            .map_or_else(String::new, |r| format!("{} ({})", r.value, r.estimate)),
        AggValue::Rare(rare) => rare
            .rows
            .first()
            .map_or_else(String::new, |r| format!("{} ({})", r.value, r.count)),
        AggValue::Values { values, complete } => {
            let more = if *complete { "" } else { ", … (first 100)" };
            format!("{}{more}", values.join(", "))
        }
        AggValue::Timed { value, time } => match (value, time) {
            (Some(value), Some(time)) => {
                format!(
                    "{value} (at {})",
                    shared_sketch::time::format_timestamp(*time)
                )
            }
            _ => "-".to_string(),
        },
    }
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Left-aligned columns, two spaces apart.
fn table(out: &mut String, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}
