//! `ksym-serve`: kernel symbols for a fleet over HTTP (`ksym serve`).
//!
//! Agents upload the snapshot of their boot once (`POST /v1/snapshots`);
//! the server keeps snapshots in a [`SnapshotStore`] and names kernel
//! addresses for any boot it holds, now or months later:
//!
//! - `POST /v1/symbolize`: `{"boot": "<boot id>", "addrs": ["0xffffffff81000000", ...],
//!   "mode": "exact" | "return" | "stack"}` answers `{"frames": [...]}`, one
//!   frame per address in order, each as `ksym addr --json` prints it
//!   ([`ksym::symbolize::json`]); with `"lines": true`, BPF frames the
//!   snapshot keeps lines for carry them as `ksym addr --lines --json` does.
//! - `POST /v1/snapshots`: a snapshot file's bytes in, `{"boot": ..}` out.
//! - `POST /v1/pprof?boot=...`: a pprof profile in, the same profile with
//!   its kernel frames named out.
//! - `GET`/`POST /pprof/symbol[?boot=...]`: pprof's symbolz protocol.
//! - `GET /metrics` (OpenMetrics), `GET /healthz`, `GET /readyz`.
//!
//! Tables are opened from the store on first use and kept in a cache
//! bounded in bytes ([`Config::cache_bytes`]). Off loopback, every query and
//! upload needs the bearer token ([`Token`]).
//!
//! ```no_run
//! # async fn f() -> std::io::Result<()> {
//! use std::sync::Arc;
//! let store = Arc::new(ksym_serve::MemoryStore::new());
//! let server = ksym_serve::Server::new(ksym_serve::Config::default(), store);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:7878").await?;
//! axum::serve(listener, ksym_serve::router(server)).await
//! # }
//! ```

mod app;
mod auth;
mod cache;
mod config;
mod error;
mod metrics;
mod pprof;
mod run;
mod store;
mod symbolize;
mod upload;

use std::net::SocketAddr;

pub use app::{router, Server};
pub use auth::{check_listen, Token};
pub use config::Config;
pub use run::{open_store, run};
pub use store::{boot_id_of, valid_boot_id, MemoryStore, SnapshotStore, StoreError, StoreFuture};

/// Why the server would not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("token: {0}")]
    Token(String),
    #[error("store: {0}")]
    Store(String),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
    #[error("{0}")]
    Io(#[source] std::io::Error),
}
