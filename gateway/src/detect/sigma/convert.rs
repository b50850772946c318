//! A Sigma rule's detection written as a sketchlake search, exactly: what it supports is
//! converted to the query language's own tests, and anything else is refused, naming the
//! feature, never approximated.
//!
//! - Strings match the whole value ignoring case, `*` and `?` wildcards; `contains`,
//!   `startswith`, `endswith` add them. `field:"literal"` and `field:pre*fix` where the
//!   query language spells them; else (`?`, a literal `*`, spaces, `cased`) a regex
//!   anchored at both ends: `field~"(?i)\Ahello world\z"`.
//! - `re` is `field~"…"` with its `i`, `m`, `s` flags; `cidr` is `field:10.0.0.0/8`;
//!   `gt`…`lte` are `>`…`<=`; `exists` is `field:*`; `null` is `NOT field:*`.
//! - `base64`, `base64offset`, `wide`/`utf16*` and `windash` expand a value into the
//!   values it stands for, as pySigma expands them.
//! - Keywords are found anywhere in the raw record (`_raw`), ignoring case.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, Modifier, Quantifier, SigmaRule, SigmaValue,
    SpecialChar, StringPart,
};
use shared_sketch::query::{Compare, CompareOp, Expr, compile_regex};

/// Why a rule cannot be converted: the Sigma feature, and what about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{feature}: {detail}")]
pub struct Refused {
    /// Short and stable, for counting refusals by reason (`expand`, `N of`, …).
    pub feature: String,
    pub detail: String,
}

pub(super) fn refuse<T>(feature: &str, detail: impl Into<String>) -> Result<T, Refused> {
    Err(Refused {
        feature: feature.to_string(),
        detail: detail.into(),
    })
}

/// The field naming the raw record, which keywords search.
const RAW: &str = "_raw";

/// The most values one value may expand into (`windash` multiplies per dash).
const MAX_EXPANSION: usize = 1024;

/// The rule's detection as a search, its fields renamed by `fields`.
pub fn detection(rule: &SigmaRule, fields: &HashMap<&str, &str>) -> Result<Expr, Refused> {
    let detections = &rule.detection;
    if let Some(timeframe) = &detections.timeframe {
        return refuse(
            "timeframe",
            format!(
                "`timeframe: {timeframe}` belongs to Sigma v1 aggregations; write a correlation rule"
            ),
        );
    }
    let mut named: Vec<(&str, Expr)> = Vec::new();
    for (name, detection) in &detections.named {
        named.push((name, convert_detection(detection, fields)?));
    }
    named.sort_by(|a, b| a.0.cmp(b.0));
    let conditions = detections
        .conditions
        .iter()
        .map(|c| condition(c, &named))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(or(conditions))
}

fn condition(c: &ConditionExpr, named: &[(&str, Expr)]) -> Result<Expr, Refused> {
    Ok(match c {
        ConditionExpr::And(parts) => and(parts
            .iter()
            .map(|p| condition(p, named))
            .collect::<Result<_, _>>()?),
        ConditionExpr::Or(parts) => or(parts
            .iter()
            .map(|p| condition(p, named))
            .collect::<Result<_, _>>()?),
        ConditionExpr::Not(inner) => Expr::Not(Box::new(condition(inner, named)?)),
        ConditionExpr::Identifier(name) => match named.iter().find(|(n, _)| n == name) {
            Some((_, expr)) => expr.clone(),
            None => return refuse("condition", format!("no detection is named {name:?}")),
        },
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let chosen: Vec<Expr> = named
                .iter()
                .filter(|(n, _)| pattern.matches_detection_name(n))
                .map(|(_, e)| e.clone())
                .collect();
            if chosen.is_empty() {
                return refuse(
                    "condition",
                    format!("`{quantifier} of {pattern}` names no detection"),
                );
            }
            match quantifier {
                Quantifier::Any | Quantifier::Count(1) => or(chosen),
                Quantifier::All => and(chosen),
                Quantifier::Count(n) => {
                    return refuse(
                        "N of",
                        format!("`{n} of {pattern}`: only `1 of` and `all of` are supported"),
                    );
                }
            }
        }
    })
}

