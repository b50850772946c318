//! Which fields one scan reads, fixed before the first event: readers extract only these
//! (the JSON reader picks them out of the parsed object, a column reader cuts only these
//! columns), and an event is a row of slots, one per source field name.

use std::borrow::Cow;
use std::ops::{Index, IndexMut};

use shared_sketch::partial::recycle;
use shared_sketch::query::aliases;
use shared_sketch::{Agg, Fields, Matcher, Query};

/// One event's values: by slot, `None` where the event lacks the field or holds an array
/// in it; and the elements of its arrays, by slot.
#[derive(Default)]
pub(crate) struct Values<'a> {
    slots: Vec<Option<Cow<'a, str>>>,
    /// `(slot, element)`, in the record's order; empty for most events.
    elements: Vec<(usize, Cow<'a, str>)>,
}

impl<'a> Values<'a> {
    /// `n` empty slots.
    pub fn resize(&mut self, n: usize) {
        self.slots.resize(n, None);
    }

    /// An element of the array in `slot`.
    pub fn push_element(&mut self, slot: usize, element: Cow<'a, str>) {
        self.elements.push((slot, element));
    }

    pub fn slots(&self) -> &[Option<Cow<'a, str>>] {
        &self.slots
    }

    /// Empty buffers with these allocations, for values of another lifetime (the scan
    /// reuses one event's buffers for the next).
    pub fn recycle<'b>(self) -> Values<'b> {
        let mut elements = self.elements;
        elements.clear();
        Values {
            slots: recycle(self.slots),
            elements: elements
                .into_iter()
                .map(|(s, _)| (s, Cow::Borrowed("")))
                .collect(),
        }
    }
}

impl<'a> Index<usize> for Values<'a> {
    type Output = Option<Cow<'a, str>>;

    fn index(&self, slot: usize) -> &Self::Output {
        &self.slots[slot]
    }
}

impl IndexMut<usize> for Values<'_> {
    fn index_mut(&mut self, slot: usize) -> &mut Self::Output {
        &mut self.slots[slot]
    }
}

/// The fields a scan reads (its projection, in database terms) and where each is kept.
#[derive(Default)]
pub(crate) struct Projection {
    /// Slot → the source field name it holds.
    names: Vec<String>,
    /// A name the query uses → its slots: its own name first, then its aliases.
    lookups: Vec<(String, Vec<usize>)>,
    /// Slots holding the event's time, tried in order.
    time: Vec<usize>,
    /// Every proper dotted prefix of a slot name (`userIdentity` for `userIdentity.arn`):
    /// the JSON objects worth descending into.
    prefixes: Vec<String>,
    /// A bit per (length, first byte, last byte) signature of the slot names: most keys
    /// of an event are not wanted, and this rules them out without comparing names.
    signatures: [u64; SIGNATURE_WORDS],
    /// Column formats fill a slot per column, whatever its name (ingest converting rows).
    every_column: bool,
}

const SIGNATURE_WORDS: usize = 1024 / 64;

fn signature(name: &[u8]) -> usize {
    let (first, last) = match name {
        [] => (0, 0),
        [first, .., last] => (*first, *last),
        [only] => (*only, *only),
    };
    let key = (name.len() as u32) << 16 | u32::from(first) << 8 | u32::from(last);
    // Fibonacci hashing: the top 10 bits pick one of the 1024.
    (key.wrapping_mul(0x9E37_79B9) >> 22) as usize
}

impl Projection {
    /// The fields `query` reads (search, aggregates, `by`, what hits carry), then
    /// `time_fields`.
    pub fn new(query: &Query, matcher: &Matcher, time_fields: &[String]) -> Projection {
        Projection::for_queries([(query, matcher)], time_fields)
    }

