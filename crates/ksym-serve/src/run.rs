//! Running the server from the command line: the store a URL names, the
//! listener, and serving until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::app::{router, Server};
use crate::auth::check_listen;
use crate::config::Config;
use crate::store::SnapshotStore;
use crate::ServeError;

/// The store at `url` (`file:///dir`, `s3://bucket/prefix`, `memory://`),
/// as `ksym snapshot push` writes it.
pub fn open_store(url: &str) -> Result<Arc<dyn SnapshotStore>, ServeError> {
    let store = ksym_store::Store::from_url(url).map_err(|e| ServeError::Store(e.to_string()))?;
    Ok(Arc::new(store))
}

/// Serves on `listen` until SIGINT or SIGTERM, saying where on standard
/// error. Refuses a non-loopback address without a token.
pub fn run(
    listen: SocketAddr,
    store: Arc<dyn SnapshotStore>,
    config: Config,
) -> Result<(), ServeError> {
    check_listen(&listen, config.token.as_ref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Io)?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| ServeError::Bind(listen, e))?;
        let local = listener.local_addr().map_err(ServeError::Io)?;
        eprintln!("ksym serve: listening on http://{local}");
        let app = router(Server::new(config, store));
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown_signal())
            .await
            .map_err(ServeError::Io)
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    eprintln!("ksym serve: stopping");
}
