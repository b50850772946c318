//! Evaluates a search expression against one event. The expression is compiled once per
//! scan into a [`Matcher`]: patterns lowered, networks and numbers parsed, so matching an
//! event does no parsing of the query and no allocation.
//!
//! - A bare word or phrase is a case-insensitive (ASCII) token match in the event's raw text:
//!   where the term starts or ends with a letter or digit, the text next to it must not be
//!   one (`admin` matches `"user":"admin"`, not `administrator`). `*` in a word matches any
//!   run of characters within one token (not across white space, quotes or brackets).
//! - `field:value` is equality ignoring ASCII case; `*` matches any characters; an address
//!   with a prefix length (`10.0.0.0/8`, `2001:db8::/32`) matches addresses in that network.
//! - `field!=value` needs the field present and not matching (`NOT field:value` also
//!   matches events without the field).
//! - `<`, `<=`, `>`, `>=` compare as numbers when both sides are numbers, else as text.

use std::cmp::Ordering;
use std::net::IpAddr;

use ipnet::IpNet;
use memchr::memmem;

use super::ast::{Compare, CompareOp, Expr};
use super::fields::Fields;
use super::patterns::compile_regex;

/// A compiled search expression.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub(super) node: Option<Node>,
    reads_text: bool,
}

#[derive(Debug, Clone)]
pub(super) enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Term(Glob),
    Field {
        field: String,
        test: Test,
    },
    /// `field:$other` and its `*` forms.
    FieldRef {
        field: String,
        other: String,
        open_start: bool,
        open_end: bool,
    },
}

#[derive(Debug, Clone)]
pub(super) enum Test {
    Equal(Glob),
    /// `!=`: the `:` test of the same value, negated (the field must still be present).
    Differs(Box<Test>),
    Network(IpNet),
    Order(CompareOp, Operand),
    /// `field~"regex"`: found anywhere in the value.
    Regex(regex::Regex),
}

#[derive(Debug, Clone)]
pub(super) enum Operand {
    Number(f64),
    Text(String),
}

/// A lower-cased literal split at `*`.
#[derive(Debug, Clone)]
pub(super) struct Glob {
    pub(super) pieces: Vec<Vec<u8>>,
    /// Starts or ends with `*`.
    pub(super) open_start: bool,
    pub(super) open_end: bool,
}

impl Glob {
    fn new(text: &str, wildcards: bool) -> Glob {
        let lower = text.to_ascii_lowercase();
        if !wildcards {
            return Glob {
                pieces: vec![lower.into_bytes()],
                open_start: false,
                open_end: false,
            };
        }
        Glob {
            pieces: lower
                .split('*')
                .filter(|p| !p.is_empty())
                .map(|p| p.as_bytes().to_vec())
                .collect(),
            open_start: lower.starts_with('*'),
            open_end: lower.ends_with('*'),
        }
    }

    /// The longest piece that any match contains byte for byte in its raw text: one with
    /// no letters (lower-casing leaves it alone), no quote or backslash (escaped when
    /// written), that `usable` accepts.
    fn needle(&self, usable: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
        self.pieces
            .iter()
            .filter(|p| {
                !p.iter()
                    .any(|b| b.is_ascii_alphabetic() || *b == b'"' || *b == b'\\')
                    && usable(p)
            })
            .max_by_key(|p| p.len())
            .cloned()
    }

    /// The whole of `value` matches, ignoring ASCII case.
    fn matches_value(&self, value: &[u8]) -> bool {
        let pieces = &self.pieces;
        if pieces.is_empty() {
            return true; // `*`: any value
        }
        if pieces.len() == 1 && !self.open_start && !self.open_end {
            return value.eq_ignore_ascii_case(&pieces[0]);
        }
        // Anchor the first and last pieces, then find the middle ones in order.
        let (mut lo, mut hi) = (0, pieces.len());
        let (mut start, mut end) = (0, value.len());
        if !self.open_start {
            if !starts_with_ignore_case(value, &pieces[0]) {
                return false;
            }
            start = pieces[0].len();
            lo = 1;
        }
        if !self.open_end {
            let last = &pieces[hi - 1];
            if end < start + last.len() || !value[end - last.len()..].eq_ignore_ascii_case(last) {
                return false;
            }
            end -= last.len();
            hi -= 1;
        }
        for piece in &pieces[lo..hi] {
            match find_ignore_case(&value[start..end], piece) {
                Some(i) => start += i + piece.len(),
                None => return false,
            }
        }
        true
    }

