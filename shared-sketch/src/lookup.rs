//! Lookup tables (`| lookup bad_ips ip AS src_ip OUTPUT threat`): CSV tables a tenant
//! keeps in the lake — IOC lists, asset owners — read once by the gateway and shipped to
//! every worker with the query, so the Lambda workers need no access of their own.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};

/// The largest table accepted: it travels in every worker request (a Lambda request holds
/// 6 MiB), and every worker holds it in memory.
pub const MAX_LOOKUP_BYTES: usize = 3 << 20;
/// Most columns of a table.
pub const MAX_LOOKUP_COLUMNS: usize = 64;
/// A table's name: letters, digits, `_` and `-`, as a query names it.
pub const MAX_LOOKUP_NAME: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("a lookup table's name is 1 to {MAX_LOOKUP_NAME} letters, digits, `_` or `-`: {0:?}")]
    Name(String),
    #[error("the table is {0} bytes; a lookup table holds at most {MAX_LOOKUP_BYTES}")]
    TooLarge(usize),
    #[error("line {line}: {message}")]
    Csv { line: usize, message: String },
    #[error("the table has no header row")]
    Empty,
}

pub fn check_name(name: &str) -> Result<(), LookupError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_LOOKUP_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(LookupError::Name(name.to_string()))
    }
}

/// A column's values, ASCII lower-cased, each with the first row holding it.
type RowsByValue = Arc<HashMap<String, usize>>;

/// A table as uploaded: its header and rows, every row as wide as the header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LookupTable {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Per column, its rows by value once a `lookup` has matched on it: every file a
    /// query scans shares the one index (a table of 100,000 rows is not indexed again per
    /// file).
    #[serde(skip)]
    indexes: OnceLock<Vec<OnceLock<RowsByValue>>>,
}

impl PartialEq for LookupTable {
    fn eq(&self, other: &Self) -> bool {
        self.columns == other.columns && self.rows == other.rows
    }
}

impl Eq for LookupTable {}

impl LookupTable {
    /// Reads CSV text (RFC 4180: `,`, `"` quoting, a header row first). A row of another
    /// width, a duplicate or empty column name, or a table over the limits is refused with
    /// its line: a table half read would answer wrong.
    pub fn from_csv(text: &[u8]) -> Result<LookupTable, LookupError> {
        if text.len() > MAX_LOOKUP_BYTES {
            return Err(LookupError::TooLarge(text.len()));
        }
        let text = std::str::from_utf8(text).map_err(|e| LookupError::Csv {
            line: 1 + text[..e.valid_up_to()]
                .iter()
                .filter(|&&b| b == b'\n')
                .count(),
            message: "not UTF-8".to_string(),
        })?;
        let mut records = csv_records(text.trim_start_matches('\u{feff}'));
        let (_, columns) = records.next().ok_or(LookupError::Empty)??;
        let columns: Vec<String> = columns.into_iter().map(|c| c.trim().to_string()).collect();
        if columns.len() > MAX_LOOKUP_COLUMNS {
            return Err(LookupError::Csv {
                line: 1,
                message: format!("{} columns; at most {MAX_LOOKUP_COLUMNS}", columns.len()),
            });
        }
        for (i, column) in columns.iter().enumerate() {
            if column.is_empty() || columns[..i].contains(column) {
                return Err(LookupError::Csv {
                    line: 1,
                    message: format!("column {} is empty or named twice: {column:?}", i + 1),
                });
            }
        }
        let mut rows = Vec::new();
        for record in records {
            let (line, row) = record?;
            if row.len() == 1 && row[0].is_empty() {
                continue;
            }
            if row.len() != columns.len() {
                return Err(LookupError::Csv {
                    line,
                    message: format!("{} values for {} columns", row.len(), columns.len()),
                });
            }
            rows.push(row);
        }
        Ok(LookupTable {
            columns,
            rows,
            indexes: OnceLock::new(),
        })
    }

    /// The table indexed by `key`'s values (ASCII case ignored, as searches compare
    /// values); the first row of a repeated value wins. `None` without such a column.
    pub fn indexed(self: &Arc<Self>, key: &str) -> Option<Indexed> {
        let column = self.columns.iter().position(|c| c == key)?;
        let slots = self
            .indexes
            .get_or_init(|| self.columns.iter().map(|_| OnceLock::new()).collect());
        let rows = slots.get(column)?.get_or_init(|| {
            let mut rows = HashMap::with_capacity(self.rows.len());
            for (i, row) in self.rows.iter().enumerate() {
                if let Some(value) = row.get(column) {
                    rows.entry(value.to_ascii_lowercase()).or_insert(i);
                }
            }
            Arc::new(rows)
        });
        Some(Indexed {
            table: Arc::clone(self),
            rows: Arc::clone(rows),
        })
    }
}

