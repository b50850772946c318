//! Detection in the ingest pass: every active rule evaluated on each event as it is copied
//! into segments (or, for a file read where it is, as it is read once for the rules), with
//! the event's fields extracted once for all of them. Each rule's matches are rolled up per
//! minute of event time into a `Partial` — count, the rule's aggregates per group, a few
//! sample events — so that a rule's scheduled run merges stored minutes instead of
//! rescanning the data.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io;

use serde::{Deserialize, Serialize};
use shared_sketch::partial::MinuteRollups;
use shared_sketch::query::Summary;
use shared_sketch::{CodecError, Fields, Hit, Matcher, Partial, Query};
use xxhash_rust::xxh3::Xxh3;

use crate::convert::{Copy, Objects};
use crate::events::read_file_events;
use crate::format::{Format, event_time};
use crate::json::JsonReader;
use crate::projection::{Event, Projection, Values};
use crate::scan::{ScanOptions, open_text, time_fields};
use crate::segment::{PageBuffers, read_index, read_page};
use crate::source::Source;

/// A minute, in epoch ms: the span of one rollup.
pub const BIN_MS: i64 = 60_000;

/// Sample events a rule keeps of one file: per group and ten minutes of event time, and in
/// all. An alert shows up to 10 from the minutes of its window. Copying an event is most of
/// what a match costs (measured: sampling every match was most of the rules' cost in the
/// ingest pass), so few are copied.
const SAMPLES_PER_GROUP: u8 = 3;
const SAMPLES_PER_RULE: usize = 50;
/// The span a group's samples are counted over.
const SAMPLE_SPAN_MS: i64 = 10 * BIN_MS;

/// A rule as the ingest pass evaluates it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Watch {
    /// What its rollups compute: `filter | stats … by …` (a rule that fires per matching
    /// event is grouped by its dedup fields).
    pub query: Query,
    /// A rule that fires per event: an event without one of its `by` fields is still
    /// counted, in the group where that field is empty.
    pub per_event: bool,
    /// The fields whose values name an alert's group (`by`, or what a `top` lists): each
    /// sample carries them, and each group keeps its own samples.
    pub group: Vec<String>,
}

impl Watch {
    /// Whether `other` rolls up exactly as this does: the same filter, aggregates, groups
    /// and samples. Their `where` may differ — it is evaluated by the runs, on the merged
    /// minutes — so tiers of one count at several thresholds roll up once.
    pub fn rolls_up_as(&self, other: &Watch) -> bool {
        let (a, b) = (&self.query, &other.query);
        self.per_event == other.per_event
            && self.group == other.group
            && a.search == b.search
            && a.command == b.command
            && (&a.earliest, &a.latest) == (&b.earliest, &b.latest)
    }
}

/// One rule's rollups of one file's events: a partial per minute of event time with a
/// match, in their stored form. One read from a wire (a Lambda worker's answer) is checked
/// to hold the minutes it says before anything stores it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RollupWire")]
pub struct Rollup {
    /// The rule's place in the list the detector was made with.
    pub rule: usize,
    /// The places of the rules after it that roll up as it does (`Watch::rolls_up_as`):
    /// these are their rollups too, made once.
    pub also: Vec<usize>,
    /// The first and the last minute's start, epoch ms, and how many minutes there are.
    pub first: i64,
    pub last: i64,
    pub minutes: u64,
    /// `Vec<(minute, Partial)>`, minutes ascending, as `codec::encode_stored` writes it:
    /// what the catalog stores, made without a `Partial` per minute (`MinuteRollups`).
    pub stored: Vec<u8>,
}

