//! Alerts, the sinks they go to, and the outbox of their deliveries, kept in the catalog.
//! Raising an alert and queueing its deliveries is one transaction: an alert that exists is
//! always on its way to every sink its rule names, and a delivery is retried until its sink
//! takes it. Deduplication is decided here too, in that transaction: an alert with the same
//! dedup key whose window ends within the rule's period is the same alert, updated.

use serde::Serialize;
pub use shared_sketch::alert::{Alert, AlertState};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::catalog::{Catalog, CatalogError};

/// What raising an alert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raised {
    /// A new alert, queued for its sinks.
    New,
    /// The same as `id`, raised before within the dedup period: that one was updated.
    Duplicate { id: String },
}

/// A sink's kind: what its payload looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    Webhook,
    Slack,
    PagerDuty,
}

impl SinkKind {
    pub fn name(self) -> &'static str {
        match self {
            SinkKind::Webhook => "webhook",
            SinkKind::Slack => "slack",
            SinkKind::PagerDuty => "pagerduty",
        }
    }

    pub fn parse(name: &str) -> Option<SinkKind> {
        match name {
            "webhook" => Some(SinkKind::Webhook),
            "slack" => Some(SinkKind::Slack),
            "pagerduty" => Some(SinkKind::PagerDuty),
            _ => None,
        }
    }
}

/// Where a tenant's alerts go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sink {
    pub tenant: String,
    pub name: String,
    pub kind: SinkKind,
    pub url: String,
    /// A webhook's signing key; PagerDuty's routing key. Never shown.
    #[serde(skip)]
    pub secret: String,
    pub created_ms: i64,
}

/// Whether alerts may be sent to `url`: `https://`, or `http://` on this machine only
/// (a receiver on loopback); never a URL with a password in it.
pub fn check_sink_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        _ if parsed.password().is_some() => {
            Err("a sink URL may not hold a password: use --secret".to_string())
        }
        "https" if parsed.host().is_some() => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(format!(
            "{url}: alerts go over https, or over http only to this machine (localhost)"
        )),
        other => Err(format!("{url}: {other}:// is not a sink; use https://")),
    }
}

/// One alert on its way to one sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// `alert id/sink name`: the idempotency key a receiver may deduplicate on.
    pub key: String,
    pub tenant: String,
    pub sink: String,
    pub alert: String,
    pub attempts: u32,
    pub next_ms: i64,
    /// `pending`, or `delivered`.
    pub state: String,
    pub last_error: Option<String>,
    pub created_ms: i64,
    pub delivered_ms: Option<i64>,
}

macro_rules! alert_columns {
    () => {
        "id, tenant, rule, version, name, query, severity, fields, group_key, window_start, \
         window_end, count, first_ms, last_ms, samples, dedup_key, state, staging, created_ms"
    };
}

macro_rules! delivery_columns {
    () => {
        "key, tenant, sink, alert, attempts, next_ms, state, last_error, created_ms, delivered_ms"
    };
}

