//! Addresses to frames: `POST /v1/symbolize` (JSON, one frame per address
//! as `ksym addr --json` prints it) and pprof's symbolz protocol on
//! `/pprof/symbol` (`0xaddr name` lines).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ksym::stack::{AddrKind, Frames, Symbolizer};
use ksym::symbolize::json::{bpf_frames_json, frame_json, parse_addr};
use ksym::{Frame, SymbolTable};
use serde::Deserialize;

use crate::app::Server;
use crate::error::ApiError;

#[derive(Deserialize)]
struct SymbolizeRequest<'a> {
    #[serde(borrow)]
    boot: Cow<'a, str>,
    #[serde(borrow)]
    addrs: Vec<Cow<'a, str>>,
    #[serde(default)]
    mode: Mode,
    /// Source lines where the snapshot keeps them: frames in BPF programs
    /// get `"frames"` as `ksym addr --lines --json` prints them.
    #[serde(default)]
    lines: bool,
}

/// How the addresses are looked up.
#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    /// As they are (sampled IPs).
    #[default]
    Exact,
    /// As return addresses (`addr - 1` looked up, like `%pB`).
    Return,
    /// The first exact, the others return addresses (an unwound stack).
    Stack,
}

impl From<Mode> for AddrKind {
    fn from(m: Mode) -> AddrKind {
        match m {
            Mode::Exact => AddrKind::Exact,
            Mode::Return => AddrKind::Return,
            Mode::Stack => AddrKind::Stack,
        }
    }
}

thread_local! {
    /// One frames buffer per worker thread, reused by every batch.
    static FRAMES: RefCell<Option<Frames<'static>>> = const { RefCell::new(None) };
}

impl Server {
    /// Symbolizes `addrs` in `boot`'s table and hands each frame to `each`,
    /// in order; counts the batch.
    async fn frames_of(
        &self,
        boot: &str,
        addrs: &[u64],
        kind: AddrKind,
        mut each: impl FnMut(&Frame<'_>, &SymbolTable),
    ) -> Result<(), ApiError> {
        if self.config.log_addresses {
            let list: Vec<String> = addrs.iter().map(|a| format!("{a:#x}")).collect();
            eprintln!("ksym serve: boot {boot}: {}", list.join(" "));
        }
        let loaded = self.table(boot).await?;
        let symbolizer = Symbolizer::new(&loaded.table);
        let mut frames: Frames<'_> = FRAMES.with(|f| f.borrow_mut().take()).unwrap_or_default();
        symbolizer.symbolize_as(addrs, kind, &mut frames);
        let mut resolved = 0u64;
        for frame in frames.iter() {
            resolved += u64::from(frame.symbol().is_some());
            // Module frames say which section they are in (`.plt`, ...).
            let frame = match frame {
                Frame::Symbol(s) => Frame::Symbol(loaded.table.with_section(s)),
                raw => raw,
            };
            each(&frame, &loaded.table);
        }
        let frames = frames.recycle();
        FRAMES.with(|f| *f.borrow_mut() = Some(frames));
        let m = &self.metrics;
        m.batches.inc();
        m.input_ips.inc_by(addrs.len() as u64);
        m.resolved.inc_by(resolved);
        m.raw_frames.inc_by(addrs.len() as u64 - resolved);
        Ok(())
    }

    fn check_count(&self, n: usize) -> Result<(), ApiError> {
        if n > self.config.max_addrs {
            return Err(ApiError::too_large(format!(
                "{n} addresses, at most {} in one request",
                self.config.max_addrs
            )));
        }
        Ok(())
    }
}

/// `POST /v1/symbolize`.
pub(crate) async fn symbolize(
    State(server): State<Arc<Server>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body?;
    let req: SymbolizeRequest<'_> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?;
    server.check_count(req.addrs.len())?;
    let mut addrs = Vec::with_capacity(req.addrs.len());
    for (i, text) in req.addrs.iter().enumerate() {
        let addr = parse_addr(text).ok_or_else(|| {
            ApiError::bad_request(format!("addrs[{i}]: {text:?} is not a hex address"))
        })?;
        addrs.push(addr);
    }
    let mut out = String::with_capacity(32 + addrs.len() * 160);
    out.push_str("{\"frames\":[");
    server
        .frames_of(&req.boot, &addrs, req.mode.into(), |frame, table| {
            frame_json(&mut out, frame);
            let bpf = frame.symbol().filter(|s| s.module == Some("bpf"));
            if let Some(line) = bpf
                .filter(|_| req.lines)
                .and_then(|s| table.bpf_line(s.addr()))
            {
                out.pop();
                bpf_frames_json(&mut out, &line);
                out.push('}');
            }
            out.push(',');
        })
        .await?;
    if out.ends_with(',') {
        out.pop();
    }
    out.push_str("]}\n");
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}

#[derive(Deserialize)]
pub(crate) struct BootQuery {
    boot: Option<String>,
    #[serde(default)]
    mode: Mode,
}

/// `GET /pprof/symbol`: the symbolz protocol's probe.
pub(crate) async fn symbolz_count() -> &'static str {
    "num_symbols: 1\n"
}

/// `POST /pprof/symbol` with `0xaddr+0xaddr...`: a `0xaddr name` line per
/// address named (a module symbol as `name [module]`), none for the others.
pub(crate) async fn symbolz(
    State(server): State<Arc<Server>>,
    query: Result<Query<BootQuery>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let body = body?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("the body is not text"))?
        .trim();
    let parts: Vec<&str> = text.split('+').filter(|p| !p.trim().is_empty()).collect();
    server.check_count(parts.len())?;
    let mut addrs = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let part = part.trim();
        addrs.push(parse_addr(part).ok_or_else(|| {
            ApiError::bad_request(format!("address {i}: {part:?} is not a hex address"))
        })?);
    }
    let boot = server.boot_or_default(query.boot.as_deref())?;
    let mut out = String::with_capacity(addrs.len() * 48);
    server
        .frames_of(boot, &addrs, query.mode.into(), |frame, _| {
            if let Some(s) = frame.symbol() {
                let _ = write!(out, "{:#x} {}", frame.addr(), s.name);
                if let Some(m) = s.module {
                    let _ = write!(out, " [{m}]");
                }
                out.push('\n');
            }
        })
        .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], out).into_response())
}
