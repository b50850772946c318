//! Reads the fields a scan needs out of one JSON object without building it: keys the plan
//! does not name are skipped by the parser (validated, not allocated), objects are entered
//! only on a path to a needed field, and unescaped strings are borrowed from the input.

use std::borrow::Cow;
use std::fmt;

use serde::Deserializer as _;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::plan::{Plan, Values};

#[derive(Debug, thiserror::Error)]
pub(crate) enum JsonError {
    #[error("not JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    #[error("not a JSON object")]
    NotAnObject,
}

/// Fills `values` from the object in `text`. A key named both flat (`"id.orig_h"`, as
/// Zeek writes) and nested is read from whichever comes last.
pub(crate) fn extract<'a>(
    text: &'a [u8],
    plan: &Plan,
    values: &mut Values<'a>,
) -> Result<(), JsonError> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let is_object = de.deserialize_any(Value {
        plan,
        values,
        slot: None,
        path: None,
    })?;
    de.end()?;
    if is_object {
        Ok(())
    } else {
        Err(JsonError::NotAnObject)
    }
}

/// One JSON value at `path` (`None` at the top), filling `slot` if it is a scalar the plan
/// names. Deserializes to "it was an object".
struct Value<'p, 'v, 'a> {
    plan: &'p Plan,
    values: &'v mut Values<'a>,
    slot: Option<usize>,
    path: Option<Cow<'a, str>>,
}

impl<'a> Value<'_, '_, 'a> {
    fn set(self, text: Cow<'a, str>) -> bool {
        if let Some(slot) = self.slot {
            self.values[slot] = Some(text);
        }
        false
    }
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for Value<'_, '_, 'a> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for Value<'_, '_, 'a> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<bool, E> {
        Ok(self.set(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        Ok(self.set(Cow::Owned(v.to_string())))
    }

    fn visit_u64<E>(self, v: u64) -> Result<bool, E> {
        Ok(self.set(Cow::Owned(v.to_string())))
    }

    fn visit_i64<E>(self, v: i64) -> Result<bool, E> {
        Ok(self.set(Cow::Owned(v.to_string())))
    }

    fn visit_f64<E>(self, v: f64) -> Result<bool, E> {
        // As serde_json writes it (shortest round-trip form), so `1.50` reads as `1.5`.
        let text = serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string());
        Ok(self.set(Cow::Owned(text)))
    }

    fn visit_bool<E>(self, v: bool) -> Result<bool, E> {
        Ok(self.set(Cow::Borrowed(if v { "true" } else { "false" })))
    }

    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let Value {
            plan, values, path, ..
        } = self;
        if path.as_deref().is_some_and(|p| !plan.descends(p)) {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(true);
        }
        while let Some(key) = map.next_key_seed(Key)? {
            let child = match &path {
                None => key,
                Some(parent) => Cow::Owned(format!("{parent}.{key}")),
            };
            let slot = plan.slot(&child);
            if slot.is_some() || plan.descends(&child) {
                map.next_value_seed(Value {
                    plan,
                    values,
                    slot,
                    path: Some(child),
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(true)
    }
}

/// A key, borrowed from the input unless it has escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use shared_sketch::{Matcher, parse};

    use super::*;

    fn read(query: &str, json: &str) -> Result<Vec<(String, Option<String>)>, JsonError> {
        let query = parse(query).expect("parses");
        let plan = Plan::new(&query, &Matcher::new(query.search.as_ref()), &[]);
        let mut values = plan.empty_values();
        extract(json.as_bytes(), &plan, &mut values)?;
        Ok(plan
            .names()
            .iter()
            .zip(values)
            .map(|(n, v)| (n.clone(), v.map(Cow::into_owned)))
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
    }

    #[test]
    fn skipped_parts_are_still_validated() {
        assert!(matches!(
            read("a:1", r#"{"b":[1,}"#),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(
            read("a:1", r#"{"a":1} x"#),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(read("a:1", "[1,2]"), Err(JsonError::NotAnObject)));
        assert!(matches!(read("a:1", "7"), Err(JsonError::NotAnObject)));
    }
}