impl Catalog {
    /// Raises `alert` (its tenant is this catalog's), unless one with its dedup key has a
    /// window ending within `period_ms` of its own: then that one takes the larger count
    /// and the wider span of event times. A new alert that is not in staging is queued for
    /// each of `sinks`, in the same transaction.
    pub async fn raise(
        &self,
        alert: &Alert,
        period_ms: i64,
        sinks: &[String],
    ) -> Result<Raised, CatalogError> {
        let mut tx = self.write().await?;
        if !self.sqlite {
            // Two raises of one dedup key at once would each find no duplicate and both
            // insert: the second waits for the first's commit. (SQLite's write lock, taken
            // as the transaction began, already orders them.)
            let mut key = xxhash_rust::xxh3::Xxh3::new();
            for part in [&self.tenant, &alert.dedup_key] {
                key.update(&(part.len() as u64).to_le_bytes());
                key.update(part.as_bytes());
            }
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(key.digest() as i64)
                .execute(&mut *tx)
                .await?;
        }
        let same = sqlx::query(
            "SELECT id, count, first_ms, last_ms FROM alerts
             WHERE tenant = $1 AND dedup_key = $2 AND window_end > $3 AND window_end < $4
             ORDER BY window_end LIMIT 1",
        )
        .bind(&self.tenant)
        .bind(&alert.dedup_key)
        .bind(alert.window.1.saturating_sub(period_ms))
        .bind(alert.window.1.saturating_add(period_ms))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = same {
            let id: String = row.try_get(0)?;
            let count: i64 = row.try_get(1)?;
            let first: Option<i64> = row.try_get(2)?;
            let last: Option<i64> = row.try_get(3)?;
            let pick = |a: Option<i64>, b: Option<i64>, f: fn(i64, i64) -> i64| match (a, b) {
                (Some(a), Some(b)) => Some(f(a, b)),
                (a, b) => a.or(b),
            };
            sqlx::query("UPDATE alerts SET count = $1, first_ms = $2, last_ms = $3 WHERE id = $4")
                .bind(count.max(to_i64(alert.count)))
                .bind(pick(first, alert.first_ms, i64::min))
                .bind(pick(last, alert.last_ms, i64::max))
                .bind(&id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(Raised::Duplicate { id });
        }
        sqlx::query(concat!(
            "INSERT INTO alerts (",
            alert_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
        ))
        .bind(&alert.id)
        .bind(&self.tenant)
        .bind(&alert.rule)
        .bind(&alert.version)
        .bind(&alert.name)
        .bind(&alert.query)
        .bind(&alert.severity)
        .bind(json(&alert.fields))
        .bind(json(&alert.group))
        .bind(alert.window.0)
        .bind(alert.window.1)
        .bind(to_i64(alert.count))
        .bind(alert.first_ms)
        .bind(alert.last_ms)
        .bind(json(&alert.samples))
        .bind(&alert.dedup_key)
        .bind(alert.state.name())
        .bind(i64::from(alert.staging))
        .bind(alert.created_ms)
        .execute(&mut *tx)
        .await?;
        if !alert.staging {
            for sink in sinks {
                sqlx::query(concat!(
                    "INSERT INTO deliveries (",
                    delivery_columns!(),
                    ") VALUES ($1, $2, $3, $4, 0, $5, 'pending', NULL, $5, NULL)
                     ON CONFLICT (key) DO NOTHING"
                ))
                .bind(format!("{}/{sink}", alert.id))
                .bind(&self.tenant)
                .bind(sink)
                .bind(&alert.id)
                .bind(alert.created_ms)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(Raised::New)
    }

    /// The tenant's alerts raised from `since_ms` on, newest first, at most `limit`.
    pub async fn alerts(&self, since_ms: i64, limit: u32) -> Result<Vec<Alert>, CatalogError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE tenant = $1 AND created_ms >= $2
             ORDER BY created_ms DESC, window_end DESC, id LIMIT $3"
        ))
        .bind(&self.tenant)
        .bind(since_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert).collect()
    }

