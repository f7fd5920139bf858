//! `POST /v1/snapshots`: an agent uploads its snapshot (what `ksym snapshot
//! push` does over HTTP); the answer names the boot it is stored under.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::app::Server;
use crate::error::ApiError;

pub(crate) async fn upload(
    State(server): State<Arc<Server>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body?;
    if body.is_empty() {
        return Err(ApiError::bad_request("empty body: send a snapshot file"));
    }
    let boot = server
        .store
        .upload(&body)
        .await
        .inspect_err(|e| server.store_error(e))?;
    // The next query for this boot opens the new snapshot.
    server.cache.invalidate(&boot);
    server.metrics.snapshots_uploaded.inc();
    let answer = serde_json::json!({ "boot": boot, "bytes": body.len() }).to_string();
    Ok(([(header::CONTENT_TYPE, "application/json")], answer).into_response())
}
