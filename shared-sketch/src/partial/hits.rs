//! The newest matching events a partial keeps, cut and bounded.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_HIT_BYTES, MAX_HITS_TEXT};

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