/// `Rollup` as it travels, before it is checked.
#[derive(Deserialize)]
struct RollupWire {
    rule: usize,
    also: Vec<usize>,
    first: i64,
    last: i64,
    minutes: u64,
    stored: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum RollupError {
    #[error("rollups that do not decode: {0}")]
    Codec(#[from] CodecError),
    #[error("rollups said to hold {said} minutes from {first} to {last}, holding others")]
    Minutes { said: u64, first: i64, last: i64 },
}

impl TryFrom<RollupWire> for Rollup {
    type Error = RollupError;

    fn try_from(w: RollupWire) -> Result<Rollup, RollupError> {
        let partials: Vec<(i64, Partial)> = shared_sketch::codec::decode_stored(&w.stored)?;
        let starts: Vec<i64> = partials.iter().map(|(m, _)| *m).collect();
        let held = starts.windows(2).all(|m| m[0] < m[1])
            && starts.len() as u64 == w.minutes
            && (starts.is_empty()
                || (starts.first(), starts.last()) == (Some(&w.first), Some(&w.last)));
        if !held {
            return Err(RollupError::Minutes {
                said: w.minutes,
                first: w.first,
                last: w.last,
            });
        }
        Ok(Rollup {
            rule: w.rule,
            also: w.also,
            first: w.first,
            last: w.last,
            minutes: w.minutes,
            stored: w.stored,
        })
    }
}

impl Rollup {
    fn new(rule: usize, also: Vec<usize>, minutes: MinuteRollups) -> Result<Rollup, CodecError> {
        let (first, last) = minutes.span().unwrap_or_default();
        let count = minutes.len() as u64;
        let stored = minutes.encode()?;
        Ok(Rollup {
            rule,
            also,
            first,
            last,
            minutes: count,
            stored,
        })
    }

    /// Each minute's start and partial.
    pub fn partials(&self) -> Result<Vec<(i64, Partial)>, CodecError> {
        shared_sketch::codec::decode_stored(&self.stored)
    }

    /// The rollup of the minutes from `start_ms` on (none if no minute is).
    pub fn since(self, start_ms: i64) -> Result<Option<Rollup>, CodecError> {
        if self.first >= start_ms {
            return Ok(Some(self));
        }
        if self.last < start_ms {
            return Ok(None);
        }
        let kept: Vec<(i64, Partial)> = self
            .partials()?
            .into_iter()
            .filter(|(minute, _)| *minute >= start_ms)
            .collect();
        let stored = shared_sketch::codec::encode_stored(&kept)?;
        Ok(Some(Rollup {
            first: kept.first().map_or(start_ms, |(m, _)| *m),
            minutes: kept.len() as u64,
            stored,
            ..self
        }))
    }
}

/// Evaluates many rules on one file's events.
pub struct Detector<'w> {
    /// What each rollup computes once for one or more rules: the first such rule's place,
    /// and the others'. `matching`, `bins` and `sampling` are by computation.
    computed: Vec<(usize, Vec<usize>)>,
    matching: Matching<'w>,
    /// Per computation, its minutes.
    bins: Vec<MinuteRollups>,
    sampling: Vec<Sampling>,
    /// The minute of events without a time: when they arrived.
    arrival: i64,
    file: String,
}

/// Finding the rules an event matches: the rules, how to look them up, and the buffers an
/// event is read into.
struct Matching<'w> {
    rules: Vec<Compiled<'w>>,
    dispatch: Dispatch,
    /// The rules worth trying on the current event.
    candidates: Vec<usize>,
    /// A value lower-cased, to look it up in `dispatch`.
    lowered_value: Vec<u8>,
    projection: Projection,
    json: JsonReader,
    spare: Values<'static>,
    lowered: Vec<u8>,
    reads_text: bool,
}

struct Compiled<'w> {
    watch: &'w Watch,
    matcher: Matcher,
}

/// Which rules an event may match, found without trying each: a rule whose filter requires
/// `field:value` is filed under that field and value; the others are tried on every event.
/// Security rules mostly name an event type or a port, so an event meets a handful.
#[derive(Default)]
struct Dispatch {
    /// Field → lower-cased value → rules.
    keyed: Vec<(String, ByValue)>,
    always: Vec<usize>,
}

/// Lower-cased value → the rules requiring it.
type ByValue = HashMap<Vec<u8>, Vec<usize>>;