fn convert_detection(d: &Detection, fields: &HashMap<&str, &str>) -> Result<Expr, Refused> {
    match d {
        Detection::AllOf(items) => Ok(and(items
            .iter()
            .map(|item| convert_item(item, fields))
            .collect::<Result<_, _>>()?)),
        Detection::AnyOf(parts) => Ok(or(parts
            .iter()
            .map(|p| convert_detection(p, fields))
            .collect::<Result<_, _>>()?)),
        Detection::Keywords(values) => {
            let mut any = Vec::new();
            for value in values {
                any.extend(value_expr(RAW, value, &Matching::keyword())?);
            }
            Ok(or(any))
        }
        Detection::ArrayMatch { .. } | Detection::And(_) | Detection::Conditional { .. } => refuse(
            "array blocks",
            "`field[any]:` / `field[all]:` array blocks are a proposed extension, not Sigma",
        ),
    }
}

/// How an item's values are compared, from its modifiers.
#[derive(Debug, Clone, Default)]
struct Matching {
    /// Wildcards added before and after each string.
    open_start: bool,
    open_end: bool,
    cased: bool,
    all: bool,
    /// `re`, and its flags.
    regex: Option<String>,
    cidr: bool,
    order: Option<CompareOp>,
    exists: bool,
    /// The value names another field, whose value is compared.
    fieldref: bool,
    /// Applied to each string, in order, before it is compared.
    encodings: Vec<Modifier>,
}

impl Matching {
    fn keyword() -> Matching {
        Matching {
            open_start: true,
            open_end: true,
            ..Matching::default()
        }
    }

    fn new(modifiers: &[Modifier]) -> Result<Matching, Refused> {
        let mut m = Matching::default();
        let mut flags = String::new();
        let mut re = false;
        for modifier in modifiers {
            match modifier {
                Modifier::Contains => (m.open_start, m.open_end) = (true, true),
                Modifier::StartsWith => m.open_end = true,
                Modifier::EndsWith => m.open_start = true,
                Modifier::All => m.all = true,
                Modifier::Cased => m.cased = true,
                Modifier::Re => re = true,
                Modifier::IgnoreCase => flags.push('i'),
                Modifier::Multiline => flags.push('m'),
                Modifier::DotAll => flags.push('s'),
                Modifier::Cidr => m.cidr = true,
                Modifier::Gt => m.order = Some(CompareOp::Gt),
                Modifier::Gte => m.order = Some(CompareOp::Ge),
                Modifier::Lt => m.order = Some(CompareOp::Lt),
                Modifier::Lte => m.order = Some(CompareOp::Le),
                Modifier::Exists => m.exists = true,
                Modifier::Base64
                | Modifier::Base64Offset
                | Modifier::Wide
                | Modifier::Utf16
                | Modifier::Utf16be
                | Modifier::WindAsh => m.encodings.push(*modifier),
                Modifier::Expand => {
                    return refuse(
                        "expand",
                        "`expand` fills in placeholders a pipeline defines; sketchlake has none",
                    );
                }
                Modifier::FieldRef => m.fieldref = true,
                Modifier::Neq => return refuse("neq", "the `neq` modifier"),
                Modifier::Minute
                | Modifier::Hour
                | Modifier::Day
                | Modifier::Week
                | Modifier::Month
                | Modifier::Year => {
                    return refuse(
                        "time parts",
                        format!("the `{}` modifier", modifier_name(*modifier)),
                    );
                }
            }
        }
        if re {
            m.regex = Some(flags);
        } else if !flags.is_empty() {
            return refuse("regex flags", "`i`, `m` and `s` go with `re`");
        }
        Ok(m)
    }
}

fn modifier_name(m: Modifier) -> String {
    serde_json::to_value(m)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{m:?}").to_lowercase())
}

