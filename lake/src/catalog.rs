//! The catalog: every file a query may read — log files registered where they are, and the
//! segments ingest writes — with what planning needs to rule one out unread (its time range)
//! and to report on it (rows, bytes). Embedded SQLite by default, PostgreSQL by URL when
//! several gateways share one lake: the same SQL through sqlx's Any driver, tested on both.
//!
//! Every change that makes data visible or invisible is one transaction, so a query plans
//! either the old files or the new ones, never half of each.
//!
//! A `Catalog` speaks for one tenant: the files it registers are that tenant's, and it
//! lists and plans only those, so a query run for one tenant cannot plan another's files
//! even when their gateways share a database. The same database also holds what the
//! gateway knows about access: tenants, API keys (hashed) and the widget-token key.

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow, install_default_drivers};
use sqlx::{AnyPool, Row};

/// Bumped when the tables change; a newer catalog is refused rather than misread.
const SCHEMA_VERSION: i64 = 7;

/// `Catalog::plan`'s query. The formats are spelled out because the SQL must be a literal:
/// `workers::FORMATS` in order, bound to $3…$9 (a test holds the two together). An entry of
/// any other format matches no branch, is distinct from NULL, and is never ruled out.
const PLAN_SQL: &str =
    "SELECT uri, kind, bytes, source FROM files WHERE state = 'active' AND tenant = $10 AND (
    time_fields IS DISTINCT FROM CASE format
        WHEN 'ndjson' THEN $3 WHEN 'json' THEN $4 WHEN 'zeek' THEN $5
        WHEN 'vpcflow' THEN $6 WHEN 'apache' THEN $7 WHEN 'csv' THEN $8
        WHEN 'text' THEN $9 END
    OR time_min IS NULL OR time_max IS NULL
    OR (time_max >= $1 AND time_min < $2)
) ORDER BY uri";

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS catalog_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS files (
        uri TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        format TEXT NOT NULL,
        time_min BIGINT,
        time_max BIGINT,
        time_fields TEXT NOT NULL,
        row_count BIGINT,
        bytes BIGINT NOT NULL,
        index_uri TEXT,
        source TEXT,
        modified_ms BIGINT NOT NULL,
        state TEXT NOT NULL,
        tenant TEXT NOT NULL DEFAULT 'default'
    )",
    "CREATE INDEX IF NOT EXISTS files_by_state_time ON files (state, time_max)",
    "CREATE INDEX IF NOT EXISTS files_by_tenant ON files (tenant, state, time_max)",
    // Added in place: an older catalog gains the table, and nothing else changes.
    // A tenant's lookup tables, as CSV (lookups.rs).
    "CREATE TABLE IF NOT EXISTS lookups (
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        csv BYTEA NOT NULL,
        columns TEXT NOT NULL,
        row_count BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, name)
    )",
    "CREATE TABLE IF NOT EXISTS saved_queries (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        q TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        UNIQUE (tenant, name)
    )",
    // Tenants other than `default` read their own folder (`data`); `origins` are the web
    // origins allowed to embed their widgets, one per line.
    "CREATE TABLE IF NOT EXISTS tenants (
        name TEXT PRIMARY KEY,
        data TEXT UNIQUE,
        origins TEXT NOT NULL,
        created_ms BIGINT NOT NULL
    )",
    // Only a SHA-256 of each key's secret is kept: the secret is shown once, at creation.
    "CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        role TEXT NOT NULL,
        secret_sha256 TEXT NOT NULL,
        label TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        revoked_ms BIGINT
    )",
    "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    // Version 4: detection rules. Minute rollups of each rule's matches, per source file
    // (see rollups.rs); which sources each rule version has read; how far its runs got.
    "CREATE TABLE IF NOT EXISTS rule_minutes (
        tenant TEXT NOT NULL,
        rule TEXT NOT NULL,
        version TEXT NOT NULL,
        source TEXT NOT NULL,
        first_minute BIGINT NOT NULL,
        last_minute BIGINT NOT NULL,
        batch BIGINT NOT NULL,
        minutes BIGINT NOT NULL,
        rollups BYTEA NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS rule_minutes_by_time ON rule_minutes (tenant, rule, version, last_minute)",
    "CREATE INDEX IF NOT EXISTS rule_minutes_by_batch ON rule_minutes (tenant, rule, version, batch)",
    "CREATE INDEX IF NOT EXISTS rule_minutes_by_source ON rule_minutes (tenant, rule, version, source)",
    "CREATE TABLE IF NOT EXISTS rule_sources (
        tenant TEXT NOT NULL,
        rule TEXT NOT NULL,
        version TEXT NOT NULL,
        source TEXT NOT NULL,
        modified_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, rule, version, source)
    )",
    "CREATE TABLE IF NOT EXISTS rule_runs (
        tenant TEXT NOT NULL,
        rule TEXT NOT NULL,
        version TEXT NOT NULL,
        batch BIGINT NOT NULL,
        run_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, rule, version)
    )",
    "INSERT INTO catalog_meta (key, value) VALUES ('rollup_batch', 0) ON CONFLICT (key) DO NOTHING",
    // Alerts, the tenant's sinks, and the outbox of deliveries (see alerts.rs).
    "CREATE TABLE IF NOT EXISTS alerts (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        rule TEXT NOT NULL,
        version TEXT NOT NULL,
        name TEXT NOT NULL,
        query TEXT NOT NULL,
        severity TEXT NOT NULL,
        fields TEXT NOT NULL,
        group_key TEXT NOT NULL,
        window_start BIGINT NOT NULL,
        window_end BIGINT NOT NULL,
        count BIGINT NOT NULL,
        first_ms BIGINT,
        last_ms BIGINT,
        samples TEXT NOT NULL,
        dedup_key TEXT NOT NULL,
        state TEXT NOT NULL,
        staging BIGINT NOT NULL,
        created_ms BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS alerts_by_time ON alerts (tenant, created_ms)",
    "CREATE INDEX IF NOT EXISTS alerts_by_dedup ON alerts (tenant, dedup_key, window_end)",
    "CREATE TABLE IF NOT EXISTS sinks (
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant, name)
    )",
    "CREATE TABLE IF NOT EXISTS deliveries (
        key TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        sink TEXT NOT NULL,
        alert TEXT NOT NULL,
        attempts BIGINT NOT NULL,
        next_ms BIGINT NOT NULL,
        state TEXT NOT NULL,
        last_error TEXT,
        created_ms BIGINT NOT NULL,
        delivered_ms BIGINT
    )",
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_ms)",
];