impl Dispatch {
    fn new(rules: &[Compiled<'_>]) -> Dispatch {
        let mut dispatch = Dispatch::default();
        for (i, rule) in rules.iter().enumerate() {
            let Some((field, value)) = rule.matcher.required_equality() else {
                dispatch.always.push(i);
                continue;
            };
            let at = match dispatch.keyed.iter().position(|(f, _)| f == field) {
                Some(at) => at,
                None => {
                    dispatch.keyed.push((field.to_string(), HashMap::new()));
                    dispatch.keyed.len() - 1
                }
            };
            dispatch.keyed[at]
                .1
                .entry(value.to_vec())
                .or_default()
                .push(i);
        }
        dispatch
    }

    /// Fills `out` with the rules `event` may match.
    fn candidates(&self, event: &impl Fields, lowered: &mut Vec<u8>, out: &mut Vec<usize>) {
        out.clear();
        out.extend_from_slice(&self.always);
        let mut found = 0;
        for (field, values) in &self.keyed {
            // Each element of an array is looked up (a rule matches any of them).
            event.any(field, |value| {
                lowered.clear();
                lowered.extend(value.bytes().map(|b| b.to_ascii_lowercase()));
                if let Some(rules) = values.get(lowered.as_slice()) {
                    out.extend_from_slice(rules);
                    found += 1;
                }
                false
            });
        }
        if found > 1 {
            // Two elements may name the same rule: it is evaluated once.
            out.sort_unstable();
            out.dedup();
        }
    }
}

/// One rule's samples of the file so far.
#[derive(Default)]
struct Sampling {
    /// Samples kept per group (a hash of its values) and ten minutes.
    per_group: HashMap<(u64, i64), u8>,
    kept: usize,
}

/// An event whose absent `by` fields read as empty (a per-event rule's dedup fields).
struct Defaulted<'e, E> {
    event: &'e E,
    by: &'e [String],
}

impl<E: Fields> Fields for Defaulted<'_, E> {
    fn get(&self, field: &str) -> Option<Cow<'_, str>> {
        self.event.get(field).or_else(|| {
            self.by
                .iter()
                .any(|f| f == field)
                .then_some(Cow::Borrowed(""))
        })
    }
}

