//! The newest matching events a partial keeps, cut and bounded.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_HIT_BYTES, MAX_HITS_TEXT};
use crate::query::{Post, Query, SortKey};
use crate::result::{Sortable, compare_by};

/// One matching event as read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Hit {
    /// The event's time, epoch milliseconds, when its format has one.
    pub time: Option<i64>,
    /// The data file, relative to the data root.
    pub file: String,
    /// 1-based line number in the (decompressed) file.
    pub line: u64,
    /// The event's text, at most `MAX_HIT_BYTES` (`truncated` says if cut).
    pub text: String,
    pub truncated: bool,
    /// The values of `| fields a, b` (absent fields left out).
    pub fields: BTreeMap<String, String>,
}

impl Hit {
    /// A hit without a time or fields.
    pub fn new(file: &str, line: u64, text: &str) -> Hit {
        Hit {
            time: None,
            file: file.to_string(),
            line,
            text: text.to_string(),
            truncated: false,
            fields: BTreeMap::new(),
        }
    }

    /// The values of `fields` as one key (`compound_key`), as `dedup` compares events;
    /// `None` when the hit lacks one.
    pub(crate) fn key(&self, fields: &[String]) -> Option<String> {
        let values: Option<Vec<&String>> = fields.iter().map(|f| self.fields.get(f)).collect();
        values.map(|values| crate::query::compound_key(&values))
    }

    /// The hit with its text cut to `MAX_HIT_BYTES` (at a character boundary), flagged.
    pub(super) fn cut(mut self) -> Hit {
        let mut end = self.text.len().min(MAX_HIT_BYTES);
        while !self.text.is_char_boundary(end) {
            end -= 1;
        }
        self.truncated |= end < self.text.len();
        self.text.truncate(end);
        self
    }
}

/// The newest of two ascending, deduplicated lists of hits, ascending: at most `limit`,
/// and at most `MAX_HITS_TEXT` bytes of text. Walks both from their newest ends; `a`'s
/// hits are moved, and only what is kept of `b` is copied.
pub(super) fn newest(mut a: Vec<Hit>, b: &[Hit], limit: usize) -> Vec<Hit> {
    let mut j = b.len();
    let mut kept: Vec<Hit> = Vec::new();
    let mut text = 0;
    while kept.len() < limit {
        let next = match (a.last(), j.checked_sub(1)) {
            (None, None) => break,
            (Some(_), None) => a.pop(),
            (None, Some(y)) => {
                j = y;
                Some(b[y].clone())
            }
            (Some(x), Some(y)) => match x.cmp(&b[y]) {
                Ordering::Greater => a.pop(),
                Ordering::Less => {
                    j = y;
                    Some(b[y].clone())
                }
                Ordering::Equal => {
                    j = y;
                    a.pop()
                }
            },
        };
        let Some(next) = next else { break };
        if kept.last() == Some(&next) {
            continue;
        }
        text += next.text.len();
        if text > MAX_HITS_TEXT {
            break;
        }
        kept.push(next);
    }
    kept.reverse();
    kept
}

/// Which matching events a partial keeps: the newest (no keys), or the first by `sort`'s
/// keys, newest first among equals; with `dedup` fields, only the first event of each
/// combination of their values (events lacking one are dropped, as in Splunk). Each side
/// of a merge keeps, per combination, its first event and the first `limit` of those, so
/// the merge keeps the same events in any order. The fields are read from each hit's
/// `fields`, which workers fill with them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HitRank {
    pub sort: Vec<SortKey>,
    pub dedup: Vec<String>,
}

impl HitRank {
    /// Which matching events `query` keeps: after a plain search, the first in its order
    /// (`Query::event_order`), one per value of a `dedup` without `keepevents`.
    pub fn of(query: &Query) -> HitRank {
        let mut rank = HitRank {
            sort: query.event_order(),
            dedup: Vec::new(),
        };
        if query.command.is_some() {
            return rank;
        }
        for post in &query.post {
            if let Post::Dedup {
                fields,
                keep_events: false,
            } = post
            {
                rank.dedup.clone_from(fields);
            }
        }
        rank
    }

    /// The default: the newest events, which the partial keeps without comparing fields.
    pub fn newest(&self) -> bool {
        self.sort.is_empty() && self.dedup.is_empty()
    }

    /// `Less` when `a` comes first.
    fn order(&self, a: &Hit, b: &Hit) -> Ordering {
        compare_by(
            &self.sort,
            |key, hit: &Hit| Sortable::of_text(hit.fields.get(&key.name).map(String::as_str)),
            a,
            b,
        )
        .then_with(|| b.cmp(a))
    }

    /// What to keep of `a` and `b`, each kept by this rank before: stored last-first, as
    /// the newest are (oldest first), so an answer lists them from the end.
    pub fn keep(&self, a: Vec<Hit>, b: &[Hit], limit: usize) -> Vec<Hit> {
        if self.newest() {
            return newest(a, b, limit);
        }
        let mut all = a;
        all.extend_from_slice(b);
        all.sort_by(|x, y| self.order(x, y));
        all.dedup();
        if !self.dedup.is_empty() {
            let mut seen = std::collections::HashSet::new();
            all.retain(|hit| hit.key(&self.dedup).is_some_and(|key| seen.insert(key)));
        }
        let mut text = 0;
        let fits = all
            .iter()
            .take(limit)
            .take_while(|hit| {
                text += hit.text.len();
                text <= MAX_HITS_TEXT
            })
            .count();
        all.truncate(fits);
        all.reverse();
        all
    }
}
