use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::fields::Fields;

/// A parsed query: which events to match, over which time, what to compute over them, and
/// how to shape the merged answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// The search expression; `None` matches every event.
    pub search: Option<Expr>,
    /// `earliest=` / `latest=`: events with `earliest <= time < latest`.
    pub earliest: Option<TimeBound>,
    pub latest: Option<TimeBound>,
    /// `@index=cloudtrail` (Scanner's): only the files under a folder of the lake whose
    /// name matches this glob (`*` any run of characters; `a/b` two folders in a row).
    /// The gateway plans with it; workers never see another file.
    #[serde(default)]
    pub index: Option<String>,
    /// Per-event commands (`eval`, `where` on events, `rename`, …), in order: run by the
    /// workers on each matching event, before the aggregate.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// The aggregating command; `None` for a plain search (count and hits only).
    pub command: Option<Command>,
    /// `where`, `head`, `fields`: applied in order to the merged answer.
    pub post: Vec<Post>,
    /// How many of the newest matching events the answer keeps: `MAX_HITS`, `head N` after
    /// a plain search, or what the request asks for (the page's events list). Not part of
    /// the query's text.
    pub hits: u32,
}

/// A boolean search expression. Precedence: `NOT` binds tightest, then `AND` (also
/// implicit, between adjacent terms), then `OR`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// A bare word or "quoted phrase": a case-insensitive token match anywhere in the
    /// event's raw text. `*` in a bare word matches any run of characters within a token.
    Term {
        text: String,
        phrase: bool,
    },
    /// `field:value`, `field=value`, `field!=value`, `field>N`, …
    Compare(Compare),
    /// `field~"regex"`: the field is present and the regular expression (the `regex`
    /// crate's syntax, case-sensitive unless `(?i)`) matches somewhere in its value.
    Match {
        field: String,
        pattern: String,
    },
    /// `field:$other`: the field's value equals the other field's, ignoring ASCII case;
    /// `field:*$other*`, `field:$other*`, `field:*$other`: contains, starts or ends with
    /// it. Both fields must be present.
    FieldRef {
        field: String,
        other: String,
        open_start: bool,
        open_end: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compare {
    /// A field name; dots reach into nested objects (`userIdentity.arn`) or name a flat
    /// dotted key (Zeek's `id.orig_h`).
    pub field: String,
    pub op: CompareOp,
    /// As written (unquoted); how it is compared follows from `op` and its shape.
    pub value: String,
    /// Written in quotes: never a wildcard or network, always literal text.
    pub quoted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    /// `:` or `=`: equal ignoring ASCII case; `*` wildcards; `a.b.c.d/n` is a network.
    Eq,
    /// `!=`: the field is present and not equal.
    Ne,
    /// Numeric when both sides are numbers, else by text.
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => ":",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// One end of the query's time range, resolved against "now" when the query runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeBound {
    Now,
    /// Seconds before now, as written: `-7d` is `Ago { amount: 7, unit: Day }`.
    Ago {
        amount: u32,
        unit: TimeUnit,
    },
    /// Milliseconds since the Unix epoch (UTC).
    At(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeUnit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
}

impl TimeUnit {
    pub fn seconds(self) -> i64 {
        match self {
            TimeUnit::Second => 1,
            TimeUnit::Minute => 60,
            TimeUnit::Hour => 3600,
            TimeUnit::Day => 86_400,
            TimeUnit::Week => 7 * 86_400,
        }
    }

    pub fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Second => "s",
            TimeUnit::Minute => "m",
            TimeUnit::Hour => "h",
            TimeUnit::Day => "d",
            TimeUnit::Week => "w",
        }
    }
}

impl TimeBound {
    /// Milliseconds since the epoch, given now (also in milliseconds).
    pub fn resolve(self, now_ms: i64) -> i64 {
        match self {
            TimeBound::Now => now_ms,
            TimeBound::Ago { amount, unit } => {
                now_ms.saturating_sub(i64::from(amount) * unit.seconds() * 1000)
            }
            TimeBound::At(ms) => ms,
        }
    }
}

