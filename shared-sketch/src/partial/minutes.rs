//! A query's partials per minute of event time over one file's matches, as detection rules
//! roll them up in the ingest pass, written in the stored form of `Vec<(minute, Partial)>`
//! without a `Partial` ever being built per minute.
//!
//! Why not an `Aggregator` per minute: a rule's matches mostly each make a new group in
//! their minute (one flow from one source), and as a `Group` each is a handful of heap
//! objects built, encoded and freed — most of what 100 rules cost ingest (measured,
//! docs/BENCHMARKS.md). Here a group seen once is a few spans of one text buffer, made into
//! a `Group` (in one reused scratch) only while it is written; a group seen twice becomes a
//! `Group` and is added to as an `Aggregator` would. The bytes are those of the partials an
//! `Aggregator` per minute makes (the tests compare them), so stored rollups read as before.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use super::aggregator::recycle;
use super::hits::{Hit, HitRank, newest};
use super::merge::Partial;
use super::stats::ScanStats;
use crate::aggregate::{Group, Groups, TimeSeries, key_hash};
use crate::codec::{CodecError, encode_stored};
use crate::limits::MAX_GROUPS;
use crate::query::{Agg, Fields, Query};

/// A query's matches per minute: `add` each, then `encode`.
pub struct MinuteRollups {
    aggs: Vec<Agg>,
    by: Vec<String>,
    /// An empty group of the query's shape (as `Partial::new` makes `all`).
    template: Group,
    hit_limit: u32,
    minutes: Vec<Minute>,
    /// Minute start → place in `minutes`; the last one used is tried first, as a file's
    /// events mostly come in time order.
    at: HashMap<i64, usize>,
    last: Option<usize>,
    /// (place of the minute, key hash) → place in `cells`.
    lookup: HashMap<(usize, u64), usize, BuildHasherDefault<Prehashed>>,
    cells: Vec<Cell>,
    /// The key values of every cell, and the aggregates' values of a cell's one event,
    /// as spans of `text`: an absent value is `ABSENT`.
    spans: Vec<(usize, usize)>,
    text: String,
    spare_values: Vec<Option<Cow<'static, str>>>,
    spare_key: Vec<Cow<'static, str>>,
    spare_fill: RefCell<Vec<Option<Cow<'static, str>>>>,
    /// A cell seen once, made a `Group` to be written.
    scratch: RefCell<Group>,
    /// What every minute's partial holds of these (the minute is its time, so its
    /// timeline would only be stored and merged).
    timeline: TimeSeries,
    stats: ScanStats,
}

const ABSENT: (usize, usize) = (usize::MAX, usize::MAX);

struct Minute {
    start: i64,
    all: Group,
    /// Events whose key hashes as another key does (as `Groups` counts them).
    other: Option<Group>,
    /// Cells in this minute, while it has at most `MAX_GROUPS`.
    cells: usize,
    /// Its groups once there are more than `MAX_GROUPS`: from then on they are kept as
    /// any partial keeps them, a consistent sample.
    groups: Option<Groups>,
    hits: Vec<Hit>,
}

struct Cell {
    minute: usize,
    hash: u64,
    /// Its key values at `spans[at..]`, then (while `One`) the values of its one event.
    at: usize,
    state: State,
}

enum State {
    One {
        time: Option<i64>,
    },
    Many(Box<Group>),
    /// Moved into its minute's `groups`.
    Moved,
}