impl<'w> Detector<'w> {
    /// A detector for the events of `file` (as samples name it); events without a time
    /// count at `arrival_ms`. (No rules: a detector that does nothing.)
    pub fn new(rules: &'w [Watch], file: &str, arrival_ms: i64) -> Self {
        let mut computed: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, watch) in rules.iter().enumerate() {
            match computed
                .iter_mut()
                .find(|(first, _)| rules[*first].rolls_up_as(watch))
            {
                Some((_, also)) => also.push(i),
                None => computed.push((i, Vec::new())),
            }
        }
        let rules: Vec<Compiled<'w>> = computed
            .iter()
            .map(|(first, _)| &rules[*first])
            .map(|watch| Compiled {
                watch,
                matcher: Matcher::new(watch.query.search.as_ref()),
            })
            .collect();
        let sampling = std::iter::repeat_with(Sampling::default)
            .take(rules.len())
            .collect();
        let bins = rules
            .iter()
            .map(|r| MinuteRollups::new(&r.watch.query, SAMPLES_PER_RULE as u32))
            .collect();
        let mut detector = Detector {
            computed,
            matching: Matching {
                reads_text: rules.iter().any(|r| r.matcher.reads_text()),
                dispatch: Dispatch::new(&rules),
                candidates: Vec::new(),
                lowered_value: Vec::new(),
                rules,
                projection: Projection::default(),
                json: JsonReader::default(),
                spare: Values::default(),
                lowered: Vec::new(),
            },
            bins,
            sampling,
            arrival: arrival_ms.div_euclid(BIN_MS) * BIN_MS,
            file: file.to_string(),
        };
        detector.read_time_from(&[]);
        detector
    }

    /// Events' time is read from `time_fields`, in order (the file's format says which).
    pub fn read_time_from(&mut self, time_fields: &[String]) {
        let matching = &mut self.matching;
        matching.projection = Projection::for_queries(
            matching.rules.iter().map(|r| (&r.watch.query, &r.matcher)),
            time_fields,
        );
    }

    /// Evaluates every rule on one event, a JSON object (`number` is its line or place in
    /// the file). Text that is not one is not an event: nothing matches it.
    pub fn object(&mut self, number: u64, text: &[u8]) {
        self.evaluate(number, text, None);
    }

    /// `object` for an event already parsed from `text`: ingest's segment writer parses
    /// each event once, for its index and for the rules.
    pub(crate) fn parsed(&mut self, number: u64, text: &[u8], object: &sonic_rs::Object) {
        self.evaluate(number, text, Some(object));
    }

    fn evaluate(&mut self, number: u64, text: &[u8], parsed: Option<&sonic_rs::Object>) {
        let Detector {
            computed: _,
            matching,
            bins,
            sampling,
            arrival,
            file,
        } = self;
        matching.each_match(text, parsed, |i, rule, event, time| {
            let minute = time.map_or(*arrival, |t| t.div_euclid(BIN_MS) * BIN_MS);
            let event = Defaulted {
                event,
                by: if rule.per_event { rule.query.by() } else { &[] },
            };
            bins[i].add(minute, &event, time);
            let at = (minute, time);
            if let Some(sample) = sampling[i].sample(&event, &rule.group, at, file, number, text) {
                bins[i].add_hit(minute, sample);
            }
        });
    }

    /// Whether some event summarised by `summary` (a segment page's index) may match one
    /// of the rules.
    pub fn may_match(&self, summary: &impl Summary) -> bool {
        self.matching
            .rules
            .iter()
            .any(|r| r.matcher.may_match(summary))
    }

    /// Whether it has rules to evaluate.
    pub fn has_rules(&self) -> bool {
        !self.matching.rules.is_empty()
    }

    /// How many rules the event in `text` matches, without rolling it up: what finding
    /// them costs (the matcher's benchmark). `None` when it is not a JSON object.
    pub fn count_matching(&mut self, text: &[u8]) -> Option<usize> {
        let mut matched = 0;
        let computed = &self.computed;
        let read = self.matching.each_match(text, None, |c, _, _, _| {
            matched += 1 + computed[c].1.len();
        });
        read.then_some(matched)
    }

    /// The rollups, one per rule with a match (and the rules that roll up as it does), by
    /// rule.
    pub fn finish(self) -> Result<Vec<Rollup>, CodecError> {
        self.computed
            .into_iter()
            .zip(self.bins)
            .filter(|(_, minutes)| !minutes.is_empty())
            .map(|((rule, also), minutes)| Rollup::new(rule, also, minutes))
            .collect()
    }
}