/// The command that aggregates matching events into sketches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// `stats agg, … [by f, …]`
    Stats { aggs: Vec<Agg>, by: Vec<String> },
    /// `top [N] f [, f2 …] [by g, …]`: several fields count their values' combinations.
    Top {
        n: u32,
        fields: Vec<String>,
        by: Vec<String>,
    },
    /// `rare [N] f`
    Rare { n: u32, field: String },
    /// `timechart [span=…] agg [by f]`: the aggregate per time bucket (per value of `f`).
    Timechart {
        /// Bucket width in seconds; `None` picks one from the query's time range.
        span: Option<u32>,
        agg: Agg,
        by: Option<String>,
    },
}

impl Command {
    /// The sketches each group (or the whole query) carries, in order.
    pub fn aggs(&self) -> Vec<Agg> {
        match self {
            Command::Stats { aggs, .. } => aggs.clone(),
            Command::Top { n, fields, .. } => vec![Agg::Top {
                n: *n,
                fields: fields.clone(),
            }],
            Command::Rare { n, field } => vec![Agg::Rare {
                n: *n,
                field: field.clone(),
            }],
            Command::Timechart { agg, .. } => vec![agg.clone()],
        }
    }

    /// The fields events are grouped by (empty: one group).
    pub fn by(&self) -> &[String] {
        match self {
            Command::Stats { by, .. } | Command::Top { by, .. } => by,
            Command::Timechart { by: Some(by), .. } => std::slice::from_ref(by),
            Command::Rare { .. } | Command::Timechart { by: None, .. } => &[],
        }
    }
}

/// What happens to the merged answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Post {
    /// `where <agg> <op> <number>`: keeps the rows whose aggregate compares true. `agg` is
    /// the index into the command's aggregates.
    Where {
        agg: usize,
        op: CompareOp,
        value: f64,
    },
    /// `head N`: the first N rows (or hits, after a plain search).
    Head(u32),
    /// `fields a, b`: the fields shown for each hit.
    Fields(Vec<String>),
    /// `sort [-]key, …`: the rows ordered by `by` values or aggregates (`-`: descending).
    Sort(Vec<SortKey>),
    /// `tail N`: the last N rows.
    Tail(u32),
    /// `dedup f, …`: the first row (or event) of each combination of the fields' values;
    /// `keepevents=true` keeps every event but blanks the fields of later duplicates.
    Dedup {
        fields: Vec<String>,
        keep_events: bool,
    },
    /// `table f, …`: the events (or rows) as these columns, in this order.
    Table(Vec<String>),
}