/// The key of `lookup` is already a hash: it is mixed, not hashed again. (In memory only:
/// nothing stored depends on it.)
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 ^= (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

impl MinuteRollups {
    /// Rollups of `query` (its time bounds taken as open), each minute keeping up to
    /// `hit_limit` of the hits given it.
    pub fn new(query: &Query, hit_limit: u32) -> MinuteRollups {
        let template = Partial::new(query).all;
        MinuteRollups {
            aggs: query.aggs(),
            by: query.by().to_vec(),
            scratch: RefCell::new(template.clone()),
            template,
            hit_limit,
            minutes: Vec::new(),
            at: HashMap::new(),
            last: None,
            lookup: HashMap::default(),
            cells: Vec::new(),
            spans: Vec::new(),
            text: String::new(),
            spare_values: Vec::new(),
            spare_key: Vec::new(),
            spare_fill: RefCell::default(),
            timeline: TimeSeries::new(None, (None, None)),
            stats: ScanStats::default(),
        }
    }

    /// No minute has a match.
    pub fn is_empty(&self) -> bool {
        self.minutes.is_empty()
    }

    /// Minutes with a match.
    pub fn len(&self) -> usize {
        self.minutes.len()
    }

    /// The first and last minute with a match.
    pub fn span(&self) -> Option<(i64, i64)> {
        let starts = self.minutes.iter().map(|m| m.start);
        Some((starts.clone().min()?, starts.max()?))
    }

    fn minute(&mut self, start: i64) -> usize {
        if let Some(i) = self.last
            && self.minutes[i].start == start
        {
            return i;
        }
        let minutes = &mut self.minutes;
        let template = &self.template;
        let i = *self.at.entry(start).or_insert_with(|| {
            minutes.push(Minute {
                start,
                all: template.clone(),
                other: None,
                cells: 0,
                groups: None,
                hits: Vec::new(),
            });
            minutes.len() - 1
        });
        self.last = Some(i);
        i
    }

    /// One matching event of the minute starting at `minute` (epoch ms), at `time`.
    pub fn add(&mut self, minute: i64, event: &impl Fields, time: Option<i64>) {
        let m = self.minute(minute);
        let mut values = recycle(std::mem::take(&mut self.spare_values));
        values.extend(self.aggs.iter().map(|agg| agg.value(event)));
        self.minutes[m]
            .all
            .add(&values, time, &self.template.totals);
        if !self.by.is_empty() {
            let mut key = recycle_key(std::mem::take(&mut self.spare_key));
            // Like Splunk: an event without every `by` field is in no group.
            if self
                .by
                .iter()
                .all(|f| event.get(f).map(|v| key.push(v)).is_some())
            {
                self.add_to_group(m, &key, &values, time);
            }
            self.spare_key = recycle_key(key);
        }
        self.spare_values = recycle(values);
    }

    fn add_to_group(
        &mut self,
        m: usize,
        key: &[Cow<'_, str>],
        values: &[Option<Cow<'_, str>>],
        time: Option<i64>,
    ) {
        let template = &self.template;
        let minute = &mut self.minutes[m];
        if let Some(groups) = &mut minute.groups {
            groups.add(key, values, time, template);
            return;
        }
        let hash = key_hash(key);
        if let Some(&c) = self.lookup.get(&(m, hash)) {
            let cell = &self.cells[c];
            let (at, state) = (cell.at, &cell.state);
            let same = self.spans[at..at + key.len()]
                .iter()
                .zip(key)
                .all(|(&(a, b), k)| self.text[a..b] == **k);
            if !same {
                // Two keys with one hash: the later one is "other", as in `Groups`.
                let other = minute.other.get_or_insert_with(|| template.clone());
                other.add(values, time, &template.totals);
                return;
            }
            if let State::One { time: first } = *state {
                let group = self.one_as_group(at, first);
                self.cells[c].state = State::Many(Box::new(group));
            }
            if let State::Many(group) = &mut self.cells[c].state {
                group.add(values, time, &self.template.totals);
            }
            return;
        }
        if minute.cells >= MAX_GROUPS {
            self.spill(m);
            if let Some(groups) = &mut self.minutes[m].groups {
                groups.add(key, values, time, &self.template);
            }
            return;
        }
        minute.cells += 1;
        let at = self.spans.len();
        for part in key {
            push_span(&mut self.spans, &mut self.text, Some(part));
        }
        for value in values {
            push_span(&mut self.spans, &mut self.text, value.as_ref());
        }
        self.lookup.insert((m, hash), self.cells.len());
        self.cells.push(Cell {
            minute: m,
            hash,
            at,
            state: State::One { time },
        });
    }

    /// The cell at `spans[at..]`, seen once at `time`, as a `Group`.
    fn one_as_group(&self, at: usize, time: Option<i64>) -> Group {
        let mut group = self.template.clone();
        self.fill(&mut group, at, time);
        group
    }

    /// Makes `group` (of the template's shape) the group of the one event at `spans[at..]`.
    fn fill(&self, group: &mut Group, at: usize, time: Option<i64>) {
        let (key, rest) = self.spans[at..].split_at(self.by.len());
        group.key.truncate(key.len());
        for (i, span) in key.iter().enumerate() {
            let part = self.span_text(*span).unwrap_or_default();
            match group.key.get_mut(i) {
                Some(k) => {
                    k.clear();
                    k.push_str(part);
                }
                None => group.key.push(part.to_string()),
            }
        }
        group.totals.matched = 0;
        for (state, blank) in group
            .totals
            .states
            .iter_mut()
            .zip(&self.template.totals.states)
        {
            state.clone_from(blank);
        }
        group.series.clone_from(&self.template.series);
        let mut values = recycle(self.spare_fill.take());
        values.extend(
            rest[..self.aggs.len()]
                .iter()
                .map(|span| self.span_text(*span).map(Cow::Borrowed)),
        );
        group.add(&values, time, &self.template.totals);
        self.spare_fill.replace(recycle(values));
    }

    fn span_text(&self, (a, b): (usize, usize)) -> Option<&str> {
        ((a, b) != ABSENT).then(|| &self.text[a..b])
    }

    /// Minute `m` reached `MAX_GROUPS` and meets another key: its cells become the named
    /// groups of a `Groups`, which is then exactly what adding its events to one would
    /// have made (none was folded into "other" before there were more).
    fn spill(&mut self, m: usize) {
        let mut named = BTreeMap::new();
        for c in 0..self.cells.len() {
            if self.cells[c].minute != m {
                continue;
            }
            let group = match std::mem::replace(&mut self.cells[c].state, State::Moved) {
                State::One { time } => self.one_as_group(self.cells[c].at, time),
                State::Many(group) => *group,
                State::Moved => continue,
            };
            named.insert(self.cells[c].hash, group);
        }
        let minute = &mut self.minutes[m];
        let other = minute.other.take().unwrap_or_else(|| self.template.clone());
        minute.groups = Some(Groups::from_named(named, other));
    }

    /// A sample event of the minute starting at `minute`; each minute keeps the newest
    /// `hit_limit` of its samples, as `Partial::add_hits` would.
    pub fn add_hit(&mut self, minute: i64, hit: Hit) {
        let m = self.minute(minute);
        self.minutes[m].hits.push(hit);
    }

    /// The rollups, minute by minute in time order, in the stored form of
    /// `Vec<(i64, Partial)>` (`codec::encode_stored`).
    pub fn encode(mut self) -> Result<Vec<u8>, CodecError> {
        for minute in &mut self.minutes {
            let mut hits: Vec<Hit> = std::mem::take(&mut minute.hits)
                .into_iter()
                .map(Hit::cut)
                .collect();
            hits.sort();
            minute.hits = newest(Vec::new(), &hits, self.hit_limit as usize);
        }
        // Each minute's named groups, by hash as a `Groups` keeps them.
        let mut named: Vec<Vec<usize>> = vec![Vec::new(); self.minutes.len()];
        for (c, cell) in self.cells.iter().enumerate() {
            if !matches!(cell.state, State::Moved) {
                named[cell.minute].push(c);
            }
        }
        for cells in &mut named {
            cells.sort_unstable_by_key(|&c| self.cells[c].hash);
        }
        let mut order: Vec<usize> = (0..self.minutes.len()).collect();
        order.sort_unstable_by_key(|&m| self.minutes[m].start);
        encode_stored(&Stored {
            rollups: &self,
            order: &order,
            named: &named,
        })
    }
}

fn recycle_key(mut key: Vec<Cow<'_, str>>) -> Vec<Cow<'static, str>> {
    key.clear();
    key.into_iter().map(|_| Cow::Borrowed("")).collect()
}

fn push_span(spans: &mut Vec<(usize, usize)>, text: &mut String, value: Option<&Cow<'_, str>>) {
    spans.push(match value {
        Some(value) => {
            let start = text.len();
            text.push_str(value);
            (start, text.len())
        }
        None => ABSENT,
    });
}

/// The rollups as `Vec<(i64, Partial)>` serializes.
struct Stored<'a> {
    rollups: &'a MinuteRollups,
    order: &'a [usize],
    named: &'a [Vec<usize>],
}

impl Serialize for Stored<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rollups = self.rollups;
        let mut seq = serializer.serialize_seq(Some(self.order.len()))?;
        for &m in self.order {
            let minute = &rollups.minutes[m];
            let groups = (!rollups.by.is_empty()).then_some(GroupsOut {
                rollups,
                minute,
                named: &self.named[m],
            });
            // `Partial`'s fields, in its order.
            let partial = PartialOut {
                all: &minute.all,
                groups,
                timeline: &rollups.timeline,
                hit_limit: rollups.hit_limit,
                hits: &minute.hits,
                stats: &rollups.stats,
                hit_rank: &HitRank::default(),
            };
            seq.serialize_element(&(minute.start, partial))?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct PartialOut<'a> {
    all: &'a Group,
    groups: Option<GroupsOut<'a>>,
    timeline: &'a TimeSeries,
    hit_limit: u32,
    hits: &'a [Hit],
    stats: &'a ScanStats,
    hit_rank: &'a HitRank,
}

/// A minute's `Groups` as it serializes.
struct GroupsOut<'a> {
    rollups: &'a MinuteRollups,
    minute: &'a Minute,
    named: &'a [usize],
}

impl Serialize for GroupsOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(groups) = &self.minute.groups {
            return groups.serialize(serializer);
        }
        let other = self.minute.other.as_ref();
        // `Groups`' fields, in its order: named, other, threshold (none was folded).
        let mut fields = serializer.serialize_struct("Groups", 3)?;
        fields.serialize_field("named", &NamedOut(self))?;
        fields.serialize_field("other", other.unwrap_or(&self.rollups.template))?;
        fields.serialize_field("threshold", &None::<u64>)?;
        fields.end()
    }
}

