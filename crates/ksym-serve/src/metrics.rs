//! The server's Prometheus metrics, served on `/metrics` in the OpenMetrics
//! text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CauseLabels {
    pub cause: &'static str,
}

/// Every metric, registered once in `registry`.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<EndpointLabels, Histogram>,
    pub batches: Counter,
    pub input_ips: Counter,
    pub resolved: Counter,
    pub raw_frames: Counter,
    pub failures: Family<CauseLabels, Counter>,
    pub snapshots_loaded: Counter,
    pub snapshots_uploaded: Counter,
    pub store_reads: Counter,
    pub store_errors: Family<CauseLabels, Counter>,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub cache_tables: Gauge,
    pub cache_bytes: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let latency = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            // 50 µs to about 13 s.
            Histogram::new(exponential_buckets(0.00005, 2.0, 19))
        });
        let mut m = Metrics {
            registry: Registry::with_prefix("ksym_serve"),
            requests: Family::default(),
            latency,
            batches: Counter::default(),
            input_ips: Counter::default(),
            resolved: Counter::default(),
            raw_frames: Counter::default(),
            failures: Family::default(),
            snapshots_loaded: Counter::default(),
            snapshots_uploaded: Counter::default(),
            store_reads: Counter::default(),
            store_errors: Family::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            cache_tables: Gauge::default(),
            cache_bytes: Gauge::default(),
        };
        let r = &mut m.registry;
        r.register(
            "requests",
            "HTTP requests by endpoint and status",
            m.requests.clone(),
        );
        r.register(
            "request_duration_seconds",
            "Time to answer a request, by endpoint",
            m.latency.clone(),
        );
        r.register("batches", "Address batches symbolized", m.batches.clone());
        r.register(
            "input_ips",
            "Addresses given to symbolize",
            m.input_ips.clone(),
        );
        r.register("resolved", "Addresses named", m.resolved.clone());
        r.register(
            "raw_frames",
            "Addresses answered as raw addresses (no symbol holds them)",
            m.raw_frames.clone(),
        );
        r.register(
            "failures",
            "Requests refused or failed, by cause",
            m.failures.clone(),
        );
        r.register(
            "snapshots_loaded",
            "Snapshots fetched from the store and opened",
            m.snapshots_loaded.clone(),
        );
        r.register(
            "snapshots_uploaded",
            "Snapshots stored through POST /v1/snapshots",
            m.snapshots_uploaded.clone(),
        );
        r.register("store_reads", "Reads from the store", m.store_reads.clone());
        r.register(
            "store_errors",
            "Store operations that failed, by cause",
            m.store_errors.clone(),
        );
        r.register(
            "cache_hits",
            "Requests answered from an open table",
            m.cache_hits.clone(),
        );
        r.register(
            "cache_misses",
            "Requests that had to fetch their table",
            m.cache_misses.clone(),
        );
        r.register(
            "cache_tables",
            "Tables open in the cache",
            m.cache_tables.clone(),
        );
        r.register(
            "cache_bytes",
            "Bytes held by the tables in the cache",
            m.cache_bytes.clone(),
        );
        m
    }

    pub fn fail(&self, cause: &'static str) {
        self.failures.get_or_create(&CauseLabels { cause }).inc();
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(8192);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
