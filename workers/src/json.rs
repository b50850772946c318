//! Reads the fields a scan needs out of one JSON object. The object is parsed whole by
//! sonic-rs (SIMD: measured 1.6× faster than a serde_json visitor that skips unneeded keys,
//! decision 0007) and validated whole, so a malformed line is always counted as such; the
//! needed values are then picked from it by the projection, entering nested objects only on a
//! path to a needed field. NDJSON lines are parsed a block at a time (`JsonBlock`).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;

use sonic_rs::{Array, JsonContainerTrait, JsonType, JsonValueTrait, Object, Value};

use crate::projection::{Projection, Values};

#[derive(Debug, thiserror::Error)]
pub(crate) enum JsonError {
    #[error("not JSON: {0}")]
    Syntax(#[from] sonic_rs::Error),
    #[error("not a JSON object")]
    NotAnObject,
}

/// Holds the current event's parsed object and the text of its numbers: the values read
/// from it borrow from these, so reading an event allocates only inside the parser.
#[derive(Default)]
pub(crate) struct JsonReader {
    document: Value,
    /// The text of the numbers the projection reads, back to back.
    numbers: String,
    /// Slot → its number's range in `numbers`, filled in once all are written.
    pending: Vec<(usize, Range<usize>)>,
}

impl JsonReader {
    /// Fills `values` from the object in `text`. A key named both flat (`"id.orig_h"`, as
    /// Zeek writes) and nested is read from whichever comes last.
    pub(crate) fn read<'a>(
        &'a mut self,
        text: &[u8],
        projection: &Projection,
        values: &mut Values<'a>,
    ) -> Result<(), JsonError> {
        let object = parse(&mut self.document, text)?;
        fill(
            object,
            projection,
            values,
            &mut self.numbers,
            &mut self.pending,
        );
        Ok(())
    }

    /// The object the last successful `read` or `for_each_field` parsed.
    pub(crate) fn parsed(&self) -> Option<&Object> {
        self.document.as_object()
    }

    /// Fills `values` from an object parsed elsewhere, its numbers written here.
    pub(crate) fn fill<'a>(
        &'a mut self,
        object: &'a Object,
        projection: &Projection,
        values: &mut Values<'a>,
    ) {
        fill(
            object,
            projection,
            values,
            &mut self.numbers,
            &mut self.pending,
        );
    }

    /// Calls `field` with every string, number and boolean of the object in `text`, by the
    /// dotted name `read` finds it under and as the same text. Returns `false` when some
    /// object was nested too deep to walk (its fields were left out).
    pub(crate) fn for_each_field(
        &mut self,
        text: &[u8],
        mut field: impl FnMut(&str, &str),
    ) -> Result<bool, JsonError> {
        let object = parse(&mut self.document, text)?;
        let mut name = String::new();
        Ok(walk(object, &mut name, &mut self.numbers, 0, &mut field))
    }
}

/// Lines of NDJSON parsed as one document. Setting up a sonic-rs document (its shared
/// header, a padded copy of the text, a node buffer) cost about a tenth of a scan when
/// done per line; a block pays it once per `BLOCK_LINES` lines.
///
/// The block is `["s",L1,"s",L2,…,"s"]`. A line that is not exactly one JSON value could
/// still leave the whole valid (`{"a":[1` then `2]}`), so every `"s"` sentinel must come
/// back as a top-level element whose text lies exactly where it was written: between two
/// such sentinels there is then exactly one element, made of exactly one line's text, and
/// each line reads as it would alone. Anything else, and the block is read line by line.
#[derive(Default)]
pub(crate) struct JsonBlock {
    lines: BlockLines,
    parsed: BlockDocument,
}

#[derive(Default)]
struct BlockLines {
    text: Vec<u8>,
    /// Each line's number and where it lies in `text`.
    spans: Vec<(u64, Range<usize>)>,
}

#[derive(Default)]
struct BlockDocument {
    /// The whole block, when it parsed and every sentinel was found in place.
    document: Option<Value>,
    /// Reads lines one at a time when the block did not parse, and keeps the numbers.
    reader: JsonReader,
}