    /// A token of `text` (already lower-cased) matches.
    fn matches_text(&self, text: &[u8]) -> bool {
        let Some((first, rest)) = self.pieces.split_first() else {
            return true;
        };
        for start in memmem::find_iter(text, first) {
            if !self.open_start && !left_boundary(text, start, first) {
                continue;
            }
            let mut pos = start + first.len();
            if rest.is_empty() {
                if self.open_end || right_boundary(text, pos, first) {
                    return true;
                }
                continue;
            }
            // The remaining pieces must lie in the same token.
            let token_end = text[pos..]
                .iter()
                .position(|&b| is_breaker(b))
                .map_or(text.len(), |i| pos + i);
            let token = &text[..token_end];
            let Some((last, middle)) = rest.split_last() else {
                continue;
            };
            let mut ok = true;
            for piece in middle {
                match memmem::find(&token[pos..], piece) {
                    Some(i) => pos += i + piece.len(),
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                continue;
            }
            let found = memmem::find_iter(&token[pos..], last)
                .any(|i| self.open_end || right_boundary(token, pos + i + last.len(), last));
            if found {
                return true;
            }
        }
        false
    }
}

/// How a field's value reads as a number for `<`, `>` (NaN compares with nothing). Page
/// pruning reads values the same way.
pub(super) fn as_number(value: &str) -> Option<f64> {
    value.parse::<f64>().ok().filter(|n| !n.is_nan())
}

pub(super) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// Ends a token for wildcards: white space, quotes, brackets and separators.
fn is_breaker(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'"' | b'\''
                | b','
                | b';'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'<'
                | b'>'
                | b'|'
        )
}

fn left_boundary(text: &[u8], start: usize, piece: &[u8]) -> bool {
    start == 0 || !piece.first().is_some_and(|&b| is_word_byte(b)) || !is_word_byte(text[start - 1])
}

fn right_boundary(text: &[u8], end: usize, piece: &[u8]) -> bool {
    end == text.len() || !piece.last().is_some_and(|&b| is_word_byte(b)) || !is_word_byte(text[end])
}