/// One key of `sort`: a `by` field, an aggregate's label (`count`, `dc(src_ip)`), or for
/// `top` and `rare` rows `count` or the field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SortKey {
    pub name: String,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Agg {
    /// `count` — exact number of matching events.
    Count,
    /// `dc(field)` — distinct values of `field` (HyperLogLog).
    Distinct { field: String },
    /// `top N field`, or `top(N, field)` among `stats` aggregates — the N most frequent
    /// values (FrequentItems, deterministic bounds). With several fields, the N most
    /// frequent combinations (`top(10, src_ip, dst_ip)`: the top talking pairs).
    Top { n: u32, fields: Vec<String> },
    /// `rare N field` or `rare(N, field)` — the N least frequent values, exact counts (consistent sample).
    Rare { n: u32, field: String },
    /// `sum(f)`, `min(f)`, `max(f)`, `avg(f)`, `range(f)`, `stdev(f)`, `var(f)` … — exact,
    /// over the field's numeric values.
    Stat { kind: StatKind, field: String },
    /// `p50(f)` … `p99.9(f)`, `percentile(f, q)` — DDSketch, ±1% of the value.
    /// The quantile in hundredths of a percent: 9990 is p99.9.
    Quantile { field: String, hundredths: u32 },
    /// `count(f)` — exact number of matching events where `f` is present. (New variants
    /// go last: the variants' order is their encoding.)
    Present { field: String },
    /// `mode(f)` — the most frequent value, with the bounds of `top`.
    Mode { field: String },
    /// `values(f)` — the distinct values, exact up to `MAX_VALUES` (first in text order).
    Values { field: String },
    /// `earliest(f)` — the value at the earliest event time.
    Earliest { field: String },
    /// `latest(f)` — the value at the latest event time.
    Latest { field: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatKind {
    Sum,
    Min,
    Max,
    Avg,
    /// max − min.
    Range,
    /// Sample standard deviation (n − 1), as Splunk's `stdev`.
    Stdev,
    /// Population standard deviation (n).
    Stdevp,
    /// Sample variance.
    Var,
    /// Population variance.
    Varp,
}

impl StatKind {
    pub const ALL: [StatKind; 9] = [
        StatKind::Sum,
        StatKind::Min,
        StatKind::Max,
        StatKind::Avg,
        StatKind::Range,
        StatKind::Stdev,
        StatKind::Stdevp,
        StatKind::Var,
        StatKind::Varp,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StatKind::Sum => "sum",
            StatKind::Min => "min",
            StatKind::Max => "max",
            StatKind::Avg => "avg",
            StatKind::Range => "range",
            StatKind::Stdev => "stdev",
            StatKind::Stdevp => "stdevp",
            StatKind::Var => "var",
            StatKind::Varp => "varp",
        }
    }

    /// Computed from the values' moments rather than their sum and extremes.
    pub fn spread(self) -> bool {
        matches!(
            self,
            StatKind::Stdev | StatKind::Stdevp | StatKind::Var | StatKind::Varp
        )
    }
}

impl Agg {
    /// The label a user sees, in the query's own syntax.
    pub fn label(&self) -> String {
        match self {
            Agg::Count => "count".to_string(),
            Agg::Present { field } => format!("count({field})"),
            Agg::Mode { field } => format!("mode({field})"),
            Agg::Values { field } => format!("values({field})"),
            Agg::Earliest { field } => format!("earliest({field})"),
            Agg::Latest { field } => format!("latest({field})"),
            Agg::Distinct { field } => format!("dc({field})"),
            Agg::Top { n, fields } => format!("top({n}, {})", fields.join(", ")),
            Agg::Rare { n, field } => format!("rare({n}, {field})"),
            Agg::Stat { kind, field } => format!("{}({field})", kind.name()),
            Agg::Quantile { field, hundredths } if hundredths % 100 == 0 => {
                format!("p{}({field})", hundredths / 100)
            }
            Agg::Quantile { field, hundredths } => {
                let percent = format!("{}.{:02}", hundredths / 100, hundredths % 100);
                format!("percentile({field}, {})", percent.trim_end_matches('0'))
            }
        }
    }

    /// The fields this aggregate reads.
    pub fn fields(&self) -> &[String] {
        match self {
            Agg::Count => &[],
            Agg::Top { fields, .. } => fields,
            Agg::Distinct { field }
            | Agg::Present { field }
            | Agg::Mode { field }
            | Agg::Values { field }
            | Agg::Earliest { field }
            | Agg::Latest { field }
            | Agg::Rare { field, .. }
            | Agg::Stat { field, .. }
            | Agg::Quantile { field, .. } => std::slice::from_ref(field),
        }
    }

    /// The value this aggregate takes from `event`: its field's, or for several fields
    /// their `compound_key` (`None` when any is missing, as Splunk's `top` skips them).
    pub fn value<'e>(&self, event: &'e impl Fields) -> Option<Cow<'e, str>> {
        match self.fields() {
            [] => None,
            [field] => event.get(field),
            fields => {
                let parts: Option<Vec<Cow<'_, str>>> =
                    fields.iter().map(|f| event.get(f)).collect();
                parts.map(|parts| Cow::Owned(compound_key(&parts)))
            }
        }
    }
}

