//! What the server's tests share: the real data of `../shared/data` made
//! into snapshots with boot ids, and a server on a real loopback listener
//! (bound to port 0) in a runtime of its own.

#![allow(dead_code)] // each test file uses its own part

use std::path::PathBuf;
use std::sync::Arc;

use ksym::snapshot::Identity;
use ksym_serve::{router, Config, MemoryStore, Server, SnapshotStore};

/// The shared real-kernel data (see `ksym-testdata`).
pub fn data_dir() -> PathBuf {
    ksym_testdata::data_dir()
}

/// A kallsyms file of the shared data as a snapshot naming `boot`.
pub fn snapshot(kallsyms: &str, boot: &str) -> (ksym::SymbolTable, Vec<u8>) {
    let table = ksym::load_file(&data_dir().join(kallsyms), &ksym::LoadOptions::default())
        .unwrap_or_else(|e| panic!("{kallsyms}: {e}"));
    let identity = Identity {
        boot_id: Some(boot.to_string()),
        release: Some(kallsyms.split('/').next().unwrap().to_string()),
        ..Identity::default()
    };
    let bytes = ksym::snapshot::to_bytes(&table, &identity);
    (table, bytes)
}

pub const BOOT_612: &str = "0b6f0c52-6c1e-4a57-9d6e-612000000612";
pub const BOOT_61: &str = "d9b3c1f0-2c4e-4d6a-8f1e-610000000610";

/// The 6.12 and 6.1 snapshots (each made once per test binary).
pub fn shared_snapshots() -> &'static [(ksym::SymbolTable, Vec<u8>, &'static str); 2] {
    static S: std::sync::OnceLock<[(ksym::SymbolTable, Vec<u8>, &'static str); 2]> =
        std::sync::OnceLock::new();
    S.get_or_init(|| {
        let (t612, b612) = snapshot("debian-6.12.117/kallsyms.xz", BOOT_612);
        let (t61, b61) = snapshot("debian-6.1.0-56/kallsyms.xz", BOOT_61);
        [(t612, b612, BOOT_612), (t61, b61, BOOT_61)]
    })
}

/// A server on 127.0.0.1:<free port>, stopped when dropped.
pub struct Running {
    pub base: String,
    pub server: Arc<Server>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a server over `store`, with `extra` routes merged in (the tests'
/// own, e.g. a profile for `go tool pprof` to fetch).
pub fn start_with(
    config: Config,
    store: Arc<dyn SnapshotStore>,
    extra: Option<axum::Router>,
) -> Running {
    let server = Server::new(config, store);
    let app = match extra {
        Some(extra) => router(server.clone()).merge(extra),
        None => router(server.clone()),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
    });
    let addr = rx.recv().expect("the server thread bound a listener");
    Running {
        base: format!("http://{addr}"),
        server,
        stop: Some(stop),
        thread: Some(thread),
    }
}

/// A server over a memory store holding the 6.12 and 6.1 snapshots.
pub fn start(config: Config) -> Running {
    let store = Arc::new(MemoryStore::new());
    let running = start_with(config, store, None);
    for (_, bytes, boot) in shared_snapshots() {
        let (status, body) = post(&running.url("/v1/snapshots"), bytes, None);
        assert_eq!(status, 200, "upload {boot}: {body}");
    }
    running
}

fn agent() -> &'static ureq::Agent {
    static A: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    A.get_or_init(ureq::Agent::new)
}

/// (status, body) of a POST, with a bearer token when given.
pub fn post(url: &str, body: &[u8], token: Option<&str>) -> (u16, String) {
    let (status, bytes) = post_bytes(url, body, token);
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

pub fn post_bytes(url: &str, body: &[u8], token: Option<&str>) -> (u16, Vec<u8>) {
    let mut req = agent().post(url);
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    answer(req.send_bytes(body))
}

pub fn get(url: &str) -> (u16, String) {
    let (status, bytes) = answer(agent().get(url).call());
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> (u16, Vec<u8>) {
    let resp = match r {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => panic!("HTTP: {e}"),
    };
    let status = resp.status();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut body).unwrap();
    (status, body)
}

/// The body of a symbolize request.
pub fn symbolize_body(boot: &str, addrs: &[u64], mode: &str) -> Vec<u8> {
    let addrs: Vec<String> = addrs.iter().map(|a| format!("{a:#x}")).collect();
    serde_json::json!({"boot": boot, "addrs": addrs, "mode": mode})
        .to_string()
        .into_bytes()
}

/// Addresses spread over a table: in symbols, at their ends, in gaps,
/// outside the kernel.
pub fn sample_addrs(table: &ksym::SymbolTable, n: usize) -> Vec<u64> {
    let syms: Vec<_> = table.iter().collect();
    let step = (syms.len() / n.max(1)).max(1);
    let mut out = Vec::with_capacity(n + 3);
    for (i, s) in syms.iter().step_by(step).take(n).enumerate() {
        out.push(match i % 3 {
            0 => s.start,
            1 => s.start + s.size / 2,
            _ => s.start + s.size,
        });
    }
    out.extend([0, 0x1234, u64::MAX]);
    out
}