impl<'w> Matching<'w> {
    /// Reads the event in `text` (or takes it as `parsed` from it) and calls `each` with
    /// every rule it matches (its place, what it evaluates), the event and its time.
    /// `false` when the text is not a JSON object: no event, nothing matches.
    fn each_match(
        &mut self,
        text: &[u8],
        parsed: Option<&sonic_rs::Object>,
        mut each: impl FnMut(usize, &'w Watch, &Event<'_, '_>, Option<i64>),
    ) -> bool {
        if self.rules.is_empty() {
            return true;
        }
        let Matching {
            rules,
            dispatch,
            candidates,
            lowered_value,
            projection,
            json,
            spare,
            lowered,
            reads_text,
        } = self;
        let mut values = std::mem::take(spare).recycle();
        values.resize(projection.slots());
        let read = match parsed {
            Some(object) => {
                json.fill(object, projection, &mut values);
                true
            }
            None => json.read(text, projection, &mut values).is_ok(),
        };
        if read {
            if *reads_text {
                lowered.clear();
                lowered.extend(text.iter().map(u8::to_ascii_lowercase));
            }
            let event = projection.event(&values, text);
            let time = projection.time_text(&values).and_then(event_time);
            dispatch.candidates(&event, lowered_value, candidates);
            for &i in candidates.iter() {
                if rules[i].matcher.matches(&event, lowered) {
                    each(i, rules[i].watch, &event, time);
                }
            }
        }
        *spare = values.recycle();
        read
    }
}

impl Sampling {
    /// The event as a sample of its group, while the rule and the group have room. A
    /// sample's fields are its group's values, by field.
    fn sample(
        &mut self,
        event: &impl Fields,
        by: &[String],
        (minute, time): (i64, Option<i64>),
        file: &str,
        line: u64,
        text: &[u8],
    ) -> Option<Hit> {
        if self.kept >= SAMPLES_PER_RULE {
            return None;
        }
        // The group, hashed: its values are copied only for a sample that is kept.
        let mut hasher = Xxh3::new();
        for field in by {
            let value = event.get(field)?;
            hasher.update(value.as_bytes());
            hasher.update(&[0xff]); // not in UTF-8: values cannot run together
        }
        let span = minute.div_euclid(SAMPLE_SPAN_MS);
        let kept = self.per_group.entry((hasher.digest(), span)).or_insert(0);
        if *kept >= SAMPLES_PER_GROUP {
            return None;
        }
        *kept += 1;
        self.kept += 1;
        let key: Vec<String> = by
            .iter()
            .filter_map(|f| event.get(f).map(Cow::into_owned))
            .collect();
        Some(Hit {
            time,
            file: file.to_string(),
            line,
            text: String::from_utf8_lossy(text).into_owned(),
            truncated: false,
            fields: by.iter().cloned().zip(key).collect(),
        })
    }
}

impl Objects for Detector<'_> {
    fn object(&mut self, number: u64, json: &[u8]) -> io::Result<()> {
        Detector::object(self, number, json);
        Ok(())
    }

    fn malformed(&mut self) {}
}

/// Evaluates `rules` on the events of a file read where it is (not copied into segments):
/// its rollups, as ingest would have made them, and the error that stopped the reading
/// part-way, if one did (what was read before it is kept). `name` names the file in samples.
pub fn detect_file(
    source: impl Into<Source>,
    name: &str,
    rules: &[Watch],
    options: &ScanOptions,
    arrival_ms: i64,
) -> (Vec<Rollup>, Option<io::Error>) {
    let source = source.into();
    let mut detector = Detector::new(rules, name, arrival_ms);
    let read = open_text(&source).and_then(|mut text| {
        let format = options.format_of(&mut text)?;
        detector.read_time_from(&time_fields(format, options));
        if format == Format::Text {
            return Ok(());
        }
        read_file_events(text, format, name, &mut Copy::new(format, &mut detector))
    });
    finished(detector, read)
}

/// `detect_file` for a segment ingest wrote, reading only the pages its index cannot rule
/// out for every rule: its rollups, the error that stopped the reading part-way, and how
/// many pages were skipped unread. Its events' times are read from the fields its index
/// says ingest read them from (a VPC row's `start`), unless the options name one. Without
/// a readable index the segment is read whole, as the gzip NDJSON file it is.
pub fn detect_segment(
    source: impl Into<Source>,
    name: &str,
    rules: &[Watch],
    options: &ScanOptions,
    arrival_ms: i64,
) -> (Vec<Rollup>, Option<io::Error>, u64) {
    let source = source.into();
    let index = match read_index(&source) {
        Ok(index) => index,
        Err(e) => {
            tracing::warn!(segment = name, error = %e, "unreadable index: reading the segment whole");
            let (rollups, error) = detect_file(source, name, rules, options, arrival_ms);
            return (rollups, error, 0);
        }
    };
    let mut detector = Detector::new(rules, name, arrival_ms);
    detector.read_time_from(&index.time_fields_read(options));
    let (mut buffers, mut skipped) = (PageBuffers::default(), 0);
    let read = index.pages.iter().try_for_each(|page| {
        // Events no rule can match add nothing to any rollup.
        if !detector.may_match(&index.summary(page)) {
            skipped += 1;
            return Ok(());
        }
        read_page(
            &source,
            page,
            &mut buffers,
            &mut Copy::new(Format::Ndjson, &mut detector),
        )
    });
    let (rollups, error) = finished(detector, read);
    (rollups, error, skipped)
}

