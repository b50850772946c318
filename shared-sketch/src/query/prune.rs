//! Skipping blocks of events (a segment's pages) that cannot hold a match, from a small
//! summary of each block: a filter of its tokens and the range of each field's numbers.
//! What a summary records (`index_field`, `index_text`) and what a query asks of it
//! (`may_match`) live side by side here, next to the matcher whose semantics they must
//! follow: a block is skipped only when no event in it can match, never on a guess.
//!
//! - `field:value` with a value that is not a number asks for the token `field=value`
//!   (lower-cased) under the field's name or any alias, unless the index keeps no tokens
//!   for that field (an event's time, unique per event, would only fill the filter);
//! - a value that is a number asks whether it lies in the field's range, and `field>N`,
//!   `<`, `<=`, `>=` whether some number of the range satisfies it;
//! - a bare word or phrase asks for each of its words made of letters alone: such a word
//!   is a whole word of any text the term matches (the term must start and end at word
//!   boundaries), and every whole word of letters of every event is recorded. Words with
//!   digits (ids, addresses, times) are not: they are many, and rarely searched bare;
//! - everything else (`NOT`, `!=`, wildcards, networks, text order) may match.

use super::ast::CompareOp;
use super::eval::{Glob, Matcher, Node, Operand, Test, as_number, is_word_byte};
use super::fields::aliases;

/// What an index knows about a block of events.
pub trait Summary {
    /// Some event of the block may have this token (see `index_field`, `index_text`).
    fn may_contain(&self, token: &[u8]) -> bool;
    /// The least and greatest number a field holds in the block; `None` when it holds
    /// none.
    fn numbers(&self, field: &str) -> Option<(f64, f64)>;
    /// Whether `field=value` tokens were recorded for this field.
    fn has_tokens(&self, field: &str) -> bool;
}

/// One thing an index records about an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Indexed<'a> {
    /// A `field=value` token or a word of the text, to add to the block's token filter.
    Token(Vec<u8>),
    /// A field's value that reads as a number, to widen the field's range.
    Number(&'a str, f64),
}

/// What an index records of one field of an event (its value as the reader presents it,
/// under the name it reads it by) for `may_match` to be sound.
pub fn index_field<'a>(field: &'a str, value: &str, mut record: impl FnMut(Indexed<'a>)) {
    match as_number(value) {
        Some(n) => record(Indexed::Number(field, n)),
        None => record(Indexed::Token(field_token(field, value.as_bytes()))),
    }
}

/// What an index records of an event's raw text: its words of letters alone.
pub fn index_text(text: &[u8], mut record: impl FnMut(Indexed<'static>)) {
    for word in words(text) {
        if is_letters(word) {
            record(Indexed::Token(word.to_ascii_lowercase()));
        }
    }
}

impl Matcher {
    /// Whether some event summarised by `summary` may match; `false` only when none can.
    pub fn may_match(&self, summary: &impl Summary) -> bool {
        self.node.as_ref().is_none_or(|node| may(node, summary))
    }
}

fn may(node: &Node, summary: &impl Summary) -> bool {
    match node {
        Node::And(parts) => parts.iter().all(|p| may(p, summary)),
        Node::Or(parts) => parts.iter().any(|p| may(p, summary)),
        Node::Not(_) | Node::FieldRef { .. } => true,
        Node::Term(glob) => match exact(glob) {
            Some(term) => words(term)
                .filter(|w| is_letters(w))
                .all(|w| summary.may_contain(w)),
            None => true,
        },
        Node::Field { field, test } => {
            let mut names = std::iter::once(field.as_str()).chain(aliases(field).iter().copied());
            match test {
                Test::Equal(glob) => match exact(glob) {
                    Some(value) => match std::str::from_utf8(value).ok().and_then(as_number) {
                        Some(n) => names.any(|f| {
                            summary
                                .numbers(f)
                                .is_some_and(|(lo, hi)| lo <= n && n <= hi)
                        }),
                        None => names.any(|f| {
                            !summary.has_tokens(f) || summary.may_contain(&field_token(f, value))
                        }),
                    },
                    None => true,
                },
                Test::Order(op, Operand::Number(n)) => names.any(|f| {
                    summary.numbers(f).is_some_and(|(lo, hi)| match op {
                        CompareOp::Lt => lo < *n,
                        CompareOp::Le => lo <= *n,
                        CompareOp::Gt => hi > *n,
                        CompareOp::Ge => hi >= *n,
                        CompareOp::Eq | CompareOp::Ne => true,
                    })
                }),
                Test::Differs(_)
                | Test::Network(_)
                | Test::Regex(_)
                | Test::Order(_, Operand::Text(_)) => true,
            }
        }
    }
}

/// The one lower-cased piece of a pattern without wildcards.
fn exact(glob: &Glob) -> Option<&[u8]> {
    match glob.pieces.as_slice() {
        [piece] if !glob.open_start && !glob.open_end => Some(piece),
        _ => None,
    }
}

fn field_token(field: &str, value: &[u8]) -> Vec<u8> {
    let mut token = Vec::with_capacity(field.len() + 1 + value.len());
    token.extend_from_slice(field.as_bytes());
    token.push(b'=');
    token.extend(value.iter().map(u8::to_ascii_lowercase));
    token
}

/// The maximal runs of word bytes (letters, digits, non-ASCII) of `text`.
fn words(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|&b| !is_word_byte(b)).filter(|w| !w.is_empty())
}