    /// The tenant's alerts created after `after_ms`, oldest first, but those of rules in
    /// staging: what rules over the alerts data set read.
    pub async fn alerts_created_after(&self, after_ms: i64) -> Result<Vec<Alert>, CatalogError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE tenant = $1 AND created_ms > $2 AND staging = 0
             ORDER BY created_ms, window_end, id"
        ))
        .bind(&self.tenant)
        .bind(after_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(alert).collect()
    }

    /// One of the tenant's alerts.
    pub async fn alert(&self, id: &str) -> Result<Option<Alert>, CatalogError> {
        sqlx::query(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts WHERE tenant = $1 AND id = $2"
        ))
        .bind(&self.tenant)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(alert)
        .transpose()
    }

    /// Sets one of the tenant's alerts' state; `false` when there is no such alert.
    pub async fn set_alert_state(&self, id: &str, state: AlertState) -> Result<bool, CatalogError> {
        let done = sqlx::query("UPDATE alerts SET state = $1 WHERE tenant = $2 AND id = $3")
            .bind(state.name())
            .bind(&self.tenant)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Adds or replaces one of the tenant's sinks.
    pub async fn set_sink(&self, sink: &Sink) -> Result<(), CatalogError> {
        sqlx::query(
            "INSERT INTO sinks (tenant, name, kind, url, secret, created_ms) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (tenant, name) DO UPDATE SET kind = excluded.kind, url = excluded.url,
               secret = excluded.secret",
        )
        .bind(&self.tenant)
        .bind(&sink.name)
        .bind(sink.kind.name())
        .bind(&sink.url)
        .bind(&sink.secret)
        .bind(sink.created_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The tenant's sinks, by name.
    pub async fn sinks(&self) -> Result<Vec<Sink>, CatalogError> {
        let rows = sqlx::query(
            "SELECT tenant, name, kind, url, secret, created_ms FROM sinks WHERE tenant = $1 ORDER BY name",
        )
        .bind(&self.tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(sink).collect()
    }

    /// One of the tenant's sinks.
    pub async fn sink(&self, name: &str) -> Result<Option<Sink>, CatalogError> {
        sqlx::query(
            "SELECT tenant, name, kind, url, secret, created_ms FROM sinks WHERE tenant = $1 AND name = $2",
        )
        .bind(&self.tenant)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(sink)
        .transpose()
    }

    /// Removes one of the tenant's sinks; `false` when there was none of that name. Its
    /// pending deliveries stay, and go out if a sink of that name is set again.
    pub async fn delete_sink(&self, name: &str) -> Result<bool, CatalogError> {
        let done = sqlx::query("DELETE FROM sinks WHERE tenant = $1 AND name = $2")
            .bind(&self.tenant)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Pending deliveries of every tenant due by `now_ms`, oldest first, at most `limit`.
    pub async fn due_deliveries(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<Delivery>, CatalogError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries d WHERE state = 'pending' AND next_ms <= $1",
            // To a sink nobody has set, once (its reason recorded); then it waits until
            // the sink is set, and goes at once.
            " AND (attempts = 0 OR EXISTS (SELECT 1 FROM sinks s WHERE s.tenant = d.tenant AND s.name = d.sink))",
            " ORDER BY next_ms, key LIMIT $2"
        ))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery).collect()
    }

    /// The tenant's deliveries of one alert.
    pub async fn deliveries(&self, alert: &str) -> Result<Vec<Delivery>, CatalogError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM deliveries WHERE tenant = $1 AND alert = $2 ORDER BY key"
        ))
        .bind(&self.tenant)
        .bind(alert)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(delivery).collect()
    }

    /// Pending deliveries of every tenant.
    pub async fn pending_deliveries(&self) -> Result<u64, CatalogError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Pending deliveries of every tenant, and how many of them failed their last
    /// attempt (for `/metrics`).
    pub async fn delivery_counts(&self) -> Result<(u64, u64), CatalogError> {
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN last_error IS NULL THEN 0 ELSE 1 END), 0)
             FROM deliveries WHERE state = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        let count = |i: usize| {
            row.try_get::<i64, _>(i)
                .map(|n| u64::try_from(n).unwrap_or(0))
        };
        Ok((count(0)?, count(1)?))
    }

    /// When the next pending delivery of any tenant to a sink that is configured falls
    /// due, epoch ms: one to a sink nobody has set cannot succeed until someone does, so
    /// a CLI does not wait for it.
    pub async fn next_delivery_ms(&self) -> Result<Option<i64>, CatalogError> {
        Ok(sqlx::query(
            "SELECT MIN(d.next_ms) FROM deliveries d
             JOIN sinks s ON s.tenant = d.tenant AND s.name = d.sink
             WHERE d.state = 'pending'",
        )
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?)
    }

    /// The sink took delivery `key`.
    pub async fn delivered(&self, key: &str, now_ms: i64) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE deliveries SET state = 'delivered', delivered_ms = $1, attempts = attempts + 1, last_error = NULL WHERE key = $2",
        )
        .bind(now_ms)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Delivery `key` failed (`error` says how); it is tried again at `next_ms`.
    pub async fn delivery_failed(
        &self,
        key: &str,
        next_ms: i64,
        error: &str,
    ) -> Result<(), CatalogError> {
        sqlx::query(
            "UPDATE deliveries SET attempts = attempts + 1, next_ms = $1, last_error = $2 WHERE key = $3",
        )
        .bind(next_ms)
        .bind(error)
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A JSON column's text: lists only ever read whole (of strings and hits, which always
/// serialize).
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_string())
}

