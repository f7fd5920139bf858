//! The debuginfod protocol, client side: `GET <url>/buildid/<hex>/debuginfo`
//! ([`ask`]) and the body into the shared cache ([`receive`]), with elfutils' rules for `DEBUGINFOD_TIMEOUT`
//! (curl's low-speed limit: under 100 KiB/s for that many seconds fails,
//! and so does a read that waits that long) and `DEBUGINFOD_MAXSIZE` (sent
//! as `X-DEBUGINFOD-MAXSIZE`, checked against Content-Length before the
//! body, and held while the body streams).

use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

use crate::cache::TempEntry;
use crate::elf_facts::{elf_facts, hex};
use crate::error::Mismatch;

/// curl's `CURLOPT_LOW_SPEED_LIMIT` as elfutils sets it: bytes per second.
pub const LOW_SPEED_BYTES_PER_S: u64 = 100 * 1024;

/// What one server said.
#[derive(Debug)]
pub enum Answer {
    /// The file, in the temporary entry, build-id checked.
    Got(TempEntry),
    /// An HTTP error status: the server does not have it (a miss).
    NotThere(String),
    /// Larger than the bound; not a miss.
    TooBig(String),
    /// A file of another build.
    Mismatch(Mismatch),
    /// Could not ask or could not read the answer (transient).
    Failed(String),
}

/// How one download may go.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `DEBUGINFOD_TIMEOUT`; `None` waits for ever.
    pub timeout: Option<Duration>,
    /// `DEBUGINFOD_MAXSIZE`.
    pub max_size: Option<u64>,
    /// Show progress on standard error.
    pub progress: bool,
}

/// The HTTP agent with the read and connect timeouts of `limits`.
pub fn agent(limits: &Limits) -> ureq::Agent {
    let mut builder = ureq::AgentBuilder::new()
        .user_agent(concat!("ksym-debuginfo/", env!("CARGO_PKG_VERSION")))
        .redirects(8);
    if let Some(t) = limits.timeout {
        builder = builder.timeout_connect(t).timeout_read(t).timeout_write(t);
    }
    builder.build()
}

/// The URL of `build_id`'s debug info on `server` (elfutils joins them so).
pub fn debuginfo_url(server: &str, build_id: &[u8]) -> String {
    let sep = if server.ends_with('/') { "" } else { "/" };
    format!("{server}{sep}buildid/{}/debuginfo", hex(build_id))
}

/// Asks `url` for the file: the response, once its status says it has it,
/// else what the server said.
pub fn ask(
    agent: &ureq::Agent,
    url: &str,
    max_size: Option<u64>,
) -> Result<ureq::Response, Answer> {
    let mut request = agent.get(url);
    if let Some(max) = max_size {
        request = request.set("X-DEBUGINFOD-MAXSIZE", &max.to_string());
    }
    match request.call() {
        Ok(r) => Ok(r),
        // 406: the server's answer to X-DEBUGINFOD-MAXSIZE.
        Err(ureq::Error::Status(406, _)) => Err(Answer::TooBig(
            "HTTP 406: larger than DEBUGINFOD_MAXSIZE".into(),
        )),
        Err(ureq::Error::Status(code, r)) => {
            Err(Answer::NotThere(format!("HTTP {code} {}", r.status_text())))
        }
        Err(e) => Err(Answer::Failed(e.to_string())),
    }
}

/// Receives the body of `response` (from `url`) into `temp`, bounded, and
/// checks it is the debug info of `build_id`.
pub fn receive(
    response: ureq::Response,
    url: &str,
    build_id: &[u8],
    limits: &Limits,
    mut temp: TempEntry,
) -> Answer {
    let length: Option<u64> = response
        .header("Content-Length")
        .and_then(|l| l.trim().parse().ok());
    if let (Some(len), Some(max)) = (length, limits.max_size) {
        if len > max {
            return Answer::TooBig(format!("{len} bytes, more than DEBUGINFOD_MAXSIZE ({max})"));
        }
    }
    let mut progress = Progress::new(limits.progress, url, length);
    let got = copy_body(
        &mut response.into_reader(),
        temp.file(),
        limits,
        &mut progress,
    );
    progress.finish();
    let got = match got {
        Ok(n) => n,
        Err(answer) => return answer,
    };
    if length.is_some_and(|len| len != got) {
        return Answer::Failed(format!(
            "answer ended after {got} of {} bytes",
            length.unwrap_or(0)
        ));
    }
    match elf_facts(&temp.path) {
        Ok(f) if f.build_id.as_deref() == Some(build_id) => Answer::Got(temp),
        Ok(f) => Answer::Mismatch(Mismatch {
            path: url.into(),
            found: f.build_id.map_or("none".into(), |b| hex(&b)),
            wanted: hex(build_id),
        }),
        Err(e) => Answer::Failed(format!("the answer is unusable: {e}")),
    }
}

