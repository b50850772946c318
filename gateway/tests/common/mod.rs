//! A real gateway on a free loopback port, for the integration tests.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use gateway::executor::LocalPool;
use gateway::run::Engine;

/// Serves `data` with `workers` scan slots; returns the bound address.
pub async fn start(data: &Path, workers: usize) -> SocketAddr {
    let engine = Arc::new(Engine {
        data_dir: data.to_path_buf(),
        executor: Arc::new(LocalPool::new(workers)),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, gateway::server::router(engine, None))
            .await
            .unwrap();
    });
    addr
}
