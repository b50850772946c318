//! Alerts to their sinks, from the outbox in the catalog. At least once: a delivery stays
//! pending until its sink answers 2xx, and is retried with exponential backoff and jitter;
//! each carries a stable idempotency key (`alert id/sink`) a receiver may deduplicate on.
//! Each sink is sent to on its own task, one delivery at a time, each attempt timed out: a
//! sink that is down or hangs delays only its own deliveries.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hmac::{Hmac, Mac};
use lake::alerts::{Alert, Delivery, Sink, SinkKind};
use lake::catalog::{Catalog, CatalogError};
use rand::Rng;
use serde_json::{Value, json};
use sha2::Sha256;
use shared_sketch::time::{format_timestamp, now_ms};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// How long one attempt may take, connecting included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait between attempts.
const MAX_BACKOFF_MS: i64 = 10 * 60 * 1000;
/// Deliveries taken from the outbox at a time.
const BATCH: u32 = 200;

/// The header carrying a webhook body's HMAC-SHA256, as `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Sketchlake-Signature";
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Sends the outbox's due deliveries.
#[derive(Clone)]
pub struct Deliverer {
    catalog: Catalog,
    client: reqwest::Client,
    /// How long one attempt may take.
    timeout: Duration,
    /// Sinks (tenant, name) with a task sending to them now.
    busy: Arc<Mutex<HashSet<(String, String)>>>,
    /// Rings when alerts were raised: `run` looks at the outbox at once.
    raised: Arc<Notify>,
}

/// What draining the outbox left.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub delivered: u64,
    /// Still pending: retried later, by `serve` or `sketchlake alerts deliver`.
    pub pending: u64,
}

impl Deliverer {
    pub fn new(catalog: Catalog) -> Result<Deliverer, reqwest::Error> {
        let client = reqwest::Client::builder()
            // A sink's URL is where its alerts go, not a place to be sent on from.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Deliverer {
            catalog,
            client,
            timeout: ATTEMPT_TIMEOUT,
            busy: Arc::new(Mutex::new(HashSet::new())),
            raised: Arc::new(Notify::new()),
        })
    }

    /// Alerts were raised: `run` sends them now rather than at its next look.
    pub fn wake(&self) {
        self.raised.notify_one();
    }

    /// Each attempt given up after `timeout` instead of `ATTEMPT_TIMEOUT`.
    pub fn with_attempt_timeout(self, timeout: Duration) -> Deliverer {
        Deliverer { timeout, ..self }
    }

    /// Starts a task per sink with due deliveries and none running; returns them, each
    /// giving how many it delivered.
    pub async fn start_due(&self) -> Result<JoinSet<u64>, CatalogError> {
        let due = self.catalog.due_deliveries(now_ms(), BATCH).await?;
        let mut by_sink: Vec<((String, String), Vec<Delivery>)> = Vec::new();
        for delivery in due {
            let sink = (delivery.tenant.clone(), delivery.sink.clone());
            match by_sink.iter_mut().find(|(s, _)| *s == sink) {
                Some((_, list)) => list.push(delivery),
                None => by_sink.push((sink, vec![delivery])),
            }
        }
        let mut tasks = JoinSet::new();
        for (sink, deliveries) in by_sink {
            if !self.lock().insert(sink.clone()) {
                continue;
            }
            let this = self.clone();
            tasks.spawn(async move {
                let mut delivered = 0;
                for delivery in deliveries {
                    delivered += u64::from(this.attempt(&delivery).await);
                }
                this.lock().remove(&sink);
                delivered
            });
        }
        Ok(tasks)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<(String, String)>> {
        self.busy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `serve`: delivers as deliveries fall due, until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = tick.tick() => {}
                () = self.raised.notified() => {}
            }
            match self.start_due().await {
                // Each sink's task runs on by itself; the busy set keeps it the only one.
                Ok(mut started) => started.detach_all(),
                Err(e) => tracing::error!(error = %e, "cannot read the outbox; retrying"),
            }
        }
    }

    /// A CLI before it exits: delivers, retrying as deliveries fall due again, until none is
    /// pending or `within` passes. What is left stays in the outbox.
    pub async fn drain(&self, within: Duration) -> Result<Drained, CatalogError> {
        let deadline = tokio::time::Instant::now() + within;
        let mut drained = Drained::default();
        loop {
            let mut tasks = self.start_due().await?;
            if tasks.is_empty() {
                let Some(next) = self.catalog.next_delivery_ms().await? else {
                    break;
                };
                let wait =
                    Duration::from_millis(u64::try_from(next - now_ms()).unwrap_or(0).max(50));
                if tokio::time::Instant::now() + wait >= deadline {
                    break;
                }
                tokio::time::sleep(wait).await;
                continue;
            }
            let joined = tokio::time::timeout_at(deadline, async {
                let mut n = 0;
                while let Some(done) = tasks.join_next().await {
                    n += done.unwrap_or(0);
                }
                n
            })
            .await;
            match joined {
                Ok(n) => drained.delivered += n,
                Err(_) => break,
            }
        }
        drained.pending = self.catalog.pending_deliveries().await?;
        Ok(drained)
    }

    /// One attempt; whether the sink took it. A failure is recorded with when to retry.
    async fn attempt(&self, delivery: &Delivery) -> bool {
        let outcome = self.send(delivery).await;
        let recorded = match &outcome {
            Ok(()) => self.catalog.delivered(&delivery.key, now_ms()).await,
            Err(why) => {
                let wait = backoff(delivery.attempts, rand::rng().random_range(0.5..1.5));
                tracing::warn!(delivery = %delivery.key, attempts = delivery.attempts + 1, error = %why, retry_in_ms = wait, "delivery failed");
                self.catalog
                    .delivery_failed(&delivery.key, now_ms() + wait, why)
                    .await
            }
        };
        if let Err(e) = recorded {
            // Sent but not recorded: sent again later, which the idempotency key covers.
            tracing::error!(delivery = %delivery.key, error = %e, "cannot record a delivery");
        }
        outcome.is_ok()
    }

    async fn send(&self, delivery: &Delivery) -> Result<(), String> {
        let catalog = self.catalog.for_tenant(&delivery.tenant);
        let sink = catalog
            .sink(&delivery.sink)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!(
                    "no sink named {:?}: its alerts wait in the outbox until `sketchlake sink set {} --kind … --url …`",
                    delivery.sink, delivery.sink
                )
            })?;
        let alert = catalog
            .alert(&delivery.alert)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("alert {} is gone", delivery.alert))?;
        let body = payload(&sink, &alert, &delivery.key).to_string();
        let mut request = self
            .client
            .post(&sink.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(IDEMPOTENCY_HEADER, &delivery.key)
            .timeout(self.timeout);
        if sink.kind == SinkKind::Webhook {
            request = request.header(SIGNATURE_HEADER, signature(&sink.secret, body.as_bytes()));
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| without_url(&e, self.timeout))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the sink answered {status}"))
        }
    }
}