/// A table's rows by one column's value.
#[derive(Debug, Clone)]
pub struct Indexed {
    pub table: Arc<LookupTable>,
    rows: RowsByValue,
}

impl Indexed {
    /// The row whose key is `value`.
    pub fn row(&self, value: &str) -> Option<&[String]> {
        let i = match self.rows.get(value) {
            Some(i) => *i,
            None => *self.rows.get(&value.to_ascii_lowercase())?,
        };
        self.table.rows.get(i).map(Vec::as_slice)
    }
}

/// The tables a query's `lookup`s name, by name.
pub type Lookups = BTreeMap<String, Arc<LookupTable>>;

/// The records of CSV `text`, each with its first line's number.
fn csv_records(text: &str) -> impl Iterator<Item = Result<(usize, Vec<String>), LookupError>> + '_ {
    let mut rest = text;
    let mut line = 1;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let start = line;
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut chars = rest.char_indices().peekable();
        let mut quoted = false;
        let mut at_start = true;
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' if quoted => {
                    if chars.peek().is_some_and(|&(_, n)| n == '"') {
                        chars.next();
                        field.push('"');
                    } else {
                        quoted = false;
                    }
                }
                '"' if at_start => {
                    quoted = true;
                    at_start = false;
                }
                ',' if !quoted => {
                    fields.push(std::mem::take(&mut field));
                    at_start = true;
                }
                '\n' if !quoted => {
                    end = i + 1;
                    break;
                }
                '\r' if !quoted && chars.peek().is_some_and(|&(_, n)| n == '\n') => {}
                c => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                    at_start = false;
                }
            }
        }
        line += 1;
        rest = &rest[end..];
        if quoted {
            rest = "";
            return Some(Err(LookupError::Csv {
                line: start,
                message: "a quoted value is not closed".to_string(),
            }));
        }
        fields.push(field);
        Some(Ok((start, fields)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_csv_and_finds_rows_by_any_column() {
        let table = LookupTable::from_csv(
            b"\xef\xbb\xbfip,threat,note\r\n10.0.0.1,scanner,\"a, b\"\n10.0.0.2,c2,\"say \"\"hi\"\"\nthere\"\n\n10.0.0.1,dup,x\n",
        )
        .unwrap();
        assert_eq!(table.columns, ["ip", "threat", "note"]);
        assert_eq!(table.rows.len(), 3);
        assert_eq!(table.rows[1][2], "say \"hi\"\nthere");
        let table = Arc::new(table);
        let by_ip = table.indexed("ip").unwrap();
        assert_eq!(by_ip.row("10.0.0.1").unwrap()[1], "scanner");
        assert!(by_ip.row("10.0.0.3").is_none());
        // One index per column, shared by every scan that asks for it.
        let again = table.indexed("ip").unwrap();
        assert!(Arc::ptr_eq(&by_ip.rows, &again.rows));
        let by_threat = table.indexed("threat").unwrap();
        assert_eq!(by_threat.row("C2").unwrap()[0], "10.0.0.2");
        assert!(table.indexed("nosuch").is_none());
    }

    #[test]
    fn bad_tables_are_refused_with_their_line() {
        let err = |text: &[u8]| LookupTable::from_csv(text).unwrap_err().to_string();
        assert_eq!(err(b""), "the table has no header row");
        assert_eq!(err(b"a,b\n1,2\n3\n"), "line 3: 1 values for 2 columns");
        assert_eq!(
            err(b"a,a\n"),
            "line 1: column 2 is empty or named twice: \"a\""
        );
        assert_eq!(err(b"a\n\"open\n"), "line 2: a quoted value is not closed");
        assert_eq!(err(b"a\n\xff\n"), "line 2: not UTF-8");
        assert!(err(&vec![b'a'; MAX_LOOKUP_BYTES + 1]).contains("at most"));
        assert!(check_name("bad_ips-2").is_ok());
        assert!(check_name("../x").is_err());
        assert!(check_name("").is_err());
    }
}