/// Statements taking a catalog of version 1 to version 2: files gain their tenant.
const UPGRADE_FROM_1: &[&str] =
    &["ALTER TABLE segments ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default'"];

/// Version 4 to 5: rollups were a row per minute; they are derived data, so they go, and
/// every rule reads raw files again and starts its runs afresh (deduplicated against the
/// alerts kept). Ingested history comes back with `sketchlake rules backfill`.
const UPGRADE_FROM_4: &[&str] = &[
    "DROP TABLE IF EXISTS rule_rollups",
    "DELETE FROM rule_sources",
    "DELETE FROM rule_runs",
];

/// Version 5 to 6 (and 6 to 7): a rule's minute rollups hold partials in the wire's bytes,
/// and the partial gained how it ranks its events (`WIRE_VERSION` 11), then the segments
/// read whole (12): rollups go as in `UPGRADE_FROM_4`, rebuilt from the raw files (and
/// `rules backfill` for ingested history).
const UPGRADE_FROM_5: &[&str] = &[
    "DELETE FROM rule_minutes",
    "DELETE FROM rule_sources",
    "DELETE FROM rule_runs",
];

/// Version 2 to 3: the table of catalogued files, raw files as well as segments, is named
/// for what it holds. Its indexes are made anew under the new name (SQLite cannot rename
/// an index); nothing else changes.
const UPGRADE_FROM_2: &[&str] = &[
    "ALTER TABLE segments RENAME TO files",
    "DROP INDEX IF EXISTS segments_by_state_time",
    "DROP INDEX IF EXISTS segments_by_tenant",
];

/// The tenant of a lake opened without naming one (`serve --data`), and of everything in a
/// gateway run without API keys.
pub const DEFAULT_TENANT: &str = "default";

