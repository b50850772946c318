//! Detections over HTTP: the alerts rules raised (`/api/v1/alerts`, searched with the query
//! language at `/api/v1/alerts/search`), the rules themselves
//! (`/api/v1/rules`) and the tenant's sinks (`/api/v1/sinks`). All belong to the caller's
//! tenant: read keys see them, admin keys change an alert's state. Widget tokens are not
//! API keys and never reach them.

use axum::Json;
use axum::extract::{Path, Query, State};
use lake::alerts::{AlertState, Delivery, Sink, SinkKind};
use serde::{Deserialize, Serialize};
use shared_sketch::QueryError;
use shared_sketch::alert::{Alert, RuleInfo, RuleList};
use shared_sketch::fold::Answer;
use shared_sketch::time::now_ms;

use super::error::ApiError;
use super::state::AppState;
use crate::access::Principal;
use crate::detect::{SearchError, search_alerts};

/// The most alerts one request lists.
const MAX_LIMIT: u32 = 1000;

#[derive(Debug, Deserialize)]
pub struct AlertsQuery {
    /// Raised at or after this time, epoch ms.
    pub since_ms: Option<i64>,
    pub limit: Option<u32>,
}

/// `GET /api/v1/alerts?since_ms=&limit=`: the caller's tenant's alerts, newest first.
pub async fn list(
    State(state): State<AppState>,
    caller: Principal,
    Query(query): Query<AlertsQuery>,
) -> Result<Json<Vec<Alert>>, ApiError> {
    let catalog = state.catalog().for_tenant(&caller.tenant);
    let limit = query.limit.unwrap_or(200).min(MAX_LIMIT);
    let alerts = catalog
        .alerts(query.since_ms.unwrap_or(i64::MIN), limit)
        .await?;
    Ok(Json(alerts))
}

#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    pub q: String,
}

/// `GET /api/v1/alerts/search?q=…`: the query over the caller's tenant's alerts, each an
/// event (`rule`, `severity`, `entity`, its group's fields, `count`, `time`…), answered as
/// `POST /api/v1/query` answers over the logs.
pub async fn search(
    State(state): State<AppState>,
    caller: Principal,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Answer>, ApiError> {
    let catalog = state.catalog().for_tenant(&caller.tenant);
    match search_alerts(&catalog, &query.q, now_ms()).await {
        Ok(answer) => Ok(Json(answer)),
        Err(SearchError::Query(e)) => Err(QueryError::from(e).into()),
        Err(SearchError::Catalog(e)) => Err(e.into()),
        Err(SearchError::Lookup(e)) => Err(e.into()),
    }
}

/// One alert, with where it has been sent.
#[derive(Debug, Serialize)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub alert: Alert,
    pub deliveries: Vec<Delivery>,
}

/// `GET /api/v1/alerts/{id}`: one alert and its deliveries, or 404.
pub async fn get(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
) -> Result<Json<AlertDetail>, ApiError> {
    let catalog = state.catalog().for_tenant(&caller.tenant);
    let alert = catalog
        .alert(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no alert {id}")))?;
    let deliveries = catalog.deliveries(&id).await?;
    Ok(Json(AlertDetail { alert, deliveries }))
}

#[derive(Debug, Deserialize)]
pub struct StateChange {
    pub state: String,
}

/// `POST /api/v1/alerts/{id}/state` `{"state": "acknowledged"|"closed"|"new"}` (admin).
pub async fn set_state(
    State(state): State<AppState>,
    caller: Principal,
    Path(id): Path<String>,
    Json(change): Json<StateChange>,
) -> Result<Json<AlertDetail>, ApiError> {
    caller.admin()?;
    let new = AlertState::parse(&change.state).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "{:?} is not an alert state: new, acknowledged or closed",
            change.state
        ))
    })?;
    let catalog = state.catalog().for_tenant(&caller.tenant);
    if !catalog.set_alert_state(&id, new).await? {
        return Err(ApiError::NotFound(format!("no alert {id}")));
    }
    get(State(state), caller, Path(id)).await
}

/// `GET /api/v1/rules`: the tenant's rules, with when each last ran and its alerts per hour
/// over the last day, and the rule files that do not read.
pub async fn rules(
    State(state): State<AppState>,
    caller: Principal,
) -> Result<Json<RuleList>, ApiError> {
    let Some(book) = state.rules.get(&caller.tenant) else {
        return Ok(Json(RuleList::default()));
    };
    let loaded = book.loaded();
    let catalog = state.catalog().for_tenant(&caller.tenant);
    let runs = catalog.last_runs().await?;
    let now = now_ms();
    let day_ago = now - 24 * 3_600_000;
    let recent = catalog.alerts(day_ago, MAX_LIMIT * 10).await?;
    let rules = loaded
        .rules
        .values()
        .map(|rule| {
            let mut hours = vec![0u32; 24];
            for alert in recent.iter().filter(|a| a.rule == rule.id) {
                let hour = usize::try_from((alert.created_ms - day_ago) / 3_600_000).unwrap_or(0);
                if let Some(n) = hours.get_mut(hour.min(23)) {
                    *n += 1;
                }
            }
            RuleInfo {
                id: rule.id.clone(),
                version: rule.key().version,
                name: rule.name.clone(),
                description: rule.description.clone(),
                severity: rule.severity.name().to_string(),
                state: rule.state.name().to_string(),
                tags: rule.tags.clone(),
                query: rule.text.clone(),
                window: rule.window,
                every: rule.every,
                sinks: rule.sinks.clone(),
                last_run_ms: runs.iter().find(|(id, _)| *id == rule.id).map(|(_, t)| *t),
                alerts_24h: hours,
                kept: loaded.kept.contains(&rule.id),
            }
        })
        .collect();
    Ok(Json(RuleList {
        rules,
        refused: loaded.refused.iter().map(ToString::to_string).collect(),
    }))
}

/// `GET /api/v1/sinks`: the tenant's sinks, never their secrets.
pub async fn sinks(
    State(state): State<AppState>,
    caller: Principal,
) -> Result<Json<Vec<Sink>>, ApiError> {
    let mut sinks = state.catalog().for_tenant(&caller.tenant).sinks().await?;
    for sink in &mut sinks {
        // A Slack webhook's URL is its secret: only its host is shown.
        if sink.kind == SinkKind::Slack
            && let Ok(url) = url::Url::parse(&sink.url)
        {
            sink.url = format!("{}://{}/…", url.scheme(), url.host_str().unwrap_or(""));
        }
    }
    Ok(Json(sinks))
}