fn is_letters(word: &[u8]) -> bool {
    word.iter().all(|&b| !b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::parse;

    /// An exact summary: every token and range of some events.
    #[derive(Default)]
    struct Exact {
        tokens: HashSet<Vec<u8>>,
        ranges: HashMap<String, (f64, f64)>,
    }

    impl Exact {
        fn of(events: &[(&[(&'static str, &'static str)], &str)]) -> Exact {
            let mut summary = Exact::default();
            for (fields, text) in events {
                let mut record = |i: Indexed<'_>| match i {
                    Indexed::Token(t) => {
                        summary.tokens.insert(t);
                    }
                    Indexed::Number(f, n) => {
                        let r = summary.ranges.entry(f.to_string()).or_insert((n, n));
                        *r = (r.0.min(n), r.1.max(n));
                    }
                };
                for (field, value) in fields.iter() {
                    index_field(field, value, &mut record);
                }
                index_text(text.as_bytes(), &mut record);
            }
            summary
        }
    }

    impl Summary for Exact {
        fn may_contain(&self, token: &[u8]) -> bool {
            self.tokens.contains(token)
        }
        fn numbers(&self, field: &str) -> Option<(f64, f64)> {
            self.ranges.get(field).copied()
        }
        fn has_tokens(&self, field: &str) -> bool {
            field != "timestamp"
        }
    }

    fn may(query: &str, summary: &Exact) -> bool {
        let query = parse(query).expect("parses");
        Matcher::new(query.search.as_ref()).may_match(summary)
    }

    #[test]
    fn prunes_only_what_cannot_match() {
        let page = Exact::of(&[
            (
                &[
                    ("srcaddr", "10.0.0.1"),
                    ("dstport", "22"),
                    ("action", "ACCEPT"),
                ],
                r#"{"srcaddr":"10.0.0.1","dstport":22,"action":"ACCEPT"}"#,
            ),
            (
                &[
                    ("srcaddr", "10.0.0.2"),
                    ("dstport", "443"),
                    ("bytes", "inf"),
                ],
                r#"{"srcaddr":"10.0.0.2","dstport":443,"bytes":"inf","msg":"Failed password"}"#,
            ),
        ]);
        for (query, expected) in [
            ("srcaddr:10.0.0.1", true),
            ("src_ip:10.0.0.2", true), // an alias
            ("srcaddr:10.0.0.3", false),
            ("action:accept", true), // case
            ("action:reject", false),
            ("dstport:22", true),
            ("dstport:23", true), // inside [22, 443]: numbers keep a range only
            ("dstport:8080", false),
            ("dstport>443", false),
            ("dstport>=443", true),
            ("dstport<22", false),
            ("bytes>1e300", true), // "inf" is a number to `>`
            ("\"failed password\"", true),
            ("\"failed login\"", false),
            ("failed", true),
            ("fail*", true),
            ("x:y OR srcaddr:10.0.0.1", true),
            ("x:y OR srcaddr:10.0.0.9", false),
            ("srcaddr:10.0.0.1 action:reject", false),
            ("NOT srcaddr:10.0.0.1", true),
            ("srcaddr:10.0.0.0/8", true),
            ("srcaddr!=10.0.0.1", true),
            ("srcaddr:10.0.0.*", true),
            ("nosuchfield>1", false),
            ("443", true), // words with digits are not recorded: cannot rule out
            ("eni42", true),
            ("timestamp:2020-01-01", true), // no tokens kept for the field
            ("", true),
        ] {
            assert_eq!(may(query, &page), expected, "{query}");
        }
    }
}