/// Streams the body into `out`, held to the size bound and the low-speed
/// rule; returns the bytes written.
fn copy_body(
    body: &mut dyn Read,
    out: &mut std::fs::File,
    limits: &Limits,
    progress: &mut Progress,
) -> Result<u64, Answer> {
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0u64;
    let mut window = (Instant::now(), 0u64);
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Answer::Failed(format!("after {total} bytes: {e}"))),
        };
        total += n as u64;
        if let Some(max) = limits.max_size.filter(|&m| total > m) {
            return Err(Answer::TooBig(format!(
                "more than DEBUGINFOD_MAXSIZE ({max}) bytes arrived"
            )));
        }
        out.write_all(&buf[..n])
            .map_err(|e| Answer::Failed(format!("writing the cache: {e}")))?;
        window.1 += n as u64;
        if let Some(t) = limits.timeout {
            let spent = window.0.elapsed();
            if spent >= t {
                if window.1 < LOW_SPEED_BYTES_PER_S.saturating_mul(spent.as_secs().max(1)) {
                    return Err(Answer::Failed(format!(
                        "too slow: {} bytes in {:.1} s, under {} KiB/s for DEBUGINFOD_TIMEOUT",
                        window.1,
                        spent.as_secs_f64(),
                        LOW_SPEED_BYTES_PER_S >> 10
                    )));
                }
                window = (Instant::now(), 0);
            }
        }
        progress.update(total);
    }
}

/// A one-line download display on standard error, only on a terminal.
struct Progress {
    on: bool,
    label: String,
    total: Option<u64>,
    last: Option<Instant>,
}

impl Progress {
    fn new(wanted: bool, url: &str, total: Option<u64>) -> Progress {
        // The server part of the URL, as elfutils shows it.
        let label = url.split("/buildid/").next().unwrap_or(url).to_string();
        Progress {
            on: wanted && std::io::stderr().is_terminal(),
            label,
            total,
            last: None,
        }
    }

    fn update(&mut self, done: u64) {
        if !self.on
            || self
                .last
                .is_some_and(|t| t.elapsed() < Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(Instant::now());
        let line = progress_line(&self.label, done, self.total);
        let _ = write!(std::io::stderr(), "\r{line}\x1b[K");
    }

    fn finish(&mut self) {
        if self.on && self.last.is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}

/// The progress line: `Downloading from <server>: 12.5/43.3 MiB`.
fn progress_line(label: &str, done: u64, total: Option<u64>) -> String {
    let mib = |b: u64| b as f64 / (1u64 << 20) as f64;
    match total {
        Some(t) => format!(
            "Downloading from {label}: {:.1}/{:.1} MiB",
            mib(done),
            mib(t)
        ),
        None => format!("Downloading from {label}: {:.1} MiB", mib(done)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_names_the_server_and_the_sizes() {
        let p = Progress::new(true, "http://h:8002/buildid/ab/debuginfo", Some(3 << 20));
        assert_eq!(p.label, "http://h:8002");
        assert_eq!(
            progress_line(&p.label, 1 << 19, p.total),
            "Downloading from http://h:8002: 0.5/3.0 MiB"
        );
        assert_eq!(
            progress_line("http://h", 5 << 20, None),
            "Downloading from http://h: 5.0 MiB"
        );
        // Not a terminal (the test's standard error is captured): silent.
        assert!(!Progress::new(true, "http://h", None).on || std::io::stderr().is_terminal());
        assert!(!Progress::new(false, "http://h", None).on);
    }

    #[test]
    fn urls_joined_as_elfutils_joins_them() {
        let id = [0xab, 0x01];
        assert_eq!(
            debuginfo_url("http://h", &id),
            "http://h/buildid/ab01/debuginfo"
        );
        assert_eq!(
            debuginfo_url("http://h/", &id),
            "http://h/buildid/ab01/debuginfo"
        );
        assert_eq!(
            debuginfo_url("http://h/d", &id),
            "http://h/d/buildid/ab01/debuginfo"
        );
    }
}