/// Lines per block: a one-worker scan took 5.17 s of CPU a line at a time, 3.39 s at 32,
/// 3.36 s at 64 and 3.34 s at 128 (decision 0007). The byte cap bounds the document, and
/// sonic-rs's node buffer with it, however long the lines.
const BLOCK_LINES: usize = 64;
const BLOCK_BYTES: usize = 32 * 1024;
const SENTINEL: &[u8] = b"\"s\"";

impl JsonBlock {
    /// Adds a line; `true` when the block is full and should be read.
    pub(crate) fn push(&mut self, number: u64, line: &[u8]) -> bool {
        let text = &mut self.lines.text;
        if text.is_empty() {
            text.push(b'[');
            text.extend_from_slice(SENTINEL);
        }
        text.push(b',');
        let start = text.len();
        text.extend_from_slice(line);
        self.lines.spans.push((number, start..text.len()));
        text.push(b',');
        text.extend_from_slice(SENTINEL);
        self.lines.spans.len() >= BLOCK_LINES || text.len() >= BLOCK_BYTES
    }

    pub(crate) fn len(&self) -> usize {
        self.lines.spans.len()
    }

    /// Parses the block, ready for `read`.
    pub(crate) fn parse(&mut self) {
        let lines = &mut self.lines;
        lines.text.push(b']');
        self.parsed.document = sonic_rs::from_slice::<Value>(&lines.text)
            .ok()
            .filter(|document| lines.in_place(document));
    }

    /// Line `i`'s number and text, and fills `values` from it as `JsonReader::read` does.
    pub(crate) fn read<'a>(
        &'a mut self,
        i: usize,
        projection: &Projection,
        values: &mut Values<'a>,
    ) -> (u64, &'a [u8], Result<(), JsonError>) {
        let (number, span) = self.lines.spans[i].clone();
        let text = &self.lines.text[span];
        let BlockDocument { document, reader } = &mut self.parsed;
        let read = match document {
            Some(document) => document
                .as_array()
                .and_then(|elements| elements.get(2 * i + 1))
                .and_then(Value::as_object)
                .ok_or(JsonError::NotAnObject)
                .map(|object| reader.fill(object, projection, values)),
            None => reader.read(text, projection, values),
        };
        (number, text, read)
    }

    pub(crate) fn clear(&mut self) {
        self.lines.text.clear();
        self.lines.spans.clear();
        self.parsed.document = None;
    }
}

impl BlockLines {
    /// Every sentinel is a top-level element at the place it was written.
    fn in_place(&self, document: &Value) -> bool {
        let Some(elements) = document.as_array() else {
            return false;
        };
        let sentinel = |k: usize| elements.get(2 * k).and_then(Value::as_str);
        let Some(first) = sentinel(0) else {
            return false;
        };
        // The first element is the block's own first bytes, `["s"`: where sonic-rs put
        // its copy of the text, the other sentinels must lie at the same offsets.
        let base = (first.as_ptr() as usize).wrapping_sub(2);
        elements.len() == 2 * self.spans.len() + 1
            && self.spans.iter().enumerate().all(|(k, (_, span))| {
                let written = base.wrapping_add(span.end + 2);
                sentinel(k + 1).is_some_and(|s| s.len() == 1 && s.as_ptr() as usize == written)
            })
    }
}

/// Objects nested deeper than this are not walked by `for_each_field`.
const MAX_DEPTH: usize = 32;

/// Parses `text` into `document`: it must be one JSON object.
fn parse<'d>(document: &'d mut Value, text: &[u8]) -> Result<&'d Object, JsonError> {
    *document = sonic_rs::from_slice(text)?;
    document.as_object().ok_or(JsonError::NotAnObject)
}

/// A value a field can hold: strings and booleans as text, numbers to be written (as
/// serde_json writes them, shortest round-trip form: `1.50` reads as `1.5`). Nulls, arrays
/// and objects hold none.
enum Scalar<'v> {
    Text(&'v str),
    Number(sonic_rs::Number),
}