/// A field as the events name it (`fields` maps Sigma's names), if a query can name it.
fn field_name<'a>(name: &'a str, fields: &HashMap<&str, &'a str>) -> Result<&'a str, Refused> {
    let field = fields.get(name).copied().unwrap_or(name);
    let writable = field.starts_with(|c: char| c.is_alphabetic() || matches!(c, '_' | '@'))
        && field
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '-'));
    if !writable {
        return refuse(
            "field name",
            format!("{field:?} cannot be named in a query; map it to another name"),
        );
    }
    Ok(field)
}

fn convert_item(item: &DetectionItem, fields: &HashMap<&str, &str>) -> Result<Expr, Refused> {
    let field = match &item.field.name {
        None => RAW,
        Some(name) => field_name(name, fields)?,
    };
    let mut matching = Matching::new(&item.field.modifiers)?;
    if matching.fieldref {
        return field_reference(field, item, &matching, fields);
    }
    if item.field.name.is_none() && !item.field.modifiers.iter().any(is_match_kind) {
        matching.open_start = true;
        matching.open_end = true;
    }
    let mut alternatives = Vec::with_capacity(item.values.len());
    for value in &item.values {
        alternatives.push(or(value_expr(field, value, &matching)?));
    }
    if alternatives.is_empty() {
        return refuse("empty", format!("{field} has no value"));
    }
    Ok(if matching.all {
        and(alternatives)
    } else {
        or(alternatives)
    })
}

/// `field|fieldref: other`: compared with the other field's value, as a whole, or with
/// `contains`, `startswith`, `endswith`.
fn field_reference(
    field: &str,
    item: &DetectionItem,
    m: &Matching,
    fields: &HashMap<&str, &str>,
) -> Result<Expr, Refused> {
    if m.cased
        || m.regex.is_some()
        || m.cidr
        || m.order.is_some()
        || m.exists
        || !m.encodings.is_empty()
    {
        return refuse(
            "fieldref",
            "`fieldref` goes with `contains`, `startswith`, `endswith` and `all` only",
        );
    }
    let mut parts = Vec::new();
    for value in &item.values {
        let other = match value {
            SigmaValue::String(s) => s.as_plain().unwrap_or_else(|| s.original.clone()),
            other => return refuse("fieldref", format!("`fieldref` names a field, not {other}")),
        };
        parts.push(Expr::FieldRef {
            field: field.to_string(),
            other: field_name(&other, fields)?.to_string(),
            open_start: m.open_start,
            open_end: m.open_end,
        });
    }
    Ok(if m.all { and(parts) } else { or(parts) })
}

fn is_match_kind(m: &Modifier) -> bool {
    matches!(
        m,
        Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith | Modifier::Re
    )
}