/// The columns of `files`, in `Entry` order: a macro so every statement stays a literal
/// (sqlx takes only literal SQL; values are always bound).
macro_rules! columns {
    () => {
        "uri, kind, format, time_min, time_max, time_fields, row_count, bytes, index_uri, \
         source, modified_ms, state"
    };
}

/// The columns of `api_keys`, in `KeyRecord` order.
macro_rules! key_columns {
    () => {
        "id, tenant, role, secret_sha256, label, created_ms, revoked_ms"
    };
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(
        "the catalog has schema version {found}; this sketchlake reads version {SCHEMA_VERSION}"
    )]
    Schema { found: i64 },
    #[error("catalog row {uri}: {why}")]
    Row { uri: String, why: String },
    #[error("a saved query named {name:?} exists already")]
    NameTaken { name: String },
    #[error("{uri} is already catalogued for tenant {owner:?}")]
    OtherTenant { uri: String, owner: String },
}

/// A tenant's row: where its data is and who may embed its widgets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tenant {
    pub name: String,
    /// The folder its lake is in; `None` for `default`, whose lake is the gateway's `--data`.
    pub data: Option<String>,
    /// Web origins (`https://soc.example.com`) allowed to frame its widgets.
    pub origins: Vec<String>,
    pub created_ms: i64,
}

/// An API key as kept: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeyRecord {
    pub id: String,
    pub tenant: String,
    /// `admin` or `read`.
    pub role: String,
    /// Hex SHA-256 of the secret part.
    #[serde(skip)]
    pub secret_sha256: String,
    pub label: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

/// A query kept under a name, per tenant: what an embedded widget runs (issue #7).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SavedQuery {
    pub id: String,
    pub tenant: String,
    pub name: String,
    pub q: String,
    pub created_ms: i64,
}

/// What a catalogued file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A log file read where it is, whole.
    Raw,
    /// A segment written by ingest: gzip NDJSON pages with an index sidecar.
    Segment,
}

/// Whether queries read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Planned by queries.
    Active,
    /// A source whose events are in segments: not read again, not ingested again.
    Ingested,
    /// A segment compacted into a larger one: no longer planned; its file is deleted once
    /// queries that planned it have had time to finish.
    Retired,
}

/// One catalogued file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub uri: String,
    pub kind: Kind,
    /// The source format (`ndjson`, `vpcflow`, …); segments are always NDJSON.
    pub format: String,
    /// Earliest and latest event time (epoch ms), when known.
    pub time: Option<(i64, i64)>,
    /// The fields `time` was read from, comma-separated: a scan reading time from other
    /// fields cannot be pruned by it.
    pub time_fields: String,
    pub rows: Option<u64>,
    /// Size as stored (compressed).
    pub bytes: u64,
    pub index_uri: Option<String>,
    /// For a segment, the source file it was copied from; once compacted, the folder of
    /// those sources (ending in `/`), so `@index=` still finds it. (Segments compacted
    /// before that have none.)
    pub source: Option<String>,
    /// Raw files: the file's modification time when registered, to notice changes.
    /// Segments: when written.
    pub modified_ms: i64,
    pub state: State,
}

impl Entry {
    /// A log file read where it is, as a listing or a folder walk finds it.
    pub fn raw(uri: String, format: String, bytes: u64, modified_ms: i64) -> Entry {
        Entry {
            uri,
            kind: Kind::Raw,
            format,
            time: None,
            time_fields: String::new(),
            rows: None,
            bytes,
            index_uri: None,
            source: None,
            modified_ms,
            state: State::Active,
        }
    }
}

/// The files a query reads, and how many the catalog ruled out by time.
#[derive(Debug, Default)]
pub struct Selection {
    pub targets: Vec<Target>,
    pub pruned: u64,
    pub pruned_bytes: u64,
}

/// What a scan task needs of an entry (planning reads only these columns: at 10,000
/// segments, decoding whole rows was most of the planning time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub uri: String,
    pub kind: Kind,
    pub bytes: u64,
    /// A segment's source: the file it was copied from, or the folder of the segments it
    /// was compacted from (`@index=` reads where its events came from).
    pub source: Option<String>,
}