/// One value for several fields' values: each part length-prefixed (`8:10.0.0.1`), so any
/// text splits back exactly, and the key hashes as these explicit bytes on every target.
pub fn compound_key<S: AsRef<str>>(parts: &[S]) -> String {
    let mut key = String::new();
    for part in parts {
        let part = part.as_ref();
        key.push_str(&part.len().to_string());
        key.push(':');
        key.push_str(part);
    }
    key
}

/// The parts of a `compound_key`; `None` for text that is not one (from a damaged
/// partial: shown whole rather than guessed at).
pub fn split_compound_key(mut key: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    while !key.is_empty() {
        let (len, rest) = key.split_once(':')?;
        let len: usize = len.parse().ok()?;
        let part = rest.get(..len)?;
        parts.push(part.to_string());
        key = &rest[len..];
    }
    Some(parts)
}

impl Query {
    /// A query of every event with `command` and nothing after it (for tests and
    /// benchmarks that build aggregates the syntax cannot, e.g. `top` and `rare` together).
    pub fn aggregating(command: Command) -> Query {
        Query {
            search: None,
            earliest: None,
            latest: None,
            index: None,
            stages: Vec::new(),
            command: Some(command),
            post: Vec::new(),
            hits: crate::limits::MAX_HITS as u32,
        }
    }

    /// How many of the newest matching events the answer keeps: `hits`, at most
    /// `MAX_HITS_LIMIT` whatever a request or crafted bytes said.
    pub fn hit_limit(&self) -> usize {
        (self.hits as usize).min(crate::limits::MAX_HITS_LIMIT)
    }

    /// The sketches the query carries per group, in order (empty for a plain search).
    pub fn aggs(&self) -> Vec<Agg> {
        self.command.as_ref().map_or_else(Vec::new, Command::aggs)
    }

    /// The fields events are grouped by.
    pub fn by(&self) -> &[String] {
        self.command.as_ref().map_or(&[], Command::by)
    }

    /// The lookup tables the query names.
    pub fn lookup_tables(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .stages
            .iter()
            .filter_map(|s| match s {
                Stage::Lookup { table, .. } => Some(table.as_str()),
                _ => None,
            })
            .collect();
        names.dedup();
        names
    }

