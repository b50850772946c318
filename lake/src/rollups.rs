//! Detection rules' minute rollups, kept in the catalog: what ingest's pass over the events
//! computed for each rule, so that a rule's run merges stored minutes instead of
//! rescanning. One row holds one rule's minutes from one source (an hour's file is one row
//! of 60 minutes, not 60 rows: measured, a row per minute made storing them most of the
//! rules' cost in ingest). A source's rollups for a rule are replaced whole whenever the
//! source is evaluated again (a rerun after a crash, a raw file that grew), so nothing
//! counts twice. Each write takes the next batch number; a rule's run reads what came
//! since its last.

use std::collections::HashMap;
use std::sync::Arc;

use shared_sketch::Partial;
use sqlx::Row;
use workers::{Rollup, Watch};

use crate::catalog::{Catalog, CatalogError, Entry, State};

/// A rule as rollups are kept for it: its id, and the version of what it computes (a
/// changed query is a new version, whose rollups start afresh).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleKey {
    pub id: String,
    pub version: String,
}

/// The rules one tenant's ingest evaluates, in the order of their `Watch`es; cheap to
/// clone onto the threads that read files.
#[derive(Debug, Clone, Default)]
pub struct Watching {
    pub keys: Arc<[RuleKey]>,
    pub watches: Arc<[Watch]>,
}