#[derive(Clone)]
pub struct Catalog {
    pub(crate) pool: AnyPool,
    /// Whose files this handle registers, lists and plans.
    pub(crate) tenant: String,
    /// An in-memory database: gone when the process ends.
    memory: bool,
    /// SQLite rather than PostgreSQL: write transactions take the lock as they begin.
    pub(crate) sqlite: bool,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// Connects to `url` (`sqlite://path?mode=rwc`, `sqlite::memory:`, `postgres://…`)
    /// and creates the tables if they are missing.
    pub async fn open(url: &str) -> Result<Catalog, CatalogError> {
        install_default_drivers();
        let memory = url.starts_with("sqlite::memory:") || url.contains("mode=memory");
        // Each connection to an in-memory SQLite database is its own database.
        let max = if memory { 1 } else { 8 };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .connect(url)
            .await?;
        if url.starts_with("sqlite:") && !memory {
            // Readers do not block the writer, and a commit is durable without a full sync
            // of the database per transaction.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        let catalog = Catalog {
            pool,
            tenant: DEFAULT_TENANT.to_string(),
            memory,
            sqlite: url.starts_with("sqlite:"),
        };
        catalog.migrate().await?;
        Ok(catalog)
    }

    /// The same database, speaking for `tenant`'s files.
    pub fn for_tenant(&self, tenant: &str) -> Catalog {
        Catalog {
            pool: self.pool.clone(),
            tenant: tenant.to_string(),
            memory: self.memory,
            sqlite: self.sqlite,
        }
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Closes the database connections, waiting for those in use: every later call fails.
    /// For a process shutting down (SQLite's log is folded back into its file).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Whether the catalog is lost when the process ends (a lake read without one of its own).
    pub fn in_memory(&self) -> bool {
        self.memory
    }

    /// A transaction that writes. On SQLite it takes the write lock as it begins: one that
    /// read first and then wrote would fail at once ("database is locked", no waiting) when
    /// another connection had written in between — seen when a gateway's rule runs, its
    /// deliveries and its watcher wrote together. Taken at the start, the lock is waited
    /// for (the busy timeout) like any other.
    pub(crate) async fn write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, CatalogError> {
        Ok(if self.sqlite {
            self.pool.begin_with("BEGIN IMMEDIATE").await?
        } else {
            self.pool.begin().await?
        })
    }

    /// Creates the tables of a new catalog, or upgrades an older one in place, in one
    /// transaction: a failed upgrade leaves the catalog as it was.
    async fn migrate(&self) -> Result<(), CatalogError> {
        let mut tx = self.write().await?;
        sqlx::query(SCHEMA[0]).execute(&mut *tx).await?;
        let found: Option<i64> =
            sqlx::query("SELECT value FROM catalog_meta WHERE key = 'schema_version'")
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?;
        let upgrades: &[&[&str]] = match found {
            None | Some(SCHEMA_VERSION) => &[],
            Some(1) => &[UPGRADE_FROM_1, UPGRADE_FROM_2],
            Some(2) => &[UPGRADE_FROM_2],
            // Versions 4 and 5 only add tables (5 replaces 4's `rule_rollups`, a row per
            // minute, by `rule_minutes`, a row per source).
            Some(3) => &[],
            Some(4) => &[UPGRADE_FROM_4],
            // 6 to 7 is 5 to 6 again: the partial's stats gained `unindexed`.
            Some(5) | Some(6) => &[UPGRADE_FROM_5],
            Some(found) => return Err(CatalogError::Schema { found }),
        };
        for statement in upgrades.iter().copied().flatten() {
            sqlx::query(*statement).execute(&mut *tx).await?;
        }
        for statement in &SCHEMA[1..] {
            sqlx::query(*statement).execute(&mut *tx).await?;
        }
        // Written only when it changes: opening a catalog to read it writes no row.
        if found != Some(SCHEMA_VERSION) {
            sqlx::query(
                "INSERT INTO catalog_meta (key, value) VALUES ('schema_version', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(SCHEMA_VERSION)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Saves `saved`; its name must be new to its tenant (the table's unique key says so,
    /// also between gateways sharing the catalog).
    pub async fn save_query(&self, saved: &SavedQuery) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO saved_queries (id, tenant, name, q, created_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&saved.id)
        .bind(&saved.tenant)
        .bind(&saved.name)
        .bind(&saved.q)
        .bind(saved.created_ms)
        .execute(&self.pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(db) if db.is_unique_violation() => CatalogError::NameTaken {
                name: saved.name.clone(),
            },
            e => CatalogError::Database(e),
        })?;
        Ok(())
    }

    /// `tenant`'s saved queries, by name.
    pub async fn saved_queries(&self, tenant: &str) -> Result<Vec<SavedQuery>, CatalogError> {
        sqlx::query(
            "SELECT id, tenant, name, q, created_ms FROM saved_queries WHERE tenant = $1 \
             ORDER BY name",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(saved_query)
        .collect()
    }

    /// `tenant`'s saved query `id`: another tenant's is not found.
    pub async fn saved_query(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<SavedQuery>, CatalogError> {
        sqlx::query(
            "SELECT id, tenant, name, q, created_ms FROM saved_queries WHERE tenant = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(saved_query)
        .transpose()
    }

    /// Deletes `tenant`'s saved query `id`; false when it has none of that id.
    pub async fn delete_saved_query(&self, tenant: &str, id: &str) -> Result<bool, CatalogError> {
        let done = sqlx::query("DELETE FROM saved_queries WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds `tenant`, or replaces its data folder and origins.
    pub async fn set_tenant(&self, tenant: &Tenant) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO tenants (name, data, origins, created_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET data = excluded.data, origins = excluded.origins",
        )
        .bind(&tenant.name)
        .bind(tenant.data.as_deref())
        .bind(tenant.origins.join("\n"))
        .bind(tenant.created_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every tenant with a row, by name.
    pub async fn tenants(&self) -> Result<Vec<Tenant>, CatalogError> {
        sqlx::query("SELECT name, data, origins, created_ms FROM tenants ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let origins: String = row.try_get("origins")?;
                Ok(Tenant {
                    name: row.try_get("name")?,
                    data: row.try_get("data")?,
                    origins: origins.lines().map(str::to_string).collect(),
                    created_ms: row.try_get("created_ms")?,
                })
            })
            .collect()
    }

    pub async fn add_key(&self, key: &KeyRecord) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO api_keys (id, tenant, role, secret_sha256, label, created_ms, revoked_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&key.id)
        .bind(&key.tenant)
        .bind(&key.role)
        .bind(&key.secret_sha256)
        .bind(&key.label)
        .bind(key.created_ms)
        .bind(key.revoked_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The key `id`, revoked or not.
    pub async fn key(&self, id: &str) -> Result<Option<KeyRecord>, CatalogError> {
        sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(key_record)
        .transpose()
    }

    /// Every key, by tenant then creation.
    pub async fn keys(&self) -> Result<Vec<KeyRecord>, CatalogError> {
        sqlx::query(concat!(
            "SELECT ",
            key_columns!(),
            " FROM api_keys ORDER BY tenant, created_ms"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(key_record)
        .collect()
    }

    /// Revokes key `id` from `now_ms` on; false when there is no such key still valid.
    pub async fn revoke_key(&self, id: &str, now_ms: i64) -> Result<bool, CatalogError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL")
                .bind(now_ms)
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The secret named `name`: the one stored, or else `fresh` stored now. Gateways that
    /// share the database race to store it, and all use the one that won.
    pub async fn secret(&self, name: &str, fresh: String) -> Result<String, CatalogError> {
        sqlx::query(
            "INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(fresh)
        .execute(&self.pool)
        .await?;
        Ok(sqlx::query("SELECT value FROM secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    /// The entry for `uri`, in any state.
    pub async fn get(&self, uri: &str) -> Result<Option<Entry>, CatalogError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM files WHERE uri = $1 AND tenant = $2"
        ))
        .bind(uri)
        .bind(&self.tenant)
        .fetch_optional(&self.pool)
        .await?
        .map(|row| entry(&row))
        .transpose()
    }

    /// Every entry in `state`, in uri order.
    pub async fn list(&self, state: State) -> Result<Vec<Entry>, CatalogError> {
        sqlx::query(concat!(
            "SELECT ",
            columns!(),
            " FROM files WHERE state = $1 AND tenant = $2 ORDER BY uri"
        ))
        .bind(state_name(state))
        .bind(&self.tenant)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(entry)
        .collect()
    }

    /// Adds or replaces raw files, read where they are.
    pub async fn register(&self, entries: &[Entry]) -> Result<(), CatalogError> {
        let mut tx = self.write().await?;
        for e in entries {
            upsert(&mut tx, e, &self.tenant).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets entries (raw files that are gone, retired segments whose files are deleted).
    pub async fn remove(&self, uris: &[String]) -> Result<(), CatalogError> {
        let mut tx = self.write().await?;
        for uri in uris {
            sqlx::query("DELETE FROM files WHERE uri = $1 AND tenant = $2")
                .bind(uri)
                .bind(&self.tenant)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One step, all or nothing: `added` become active, `replaced` stop being read
    /// (`state` says as what: `Ingested` sources, `Retired` segments). Before the commit
    /// queries plan the old files; after it, the new ones.
    pub async fn swap(
        &self,
        replaced: &[Entry],
        state: State,
        added: &[Entry],
    ) -> Result<(), CatalogError> {
        let mut tx = self.write().await?;
        self.swap_in(&mut tx, replaced, state, added).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `swap`'s changes, within `tx`.
    pub(crate) async fn swap_in(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        replaced: &[Entry],
        state: State,
        added: &[Entry],
    ) -> Result<(), CatalogError> {
        for e in added {
            upsert(tx, e, &self.tenant).await?;
        }
        for e in replaced {
            upsert(tx, &Entry { state, ..e.clone() }, &self.tenant).await?;
        }
        Ok(())
    }

    /// The active entries a query over `[start, end)` (epoch ms, open where `None`) reads,
    /// in uri order. An entry is ruled out only when its time range was read from the
    /// fields a scan of its format reads (`time_fields(format)`) and lies wholly outside.
    pub async fn plan(
        &self,
        (start, end): (Option<i64>, Option<i64>),
        time_fields: impl Fn(&str) -> String,
    ) -> Result<Selection, CatalogError> {
        // One transaction: the totals and the selection see the same catalog.
        let mut tx = self.pool.begin().await?;
        let mut select = sqlx::query(PLAN_SQL)
            .bind(start.unwrap_or(i64::MIN))
            .bind(end.unwrap_or(i64::MAX));
        for (_, name) in workers::FORMATS {
            select = select.bind(time_fields(name));
        }
        select = select.bind(&self.tenant);
        let rows = select.fetch_all(&mut *tx).await?;
        let targets = rows
            .iter()
            .map(|row| {
                let uri: String = row.try_get(0)?;
                let kind = kind_of(&row.try_get::<String, _>(1)?, &uri)?;
                let bytes = unsigned(row.try_get(2)?, "bytes", &uri)?;
                let source = row.try_get(3)?;
                Ok(Target {
                    uri,
                    kind,
                    bytes,
                    source,
                })
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        let totals = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM files \
             WHERE state = 'active' AND tenant = $1",
        )
        .bind(&self.tenant)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        let (count, bytes): (i64, i64) = (totals.try_get(0)?, totals.try_get(1)?);
        let kept_bytes: u64 = targets.iter().map(|t| t.bytes).sum();
        Ok(Selection {
            pruned: u64::try_from(count)
                .unwrap_or(0)
                .saturating_sub(targets.len() as u64),
            pruned_bytes: u64::try_from(bytes).unwrap_or(0).saturating_sub(kept_bytes),
            targets,
        })
    }
}

fn key_record(row: &AnyRow) -> Result<KeyRecord, CatalogError> {
    Ok(KeyRecord {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        role: row.try_get("role")?,
        secret_sha256: row.try_get("secret_sha256")?,
        label: row.try_get("label")?,
        created_ms: row.try_get("created_ms")?,
        revoked_ms: row.try_get("revoked_ms")?,
    })
}

fn saved_query(row: &AnyRow) -> Result<SavedQuery, CatalogError> {
    Ok(SavedQuery {
        id: row.try_get("id")?,
        tenant: row.try_get("tenant")?,
        name: row.try_get("name")?,
        q: row.try_get("q")?,
        created_ms: row.try_get("created_ms")?,
    })
}

/// Adds or replaces `e` as `tenant`'s. A file another tenant catalogued is refused, not
/// taken over: the update applies only where the row's tenant is the same.
async fn upsert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    e: &Entry,
    tenant: &str,
) -> Result<(), CatalogError> {
    let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let done = sqlx::query(concat!(
        "INSERT INTO files (",
        columns!(),
        ", tenant) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (uri) DO UPDATE SET kind = excluded.kind, format = excluded.format,
           time_min = excluded.time_min, time_max = excluded.time_max,
           time_fields = excluded.time_fields, row_count = excluded.row_count,
           bytes = excluded.bytes, index_uri = excluded.index_uri, source = excluded.source,
           modified_ms = excluded.modified_ms, state = excluded.state
         WHERE files.tenant = excluded.tenant"
    ))
    .bind(&e.uri)
    .bind(match e.kind {
        Kind::Raw => "raw",
        Kind::Segment => "segment",
    })
    .bind(&e.format)
    .bind(e.time.map(|t| t.0))
    .bind(e.time.map(|t| t.1))
    .bind(&e.time_fields)
    .bind(e.rows.map(to_i64))
    .bind(to_i64(e.bytes))
    .bind(e.index_uri.as_deref())
    .bind(e.source.as_deref())
    .bind(e.modified_ms)
    .bind(state_name(e.state))
    .bind(tenant)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        let owner: String = sqlx::query("SELECT tenant FROM files WHERE uri = $1")
            .bind(&e.uri)
            .fetch_one(&mut **tx)
            .await?
            .try_get(0)?;
        return Err(CatalogError::OtherTenant {
            uri: e.uri.clone(),
            owner,
        });
    }
    Ok(())
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Active => "active",
        State::Ingested => "ingested",
        State::Retired => "retired",
    }
}

fn kind_of(name: &str, uri: &str) -> Result<Kind, CatalogError> {
    match name {
        "raw" => Ok(Kind::Raw),
        "segment" => Ok(Kind::Segment),
        other => Err(CatalogError::Row {
            uri: uri.to_string(),
            why: format!("unknown kind {other:?}"),
        }),
    }
}

fn unsigned(n: i64, what: &str, uri: &str) -> Result<u64, CatalogError> {
    u64::try_from(n).map_err(|_| CatalogError::Row {
        uri: uri.to_string(),
        why: format!("{what} {n}"),
    })
}

fn entry(row: &AnyRow) -> Result<Entry, CatalogError> {
    let uri: String = row.try_get("uri")?;
    let state = match row.try_get::<String, _>("state")?.as_str() {
        "active" => State::Active,
        "ingested" => State::Ingested,
        "retired" => State::Retired,
        other => {
            return Err(CatalogError::Row {
                uri,
                why: format!("unknown state {other:?}"),
            });
        }
    };
    let time_min: Option<i64> = row.try_get("time_min")?;
    let time_max: Option<i64> = row.try_get("time_max")?;
    let rows: Option<i64> = row.try_get("row_count")?;
    Ok(Entry {
        kind: kind_of(&row.try_get::<String, _>("kind")?, &uri)?,
        format: row.try_get("format")?,
        time: time_min.zip(time_max),
        time_fields: row.try_get("time_fields")?,
        rows: rows.map(|n| unsigned(n, "row count", &uri)).transpose()?,
        bytes: unsigned(row.try_get("bytes")?, "bytes", &uri)?,
        index_uri: row.try_get("index_uri")?,
        source: row.try_get("source")?,
        modified_ms: row.try_get("modified_ms")?,
        state,
        uri,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_query_binds_every_format_in_order() {
        for (i, (_, name)) in workers::FORMATS.iter().enumerate() {
            let branch = format!("WHEN '{name}' THEN ${}", i + 3);
            assert!(PLAN_SQL.contains(&branch), "{branch}");
        }
        let tenant = workers::FORMATS.len() + 3;
        assert!(PLAN_SQL.contains(&format!("tenant = ${tenant}")));
        assert!(!PLAN_SQL.contains(&format!("${}", tenant + 1)));
    }
}