/// The detector's rollups, and the error that stopped its reading part-way, if one did.
fn finished(detector: Detector<'_>, read: io::Result<()>) -> (Vec<Rollup>, Option<io::Error>) {
    match detector.finish() {
        Ok(rollups) => (rollups, read.err()),
        Err(e) => (Vec::new(), Some(io::Error::other(e))),
    }
}

#[cfg(test)]
mod tests {
    use shared_sketch::{AggValue, parse};

    use super::*;

    /// A rollup per rule and minute, as (rule, the rules it also is, minute, partial).
    struct Minute {
        rule: usize,
        also: Vec<usize>,
        minute: i64,
        partial: Partial,
    }

    fn by_minute(rollups: Result<Vec<Rollup>, CodecError>) -> Vec<Minute> {
        let mut minutes = Vec::new();
        for rollup in rollups.expect("encodes") {
            let partials = rollup.partials().expect("decodes");
            assert_eq!(partials.len() as u64, rollup.minutes);
            assert_eq!(partials.first().map(|p| p.0), Some(rollup.first));
            assert_eq!(partials.last().map(|p| p.0), Some(rollup.last));
            for (minute, partial) in partials {
                let (rule, also) = (rollup.rule, rollup.also.clone());
                minutes.push(Minute {
                    rule,
                    also,
                    minute,
                    partial,
                });
            }
        }
        minutes
    }

    fn watch(query: &str, per_event: bool) -> Watch {
        let query = parse(query).expect("parses");
        Watch {
            group: query.by().to_vec(),
            query,
            per_event,
        }
    }

    #[test]
    fn each_rule_rolls_up_its_matches_per_minute_of_event_time() {
        let rules = [
            watch("dst_port:22 | stats count by src_ip", false),
            watch("action:REJECT | stats count by user", true),
        ];
        let mut detector = Detector::new(&rules, "f.json", 0);
        detector.read_time_from(&["ts".to_string()]);
        let events = [
            r#"{"ts": 60, "src_ip": "a", "dst_port": 22}"#,
            r#"{"ts": 61, "src_ip": "a", "dst_port": 22, "action": "REJECT"}"#,
            r#"{"ts": 125, "src_ip": "b", "dst_port": 22}"#,
            r#"{"ts": 126, "src_ip": "b", "dst_port": 80}"#,
            "not json",
        ];
        for (i, e) in events.iter().enumerate() {
            detector.object(i as u64 + 1, e.as_bytes());
        }
        let rollups = by_minute(detector.finish());
        let keys: Vec<(usize, i64, u64)> = rollups
            .iter()
            .map(|r| (r.rule, r.minute, r.partial.matched()))
            .collect();
        assert_eq!(keys, [(0, 60_000, 2), (0, 120_000, 1), (1, 60_000, 1)]);
        // The per-event rule's event has no `user`: counted in the empty group.
        let reject = &rollups[2].partial;
        let result = reject.result(&rules[1].query);
        let groups = result.groups.expect("grouped");
        assert_eq!(groups.rows[0].key, [""]);
        assert_eq!(reject.hits.len(), 1);
        assert_eq!(reject.hits[0].line, 2);
        let first = rollups[0].partial.result(&rules[0].query);
        let row = &first.groups.expect("grouped").rows[0];
        assert_eq!(row.key, ["a"]);
        assert!(matches!(row.aggs[0].value, AggValue::Count { value: 2 }));
    }