fn scalar(value: &Value) -> Option<Scalar<'_>> {
    match value.get_type() {
        JsonType::String => value.as_str().map(Scalar::Text),
        JsonType::Boolean => Some(Scalar::Text(if value.is_true() { "true" } else { "false" })),
        JsonType::Number => value.as_number().map(Scalar::Number),
        JsonType::Null | JsonType::Array | JsonType::Object => None,
    }
}

fn walk(
    object: &Object,
    name: &mut String,
    number: &mut String,
    depth: usize,
    field: &mut impl FnMut(&str, &str),
) -> bool {
    let parent = name.len();
    let mut complete = true;
    for (key, value) in object.iter() {
        name.truncate(parent);
        if parent > 0 {
            name.push('.');
        }
        name.push_str(key);
        complete &= walk_value(value, name, number, depth, field);
    }
    name.truncate(parent);
    complete
}

/// One value at `name`, walked as `Fill` reads it: an array's elements (and its objects'
/// fields) each under the array's name.
fn walk_value(
    value: &Value,
    name: &mut String,
    number: &mut String,
    depth: usize,
    field: &mut impl FnMut(&str, &str),
) -> bool {
    match (scalar(value), value.as_object(), value.as_array()) {
        (Some(Scalar::Text(text)), _, _) => field(name, text),
        (Some(Scalar::Number(n)), _, _) => {
            number.clear();
            // Writing to a String cannot fail.
            let _ = write!(number, "{n}");
            field(name, number);
        }
        (None, Some(_), _) | (None, _, Some(_)) if depth >= MAX_DEPTH => return false,
        (None, Some(inner), _) => return walk(inner, name, number, depth + 1, field),
        (None, _, Some(array)) => {
            let mut complete = true;
            for item in array.iter() {
                complete &= walk_value(item, name, number, depth + 1, field);
            }
            return complete;
        }
        (None, None, None) => {}
    }
    true
}

/// Fills `values` from `object`, writing the text of its numbers to `numbers`.
fn fill<'a>(
    object: &'a Object,
    projection: &Projection,
    values: &mut Values<'a>,
    numbers: &'a mut String,
    pending: &mut Vec<(usize, Range<usize>)>,
) {
    numbers.clear();
    pending.clear();
    Fill {
        projection,
        values,
        numbers: &mut *numbers,
        pending,
    }
    .object(object, None, false, 0);
    let numbers: &'a str = numbers;
    for (slot, range) in pending.drain(..) {
        values[slot] = Some(Cow::Borrowed(&numbers[range]));
    }
}

struct Fill<'f, 'a> {
    projection: &'f Projection,
    values: &'f mut Values<'a>,
    numbers: &'f mut String,
    pending: &'f mut Vec<(usize, Range<usize>)>,
}