/// One Sigma value: the searches any of which it matches.
fn value_expr(field: &str, value: &SigmaValue, m: &Matching) -> Result<Vec<Expr>, Refused> {
    if m.exists {
        let present = compare(field, CompareOp::Eq, "*", false);
        return match value {
            SigmaValue::Bool(true) => Ok(vec![present]),
            SigmaValue::Bool(false) => Ok(vec![Expr::Not(Box::new(present))]),
            other => refuse(
                "exists",
                format!("`exists` takes true or false, not {other}"),
            ),
        };
    }
    if let Some(op) = m.order {
        let number = match value {
            SigmaValue::Integer(n) => n.to_string(),
            SigmaValue::Float(n) => n.to_string(),
            other => return refuse("compare", format!("`gt`/`lt` compare numbers, not {other}")),
        };
        return Ok(vec![compare(field, op, &number, false)]);
    }
    let text = match value {
        SigmaValue::Null => {
            return Ok(vec![Expr::Not(Box::new(compare(
                field,
                CompareOp::Eq,
                "*",
                false,
            )))]);
        }
        SigmaValue::Integer(n) => vec![Part::Lit(n.to_string())],
        SigmaValue::Float(n) => vec![Part::Lit(n.to_string())],
        SigmaValue::Bool(b) => vec![Part::Lit(b.to_string())],
        SigmaValue::String(s) => {
            if let Some(flags) = &m.regex {
                let pattern = match s.as_plain() {
                    Some(p) => p,
                    None => s.original.clone(),
                };
                let pattern = if flags.is_empty() {
                    pattern
                } else {
                    format!("(?{flags}){pattern}")
                };
                if let Err(e) = compile_regex(&pattern) {
                    return refuse("re", format!("{pattern:?} does not compile: {e}"));
                }
                return Ok(vec![Expr::Match {
                    field: field.to_string(),
                    pattern,
                }]);
            }
            s.parts
                .iter()
                .map(|p| match p {
                    StringPart::Plain(t) => Part::Lit(t.clone()),
                    StringPart::Special(SpecialChar::WildcardMulti) => Part::Any,
                    StringPart::Special(SpecialChar::WildcardSingle) => Part::One,
                })
                .collect()
        }
    };
    if m.cidr {
        let [Part::Lit(cidr)] = text.as_slice() else {
            return refuse("cidr", "a network with wildcards");
        };
        let cidr = if cidr.contains('/') {
            cidr.clone()
        } else if cidr.contains(':') {
            format!("{cidr}/128")
        } else {
            format!("{cidr}/32")
        };
        if cidr.parse::<ipnet::IpNet>().is_err() {
            return refuse("cidr", format!("{cidr:?} is not a network"));
        }
        return Ok(vec![compare(field, CompareOp::Eq, &cidr, false)]);
    }
    let mut values = vec![text];
    for encoding in &m.encodings {
        values = encode(values, *encoding)?;
    }
    Ok(values
        .into_iter()
        .map(|mut parts| {
            if m.open_start && parts.first() != Some(&Part::Any) {
                parts.insert(0, Part::Any);
            }
            if m.open_end && parts.last() != Some(&Part::Any) {
                parts.push(Part::Any);
            }
            glob(field, &parts, m.cased)
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    /// `*`
    Any,
    /// `?`
    One,
}

/// The search matching a whole value against `parts`.
fn glob(field: &str, parts: &[Part], cased: bool) -> Expr {
    let literal: String = parts
        .iter()
        .filter_map(|p| match p {
            Part::Lit(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    let has_one = parts.contains(&Part::One);
    let has_any = parts.contains(&Part::Any);
    if !cased && !has_one && !has_any {
        return compare(field, CompareOp::Eq, &literal, true);
    }
    if literal.is_empty() && !has_one {
        return compare(field, CompareOp::Eq, "*", false); // any value
    }
    // An unquoted word: no white space, `|`, parentheses, quotes or backslashes, and no
    // literal `*` or `$`.
    let bare = !literal.is_empty()
        && !literal
            .chars()
            // `$` would read as a field reference (`*$other*`).
            .any(|c| c.is_whitespace() || matches!(c, '|' | '(' | ')' | '"' | '\\' | '*' | '$'));
    if !cased && !has_one && bare {
        let word: String = parts
            .iter()
            .map(|p| match p {
                Part::Lit(t) => t.as_str(),
                _ => "*",
            })
            .collect();
        return compare(field, CompareOp::Eq, &word, false);
    }
    let (first, last) = (parts.first(), parts.last());
    let inner = match (first, last) {
        (Some(Part::Any), Some(Part::Any)) if parts.len() > 1 => &parts[1..parts.len() - 1],
        (Some(Part::Any), _) => &parts[1..],
        (_, Some(Part::Any)) => &parts[..parts.len() - 1],
        _ => parts,
    };
    // `s`: a wildcard matches any character, a line break too (as SQL's `%` does).
    let dots = inner.iter().any(|p| !matches!(p, Part::Lit(_)));
    let mut pattern = String::from(match (cased, dots) {
        (true, true) => "(?s)",
        (true, false) => "",
        (false, true) => "(?is)",
        (false, false) => "(?i)",
    });
    if first != Some(&Part::Any) {
        pattern.push_str(r"\A");
    }
    for part in inner {
        match part {
            Part::Lit(t) => pattern.push_str(&regex::escape(t)),
            Part::Any => pattern.push_str(".*"),
            Part::One => pattern.push('.'),
        }
    }
    if last != Some(&Part::Any) {
        pattern.push_str(r"\z");
    }
    Expr::Match {
        field: field.to_string(),
        pattern,
    }
}

/// Each value as `modifier` re-encodes it: `base64offset` and `windash` give several.
fn encode(values: Vec<Vec<Part>>, modifier: Modifier) -> Result<Vec<Vec<Part>>, Refused> {
    let mut out = Vec::new();
    for parts in values {
        if modifier == Modifier::WindAsh {
            out.extend(windash(&parts));
        } else {
            let [Part::Lit(text)] = parts.as_slice() else {
                return refuse(
                    &modifier_name(modifier),
                    "a value with wildcards cannot be encoded",
                );
            };
            for encoded in encode_text(text, modifier)? {
                out.push(vec![Part::Lit(encoded)]);
            }
        }
        if out.len() > MAX_EXPANSION {
            return refuse(
                &modifier_name(modifier),
                format!("a value expands into more than {MAX_EXPANSION}"),
            );
        }
    }
    Ok(out)
}

fn encode_text(text: &str, modifier: Modifier) -> Result<Vec<String>, Refused> {
    // Encodings chain on bytes: `wide` makes UTF-16, which `base64` then encodes. pySigma
    // keeps a value as text between modifiers; UTF-16 of ASCII is text (with NULs).
    let as_text = |bytes: Vec<u8>| {
        String::from_utf8(bytes).map_err(|_| Refused {
            feature: modifier_name(modifier),
            detail: "a non-ASCII value in UTF-16 is not text".to_string(),
        })
    };
    let utf16 = |big_endian: bool| -> Vec<u8> {
        text.encode_utf16()
            .flat_map(|u| {
                if big_endian {
                    u.to_be_bytes()
                } else {
                    u.to_le_bytes()
                }
            })
            .collect()
    };
    Ok(match modifier {
        Modifier::Base64 => vec![STANDARD.encode(text.as_bytes())],
        Modifier::Base64Offset => base64_offsets(text),
        Modifier::Wide => vec![as_text(utf16(false))?],
        Modifier::Utf16be => vec![as_text(utf16(true))?],
        Modifier::Utf16 => {
            let mut bytes = vec![0xff, 0xfe];
            bytes.extend(utf16(false));
            vec![as_text(bytes)?]
        }
        other => return refuse(&modifier_name(other), "not an encoding"),
    })
}

/// The three base64 texts that contain `text`'s encoding wherever it starts in a longer
/// text, as pySigma makes them: `text` after 0, 1 and 2 spaces, less the characters that
/// depend on what is around it. (pySigma counts the text's characters, not its bytes, to
/// choose the end; so does this.)
fn base64_offsets(text: &str) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let mut padded = vec![b' '; i];
            padded.extend_from_slice(text.as_bytes());
            let encoded = STANDARD.encode(&padded);
            let end = encoded.len() - END[(text.chars().count() + i) % 3];
            encoded.get(START[i]..end).unwrap_or_default().to_string()
        })
        .collect()
}

/// `windash`: each `-` or `/` that starts an option (not after a word character, before
/// one) as every dash Windows accepts, in every combination (pySigma's `\B[-/]\b`).
fn windash(parts: &[Part]) -> Vec<Vec<Part>> {
    const DASHES: [char; 5] = ['-', '/', '–', '—', '―'];
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    // A wildcard next to a literal is not a word character.
    let mut out: Vec<Vec<Part>> = vec![Vec::new()];
    for part in parts {
        let Part::Lit(text) = part else {
            for v in &mut out {
                v.push(part.clone());
            }
            continue;
        };
        let chars: Vec<char> = text.chars().collect();
        // Each literal splits at its option dashes into pieces between alternatives.
        let mut pieces: Vec<Vec<String>> = vec![vec![String::new()]];
        for (j, &c) in chars.iter().enumerate() {
            let before = j.checked_sub(1).map(|k| chars[k]);
            let after = chars.get(j + 1).copied();
            let starts_option = matches!(c, '-' | '/')
                && !before.is_some_and(is_word)
                && after.is_some_and(is_word);
            if starts_option {
                pieces.push(DASHES.iter().map(|d| d.to_string()).collect());
                pieces.push(vec![String::new()]);
            } else if let Some(last) = pieces.last_mut() {
                for s in last.iter_mut() {
                    s.push(c);
                }
            }
        }
        let mut texts = vec![String::new()];
        for choices in &pieces {
            texts = texts
                .iter()
                .flat_map(|t| choices.iter().map(move |c| format!("{t}{c}")))
                .collect();
        }
        out = out
            .iter()
            .flat_map(|v| {
                texts.iter().map(move |t| {
                    let mut v = v.clone();
                    v.push(Part::Lit(t.clone()));
                    v
                })
            })
            .collect();
    }
    out
}

fn compare(field: &str, op: CompareOp, value: &str, quoted: bool) -> Expr {
    Expr::Compare(Compare {
        field: field.to_string(),
        op,
        value: value.to_string(),
        quoted,
    })
}

fn and(mut parts: Vec<Expr>) -> Expr {
    if parts.len() == 1 {
        return parts.remove(0);
    }
    Expr::And(parts)
}

fn or(mut parts: Vec<Expr>) -> Expr {
    if parts.len() == 1 {
        return parts.remove(0);
    }
    Expr::Or(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The search a one-rule Sigma document converts to, or why it is refused.
    fn convert(written: &str) -> Result<String, Refused> {
        let yaml = format!(
            "title: t\nlogsource: {{product: aws, service: cloudtrail}}\ndetection:\n{written}"
        );
        let collection = rsigma_parser::parse_sigma_yaml(&yaml).unwrap();
        assert!(collection.errors.is_empty(), "{:?}", collection.errors);
        let fields = HashMap::from([("cs-uri-query", "request")]);
        detection(&collection.rules[0], &fields).map(|e| e.to_string())
    }

    fn converts(detection: &str, want: &str) {
        let got = convert(detection).unwrap_or_else(|e| panic!("{detection}: {e}"));
        assert_eq!(got, want, "{detection}");
        // What is printed is what runs: it parses back to the same search.
        let again = shared_sketch::parse(&got)
            .unwrap()
            .search
            .unwrap()
            .to_string();
        assert_eq!(again, got);
    }

    fn refused(detection: &str) -> String {
        convert(detection).unwrap_err().feature
    }

    #[test]
    fn values_become_the_query_languages_own_tests() {
        converts(
            "  sel: {eventName: ConsoleLogin}\n  condition: sel",
            r#"eventName:"ConsoleLogin""#,
        );
        converts(
            "  sel:\n    eventName|contains: Key\n    eventSource|endswith: .amazonaws.com\n  condition: sel",
            "eventName:*Key* AND eventSource:*.amazonaws.com",
        );
        converts(
            "  sel: {cs-uri-query|startswith: ['/a', '/b c']}\n  condition: sel",
            r#"request:/a* OR request~"(?i)\A/b c""#,
        );
        converts(
            "  sel: {f: 'a?c', g|cased: 'Ab*', h: 'x\\*y*'}\n  condition: sel",
            r#"f~"(?is)\Aa.c\z" AND g~"\AAb" AND h~"(?i)\Ax\*y""#,
        );
        converts(
            "  sel: {f|contains: '$AWS_URI', g|startswith: '$x'}\n  condition: sel",
            r#"f~"(?i)\$AWS_URI" AND g~"(?i)\A\$x""#,
        );
        converts(
            "  sel: {f|contains|all: [a, b]}\n  condition: sel",
            "f:*a* AND f:*b*",
        );
        converts(
            "  sel: {f: null, g|exists: true, h|exists: false, n|gte: 3, e: ''}\n  condition: sel",
            r#"NOT f:* AND g:* AND NOT h:* AND n>=3 AND e:"""#,
        );
        converts(
            "  sel: {f: '*', g|cased: '*'}\n  condition: sel",
            "f:* AND g:*",
        );
        converts(
            "  sel: {ip|cidr: ['10.0.0.0/8', '2001:db8::1']}\n  condition: sel",
            "ip:10.0.0.0/8 OR ip:2001:db8::1/128",
        );
        converts(
            "  sel: {f|re|i: '^a\"b\\d'}\n  condition: sel",
            r#"f~"(?i)^a\"b\d""#,
        );
        converts(
            "  sel: {f|fieldref: cs-uri-query, g|fieldref|endswith: [a, b]}\n  condition: sel",
            "f:$request AND (g:*$a OR g:*$b)",
        );
        converts(
            "  keywords: [evil, 'two words']\n  condition: keywords",
            r#"_raw:*evil* OR _raw~"(?i)two words""#,
        );
    }

    #[test]
    fn conditions_combine_the_named_detections() {
        converts(
            "  sel_a: {a: 1}\n  sel_b: {b: 2}\n  filter: {c: 3}\n  condition: 1 of sel_* and not filter",
            r#"(a:"1" OR b:"2") AND NOT c:"3""#,
        );
        converts(
            "  sel_a: {a: 1}\n  sel_b: {b: 2}\n  _hidden: {c: 3}\n  condition: all of them",
            r#"a:"1" AND b:"2""#,
        );
        converts(
            "  a: {a: 1}\n  b: {b: 2}\n  condition: (a or b) and not (a and b)",
            r#"(a:"1" OR b:"2") AND NOT (a:"1" AND b:"2")"#,
        );
        assert_eq!(refused("  a: {a: 1}\n  condition: 2 of a*"), "N of");
        assert_eq!(refused("  a: {a: 1}\n  condition: 1 of z*"), "condition");
    }

    #[test]
    fn encodings_expand_as_pysigma_expands_them() {
        // The expected values are pySigma 1.5's own (modifiers.py).
        converts(
            "  sel: {f|base64offset|contains: http}\n  condition: sel",
            "f:*aHR0c* OR f:*h0dH* OR f:*odHRw*",
        );
        converts(
            "  sel: {f|base64offset|contains: 'ä1'}\n  condition: sel",
            "f:*w6* OR f:*OkMQ==* OR f:*Dp*",
        );
        converts(
            "  sel: {f|wide|base64offset|contains: ping}\n  condition: sel",
            "f:*cABpAG4AZw* OR f:*AAaQBuAGcA* OR f:*wAGkAbgBnA*",
        );
        converts("  sel: {f|base64: ab}\n  condition: sel", r#"f:"YWI=""#);
        let dashes = convert("  sel: {f|windash|contains: ' -a -b'}\n  condition: sel").unwrap();
        assert_eq!(dashes.matches(" OR ").count(), 24, "{dashes}");
        assert!(dashes.contains(r#"f~"(?i) /a –b""#), "{dashes}");
        converts(
            "  sel: {f|windash: '*-x*'}\n  condition: sel",
            "f:*-x* OR f:*/x* OR f:*–x* OR f:*—x* OR f:*―x*",
        );
        assert_eq!(
            refused("  sel: {f|base64: 'a*'}\n  condition: sel"),
            "base64"
        );
    }

    #[test]
    fn what_is_not_supported_is_refused_by_name() {
        assert_eq!(
            refused("  sel: {f|expand: '%x%'}\n  condition: sel"),
            "expand"
        );
        assert_eq!(
            refused("  sel: {f|fieldref|cased: g}\n  condition: sel"),
            "fieldref"
        );
        assert_eq!(refused("  sel: {f|re: 'a(?=b)'}\n  condition: sel"), "re");
        assert_eq!(refused("  sel: {f|gt: abc}\n  condition: sel"), "compare");
        assert_eq!(refused("  sel: {f|cidr: 'x/8'}\n  condition: sel"), "cidr");
        assert_eq!(
            refused("  sel: {'Src IP': x}\n  condition: sel"),
            "field name"
        );
        assert_eq!(
            refused("  sel: {a: 1}\n  condition: sel\n  timeframe: 5m"),
            "timeframe"
        );
    }
}