/// Milliseconds before attempt `attempts + 1`: 1 s doubling to at most 10 min, times
/// `jitter` (0.5–1.5) so that many deliveries failing together do not retry together.
pub fn backoff(attempts: u32, jitter: f64) -> i64 {
    let base = 1000i64
        .saturating_mul(1 << attempts.min(20))
        .min(MAX_BACKOFF_MS);
    (base as f64 * jitter) as i64
}

/// `sha256=<hex>` of the HMAC-SHA256 of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// A transport error without the URL, which may hold a secret (Slack's, say).
fn without_url(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        format!("no answer within {timeout:?}")
    } else if error.is_connect() {
        "cannot connect".to_string()
    } else {
        // Its source chain says what failed, without the URL.
        std::error::Error::source(error)
            .map_or_else(|| "request failed".to_string(), |s| s.to_string())
    }
}

/// What `sink` receives for `alert`.
pub fn payload(sink: &Sink, alert: &Alert, key: &str) -> Value {
    let group: serde_json::Map<String, Value> = alert
        .fields
        .iter()
        .zip(&alert.group)
        .map(|(f, v)| (f.clone(), Value::String(v.clone())))
        .collect();
    let entity = alert.entity();
    let window = format!(
        "{} – {}",
        format_timestamp(alert.window.0),
        format_timestamp(alert.window.1)
    );
    let summary = if entity.is_empty() {
        format!("{}: {} events, {window}", alert.name, alert.count)
    } else {
        format!(
            "{} for {entity}: {} events, {window}",
            alert.name, alert.count
        )
    };
    match sink.kind {
        SinkKind::Webhook => json!({
            "id": alert.id,
            "idempotency_key": key,
            "tenant": alert.tenant,
            "rule": alert.rule,
            "rule_version": alert.version,
            "name": alert.name,
            "severity": alert.severity,
            "query": alert.query,
            "group": group,
            "window": {
                "start": format_timestamp(alert.window.0),
                "end": format_timestamp(alert.window.1),
            },
            "count": alert.count,
            "first_event": alert.first_ms.map(format_timestamp),
            "last_event": alert.last_ms.map(format_timestamp),
            "samples": alert.samples.iter().map(|s| json!({
                "file": s.file,
                "line": s.line,
                "text": s.text,
            })).collect::<Vec<_>>(),
            "dedup_key": alert.dedup_key,
            "summary": summary,
        }),
        SinkKind::Slack => json!({
            "text": format!("[{}] {summary}", alert.severity.to_uppercase()),
            "blocks": [
                {
                    "type": "section",
                    "text": {
                        "type": "mrkdwn",
                        "text": format!(
                            "*[{}] {}*\n{}\n`{}`",
                            alert.severity.to_uppercase(),
                            alert.name,
                            summary,
                            alert.query
                        ),
                    },
                },
            ],
        }),
        SinkKind::PagerDuty => json!({
            "routing_key": sink.secret,
            "event_action": "trigger",
            "dedup_key": alert.dedup_key,
            "payload": {
                "summary": summary,
                "source": "sketchlake",
                "severity": match alert.severity.as_str() {
                    "critical" => "critical",
                    "high" => "error",
                    "medium" => "warning",
                    _ => "info",
                },
                "timestamp": format_timestamp(alert.last_ms.unwrap_or(alert.window.1)),
                "component": alert.rule,
                "custom_details": {
                    "alert": alert.id,
                    "group": group,
                    "count": alert.count,
                    "window": window,
                    "query": alert.query,
                },
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_with_jitter() {
        assert_eq!(backoff(0, 1.0), 1000);
        assert_eq!(backoff(3, 1.0), 8000);
        assert_eq!(backoff(30, 1.0), MAX_BACKOFF_MS);
        assert_eq!(backoff(1, 0.5), 1000);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