/// `Groups::named`, a map from hash to group, as it serializes.
struct NamedOut<'a, 'b>(&'b GroupsOut<'a>);

impl Serialize for NamedOut<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let rollups = self.0.rollups;
        let mut map = serializer.serialize_map(Some(self.0.named.len()))?;
        for &c in self.0.named {
            let cell = &rollups.cells[c];
            map.serialize_key(&cell.hash)?;
            match &cell.state {
                State::Many(group) => map.serialize_value(group.as_ref())?,
                State::One { time } => {
                    let mut scratch = rollups.scratch.borrow_mut();
                    rollups.fill(&mut scratch, cell.at, *time);
                    map.serialize_value(&*scratch)?;
                }
                State::Moved => {}
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_stored, encode_stored};
    use crate::partial::Aggregator;
    use crate::query::parse;

    struct Event(Vec<(&'static str, String)>);

    impl Fields for Event {
        fn get(&self, field: &str) -> Option<Cow<'_, str>> {
            self.0
                .iter()
                .find(|(k, _)| *k == field)
                .map(|(_, v)| Cow::Borrowed(v.as_str()))
        }
    }

    /// Events over a few minutes: sources seen once and sources seen often, a burst of
    /// more than `MAX_GROUPS` sources in one minute, events without a `by` field or time.
    fn events() -> Vec<(i64, Option<i64>, Event)> {
        let mut events = Vec::new();
        let mut x: u64 = 7;
        for i in 0..6_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let minute = if (2_000..3_200).contains(&i) {
                3
            } else {
                ((x >> 33) % 40) as i64
            };
            let src = if i % 3 == 0 {
                format!("10.0.{}.{}", (x >> 20) % 4, (x >> 12) % 8)
            } else {
                format!("192.168.{}.{}", (x >> 40) % 250, (x >> 24) % 250)
            };
            let mut fields = vec![
                ("src_ip", src),
                ("dst_port", ((x >> 8) % 40).to_string()),
                ("bytes", ((x >> 16) % 100_000).to_string()),
            ];
            if i % 17 == 0 {
                fields.retain(|(k, _)| *k != "dst_port");
            }
            if i % 29 == 0 {
                fields.retain(|(k, _)| *k != "src_ip");
            }
            let start = 1_800_000_000_000 + minute * 60_000;
            let time = (i % 31 != 0).then_some(start + (x >> 50) as i64 % 60_000);
            events.push((start, time, Event(fields)));
        }
        events
    }

    /// What the detector stored before: an `Aggregator` per minute, its timeline emptied.
    fn by_aggregators(query: &Query, events: &[(i64, Option<i64>, Event)]) -> Vec<u8> {
        let mut minutes: BTreeMap<i64, (Aggregator, Vec<Hit>)> = BTreeMap::new();
        for (i, (minute, time, event)) in events.iter().enumerate() {
            let (aggregator, hits) = minutes
                .entry(*minute)
                .or_insert_with(|| (Aggregator::new(query), Vec::new()));
            aggregator.add(event, *time);
            if i % 5 == 0 {
                hits.push(Hit::new("f", i as u64, &"x".repeat(i % 7)));
            }
        }
        let partials: Vec<(i64, Partial)> = minutes
            .into_iter()
            .map(|(minute, (aggregator, hits))| {
                let mut partial = aggregator.finish();
                partial.timeline = TimeSeries::new(None, (None, None));
                partial.hit_limit = 4;
                partial.add_hits(hits);
                (minute, partial)
            })
            .collect();
        encode_stored(&partials).unwrap()
    }

    fn by_rollups(query: &Query, events: &[(i64, Option<i64>, Event)]) -> Vec<u8> {
        let mut rollups = MinuteRollups::new(query, 4);
        for (i, (minute, time, event)) in events.iter().enumerate() {
            rollups.add(*minute, event, *time);
            if i % 5 == 0 {
                rollups.add_hit(*minute, Hit::new("f", i as u64, &"x".repeat(i % 7)));
            }
        }
        rollups.encode().unwrap()
    }

    #[test]
    fn stores_the_bytes_an_aggregator_per_minute_stores() {
        let events = events();
        for text in [
            "* | stats count by src_ip",
            "* | stats dc(dst_port) by src_ip",
            "* | stats count, sum(bytes), p99(bytes), dc(dst_port) by src_ip, dst_port",
            "* | stats count, dc(src_ip)",
            "* | top 3 dst_port by src_ip",
            "* | timechart span=10s count by src_ip",
        ] {
            let query = parse(text).unwrap();
            let expected = by_aggregators(&query, &events);
            assert_eq!(by_rollups(&query, &events), expected, "{text}");
            let decoded: Vec<(i64, Partial)> = decode_stored(&expected).unwrap();
            assert_eq!(decoded.len(), 40, "{text}");
            if !query.by().is_empty() {
                let burst = decoded[3].1.groups.as_ref().unwrap();
                assert!(
                    !burst.complete(),
                    "{text}: the burst overflows the named groups"
                );
                let calm = decoded[0].1.groups.as_ref().unwrap();
                assert!(calm.complete(), "{text}");
            }
        }
    }

    #[test]
    fn nothing_added_stores_no_minutes() {
        let query = parse("* | stats count by src_ip").unwrap();
        let rollups = MinuteRollups::new(&query, 4);
        assert!(rollups.is_empty());
        assert_eq!(rollups.span(), None);
        let decoded: Vec<(i64, Partial)> = decode_stored(&rollups.encode().unwrap()).unwrap();
        assert!(decoded.is_empty());
    }
}