fn json_column<T: serde::de::DeserializeOwned>(
    row: &AnyRow,
    column: &str,
) -> Result<T, CatalogError> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| CatalogError::Row {
        uri: row.try_get::<String, _>(0).unwrap_or_default(),
        why: format!("{column}: {e}"),
    })
}

fn alert(row: &AnyRow) -> Result<Alert, CatalogError> {
    let id: String = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    Ok(Alert {
        state: AlertState::parse(&state).ok_or_else(|| CatalogError::Row {
            uri: id.clone(),
            why: format!("unknown alert state {state:?}"),
        })?,
        tenant: row.try_get("tenant")?,
        rule: row.try_get("rule")?,
        version: row.try_get("version")?,
        name: row.try_get("name")?,
        query: row.try_get("query")?,
        severity: row.try_get("severity")?,
        fields: json_column(row, "fields")?,
        group: json_column(row, "group_key")?,
        window: (row.try_get("window_start")?, row.try_get("window_end")?),
        count: u64::try_from(row.try_get::<i64, _>("count")?).unwrap_or(0),
        first_ms: row.try_get("first_ms")?,
        last_ms: row.try_get("last_ms")?,
        samples: json_column(row, "samples")?,
        dedup_key: row.try_get("dedup_key")?,
        staging: row.try_get::<i64, _>("staging")? != 0,
        created_ms: row.try_get("created_ms")?,
        id,
    })
}

fn sink(row: &AnyRow) -> Result<Sink, CatalogError> {
    let name: String = row.try_get("name")?;
    let kind: String = row.try_get("kind")?;
    Ok(Sink {
        kind: SinkKind::parse(&kind).ok_or_else(|| CatalogError::Row {
            uri: name.clone(),
            why: format!("unknown sink kind {kind:?}"),
        })?,
        tenant: row.try_get("tenant")?,
        url: row.try_get("url")?,
        secret: row.try_get("secret")?,
        created_ms: row.try_get("created_ms")?,
        name,
    })
}

fn delivery(row: &AnyRow) -> Result<Delivery, CatalogError> {
    Ok(Delivery {
        key: row.try_get("key")?,
        tenant: row.try_get("tenant")?,
        sink: row.try_get("sink")?,
        alert: row.try_get("alert")?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(u32::MAX),
        next_ms: row.try_get("next_ms")?,
        state: row.try_get("state")?,
        last_error: row.try_get("last_error")?,
        created_ms: row.try_get("created_ms")?,
        delivered_ms: row.try_get("delivered_ms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinks_are_https_or_loopback_http() {
        assert!(check_sink_url("https://hooks.slack.com/services/T/B/X").is_ok());
        assert!(check_sink_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(check_sink_url("http://localhost/hook").is_ok());
        assert!(check_sink_url("http://[::1]:1/").is_ok());
        assert!(check_sink_url("http://example.com/hook").is_err());
        assert!(check_sink_url("ftp://example.com/").is_err());
        assert!(check_sink_url("https://user:pw@example.com/").is_err());
        assert!(check_sink_url("not a url").is_err());
    }
}