    /// The fields any of `queries` reads, each once, then `time_fields`: many rules read
    /// an event's values in one pass.
    pub fn for_queries<'q>(
        queries: impl IntoIterator<Item = (&'q Query, &'q Matcher)>,
        time_fields: &[String],
    ) -> Projection {
        let mut used: Vec<String> = Vec::new();
        for (query, matcher) in queries {
            used.extend(matcher.fields().into_iter().map(str::to_string));
            used.extend(query.stage_fields().into_iter().map(str::to_string));
            used.extend(query.aggs().iter().flat_map(Agg::fields).cloned());
            used.extend(query.by().iter().cloned());
            used.extend(query.hit_field_names());
        }

        let mut projection = Projection::default();
        for field in &used {
            let field = field.as_str();
            if projection.lookups.iter().any(|(name, _)| name == field) {
                continue;
            }
            let slots = std::iter::once(field)
                .chain(aliases(field).iter().copied())
                .map(|name| projection.slot_for(name))
                .collect();
            projection.lookups.push((field.to_string(), slots));
        }
        projection.time = time_fields.iter().map(|f| projection.slot_for(f)).collect();
        projection.finish();
        projection
    }

    /// Signatures and prefixes of the slot names, once they are all known.
    fn finish(&mut self) {
        for name in &self.names {
            let bit = signature(name.as_bytes());
            self.signatures[bit / 64] |= 1 << (bit % 64);
            let mut end = 0;
            while let Some(dot) = name[end..].find('.') {
                end += dot;
                let prefix = &name[..end];
                if !self.prefixes.iter().any(|p| p == prefix) {
                    self.prefixes.push(prefix.to_string());
                }
                end += 1;
            }
        }
    }

    /// A projection reading exactly `names`, slot i holding `names[i]`.
    pub fn for_fields(names: &[&str]) -> Projection {
        let mut projection = Projection::default();
        for name in names {
            let slot = projection.slot_for(name);
            projection.lookups.push((name.to_string(), vec![slot]));
        }
        projection.finish();
        projection
    }

    /// A projection for reading rows of a column format whole: slot i is column i.
    pub fn every_column() -> Projection {
        Projection {
            every_column: true,
            ..Projection::default()
        }
    }

    pub fn reads_every_column(&self) -> bool {
        self.every_column
    }

    fn slot_for(&mut self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| {
                self.names.push(name.to_string());
                self.names.len() - 1
            })
    }

    /// The slot a source field fills, if the scan reads it.
    pub fn slot(&self, name: &str) -> Option<usize> {
        let bit = signature(name.as_bytes());
        if self.signatures[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        self.names.iter().position(|n| n == name)
    }

    #[cfg(test)]
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// A JSON object at this dotted path holds fields the scan reads. (A handful of
    /// names: a scan beats hashing each key of every event.)
    pub fn descends(&self, path: &str) -> bool {
        !self.prefixes.is_empty() && self.prefixes.iter().any(|p| p == path)
    }

    /// How many values an event has.
    pub fn slots(&self) -> usize {
        self.names.len()
    }

    #[cfg(test)]
    pub fn empty_values<'a>(&self) -> Values<'a> {
        let mut values = Values::default();
        values.resize(self.slots());
        values
    }

    /// The first present time field's text.
    pub fn time_text<'v>(&self, values: &'v Values<'_>) -> Option<&'v str> {
        self.time.iter().find_map(|&s| values[s].as_deref())
    }

    /// The event read into `values` from `text`, its raw record.
    pub fn event<'v, 'a>(&'v self, values: &'v Values<'a>, text: &'v [u8]) -> Event<'v, 'a> {
        Event {
            projection: self,
            values,
            text,
        }
    }
}

/// One event as the query sees it: a name resolves to its first present slot.
pub(crate) struct Event<'v, 'a> {
    projection: &'v Projection,
    values: &'v Values<'a>,
    text: &'v [u8],
}

impl Event<'_, '_> {
    /// The slots a name the query uses is read from: its own, then its aliases'.
    fn slots(&self, field: &str) -> Option<&[usize]> {
        self.projection
            .lookups
            .iter()
            .find(|(name, _)| name == field)
            .map(|(_, slots)| slots.as_slice())
    }
}

impl Fields for Event<'_, '_> {
    /// `_raw`, unless the record has a field of that name (a Splunk export), is the raw
    /// record: Sigma's keywords and a Splunk user's `_raw` search read it.
    fn get(&self, field: &str) -> Option<Cow<'_, str>> {
        self.slots(field)?
            .iter()
            .find_map(|&s| self.values[s].as_deref())
            .map(Cow::Borrowed)
            .or_else(|| (field == RAW).then(|| String::from_utf8_lossy(self.text)))
    }

    /// The first slot holding a value or array elements is read, as `get` reads the
    /// first holding a value.
    fn any(&self, field: &str, mut test: impl FnMut(&str) -> bool) -> bool {
        let elements = &self.values.elements;
        if elements.is_empty() {
            // Most events hold no array.
            return self.get(field).is_some_and(|value| test(&value));
        }
        let Some(slots) = self.slots(field) else {
            return false;
        };
        for &slot in slots {
            let value = self.values[slot].as_deref();
            let mut of_slot = elements
                .iter()
                .filter(|(s, _)| *s == slot)
                .map(|(_, e)| e.as_ref())
                .peekable();
            if value.is_some() || of_slot.peek().is_some() {
                return value.into_iter().chain(of_slot).any(test);
            }
        }
        field == RAW && test(&String::from_utf8_lossy(self.text))
    }
}

/// The field naming an event's raw record.
pub const RAW: &str = "_raw";

#[cfg(test)]
mod tests {
    use shared_sketch::parse;

    use super::*;

    #[test]
    fn a_plan_holds_each_name_the_query_reads_once_with_its_aliases() {
        let query = parse("src_ip:10.0.0.1 userIdentity.arn:x | stats dc(src_ip) by action")
            .expect("parses");
        let matcher = Matcher::new(query.search.as_ref());
        let projection = Projection::new(&query, &matcher, &["ts".to_string()]);
        let names = projection.names();
        assert_eq!(names[0], "src_ip");
        assert!(names.contains(&"srcaddr".to_string()));
        assert!(names.contains(&"action".to_string()));
        assert_eq!(names.iter().filter(|n| *n == "src_ip").count(), 1);
        assert!(projection.descends("userIdentity") && projection.descends("id"));
        assert!(!projection.descends("userIdentity.arn"));

        let mut values = projection.empty_values();
        values[projection.slot("srcaddr").expect("slot")] = Some("10.0.0.1".into());
        values[projection.slot("ts").expect("slot")] = Some("17".into());
        let event = projection.event(&values, b"the record");
        assert_eq!(event.get("src_ip").as_deref(), Some("10.0.0.1"));
        assert_eq!(event.get("action"), None);
        assert_eq!(event.get(RAW), None, "not read by this query");
        assert_eq!(projection.time_text(&values), Some("17"));
    }
}