    #[test]
    fn rules_that_differ_only_in_their_where_roll_up_once_as_each_would_alone() {
        let rules = [
            watch(
                "dst_port:22 | stats count by src_ip | where count > 1",
                false,
            ),
            watch(
                "dst_port:80 | stats count by src_ip | where count > 1",
                false,
            ),
            watch(
                "dst_port:22 | stats count by src_ip | where count > 5",
                false,
            ),
            watch("dst_port:22 | stats count by src_ip, dst_ip", false),
            watch("dst_port:22 | stats count by src_ip", false),
        ];
        let events: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    r#"{{"ts": {}, "src_ip": "10.0.0.{}", "dst_ip": "10.0.1.{}", "dst_port": {}}}"#,
                    i * 7,
                    i % 3,
                    i % 2,
                    [22, 80][i % 2]
                )
            })
            .collect();
        let detect = |rules: &[Watch]| {
            let mut detector = Detector::new(rules, "f.json", 0);
            detector.read_time_from(&["ts".to_string()]);
            for (i, e) in events.iter().enumerate() {
                detector.object(i as u64, e.as_bytes());
            }
            by_minute(detector.finish())
        };
        let together = detect(&rules);
        let made: Vec<(usize, &[usize])> = together
            .iter()
            .map(|r| (r.rule, r.also.as_slice()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(made, [(0, &[2, 4][..]), (1, &[]), (3, &[])]);
        for (i, rule) in rules.iter().enumerate() {
            let alone = detect(std::slice::from_ref(rule));
            let shared: Vec<&Minute> = together
                .iter()
                .filter(|r| r.rule == i || r.also.contains(&i))
                .collect();
            assert_eq!(alone.len(), shared.len(), "rule {i}");
            for (a, b) in alone.iter().zip(shared) {
                assert_eq!(a.minute, b.minute);
                let bytes = |p: &Partial| shared_sketch::codec::encode_stored(p).expect("encodes");
                assert_eq!(bytes(&a.partial), bytes(&b.partial), "rule {i}");
            }
        }
    }

    #[test]
    fn a_rollup_since_a_minute_keeps_the_minutes_from_it_on() {
        let rules = [watch("dst_port:22 | stats count by src_ip", false)];
        let mut detector = Detector::new(&rules, "f.json", 0);
        detector.read_time_from(&["ts".to_string()]);
        for (i, ts) in [61, 125, 130, 250].iter().enumerate() {
            let event = format!(r#"{{"ts": {ts}, "src_ip": "a", "dst_port": 22}}"#);
            detector.object(i as u64 + 1, event.as_bytes());
        }
        let rollup = detector.finish().expect("encodes").remove(0);
        assert_eq!(
            (rollup.first, rollup.last, rollup.minutes),
            (60_000, 240_000, 3)
        );
        let counts = |rollup: Option<Rollup>| -> Vec<(i64, u64)> {
            let rollup = rollup.expect("a minute is kept");
            let partials = rollup.partials().expect("decodes");
            assert_eq!(partials.len() as u64, rollup.minutes);
            assert_eq!(partials[0].0, rollup.first);
            partials.iter().map(|(m, p)| (*m, p.matched())).collect()
        };
        let since = |ms| rollup.clone().since(ms).expect("decodes");
        assert_eq!(counts(since(0)), [(60_000, 1), (120_000, 2), (240_000, 1)]);
        assert_eq!(counts(since(120_000)), [(120_000, 2), (240_000, 1)]);
        assert_eq!(counts(since(180_000)), [(240_000, 1)]);
        assert!(since(240_001).is_none());
    }

    #[test]
    fn a_rollup_from_a_wire_must_hold_the_minutes_it_says() {
        let rules = [watch("dst_port:22 | stats count by src_ip", false)];
        let mut detector = Detector::new(&rules, "f.json", 0);
        detector.read_time_from(&["ts".to_string()]);
        for (i, ts) in [61, 125].iter().enumerate() {
            let event = format!(r#"{{"ts": {ts}, "src_ip": "a", "dst_port": 22}}"#);
            detector.object(i as u64 + 1, event.as_bytes());
        }
        let rollup = detector.finish().expect("encodes").remove(0);
        let travel = |rollup: &Rollup| {
            let bytes = shared_sketch::encode(rollup).expect("encodes");
            shared_sketch::decode::<Rollup>(&bytes).map(|r| r.minutes)
        };
        assert_eq!(travel(&rollup).expect("a true rollup reads back"), 2);
        let said_more = Rollup {
            minutes: 3,
            ..rollup.clone()
        };
        let moved = Rollup {
            first: 0,
            ..rollup.clone()
        };
        let mut cut = rollup.clone();
        cut.stored.truncate(cut.stored.len() - 3);
        for bad in [said_more, moved, cut] {
            assert!(travel(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_file_read_where_it_is_rolls_up_as_ingest_would() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("flows.log");
        std::fs::write(
            &path,
            "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
             2 1 eni-1 10.0.0.1 10.0.0.2 5000 22 6 1 60 1794700800 1794700860 REJECT OK\n",
        )
        .expect("write");
        let rules = [watch(
            "dst_port:22 action:REJECT | stats count by src_ip",
            false,
        )];
        let (rollups, error) = detect_file(path, "flows.log", &rules, &ScanOptions::default(), 0);
        assert!(error.is_none());
        let rollups = by_minute(Ok(rollups));
        assert_eq!(rollups.len(), 1);
        assert_eq!(rollups[0].minute, 1_794_700_800_000);
        assert_eq!(rollups[0].partial.hits[0].file, "flows.log");
        assert_eq!(rollups[0].partial.hits[0].line, 2);
    }

    /// An event as a JSON object, read without the scan's machinery.
    struct Plain(serde_json::Map<String, serde_json::Value>);

    impl Fields for Plain {
        fn get(&self, field: &str) -> Option<Cow<'_, str>> {
            match self.0.get(field)? {
                serde_json::Value::String(s) => Some(Cow::Borrowed(s)),
                other => Some(Cow::Owned(other.to_string())),
            }
        }
    }

    #[test]
    fn looking_rules_up_by_value_matches_what_trying_each_rule_matches() {
        let queries = [
            "dst_port:22",
            "dst_port:443 action:ACCEPT",
            "action:reject",
            "ACTION:REJECT dst_port:22",
            "dst_port:2*",
            "dst_port:22 OR dst_port:80",
            "NOT action:ACCEPT",
            "bytes>1000",
            "proto:tcp bytes>1000",
        ];
        let rules: Vec<Watch> = queries
            .iter()
            .map(|q| watch(&format!("{q} | stats count"), false))
            .collect();
        let mut events = Vec::new();
        for i in 0..500u32 {
            let port = [22, 80, 443, 23, 2222][(i % 5) as usize];
            let action = ["ACCEPT", "REJECT", "Reject"][(i % 3) as usize];
            let proto = if i % 7 == 0 { "TCP" } else { "udp" };
            events.push(format!(
                r#"{{"ts": {i}, "dst_port": {port}, "action": "{action}", "bytes": {}, "proto": "{proto}"}}"#,
                i * 13 % 3000
            ));
        }
        let mut detector = Detector::new(&rules, "f", 0);
        detector.read_time_from(&["ts".to_string()]);
        for (i, e) in events.iter().enumerate() {
            detector.object(i as u64, e.as_bytes());
        }
        let mut counted = vec![0u64; rules.len()];
        for rollup in by_minute(detector.finish()) {
            counted[rollup.rule] += rollup.partial.matched();
        }
        for (r, rule) in rules.iter().enumerate() {
            let matcher = Matcher::new(rule.query.search.as_ref());
            let expected = events
                .iter()
                .filter(|e| {
                    let serde_json::Value::Object(o) = serde_json::from_str(e).unwrap() else {
                        unreachable!()
                    };
                    matcher.matches(&Plain(o), b"")
                })
                .count() as u64;
            assert_eq!(counted[r], expected, "{}", queries[r]);
        }
    }
}
