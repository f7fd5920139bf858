//! The server's settings and their defaults.

use std::time::Duration;

use crate::auth::Token;

/// How the server answers, and the bounds it holds requests to.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest body of a query (`/v1/symbolize`, `/pprof/symbol`) or a
    /// profile (`/v1/pprof`), in bytes.
    pub max_body_bytes: usize,
    /// Largest snapshot upload, in bytes.
    pub max_snapshot_bytes: usize,
    /// Largest profile once decompressed, in bytes.
    pub max_profile_bytes: usize,
    /// Most addresses in one request.
    pub max_addrs: usize,
    /// Longest a request may take, its body read included.
    pub request_timeout: Duration,
    /// Bytes of opened tables kept in the cache.
    pub cache_bytes: usize,
    /// The bearer token queries and uploads need (`None`: none needed,
    /// allowed on loopback only).
    pub token: Option<Token>,
    /// Whether the addresses asked about are written to the log.
    pub log_addresses: bool,
    /// The boot `/pprof/symbol` and `/v1/pprof` answer for when the request
    /// names none (pprof's symbolz client drops the query string).
    pub default_boot: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_body_bytes: 16 << 20,
            max_snapshot_bytes: 256 << 20,
            max_profile_bytes: 256 << 20,
            max_addrs: 100_000,
            request_timeout: Duration::from_secs(30),
            cache_bytes: 1 << 30,
            token: None,
            log_addresses: false,
            default_boot: None,
        }
    }
}