    /// The fields each kept event carries: those `fields` or `table` show (else those the
    /// per-event commands make), and after a plain search those it is sorted and
    /// deduplicated by.
    pub fn hit_field_names(&self) -> Vec<String> {
        let mut names: Vec<String> = match self.hit_fields() {
            Some(fields) => fields.to_vec(),
            None => self.stage_outputs(),
        };
        names.extend(self.event_order().into_iter().map(|k| k.name));
        if self.command.is_none() {
            for post in &self.post {
                if let Post::Dedup { fields, .. } = post {
                    names.extend(fields.iter().cloned());
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
    }

    /// The order a plain search keeps its events in: its `sort` (the last one written);
    /// after `tail`, the reverse — the oldest first without a `sort`, as Splunk's `tail`
    /// lists the last events in reverse. Empty: the newest first.
    pub fn event_order(&self) -> Vec<SortKey> {
        let mut keys = Vec::new();
        if self.command.is_some() {
            return keys;
        }
        for post in &self.post {
            match post {
                Post::Sort(sort) => keys.clone_from(sort),
                Post::Tail(_) if keys.is_empty() => keys.push(SortKey {
                    name: TIME_FIELD.to_string(),
                    descending: false,
                }),
                Post::Tail(_) => keys.iter_mut().for_each(|k| k.descending = !k.descending),
                _ => {}
            }
        }
        keys
    }

    /// `fields a, b` or `table a, b` if given: what each hit shows.
    pub fn hit_fields(&self) -> Option<&[String]> {
        self.post.iter().rev().find_map(|p| match p {
            Post::Fields(fields) | Post::Table(fields) => Some(fields.as_slice()),
            _ => None,
        })
    }

    /// Replaces `now` and `-7d` with the times they mean at `now_ms`: the gateway does this
    /// once per query, so every worker filters and buckets alike.
    /// `eval`'s `now()` becomes that time too, in epoch seconds.
    pub fn resolve_time(&mut self, now_ms: i64) {
        for bound in [&mut self.earliest, &mut self.latest].into_iter().flatten() {
            *bound = TimeBound::At(bound.resolve(now_ms));
        }
        let seconds = now_ms as f64 / 1000.0;
        for stage in &mut self.stages {
            match stage {
                Stage::Eval(assignments) => {
                    for (_, calc) in assignments {
                        calc.resolve_now(seconds);
                    }
                }
                Stage::Where(calc) => calc.resolve_now(seconds),
                _ => {}
            }
        }
    }

    /// Narrows the query's time range to `[earliest, latest)` (epoch ms, open where
    /// `None`): the range is the intersection, whatever the query asks. Call after
    /// `resolve_time`, with bounds resolved at the same "now".
    pub fn restrict_time(&mut self, earliest: Option<i64>, latest: Option<i64>) {
        let (start, end) = self.time_range_if_absolute();
        let start = match (start, earliest) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let end = match (end, latest) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.earliest = start.map(TimeBound::At);
        self.latest = end.map(TimeBound::At);
    }

    /// `[earliest, latest)` where given as absolute times (relative ones count as open).
    pub fn time_range_if_absolute(&self) -> (Option<i64>, Option<i64>) {
        let at = |b: Option<TimeBound>| match b {
            Some(TimeBound::At(ms)) => Some(ms),
            _ => None,
        };
        (at(self.earliest), at(self.latest))
    }
}

/// A per-event command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Stage {
    /// `eval f = expr, g = expr`: each assignment sees the ones before it; a null result
    /// removes the field.
    Eval(Vec<(String, Calc)>),
    /// `where expr`: keeps the events for which the expression is true.
    Where(Calc),
    /// `search expr`: keeps the events the search expression matches.
    Search(Expr),
    /// `rename a AS b, …`
    Rename(Vec<(String, String)>),
    /// `fillnull [value=X] [f …]`: the fields absent from an event get `value` (`0`).
    /// Without fields, the ones the rest of the query reads.
    Fillnull { value: String, fields: Vec<String> },
    /// `rex [field=f] "(?<name>…)"`: each named group the regex matches in the field
    /// (`_raw`, the raw record, by default) becomes a field.
    Rex { field: String, pattern: String },
    /// `bin span=S f [AS g]`: the field's number rounded down to a multiple of `span`
    /// (`_time`: seconds since the epoch, `span=1h` a time).
    Bin {
        field: String,
        span: f64,
        into: Option<String>,
    },
    /// `lookup TABLE key [AS field] [OUTPUT col [AS f], …]`: the row of the tenant's table
    /// whose `key` column holds the event's `field` value (ASCII case ignored) gives its
    /// `outputs` columns as fields (every other column without OUTPUT).
    Lookup {
        table: String,
        key: String,
        field: String,
        /// (column, field); empty: every column but the key, under its own name.
        outputs: Vec<(String, String)>,
    },
}

impl Calc {
    /// Each `now()` in the expression replaced by `seconds`.
    fn resolve_now(&mut self, seconds: f64) {
        match self {
            Calc::Call {
                function: Function::Now,
                ..
            } => *self = Calc::Number(seconds),
            Calc::Call { args, .. } => args.iter_mut().for_each(|a| a.resolve_now(seconds)),
            Calc::Not(inner) | Calc::Neg(inner) => inner.resolve_now(seconds),
            Calc::Binary { left, right, .. } => {
                left.resolve_now(seconds);
                right.resolve_now(seconds);
            }
            Calc::Field(_) | Calc::Text(_) | Calc::Number(_) => {}
        }
    }
}

/// The event's time, in seconds since the epoch, as the per-event commands read it.
pub const TIME_FIELD: &str = "_time";

/// An `eval` expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Calc {
    Field(String),
    Text(String),
    Number(f64),
    Not(Box<Calc>),
    Neg(Box<Calc>),
    Binary {
        op: BinOp,
        left: Box<Calc>,
        right: Box<Calc>,
    },
    Call {
        function: Function,
        args: Vec<Calc>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BinOp {
    Or,
    Xor,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Concat,
    Mul,
    Div,
    Mod,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "OR",
            BinOp::Xor => "XOR",
            BinOp::And => "AND",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Concat => ".",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Function {
    If,
    Case,
    Coalesce,
    IsNull,
    IsNotNull,
    Lower,
    Upper,
    Len,
    Substr,
    Replace,
    ToNumber,
    ToString,
    Round,
    Floor,
    Ceil,
    Abs,
    CidrMatch,
    Match,
    Null,
    True,
    False,
    Strftime,
    Strptime,
    Split,
    Mvcount,
    Mvindex,
    Mvjoin,
    Now,
    RelativeTime,
}

/// Every command after a pipe, as typed (the query bar completes them).
pub const COMMANDS: &[&str] = &[
    "eval",
    "lookup",
    "where",
    "search",
    "rename",
    "fillnull",
    "rex",
    "bin",
    "bucket",
    "stats",
    "top",
    "rare",
    "timechart",
    "groupbycount",
    "sort",
    "dedup",
    "table",
    "head",
    "tail",
    "fields",
];

/// Every aggregate's name, as `stats` takes it (`p50` … stand for the percentiles).
pub const AGGREGATES: &[&str] = &[
    "count",
    "dc",
    "distinct_count",
    "estdc",
    "countdistinct",
    "values",
    "sum",
    "min",
    "max",
    "avg",
    "mean",
    "range",
    "stdev",
    "stdevp",
    "var",
    "varp",
    "median",
    "p50",
    "p90",
    "p95",
    "p99",
    "percentile",
    "mode",
    "earliest",
    "latest",
    "top",
    "rare",
];

/// Each function's name and how many arguments it takes (`usize::MAX`: any number).
pub const FUNCTIONS: &[(Function, &str, usize, usize)] = &[
    (Function::If, "if", 3, 3),
    (Function::Case, "case", 2, usize::MAX),
    (Function::Coalesce, "coalesce", 1, usize::MAX),
    (Function::IsNull, "isnull", 1, 1),
    (Function::IsNotNull, "isnotnull", 1, 1),
    (Function::Lower, "lower", 1, 1),
    (Function::Upper, "upper", 1, 1),
    (Function::Len, "len", 1, 1),
    (Function::Substr, "substr", 2, 3),
    (Function::Replace, "replace", 3, 3),
    (Function::ToNumber, "tonumber", 1, 2),
    (Function::ToString, "tostring", 1, 1),
    (Function::Round, "round", 1, 2),
    (Function::Floor, "floor", 1, 1),
    (Function::Ceil, "ceil", 1, 1),
    (Function::Abs, "abs", 1, 1),
    (Function::CidrMatch, "cidrmatch", 2, 2),
    (Function::Match, "match", 2, 2),
    (Function::Null, "null", 0, 0),
    (Function::True, "true", 0, 0),
    (Function::False, "false", 0, 0),
    (Function::Strftime, "strftime", 2, 2),
    (Function::Strptime, "strptime", 2, 2),
    (Function::Split, "split", 2, 2),
    (Function::Mvcount, "mvcount", 1, 1),
    (Function::Mvindex, "mvindex", 2, 3),
    (Function::Mvjoin, "mvjoin", 2, 2),
    (Function::Now, "now", 0, 0),
    (Function::RelativeTime, "relative_time", 2, 2),
];

impl Function {
    pub fn name(self) -> &'static str {
        FUNCTIONS
            .iter()
            .find(|(f, ..)| *f == self)
            .map_or("?", |(_, name, ..)| name)
    }

    /// The argument that must be a quoted regular expression, compiled once.
    pub fn pattern_argument(self) -> Option<usize> {
        match self {
            Function::Match | Function::Replace => Some(1),
            _ => None,
        }
    }
}
