//! A tenant's lookup tables (`sketchlake lookup put`, `PUT /api/v1/lookups/NAME`): CSV text
//! kept in the catalog, checked when put, read by the gateway when a query names one.

use std::sync::Arc;

use shared_sketch::lookup::{LookupError, LookupTable, Lookups, check_name};
use sqlx::Row;

use crate::catalog::{Catalog, CatalogError};

/// A table as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LookupInfo {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: u64,
    pub bytes: u64,
    pub updated_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum LookupsError {
    #[error(transparent)]
    Table(#[from] LookupError),
    #[error(
        "no lookup table `{0}`: put one with `sketchlake lookup put {0} FILE` or PUT /api/v1/lookups/{0}"
    )]
    Missing(String),
    #[error("lookup table `{name}` no longer reads: {why}")]
    Stored { name: String, why: LookupError },
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl From<sqlx::Error> for LookupsError {
    fn from(e: sqlx::Error) -> Self {
        LookupsError::Catalog(CatalogError::Database(e))
    }
}

impl Catalog {
    /// Checks `csv` reads as a table and keeps it as this tenant's `name`, replacing any
    /// table of that name.
    pub async fn put_lookup(
        &self,
        name: &str,
        csv: &[u8],
        now_ms: i64,
    ) -> Result<LookupInfo, LookupsError> {
        check_name(name)?;
        let table = LookupTable::from_csv(csv)?;
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM lookups WHERE tenant = $1 AND name = $2")
            .bind(&self.tenant)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO lookups (tenant, name, csv, columns, row_count, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&self.tenant)
        .bind(name)
        .bind(csv)
        .bind(serde_json::to_string(&table.columns).unwrap_or_default())
        .bind(table.rows.len() as i64)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(LookupInfo {
            name: name.to_string(),
            columns: table.columns,
            rows: table.rows.len() as u64,
            bytes: csv.len() as u64,
            updated_ms: now_ms,
        })
    }

    /// Removes this tenant's table `name`; whether there was one.
    pub async fn delete_lookup(&self, name: &str) -> Result<bool, LookupsError> {
        let done = sqlx::query("DELETE FROM lookups WHERE tenant = $1 AND name = $2")
            .bind(&self.tenant)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// This tenant's tables, by name (read from what `put_lookup` noted, not the CSVs).
    pub async fn lookups(&self) -> Result<Vec<LookupInfo>, LookupsError> {
        let rows = sqlx::query(
            "SELECT name, columns, row_count, CAST(LENGTH(csv) AS BIGINT), updated_ms \
             FROM lookups WHERE tenant = $1 ORDER BY name",
        )
        .bind(&self.tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let columns: String = row.try_get(1)?;
                Ok(LookupInfo {
                    name: row.try_get(0)?,
                    columns: serde_json::from_str(&columns).unwrap_or_default(),
                    rows: u64::try_from(row.try_get::<i64, _>(2)?).unwrap_or(0),
                    bytes: u64::try_from(row.try_get::<i64, _>(3)?).unwrap_or(0),
                    updated_ms: row.try_get(4)?,
                })
            })
            .collect()
    }

    /// The tables `names`, read for a query: a name without a table is an error that says
    /// how to put one.
    pub async fn read_lookups(&self, names: &[&str]) -> Result<Lookups, LookupsError> {
        let mut lookups = Lookups::new();
        for &name in names {
            let row = sqlx::query("SELECT csv FROM lookups WHERE tenant = $1 AND name = $2")
                .bind(&self.tenant)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| LookupsError::Missing(name.to_string()))?;
            let csv: Vec<u8> = row.try_get(0)?;
            let table = LookupTable::from_csv(&csv).map_err(|why| LookupsError::Stored {
                name: name.to_string(),
                why,
            })?;
            lookups.insert(name.to_string(), Arc::new(table));
        }
        Ok(lookups)
    }
}
