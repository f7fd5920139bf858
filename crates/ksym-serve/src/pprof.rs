//! `POST /v1/pprof?boot=...`: a pprof profile in (gzip'd or not), the same
//! profile gzip'd with its kernel frames named (`ksym-pprof`).

use std::io::Read;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use flate2::read::MultiGzDecoder;
use serde::Deserialize;

use crate::app::Server;
use crate::error::ApiError;

#[derive(Deserialize)]
pub(crate) struct PprofQuery {
    boot: Option<String>,
}

pub(crate) async fn pprof(
    State(server): State<Arc<Server>>,
    query: Result<Query<PprofQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let body = body?;
    let boot = server.boot_or_default(query.boot.as_deref())?.to_string();
    let loaded = server.table(&boot).await?;
    let max = server.config.max_profile_bytes;
    let named = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let raw = gunzip_within(&body, max)?;
        let mut profile = ksym_pprof::decode(&raw)
            .map_err(|e| ApiError::bad_request(format!("the profile: {e}")))?;
        let stats = ksym_pprof::symbolize(&mut profile, &loaded.table, &Default::default())
            .map_err(|e| ApiError::bad_request(format!("the profile: {e}")))?;
        Ok((ksym_pprof::encode(&profile), stats))
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
    let (bytes, stats) = named;
    let m = &server.metrics;
    m.batches.inc();
    let kernel = stats.resolved + stats.unresolved;
    m.input_ips.inc_by(kernel);
    m.resolved.inc_by(stats.resolved);
    m.raw_frames.inc_by(stats.unresolved);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (
                header::HeaderName::from_static("x-ksym-resolved"),
                stats.resolved.to_string(),
            ),
            (
                header::HeaderName::from_static("x-ksym-unresolved"),
                stats.unresolved.to_string(),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The profile's bytes, decompressed when gzip'd, at most `max` bytes.
fn gunzip_within(body: &[u8], max: usize) -> Result<Vec<u8>, ApiError> {
    if !body.starts_with(&[0x1f, 0x8b]) {
        return Ok(body.to_vec());
    }
    let mut raw = Vec::with_capacity(body.len() * 4);
    MultiGzDecoder::new(body)
        .take(max as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| ApiError::bad_request(format!("the profile does not decompress: {e}")))?;
    if raw.len() > max {
        return Err(ApiError::too_large(format!(
            "the profile decompresses to more than {max} bytes"
        )));
    }
    Ok(raw)
}