impl Watching {
    pub fn new(rules: Vec<(RuleKey, Watch)>) -> Watching {
        let (keys, watches): (Vec<_>, Vec<_>) = rules.into_iter().unzip();
        Watching {
            keys: keys.into(),
            watches: watches.into(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A rule's minutes from one source: each minute's start (epoch ms) and rollup.
type Minutes = Vec<(i64, Partial)>;

fn decode_minutes(bytes: &[u8], source: &str, rule: &RuleKey) -> Result<Minutes, CatalogError> {
    shared_sketch::codec::decode_stored(bytes).map_err(|e| CatalogError::Row {
        uri: source.to_string(),
        why: format!("rollups of {}: {e}", rule.id),
    })
}

/// One row of `rule_minutes`: a rule's minutes from one source, encoded (`Rows::stored`).
#[derive(Debug)]
struct MinutesRow {
    rule: RuleKey,
    first: i64,
    last: i64,
    minutes: i64,
    stored: usize,
}

/// Rows of `rule_minutes`, and the encodings they hold: rules that roll up alike share one.
#[derive(Debug, Default)]
struct Rows {
    stored: Vec<Vec<u8>>,
    rows: Vec<MinutesRow>,
}

impl Rows {
    /// Adds the row holding `rule`'s minutes from `first` to `last`, `minutes` of them, as
    /// `stored` (`codec::encode_stored` of them): its place.
    fn push(
        &mut self,
        rule: &RuleKey,
        (first, last, minutes): (i64, i64, u64),
        stored: Vec<u8>,
    ) -> usize {
        self.stored.push(stored);
        self.rows.push(MinutesRow {
            rule: rule.clone(),
            first,
            last,
            minutes: i64::try_from(minutes).unwrap_or(i64::MAX),
            stored: self.stored.len() - 1,
        });
        self.rows.len() - 1
    }

    /// Adds, for `rule`, a row holding what the row at `place` holds.
    fn repeat(&mut self, place: usize, rule: &RuleKey) {
        let same = &self.rows[place];
        let row = MinutesRow {
            rule: rule.clone(),
            ..*same
        };
        self.rows.push(row);
    }
}

/// One source's rollups for some rules, to be stored with the change that made them.
#[derive(Debug, Default)]
pub struct Detected {
    /// The file the events were read from (its catalog uri).
    pub source: String,
    /// Its modification time as catalogued (a raw file evaluated again once it changes).
    pub modified_ms: i64,
    /// Every rule evaluated, also those without a match: their old rollups go.
    pub rules: Vec<RuleKey>,
    /// `Rollup::rule` indexes `rules`.
    pub rollups: Vec<Rollup>,
}

impl Detected {
    /// The rollups as the catalog's rows.
    pub fn encode(self) -> Encoded {
        let mut rows = Rows::default();
        for rollup in self.rollups.into_iter().filter(|r| r.minutes > 0) {
            if let Some(key) = self.rules.get(rollup.rule) {
                let span = (rollup.first, rollup.last, rollup.minutes);
                let place = rows.push(key, span, rollup.stored);
                // The rules that roll up alike get the same row, stored once.
                for key in rollup.also.iter().filter_map(|&r| self.rules.get(r)) {
                    rows.repeat(place, key);
                }
            }
        }
        Encoded {
            source: self.source,
            modified_ms: self.modified_ms,
            rules: self.rules,
            rows,
        }
    }
}

/// `Detected`, encoded for the catalog.
#[derive(Debug)]
pub struct Encoded {
    pub source: String,
    pub modified_ms: i64,
    pub rules: Vec<RuleKey>,
    rows: Rows,
}

/// Rows a multi-row statement writes at most: within both databases' parameter limits
/// (SQLite's 32,766, PostgreSQL's 65,535) at nine parameters a row.
const ROWS_PER_STATEMENT: usize = 500;

/// `rows` tuples for a multi-row statement, each shaped as `shape`: its `$1`, `$2`… are
/// the statement's `shared` parameters, and each `?` the row's own next one, numbered
/// after them, row by row.
fn tuples(rows: usize, shared: usize, shape: &str) -> String {
    let mut next = shared;
    let mut tuple = || {
        shape
            .split('?')
            .enumerate()
            .map(|(i, part)| {
                if i == 0 {
                    part.to_string()
                } else {
                    next += 1;
                    format!("${next}{part}")
                }
            })
            .collect::<String>()
    };
    (0..rows).map(|_| tuple()).collect::<Vec<_>>().join(", ")
}

impl Catalog {
    /// Replaces `detected.source`'s rollups for each of its rules, within `tx`, under a new
    /// batch number; or, `replace` false, adds them to what is stored. A few statements
    /// for all the rules (measured: a few per rule made storing them a tenth of the
    /// rules' cost in ingest at 100 rules).
    async fn store_rollups(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        detected: &Encoded,
        replace: bool,
    ) -> Result<(), CatalogError> {
        if detected.rules.is_empty() {
            return Ok(());
        }
        // The row lock orders writers: batches commit in the order they are numbered.
        let batch: i64 = sqlx::query(
            "UPDATE catalog_meta SET value = value + 1 WHERE key = 'rollup_batch' RETURNING value",
        )
        .fetch_one(&mut **tx)
        .await?
        .try_get(0)?;
        if replace {
            for rules in detected.rules.chunks(ROWS_PER_STATEMENT) {
                let sql = format!(
                    "DELETE FROM rule_minutes WHERE tenant = $1 AND source = $2 AND (rule, version) IN (VALUES {})",
                    tuples(rules.len(), 2, "(?, ?)")
                );
                let mut delete = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&self.tenant)
                    .bind(&detected.source);
                for rule in rules {
                    delete = delete.bind(&rule.id).bind(&rule.version);
                }
                delete.execute(&mut **tx).await?;
            }
            self.record_reads(tx, &detected.rules, &detected.source, detected.modified_ms)
                .await?;
        }
        self.insert_minutes(tx, &detected.source, batch, &detected.rows)
            .await
    }

    /// Records that each of `rules` has read `source` as it was at `modified_ms`.
    async fn record_reads(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        rules: &[RuleKey],
        source: &str,
        modified_ms: i64,
    ) -> Result<(), CatalogError> {
        for rules in rules.chunks(ROWS_PER_STATEMENT) {
            // $1 tenant, $2 source, $3 modified_ms; then each rule's id and version.
            let sql = format!(
                "INSERT INTO rule_sources (tenant, rule, version, source, modified_ms) VALUES {}
                 ON CONFLICT (tenant, rule, version, source) DO UPDATE SET modified_ms = excluded.modified_ms",
                tuples(rules.len(), 3, "($1, ?, ?, $2, $3)")
            );
            let mut upsert = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&self.tenant)
                .bind(source)
                .bind(modified_ms);
            for rule in rules {
                upsert = upsert.bind(&rule.id).bind(&rule.version);
            }
            upsert.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Adds rollups of what was appended to `detected.source` up to
    /// `detected.modified_ms`, and records that mark for each of its rules, in one
    /// transaction: the alerts data set, read by each rule from where it stopped.
    pub async fn append_rollups_read(&self, detected: Detected) -> Result<(), CatalogError> {
        let encoded = detected.encode();
        let mut tx = self.write().await?;
        self.store_rollups(&mut tx, &encoded, false).await?;
        self.record_reads(
            &mut tx,
            &encoded.rules,
            &encoded.source,
            encoded.modified_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// How far `rule` has read `source` (the mark `append_rollups_read` or ingest recorded).
    pub async fn read_mark(
        &self,
        rule: &RuleKey,
        source: &str,
    ) -> Result<Option<i64>, CatalogError> {
        let row = sqlx::query(
            "SELECT modified_ms FROM rule_sources WHERE tenant = $1 AND rule = $2 AND version = $3 AND source = $4",
        )
        .bind(&self.tenant)
        .bind(&rule.id)
        .bind(&rule.version)
        .bind(source)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Rows of rules' minutes from `source`, written in `batch`.
    async fn insert_minutes(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        source: &str,
        batch: i64,
        rows: &Rows,
    ) -> Result<(), CatalogError> {
        let Rows { stored, rows } = rows;
        for rows in rows.chunks(ROWS_PER_STATEMENT) {
            // $1 tenant, $2 source, $3 batch; then six a row.
            let sql = format!(
                "INSERT INTO rule_minutes (tenant, rule, version, source, first_minute, last_minute, batch, minutes, rollups)
                 VALUES {}",
                tuples(rows.len(), 3, "($1, ?, ?, $2, ?, ?, $3, ?, ?)")
            );
            let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(&self.tenant)
                .bind(source)
                .bind(batch);
            for row in rows {
                insert = insert
                    .bind(&row.rule.id)
                    .bind(&row.rule.version)
                    .bind(row.first)
                    .bind(row.last)
                    .bind(row.minutes)
                    .bind(&stored[row.stored]);
            }
            insert.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// `swap`, storing the rules' rollups of the events in the same transaction: a source
    /// ingested is also a source evaluated, or neither. (`Detected::encode` makes them.)
    pub async fn swap_detected(
        &self,
        replaced: &[Entry],
        state: State,
        added: &[Entry],
        detected: &Encoded,
    ) -> Result<(), CatalogError> {
        let mut tx = self.write().await?;
        self.swap_in(&mut tx, replaced, state, added).await?;
        self.store_rollups(&mut tx, detected, true).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores rollups of a file that changes nothing else (a raw file read where it is),
    /// replacing what its rules had of it.
    pub async fn add_rollups(&self, detected: Detected) -> Result<(), CatalogError> {
        let encoded = detected.encode();
        let mut tx = self.write().await?;
        self.store_rollups(&mut tx, &encoded, true).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds rollups to what is stored, replacing nothing (a backfill's, after
    /// `delete_rollups_since`).
    pub async fn append_rollups(&self, detected: Detected) -> Result<(), CatalogError> {
        let encoded = detected.encode();
        let mut tx = self.write().await?;
        self.store_rollups(&mut tx, &encoded, false).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes `rule`'s rollups of the minutes from `since_ms` on, whatever their source
    /// (a row holding minutes on both sides keeps those before).
    pub async fn delete_rollups_since(
        &self,
        rule: &RuleKey,
        since_ms: i64,
    ) -> Result<(), CatalogError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "DELETE FROM rule_minutes WHERE tenant = $1 AND rule = $2 AND version = $3 AND first_minute >= $4",
        )
        .bind(&self.tenant)
        .bind(&rule.id)
        .bind(&rule.version)
        .bind(since_ms)
        .execute(&mut *tx)
        .await?;
        let straddling = sqlx::query(
            "SELECT source, batch, rollups FROM rule_minutes
             WHERE tenant = $1 AND rule = $2 AND version = $3 AND last_minute >= $4",
        )
        .bind(&self.tenant)
        .bind(&rule.id)
        .bind(&rule.version)
        .bind(since_ms)
        .fetch_all(&mut *tx)
        .await?;
        for row in straddling {
            let (source, batch): (String, i64) = (row.try_get(0)?, row.try_get(1)?);
            let mut minutes = decode_minutes(&row.try_get::<Vec<u8>, _>(2)?, &source, rule)?;
            minutes.retain(|(m, _)| *m < since_ms);
            sqlx::query(
                "DELETE FROM rule_minutes WHERE tenant = $1 AND rule = $2 AND version = $3 AND source = $4 AND batch = $5",
            )
            .bind(&self.tenant)
            .bind(&rule.id)
            .bind(&rule.version)
            .bind(&source)
            .bind(batch)
            .execute(&mut *tx)
            .await?;
            let starts = minutes.iter().map(|(m, _)| *m);
            let (Some(first), Some(last)) = (starts.clone().min(), starts.max()) else {
                continue;
            };
            let stored =
                shared_sketch::codec::encode_stored(&minutes).map_err(|e| CatalogError::Row {
                    uri: source.clone(),
                    why: format!("rollups of {}: {e}", rule.id),
                })?;
            let mut row = Rows::default();
            row.push(rule, (first, last, minutes.len() as u64), stored);
            self.insert_minutes(&mut tx, &source, batch, &row).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// What each source was like (its modification time) when each rule version last read
    /// it, by source, for every rule of the tenant: one query, however many files and rules.
    pub async fn evaluated_sources(
        &self,
    ) -> Result<HashMap<String, HashMap<RuleKey, i64>>, CatalogError> {
        let rows = sqlx::query(
            "SELECT rule, version, source, modified_ms FROM rule_sources WHERE tenant = $1",
        )
        .bind(&self.tenant)
        .fetch_all(&self.pool)
        .await?;
        let mut sources: HashMap<String, HashMap<RuleKey, i64>> = HashMap::new();
        for row in &rows {
            let key = RuleKey {
                id: row.try_get(0)?,
                version: row.try_get(1)?,
            };
            sources
                .entry(row.try_get(2)?)
                .or_default()
                .insert(key, row.try_get(3)?);
        }
        Ok(sources)
    }

    /// The spans of minutes (first and last, epoch ms) of `rule`'s rollups written after
    /// batch `since`, and the newest batch among them (`since` when there are none).
    pub async fn rollups_since(
        &self,
        rule: &RuleKey,
        since: i64,
    ) -> Result<(Vec<(i64, i64)>, i64), CatalogError> {
        let rows = sqlx::query(
            "SELECT first_minute, last_minute, batch FROM rule_minutes
             WHERE tenant = $1 AND rule = $2 AND version = $3 AND batch > $4",
        )
        .bind(&self.tenant)
        .bind(&rule.id)
        .bind(&rule.version)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let mut spans = Vec::with_capacity(rows.len());
        let mut newest = since;
        for row in rows {
            spans.push((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?));
            newest = newest.max(row.try_get::<i64, _>(2)?);
        }
        spans.sort_unstable();
        Ok((spans, newest))
    }

    /// `rule`'s rollups of the minutes in `[start, end)` (epoch ms), each with its minute,
    /// in minute order.
    pub async fn rollups(
        &self,
        rule: &RuleKey,
        (start, end): (i64, i64),
    ) -> Result<Vec<(i64, Partial)>, CatalogError> {
        let rows = sqlx::query(
            "SELECT source, rollups FROM rule_minutes
             WHERE tenant = $1 AND rule = $2 AND version = $3 AND last_minute >= $4 AND first_minute < $5",
        )
        .bind(&self.tenant)
        .bind(&rule.id)
        .bind(&rule.version)
        .bind(start)
        .bind(end)
        .fetch_all(&self.pool)
        .await?;
        let mut all = Vec::new();
        for row in rows {
            let source: String = row.try_get(0)?;
            let minutes = decode_minutes(&row.try_get::<Vec<u8>, _>(1)?, &source, rule)?;
            all.extend(minutes.into_iter().filter(|(m, _)| start <= *m && *m < end));
        }
        all.sort_by_key(|(m, _)| *m);
        Ok(all)
    }

    /// The batch `rule`'s runs have read up to (0 before its first).
    pub async fn run_mark(&self, rule: &RuleKey) -> Result<i64, CatalogError> {
        Ok(sqlx::query(
            "SELECT batch FROM rule_runs WHERE tenant = $1 AND rule = $2 AND version = $3",
        )
        .bind(&self.tenant)
        .bind(&rule.id)
        .bind(&rule.version)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| row.try_get(0))
        .transpose()?
        .unwrap_or(0))
    }

    /// Records that `rule`'s runs have read up to `batch`, at `now_ms`.
    pub async fn set_run_mark(
        &self,
        rule: &RuleKey,
        batch: i64,
        now_ms: i64,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO rule_runs (tenant, rule, version, batch, run_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant, rule, version) DO UPDATE SET batch = excluded.batch, run_ms = excluded.run_ms",
        )
        .bind(&self.tenant)
        .bind(&rule.id)
        .bind(&rule.version)
        .bind(batch)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When each of the tenant's rules last ran, by id (its newest version's run).
    pub async fn last_runs(&self) -> Result<Vec<(String, i64)>, CatalogError> {
        let rows = sqlx::query(
            "SELECT rule, MAX(run_ms) FROM rule_runs WHERE tenant = $1 GROUP BY rule ORDER BY rule",
        )
        .bind(&self.tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tuples_number_each_rows_parameters_after_the_shared_ones() {
        assert_eq!(super::tuples(2, 2, "(?, ?)"), "($3, $4), ($5, $6)");
        assert_eq!(
            super::tuples(2, 3, "($1, ?, $2, ?)"),
            "($1, $4, $2, $5), ($1, $6, $2, $7)"
        );
    }
}
