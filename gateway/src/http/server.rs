//! Serving the routes on a socket until the process is told to stop.

use std::net::SocketAddr;
use std::path::PathBuf;

use tokio::net::TcpListener;

use super::routes::router;
use super::state::AppState;

/// Serves every route on `listener`, with the built frontend in `ui` (when it is built
/// there), until Ctrl-C or SIGTERM; then stops accepting and finishes what is running.
pub async fn serve(listener: TcpListener, state: AppState, ui: PathBuf) -> std::io::Result<()> {
    let ui = if ui.join("index.html").is_file() {
        Some(ui)
    } else {
        tracing::warn!(ui = %ui.display(), "no built frontend there; serving the API only");
        None
    };
    // Each request knows its client's address: wrong keys are counted per address.
    let routes = router(state, ui).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, routes)
        .with_graceful_shutdown(shutdown_signal())
        .await
}

/// Ctrl-C, or SIGTERM from a service manager.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