fn starts_with_ignore_case(value: &[u8], prefix: &[u8]) -> bool {
    value.len() >= prefix.len() && value[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `needle` is lower case.
fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > haystack.len() {
        return None;
    }
    (0..=haystack.len() - needle.len())
        .find(|&i| haystack[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

impl Matcher {
    /// Compiles `expr`; `None` matches every event.
    pub fn new(expr: Option<&Expr>) -> Matcher {
        let node = expr.map(compile);
        let reads_text = node.as_ref().is_some_and(reads_text);
        Matcher { node, reads_text }
    }

    /// The expression has bare terms: `matches` needs the event's text, lower-cased.
    pub fn reads_text(&self) -> bool {
        self.reads_text
    }

    /// `lowered_text` is the raw event with ASCII letters lower-cased (may be empty when
    /// `reads_text()` is false).
    pub fn matches(&self, fields: &impl Fields, lowered_text: &[u8]) -> bool {
        self.node
            .as_ref()
            .is_none_or(|node| eval(node, fields, lowered_text))
    }

    /// Byte strings of which every matching event's raw text contains at least one, so a
    /// reader may skip text holding none of them without parsing it; `None` when no such
    /// set is known (e.g. `NOT`, ranges, networks, or values with letters, whose case may
    /// differ). Sound for text without backslash escapes: a field value must appear in it
    /// as written. Number-like pieces are left out, since a JSON number's canonical text
    /// (`1e1` reads as `10.0`) need not appear in the raw event.
    pub fn needles(&self) -> Option<Vec<Vec<u8>>> {
        self.node.as_ref().and_then(needles)
    }

    /// A `field:value` test every match passes, its value exact (no `*`) and lower-cased,
    /// when the expression has one at its top level: many matchers can then be looked up
    /// by an event's value of the field instead of each being tried.
    pub fn required_equality(&self) -> Option<(&str, &[u8])> {
        fn exact(node: &Node) -> Option<(&str, &[u8])> {
            match node {
                Node::Field {
                    field,
                    test: Test::Equal(glob),
                } if glob.pieces.len() == 1 && !glob.open_start && !glob.open_end => {
                    Some((field.as_str(), glob.pieces[0].as_slice()))
                }
                _ => None,
            }
        }
        match self.node.as_ref()? {
            Node::And(parts) => parts.iter().find_map(exact),
            node => exact(node),
        }
    }

    /// The fields the expression reads, each once, in first-use order.
    pub fn fields(&self) -> Vec<&str> {
        fn walk<'a>(node: &'a Node, out: &mut Vec<&'a str>) {
            match node {
                Node::And(parts) | Node::Or(parts) => parts.iter().for_each(|p| walk(p, out)),
                Node::Not(inner) => walk(inner, out),
                Node::Term(_) => {}
                Node::Field { field, .. } => {
                    if !out.contains(&field.as_str()) {
                        out.push(field);
                    }
                }
                Node::FieldRef { field, other, .. } => {
                    for name in [field, other] {
                        if !out.contains(&name.as_str()) {
                            out.push(name);
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        if let Some(node) = &self.node {
            walk(node, &mut out);
        }
        out
    }
}

fn needles(node: &Node) -> Option<Vec<Vec<u8>>> {
    match node {
        // Any one part's needles will do: the most selective has the longest shortest one.
        Node::And(parts) => parts
            .iter()
            .filter_map(needles)
            .max_by_key(|set| set.iter().map(Vec::len).min().unwrap_or(0)),
        Node::Or(parts) => parts
            .iter()
            .map(needles)
            .try_fold(Vec::new(), |mut all, set| {
                all.extend(set?);
                Some(all)
            }),
        Node::Not(_) | Node::FieldRef { .. } => None,
        Node::Term(glob) => glob.needle(|_| true).map(|n| vec![n]),
        Node::Field {
            test: Test::Equal(glob),
            ..
        } => glob
            .needle(|piece| {
                piece.iter().filter(|&&b| b == b'.').count() > 1
                    || piece
                        .iter()
                        .any(|b| !matches!(b, b'0'..=b'9' | b'.' | b'+' | b'-'))
            })
            .map(|n| vec![n]),
        Node::Field { .. } => None,
    }
}

fn reads_text(node: &Node) -> bool {
    match node {
        Node::And(parts) | Node::Or(parts) => parts.iter().any(reads_text),
        Node::Not(inner) => reads_text(inner),
        Node::Term(_) => true,
        Node::Field { .. } | Node::FieldRef { .. } => false,
    }
}

fn compile(expr: &Expr) -> Node {
    match expr {
        Expr::And(parts) => {
            // Cheap tests first: an `AND` fails at its first failing part, and its answer
            // does not depend on the order (a network parses the value, a term searches the
            // whole text).
            let mut nodes: Vec<Node> = parts.iter().map(compile).collect();
            nodes.sort_by_key(cost);
            Node::And(nodes)
        }
        Expr::Or(parts) => Node::Or(parts.iter().map(compile).collect()),
        Expr::Not(inner) => Node::Not(Box::new(compile(inner))),
        Expr::Term { text, phrase } => Node::Term(Glob::new(text, !phrase)),
        Expr::Compare(c) => Node::Field {
            field: c.field.clone(),
            test: compile_compare(c),
        },
        Expr::FieldRef {
            field,
            other,
            open_start,
            open_end,
        } => Node::FieldRef {
            field: field.clone(),
            other: other.clone(),
            open_start: *open_start,
            open_end: *open_end,
        },
        Expr::Match { field, pattern } => Node::Field {
            field: field.clone(),
            // The parser refuses a pattern that does not compile; one in a query built
            // otherwise (a request's own JSON) matches nothing rather than everything.
            test: Test::Regex(compile_regex(pattern).unwrap_or_else(|_| never())),
        },
    }
}

fn never() -> regex::Regex {
    #[allow(clippy::unwrap_used)] // a constant pattern
    regex::Regex::new(r"[^\s\S]").unwrap()
}

/// Roughly what testing `node` on an event costs, cheapest 0.
fn cost(node: &Node) -> u8 {
    match node {
        Node::Field {
            test: Test::Equal(glob),
            ..
        } if glob.pieces.len() == 1 => 0,
        Node::Field {
            test: Test::Order(..) | Test::Differs(_),
            ..
        } => 1,
        Node::Field {
            test: Test::Equal(_),
            ..
        } => 2,
        Node::Field {
            test: Test::Network(_) | Test::Regex(_),
            ..
        } => 3,
        Node::FieldRef { .. } => 2,
        Node::And(_) | Node::Or(_) | Node::Not(_) => 4,
        Node::Term(_) => 5,
    }
}

fn compile_compare(c: &Compare) -> Test {
    match c.op {
        CompareOp::Eq if !c.quoted && c.value.contains('/') => match c.value.parse::<IpNet>() {
            Ok(net) => Test::Network(net.trunc()),
            Err(_) => Test::Equal(Glob::new(&c.value, true)),
        },
        CompareOp::Eq => Test::Equal(Glob::new(&c.value, !c.quoted)),
        CompareOp::Ne => Test::Differs(Box::new(compile_compare(&Compare {
            op: CompareOp::Eq,
            ..c.clone()
        }))),
        op => Test::Order(
            op,
            match c.value.parse::<f64>() {
                Ok(n) if n.is_finite() => Operand::Number(n),
                _ => Operand::Text(c.value.clone()),
            },
        ),
    }
}

fn eval(node: &Node, fields: &impl Fields, text: &[u8]) -> bool {
    match node {
        Node::And(parts) => parts.iter().all(|p| eval(p, fields, text)),
        Node::Or(parts) => parts.iter().any(|p| eval(p, fields, text)),
        Node::Not(inner) => !eval(inner, fields, text),
        Node::Term(glob) => glob.matches_text(text),
        Node::Field { field, test } => fields.any(field, |value| passes(test, value)),
        Node::FieldRef {
            field,
            other,
            open_start,
            open_end,
        } => fields.any(field, |value| {
            fields.any(other, |other| {
                let (value, other) = (value.as_bytes(), other.as_bytes());
                match (open_start, open_end) {
                    (false, false) => value.eq_ignore_ascii_case(other),
                    (false, true) => starts_with_ignore_case(value, other),
                    (true, false) => {
                        value.len() >= other.len()
                            && value[value.len() - other.len()..].eq_ignore_ascii_case(other)
                    }
                    (true, true) => {
                        other.is_empty()
                            || value
                                .windows(other.len())
                                .any(|w| w.eq_ignore_ascii_case(other))
                    }
                }
            })
        }),
    }
}

/// One present field value against a compiled comparison.
fn passes(test: &Test, value: &str) -> bool {
    match test {
        Test::Equal(glob) => glob.matches_value(value.as_bytes()),
        Test::Differs(inner) => !passes(inner, value),
        Test::Network(net) => value.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
        Test::Regex(regex) => regex.is_match(value),
        Test::Order(op, operand) => {
            let ordering = match operand {
                Operand::Number(n) => as_number(value).and_then(|v| v.partial_cmp(n)),
                Operand::Text(t) => Some(value.cmp(t.as_str())),
            };
            ordering.is_some_and(|o| match op {
                CompareOp::Lt => o == Ordering::Less,
                CompareOp::Le => o != Ordering::Greater,
                CompareOp::Gt => o == Ordering::Greater,
                CompareOp::Ge => o != Ordering::Less,
                CompareOp::Eq => o == Ordering::Equal,
                CompareOp::Ne => o != Ordering::Equal,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::collections::HashMap;

    use super::*;
    use crate::query::parse;

    struct Event {
        fields: HashMap<&'static str, &'static str>,
        text: Vec<u8>,
    }

    impl Fields for Event {
        fn get(&self, field: &str) -> Option<Cow<'_, str>> {
            self.fields.get(field).map(|v| Cow::Borrowed(*v))
        }
    }

    fn event(text: &'static str, fields: &[(&'static str, &'static str)]) -> Event {
        Event {
            fields: fields.iter().copied().collect(),
            text: text.to_ascii_lowercase().into_bytes(),
        }
    }

    fn matches(query: &str, e: &Event) -> bool {
        let q = parse(query).unwrap();
        Matcher::new(q.search.as_ref()).matches(e, &e.text)
    }

    #[test]
    fn terms_match_whole_tokens_ignoring_case() {
        let e = event(
            r#"{"eventid":"cowrie.login.failed","username":"Admin","src_ip":"10.0.0.15"}"#,
            &[],
        );
        assert!(matches("admin", &e));
        assert!(matches("ADMIN", &e));
        assert!(matches("login", &e));
        assert!(matches("cowrie.login.failed", &e));
        assert!(!matches("adm", &e));
        assert!(!matches("10.0.0.1", &e));
        assert!(matches("10.0.0.15", &e));
        assert!(matches("adm*", &e));
        assert!(matches("*dmin", &e));
        assert!(matches("cowrie*failed", &e));
        // A wildcard stays inside one token: not across the quotes.
        assert!(!matches("admin*10.0.0.15", &e));
        assert!(matches("*", &e));
        assert!(matches(r#""login.failed""#, &e));
        assert!(!matches(r#""login fail""#, &e));
        let cowrie = event("Failed password for root from 1.2.3.4", &[]);
        assert!(matches(r#""failed password""#, &cowrie));
        assert!(!matches(r#""failed pass""#, &cowrie));
    }

    #[test]
    fn field_comparisons() {
        let e = event(
            "",
            &[
                ("action", "REJECT"),
                ("port", "22"),
                ("ip", "10.1.2.3"),
                ("v6", "2001:db8::1"),
                ("t", "2024-05-01"),
                ("same", "Alice"),
                ("same2", "ALICE"),
                ("head", "10.1"),
                ("tail", "2.3"),
                ("mid", ".1.2"),
            ],
        );
        for (q, want) in [
            ("action:reject", true),
            ("action=REJECT", true),
            ("action:acc*", false),
            ("action:RE*", true),
            ("action:*JEC*", true),
            ("action:*ct", true),
            ("action:*", true),
            ("missing:*", false),
            ("action!=ACCEPT", true),
            ("missing!=x", false),
            ("NOT missing:x", true),
            ("port>21", true),
            ("port>=22", true),
            ("port<22", false),
            ("port<=22.0", true),
            ("action>5", false),
            ("t>2024-04-30", true),
            ("t<\"2024-05-01\"", false),
            ("ip:10.0.0.0/8", true),
            ("ip:10.1.2.0/24", true),
            ("ip:10.1.3.0/24", false),
            ("ip:\"10.0.0.0/8\"", false),
            ("v6:2001:db8::/32", true),
            ("ip!=10.0.0.0/8", false),
            ("ip!=192.168.0.0/16", true),
            ("action:REJECT port:22", true),
            ("action:ACCEPT OR port:22", true),
            ("action:ACCEPT OR NOT port:22", false),
            ("(action:ACCEPT OR port:23) OR ip:10.*", true),
            (r#"action~"EJ""#, true),
            (r#"action~"ej""#, false),
            (r#"action~"(?i)^rej""#, true),
            (r#"action~"^EJ""#, false),
            (r#"port~"^\d+$""#, true),
            (r#"missing~".*""#, false),
            (r#"NOT missing~".*""#, true),
            ("same:$same2", true),
            ("same:$action", false),
            ("action:*$same*", false),
            ("v6:$missing", false),
            ("NOT v6:$missing", true),
            ("ip:*$tail", true),
            ("ip:$head*", true),
            ("ip:*$mid*", true),
            ("ip:$mid*", false),
            ("ip:\"$head\"", false),
        ] {
            assert_eq!(matches(q, &e), want, "{q}");
        }
    }

    #[test]
    fn a_pattern_that_does_not_compile_matches_nothing() {
        let e = event("", &[("a", "x")]);
        let bad = Expr::Match {
            field: "a".into(),
            pattern: "(".into(),
        };
        assert!(!Matcher::new(Some(&bad)).matches(&e, b""));
        assert!(!never().is_match(""));
        assert!(!never().is_match("x\n"));
    }

    #[test]
    fn needles_are_what_every_match_must_contain() {
        let needles = |q: &str| {
            let query = parse(q).expect("parses");
            Matcher::new(query.search.as_ref()).needles().map(|set| {
                set.into_iter()
                    .map(|n| String::from_utf8(n).expect("utf-8"))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(needles("src_ip:10.0.0.1"), Some(vec!["10.0.0.1".into()]));
        assert_eq!(
            needles("action:reject src_ip:10.0.* dst_ip:192.168.1.1"),
            Some(vec!["192.168.1.1".into()])
        );
        assert_eq!(
            needles("src_ip:1.2.3.4 OR dst_ip:2001::1"),
            Some(vec!["1.2.3.4".into(), "2001::1".into()])
        );
        assert_eq!(needles("\"10.1.1.1\""), Some(vec!["10.1.1.1".into()]));
        assert_eq!(needles("user:admin"), None, "letters may differ in case");
        assert_eq!(
            needles("dst_port:22"),
            None,
            "a number's text may be rewritten"
        );
        assert_eq!(needles("bytes:1.5"), None);
        assert_eq!(needles("src_ip:1.2.3.4 OR user:root"), None);
        assert_eq!(needles("NOT src_ip:1.2.3.4"), None);
        assert_eq!(needles("src_ip:10.0.0.0/8"), None);
        assert_eq!(needles("bytes>100"), None);
        assert_eq!(needles("*"), None);
    }

    #[test]
    fn knows_when_it_reads_the_text_and_which_fields() {
        let q = parse("a:1 (b:2 OR NOT c>3) a:4").unwrap();
        let m = Matcher::new(q.search.as_ref());
        assert!(!m.reads_text());
        assert_eq!(m.fields(), ["a", "b", "c"]);
        let q = parse("a:1 NOT word").unwrap();
        assert!(Matcher::new(q.search.as_ref()).reads_text());
        assert!(Matcher::new(None).matches(&event("", &[]), b""));
    }

    #[test]
    fn a_required_exact_equality_is_found_at_the_top_level_only() {
        let key = |q: &str| {
            let query = crate::parse(q).unwrap();
            let matcher = Matcher::new(query.search.as_ref());
            matcher
                .required_equality()
                .map(|(f, v)| (f.to_string(), String::from_utf8(v.to_vec()).unwrap()))
        };
        assert_eq!(
            key("eventName:ConsoleLogin"),
            Some(("eventName".into(), "consolelogin".into()))
        );
        assert_eq!(
            key("bytes>5 dst_port:22"),
            Some(("dst_port".into(), "22".into()))
        );
        assert_eq!(key("dst_port:2*"), None);
        assert_eq!(key("dst_port:22 OR dst_port:23"), None);
        assert_eq!(key("NOT dst_port:22"), None);
        assert_eq!(key("src_ip:10.0.0.0/8"), None);
        assert_eq!(key("admin"), None);
    }
}
