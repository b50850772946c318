//! Real HTTP receivers on loopback, standing where a webhook, Slack or PagerDuty would:
//! one that takes every delivery, one that fails its first N, one that never answers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// How a receiver answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    Accept,
    /// 503 for the first N requests, then 200.
    FailFirst(usize),
    /// Reads the request, then never answers.
    Hang,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    /// Every request, answered or not, in order.
    pub requests: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Receiver {
        let requests: Arc<Mutex<Vec<Received>>> = Arc::default();
        let app = axum::Router::new()
            .route("/hook", post(answer))
            .with_state((requests.clone(), behaviour));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, requests }
    }

    pub fn received(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived (or `within` passes); returns them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let started = std::time::Instant::now();
        while self.received().len() < n && started.elapsed() < within {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.received()
    }
}

async fn answer(
    State((requests, behaviour)): State<(Arc<Mutex<Vec<Received>>>, Behaviour)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let n = {
        let mut requests = requests.lock().unwrap();
        requests.push(Received { headers, body });
        requests.len()
    };
    match behaviour {
        Behaviour::Accept => StatusCode::OK,
        Behaviour::FailFirst(failures) if n <= failures => StatusCode::SERVICE_UNAVAILABLE,
        Behaviour::FailFirst(_) => StatusCode::OK,
        Behaviour::Hang => {
            std::future::pending::<()>().await;
            StatusCode::OK
        }
    }
}
