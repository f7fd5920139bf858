//! The server: its state ([`Server`]), the routes, and the layer every
//! request passes (token, timeout, metrics, the log line of a failure).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ksym::snapshot::{from_bytes, OpenOptions};

use crate::cache::{Had, Loaded, TableCache};
use crate::config::Config;
use crate::error::{ApiError, FailureCause};
use crate::metrics::{CauseLabels, EndpointLabels, Metrics, RequestLabels};
use crate::store::{valid_boot_id, SnapshotStore, StoreError};
use crate::{pprof, symbolize, upload};

/// Everything the handlers share.
pub struct Server {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn SnapshotStore>,
    pub(crate) cache: TableCache,
    pub(crate) metrics: Metrics,
}

impl Server {
    pub fn new(config: Config, store: Arc<dyn SnapshotStore>) -> Arc<Server> {
        Arc::new(Server {
            cache: TableCache::new(config.cache_bytes),
            config,
            store,
            metrics: Metrics::new(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The metrics in the OpenMetrics text format (what `/metrics` answers).
    pub fn metrics_text(&self) -> String {
        let (tables, bytes) = self.cache.usage();
        self.metrics.cache_tables.set(tables as i64);
        self.metrics.cache_bytes.set(bytes as i64);
        self.metrics.encode()
    }

    /// The boot a request names, or the default one.
    pub(crate) fn boot_or_default<'a>(
        &'a self,
        boot: Option<&'a str>,
    ) -> Result<&'a str, ApiError> {
        boot.or(self.config.default_boot.as_deref()).ok_or_else(|| {
            ApiError::bad_request("no boot given (?boot=<boot id>) and no --default-boot")
        })
    }

    /// The opened table of `boot`: from the cache, or fetched and opened
    /// (every checksum checked) on first use.
    pub(crate) async fn table(&self, boot: &str) -> Result<Arc<Loaded>, ApiError> {
        if !valid_boot_id(boot) {
            return Err(ApiError::bad_request(format!("{boot:?} is not a boot id")));
        }
        let m = &self.metrics;
        let got = self
            .cache
            .get(boot, || async {
                m.store_reads.inc();
                let bytes = self
                    .store
                    .fetch(boot)
                    .await
                    .inspect_err(|e| self.store_error(e))?;
                let source = format!("snapshot of boot {boot}");
                let opened = tokio::task::spawn_blocking(move || {
                    let opened = from_bytes(&source, &bytes, OpenOptions { verify: true });
                    opened.map(|(table, _)| {
                        let bytes = bytes.len() + table.heap_bytes();
                        Loaded { table, bytes }
                    })
                })
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
                let loaded = opened.map_err(|e| {
                    let e = StoreError::Damaged(e.to_string());
                    self.store_error(&e);
                    e
                })?;
                m.snapshots_loaded.inc();
                Ok(loaded)
            })
            .await?;
        match got.1 {
            Had::Hit => m.cache_hits.inc(),
            Had::Loaded => m.cache_misses.inc(),
        };
        Ok(got.0)
    }

    pub(crate) fn store_error(&self, e: &StoreError) {
        if !matches!(e, StoreError::NotFound(_) | StoreError::Refused(_)) {
            eprintln!("ksym serve: store: {e}");
        }
        let cause = e.cause();
        self.metrics
            .store_errors
            .get_or_create(&CauseLabels { cause })
            .inc();
    }
}

/// Every route of the server over `server`.
pub fn router(server: Arc<Server>) -> Router {
    let c = &server.config;
    let query_limit = DefaultBodyLimit::max(c.max_body_bytes);
    let guarded = Router::new()
        .route(
            "/v1/symbolize",
            post(symbolize::symbolize).layer(query_limit),
        )
        .route(
            "/v1/snapshots",
            post(upload::upload).layer(DefaultBodyLimit::max(c.max_snapshot_bytes)),
        )
        .route("/v1/pprof", post(pprof::pprof).layer(query_limit))
        .route(
            "/pprof/symbol",
            get(symbolize::symbolz_count)
                .post(symbolize::symbolz)
                .layer(query_limit),
        )
        .route_layer(middleware::from_fn_with_state(server.clone(), authorize));
    Router::new()
        .merge(guarded)
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no_route", "no such endpoint") })
        .layer(middleware::from_fn_with_state(server.clone(), observe))
        .with_state(server)
}

async fn metrics(State(server): State<Arc<Server>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        server.metrics_text(),
    )
        .into_response()
}

/// The most of an unauthorized request's body read (and dropped).
const DRAIN_BYTES: usize = 64 << 10;

/// The token, when the server has one; then a body whose declared length
/// is past the route's bound is refused before a byte of it is read.
async fn authorize(State(server): State<Arc<Server>>, req: Request, next: Next) -> Response {
    if let Some(token) = &server.config.token {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        if !token.admits(given) {
            // A small body is read and dropped, so that the client, still
            // sending it, reads the answer instead of a reset connection.
            let drained = axum::body::to_bytes(req.into_body(), DRAIN_BYTES)
                .await
                .is_ok();
            let mut resp = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong bearer token",
            )
            .into_response();
            let h = resp.headers_mut();
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            if !drained {
                h.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            return resp;
        }
    }
    let c = &server.config;
    let max = if req.uri().path() == "/v1/snapshots" {
        c.max_snapshot_bytes
    } else {
        c.max_body_bytes
    };
    let declared = req.headers().get(header::CONTENT_LENGTH);
    let declared = declared.and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return ApiError::too_large(format!(
            "request body too large: {} bytes, at most {max}",
            declared.unwrap_or_default()
        ))
        .into_response();
    }
    next.run(req).await
}

/// The timeout, the request metrics, and a log line for each failure
/// (method, path and status: never a body, so never an address).
async fn observe(State(server): State<Arc<Server>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let endpoint = endpoint_name(req.extensions().get::<MatchedPath>().map(|p| p.as_str()));
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let resp = match tokio::time::timeout(server.config.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "request took longer than {:?}",
                server.config.request_timeout
            ),
        )
        .into_response(),
    };
    let status = resp.status();
    let m = &server.metrics;
    m.requests
        .get_or_create(&RequestLabels {
            endpoint,
            status: status.as_u16(),
        })
        .inc();
    m.latency
        .get_or_create(&EndpointLabels { endpoint })
        .observe(start.elapsed().as_secs_f64());
    if let Some(FailureCause(cause)) = resp.extensions().get::<FailureCause>() {
        m.fail(cause);
    }
    if status.is_client_error() || status.is_server_error() {
        eprintln!("ksym serve: {method} {path}: {status}");
    }
    resp
}

/// A fixed label per route (unknown paths are one label, not one each).
fn endpoint_name(path: Option<&str>) -> &'static str {
    match path {
        Some("/v1/symbolize") => "symbolize",
        Some("/v1/snapshots") => "snapshots",
        Some("/v1/pprof") => "pprof",
        Some("/pprof/symbol") => "symbolz",
        Some("/metrics") => "metrics",
        Some("/healthz") => "healthz",
        Some("/readyz") => "readyz",
        _ => "other",
    }
}