impl<'a> Fill<'_, 'a> {
    /// The fields of `object` (at `path`). Within an array (`in_array`), each value is one
    /// element more of its field: `resources.ARN` holds every resource's.
    fn object(&mut self, object: &'a Object, path: Option<&str>, in_array: bool, depth: usize) {
        for (key, value) in object.iter() {
            let name = match path {
                None => Cow::Borrowed(key),
                Some(parent) => Cow::Owned(format!("{parent}.{key}")),
            };
            if let Some(array) = value.as_array() {
                self.array(&name, array, depth);
                continue;
            }
            // A query may read an object by its own name (which finds nothing: it is no
            // scalar) and a field inside it, both.
            if let Some(slot) = self.projection.slot(&name) {
                if in_array {
                    self.element(slot, value);
                } else {
                    self.scalar(slot, value);
                }
            }
            if let Some(inner) = value.as_object()
                && self.projection.descends(&name)
            {
                self.object(inner, Some(&name), in_array, depth);
            }
        }
    }

    /// The elements of the array at `name`, arrays within it flattened.
    fn array(&mut self, name: &str, array: &'a Array, depth: usize) {
        if depth >= MAX_DEPTH {
            return;
        }
        let slot = self.projection.slot(name);
        let descends = self.projection.descends(name);
        for item in array.iter() {
            if let Some(inner) = item.as_array() {
                self.array(name, inner, depth + 1);
            } else if let Some(inner) = item.as_object() {
                if descends {
                    self.object(inner, Some(name), true, depth + 1);
                }
            } else if let Some(slot) = slot {
                self.element(slot, item);
            }
        }
    }

    /// Sets `slot` to the value's text. The last of a repeated key wins, whichever kinds.
    fn scalar(&mut self, slot: usize, value: &'a Value) {
        match scalar(value) {
            Some(Scalar::Text(text)) => {
                self.pending.retain(|(s, _)| *s != slot);
                self.values[slot] = Some(Cow::Borrowed(text));
            }
            Some(Scalar::Number(number)) => {
                let start = self.numbers.len();
                let _ = write!(self.numbers, "{number}");
                self.values[slot] = None;
                self.pending.push((slot, start..self.numbers.len()));
            }
            None => {}
        }
    }

    /// Adds the value's text to the elements of `slot`'s array.
    fn element(&mut self, slot: usize, value: &'a Value) {
        match scalar(value) {
            Some(Scalar::Text(text)) => self.values.push_element(slot, Cow::Borrowed(text)),
            Some(Scalar::Number(number)) => {
                self.values
                    .push_element(slot, Cow::Owned(number.to_string()));
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use shared_sketch::{Fields, Matcher, parse};

    use super::*;

    fn read(query: &str, json: &str) -> Result<Vec<(String, Option<String>)>, JsonError> {
        let query = parse(query).expect("parses");
        let projection = Projection::new(&query, &Matcher::new(query.search.as_ref()), &[]);
        let mut reader = JsonReader::default();
        let mut values = projection.empty_values();
        reader.read(json.as_bytes(), &projection, &mut values)?;
        Ok(projection
            .names()
            .iter()
            .zip(values.slots())
            .map(|(n, v)| (n.clone(), v.clone().map(Cow::into_owned)))
            .collect())
    }

    fn get(query: &str, json: &str, name: &str) -> Option<String> {
        read(query, json)
            .expect("reads")
            .into_iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v)
    }

    #[test]
    fn scalars_become_canonical_text() {
        let json = r#"{"s":"x\"y","n":22,"neg":-3,"f":1.50,"b":true,"z":null,"a":[1],"o":{"k":1}}"#;
        let q = "s:1 n:1 neg:1 f:1 b:1 z:1 a:1 o:1";
        assert_eq!(get(q, json, "s").as_deref(), Some("x\"y"));
        assert_eq!(get(q, json, "n").as_deref(), Some("22"));
        assert_eq!(get(q, json, "neg").as_deref(), Some("-3"));
        assert_eq!(get(q, json, "f").as_deref(), Some("1.5"));
        assert_eq!(get(q, json, "b").as_deref(), Some("true"));
        assert_eq!(get(q, json, "z"), None);
        assert_eq!(get(q, json, "a"), None);
        assert_eq!(get(q, json, "o"), None);
    }

    #[test]
    fn dotted_names_match_flat_keys_and_nested_objects() {
        let q = "id.orig_h:1 userIdentity.sessionContext.attributes.mfa:1";
        assert_eq!(
            get(q, r#"{"id.orig_h":"10.0.0.1"}"#, "id.orig_h").as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            get(q, r#"{"id":{"orig_h":"10.0.0.2"}}"#, "id.orig_h").as_deref(),
            Some("10.0.0.2")
        );
        let trail = r#"{"userIdentity":{"type":"IAMUser","sessionContext":{"attributes":{"mfa":"false"}}}}"#;
        assert_eq!(
            get(q, trail, "userIdentity.sessionContext.attributes.mfa").as_deref(),
            Some("false")
        );
        // An object read by its own name too (a Sigma rule's `responseElements|contains`
        // beside another's `responseElements.ConsoleLogin`) still has its fields read.
        let both = "responseElements:*x* responseElements.ConsoleLogin:Success";
        let login = r#"{"responseElements":{"ConsoleLogin":"Success"}}"#;
        assert_eq!(
            get(both, login, "responseElements.ConsoleLogin").as_deref(),
            Some("Success")
        );
        assert_eq!(get(both, login, "responseElements"), None);
    }

    #[test]
    fn every_field_is_walked_as_read_finds_it() {
        let mut reader = JsonReader::default();
        let mut fields = Vec::new();
        let complete = reader
            .for_each_field(
                br#"{"a":"x","n":1.50,"o":{"b":true,"c":{"d":2}},"id.orig_h":"h","z":null,"l":[1,[2,null]],"r":[{"k":"u"},{"k":"v"}]}"#,
                |name, value| fields.push(format!("{name}={value}")),
            )
            .expect("reads");
        assert!(complete);
        assert_eq!(
            fields,
            [
                "a=x",
                "n=1.5",
                "o.b=true",
                "o.c.d=2",
                "id.orig_h=h",
                "l=1",
                "l=2",
                "r.k=u",
                "r.k=v"
            ]
        );
        let deep = format!("{}1{}", r#"{"a":"#.repeat(40), "}".repeat(40));
        assert!(
            !reader
                .for_each_field(deep.as_bytes(), |_, _| {})
                .expect("reads")
        );
    }

    #[test]
    fn a_search_matches_any_element_of_an_array() {
        let json = r#"{"ports":[22,"80",[443]],"resources":[{"ARN":"arn:a","type":"T"},{"ARN":"arn:b"}],"empty":[],"tags":["x"],"src_ip":["10.0.0.1"]}"#;
        let matches = |search: &str| {
            let query = parse(search).expect("parses");
            let matcher = Matcher::new(query.search.as_ref());
            let projection = Projection::new(&query, &matcher, &[]);
            let mut reader = JsonReader::default();
            let mut values = projection.empty_values();
            reader
                .read(json.as_bytes(), &projection, &mut values)
                .expect("reads");
            matcher.matches(&projection.event(&values, json.as_bytes()), b"")
        };
        for yes in [
            "ports:22",
            "ports:80",
            "ports:443",
            "ports>400",
            "resources.ARN:arn:b",
            "resources.ARN:ARN:A",
            "resources.type:T",
            "resources.ARN:* tags:x",
            "NOT ports:23",
            "src_ip:10.0.0.0/8",
            "ports!=22",
            r#"resources.ARN~"^arn:b$""#,
        ] {
            assert!(matches(yes), "{yes}");
        }
        for no in [
            "ports:23",
            "NOT ports:22",
            "resources.ARN:arn:c",
            "empty:*",
            "resources:*",
            "tags:y",
        ] {
            assert!(!matches(no), "{no}");
        }
        // An array has no one value: aggregates and `by` read none.
        let query = parse("ports:22 | top ports").expect("parses");
        let matcher = Matcher::new(query.search.as_ref());
        let projection = Projection::new(&query, &matcher, &[]);
        let mut values = projection.empty_values();
        let mut reader = JsonReader::default();
        reader
            .read(json.as_bytes(), &projection, &mut values)
            .expect("reads");
        assert_eq!(projection.event(&values, b"").get("ports"), None);
    }

    /// Each line's `n`, or its error, read as one block; and whether the block parsed whole.
    fn block(lines: &[&str]) -> (Vec<Result<Option<String>, String>>, bool) {
        let query = parse("n:1 | stats count by k").expect("parses");
        let projection = Projection::new(&query, &Matcher::new(query.search.as_ref()), &[]);
        let slot = projection.slot("n").expect("slot");
        let mut block = JsonBlock::default();
        for (i, line) in lines.iter().enumerate() {
            assert!(!block.push(i as u64 + 7, line.as_bytes()));
        }
        block.parse();
        let whole = block.parsed.document.is_some();
        let read = (0..block.len())
            .map(|i| {
                let mut values = projection.empty_values();
                let (number, text, read) = block.read(i, &projection, &mut values);
                assert_eq!((number, text), (i as u64 + 7, lines[i].as_bytes()));
                read.map(|()| values[slot].as_deref().map(str::to_string))
                    .map_err(|e| e.to_string())
            })
            .collect();
        (read, whole)
    }

    #[test]
    fn a_block_reads_each_line_as_it_reads_alone() {
        let lines = [
            r#"{"n":1,"k":"a"}"#,
            r#" {"k":"b\u0041","n":"two"} "#,
            r#"{"n":2.50,"o":{"x":[1,{"y":null}]}}"#,
            r#"{"k":"s"}"#,
        ];
        let (read, whole) = block(&lines);
        assert!(whole);
        assert_eq!(
            read,
            [
                Ok(Some("1".into())),
                Ok(Some("two".into())),
                Ok(Some("2.5".into())),
                Ok(None)
            ]
        );
        for (line, read) in lines.iter().zip(read) {
            assert_eq!(
                get("n:1 | stats count by k", line, "n"),
                read.expect("reads")
            );
        }
    }

    #[test]
    fn a_line_is_never_read_with_its_neighbours() {
        // Lines that are not one JSON value each, yet whose block would parse as many
        // values as there are lines (with only commas between lines, these fool a count).
        let crafted = [
            &[r#"{"n":1},{"n":2}"#, r#"{"n":[3"#, r#"4]}"#][..],
            &[r#"{"n":[{"x":1}"#, r#"{"c":1}]},{"n":5}"#],
            // As many elements as a true block, a sentinel among them: only its place
            // tells it from ours.
            &[r#"{"n":[{"x":1}"#, r#"{"c":1}]},"s",{"n":5}"#],
            &[r#"{"n":1},"s",{"n":2}"#, r#"{"n":3}"#],
            &[r#"{"n":1}"#, r#""s"],"#, r#"{"n":2}"#],
        ];
        for lines in crafted {
            let (read, whole) = block(lines);
            assert!(!whole, "{lines:?} is not read as one block");
            for (line, read) in lines.iter().zip(read) {
                assert_eq!(
                    read.is_ok(),
                    sonic_rs::from_str::<Value>(line).is_ok(),
                    "{line}"
                );
            }
        }
    }

    #[test]
    fn a_bad_line_in_a_block_leaves_the_others_read() {
        let (read, whole) = block(&[r#"{"n":1}"#, r#"{"n":"#, "[1,2]", r#""s""#, r#"{"n":3}"#]);
        assert!(!whole);
        assert_eq!(read[0], Ok(Some("1".into())));
        assert!(read[1].as_ref().is_err_and(|e| e.starts_with("not JSON")));
        assert_eq!(read[2], Err("not a JSON object".into()));
        assert_eq!(read[3], Err("not a JSON object".into()));
        assert_eq!(read[4], Ok(Some("3".into())));
        // Lines valid alone but not objects leave the block whole.
        let (read, whole) = block(&[r#"{"n":1}"#, "[1,2]", r#""s""#, "7"]);
        assert!(whole);
        assert_eq!(read[0], Ok(Some("1".into())));
        assert!(
            read[1..]
                .iter()
                .all(|r| r == &Err("not a JSON object".into()))
        );
    }

    #[test]
    fn the_last_of_a_repeated_key_wins() {
        assert_eq!(get("n:1", r#"{"n":1,"n":"x"}"#, "n").as_deref(), Some("x"));
        assert_eq!(get("n:1", r#"{"n":"x","n":2}"#, "n").as_deref(), Some("2"));
        assert_eq!(
            get("n:1", r#"{"n":1,"m":2.25,"n":3}"#, "n").as_deref(),
            Some("3")
        );
        assert_eq!(
            get("n:1 m:1", r#"{"n":1,"m":2.25,"n":3}"#, "m").as_deref(),
            Some("2.25")
        );
    }

    #[test]
    fn every_part_is_validated_even_unread_keys() {
        for bad in [
            r#"{"b":[1,}"#,
            r#"{"a":1} x"#,
            r#"{"b":"\q","a":1}"#,
            r#"{"b":tru,"a":1}"#,
            r#"{"b":01,"a":1}"#,
            r#"{"b":"\ud800","a":1}"#,
            "{\"b\":\"tab\there\",\"a\":1}",
            r#"{"a":1,"b":2"#,
        ] {
            assert!(
                matches!(read("a:1", bad), Err(JsonError::Syntax(_))),
                "{bad} is malformed"
            );
        }
        assert!(matches!(read("a:1", "[1,2]"), Err(JsonError::NotAnObject)));
        assert!(matches!(read("a:1", "7"), Err(JsonError::NotAnObject)));
    }
}
