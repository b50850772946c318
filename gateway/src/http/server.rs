//! Serving the routes on a socket until the process is told to stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_io_timeout::TimeoutWriter;

use super::routes::router;
use super::state::AppState;

/// How long a write to a client may wait for the client to read (`serve --send-timeout`).
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves every route on `listener`, with the built frontend in `ui` (when it is built
/// there), until `shutdown` ends; then stops accepting and finishes what is running.
///
/// A client that stops reading its socket (a WebSocket query, a streamed or whole answer)
/// holds only what is queued for it — the query's channel of frames and the socket's
/// buffers — and once a write has waited `send_timeout`, its connection is dropped, which
/// stops its query and frees its scan slots.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    ui: Option<PathBuf>,
    send_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let ui = ui.filter(|ui| {
        let built = ui.join("index.html").is_file();
        if !built {
            tracing::warn!(ui = %ui.display(), "no built frontend there; serving the API only");
        }
        built
    });
    let listener = SendTimeout {
        tcp: listener,
        timeout: send_timeout,
    }
    // A no-op tap: axum knows each connection's address (`ConnectInfo`) of a tapped
    // listener of any kind, of an untapped one only for its own `TcpListener`. Wrong keys
    // are counted per address.
    .tap_io(|_| ());
    let routes = router(state, ui).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, routes)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Accepts TCP connections whose writes fail once they have waited `timeout`.
struct SendTimeout {
    tcp: TcpListener,
    timeout: Duration,
}

impl axum::serve::Listener for SendTimeout {
    type Io = Pin<Box<TimeoutWriter<TcpStream>>>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // axum's own accept: it logs and waits out errors such as too many open files.
        let (stream, addr) = axum::serve::Listener::accept(&mut self.tcp).await;
        let mut stream = TimeoutWriter::new(stream);
        stream.set_timeout(Some(self.timeout));
        (Box::pin(stream), addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// Ctrl-C, or SIGTERM from a service manager.
pub async fn shutdown_signal() {
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
