//! A live view of the running kernel's symbols that follows module loads
//! and unloads and BPF programs coming and going.
//!
//! A [`KernelSymbols`] handle holds the current [`SymbolTable`] in an
//! [`ArcSwap`]: lookups take no lock and never wait for a rebuild, and a
//! rebuilt table replaces the old one in one atomic step, so a reader sees
//! either the whole old table or the whole new one. Clones of the handle are
//! cheap (one `Arc`) and share everything; the handle is `Send + Sync`.
//!
//! ```no_run
//! use ksym::live::KernelSymbols;
//!
//! let syms = KernelSymbols::open_live()?; // reads /proc, starts the watcher
//! let name = syms.lookup_with(0xffffffff81000000, |s| s.map(|s| s.to_string()));
//! // Several lookups that must agree with each other: one guard, one table.
//! let table = syms.current();
//! let (a, b) = (table.lookup(0xffffffff81000000), table.lookup(0xffffffff81000010));
//! # let _ = (name, a, b);
//! # Ok::<(), ksym::Error>(())
//! ```
//!
//! # Noticing changes
//!
//! Re-reading `/proc/kallsyms` costs the kernel tens of milliseconds, so it
//! is not polled. What is polled is a cheap [`Fingerprint`] of what can
//! change the symbol set, compared by content, never by timestamps (procfs
//! timestamps say nothing):
//!
//! - the boot id (`/proc/sys/kernel/random/boot_id`);
//! - `/proc/modules` without its refcount column (which moves with every
//!   open file of a module): name, size, state and base address of each
//!   line, hashed. The state is in it because a module's init text is freed
//!   when it goes from `Loading` to `Live`;
//! - the set of BPF program ids, from the `bpf(2)` command
//!   `BPF_PROG_GET_NEXT_ID` (needs `CAP_SYS_ADMIN`; when it fails the set is
//!   unknown and only the other parts are watched).
//!
//! The watcher thread (when [`LiveConfig::watch`] is set) reads the
//! fingerprint every [`LiveConfig::poll_interval`]. On the live kernel it also
//! listens, where permitted, to the kernel's uevents (a `NETLINK_KOBJECT_UEVENT`
//! socket, multicast group 1) and wakes at once on one whose `SUBSYSTEM` is
//! `module`; when the socket cannot be opened, polling alone does the work.
//!
//! For BPF programs (and other JIT images: trampolines, dispatchers) it
//! likewise listens, where permitted ([`LiveConfig::ksymbol_events`]), to
//! perf's `PERF_RECORD_KSYMBOL` and `PERF_RECORD_BPF_EVENT` records: one
//! dummy software event per online CPU (`perf_event_open` with pid -1, which
//! needs `CAP_PERFMON` or `CAP_SYS_ADMIN`), each with a small ring buffer that
//! wakes the watcher on every record. The records themselves are skipped: a
//! wake-up only makes the watcher read the fingerprint at once, as a module
//! uevent does. When the events cannot be opened (`EACCES`, `EPERM`,
//! `ENOENT`, `ENOSYS`, ...), polling the program ids is the fallback;
//! [`KernelSymbols::listening_for_ksymbol_events`] tells which is in use.
//!
//! On a change it waits for the burst to end (no further change for
//! [`LiveConfig::settle_quiet`], at most [`LiveConfig::settle_max`] in all),
//! then rebuilds once, off the lookup path, and swaps the new table in.
//!
//! Changes that the fingerprint does not see (ftrace and kprobe trampolines,
//! BPF trampolines and dispatchers without a program change, any BPF change
//! when the program ids are unreadable) are picked up by the next rebuild,
//! or at once by [`KernelSymbols::force_refresh`].
//!
//! Because every rebuild reads the kallsyms of the moment, a module's freed
//! init text and addresses reused by a later module resolve to their live
//! owner once the table is rebuilt.
//!
//! # Testing without a kernel that changes
//!
//! [`LiveConfig::proc_root`] points the handle at a directory holding fake
//! `proc/kallsyms`, `proc/modules` and `proc/sys/kernel/random/boot_id`. Under
//! a root other than `/`, the BPF program ids come from the file `bpf-prog-ids`
//! in that directory (one id a line; no file means unknown) and neither a
//! uevent socket nor perf events are opened.

pub mod host;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
/// What [`KernelSymbols::current`] returns: a cheap, short-lived hold on one
/// table (keep it for a few lookups, not across blocking work; take a
/// [`KernelSymbols::snapshot`] for that).
pub use arc_swap::Guard;

use crate::error::{Error, Result};
use crate::load::{load_procfs, read_live_modules, LoadOptions};
use crate::parse::notes::{gnu_build_id, hex};
use crate::read::kptr_restrict;
use crate::snapshot::cache::{self, CacheOutcome};
use crate::snapshot::Identity;
use crate::table::{Symbol, SymbolTable};

/// Builds a table for a configuration: the hook that reads the kernel's
/// symbols (by default [`load_proc`]). A cache can be put in front of it.
pub type Loader = Arc<dyn Fn(&LiveConfig) -> Result<SymbolTable> + Send + Sync>;

/// The file under a fake [`LiveConfig::proc_root`] that lists BPF program ids.
pub const FAKE_BPF_IDS: &str = "bpf-prog-ids";

/// How a [`KernelSymbols`] handle reads the kernel and watches it. Built
/// with chained setters from [`LiveConfig::new`] (the same as `default()`).
#[derive(Clone)]
pub struct LiveConfig {
    /// The directory holding `proc/`: `/` for the running kernel, a test
    /// directory with fake files otherwise.
    pub proc_root: PathBuf,
    /// How often the watcher reads the fingerprint. Default 1 s.
    pub poll_interval: Duration,
    /// Whether [`KernelSymbols::open`] starts the watcher thread. Default
    /// true; without it the table changes only by
    /// [`KernelSymbols::refresh_now`] or [`KernelSymbols::force_refresh`].
    pub watch: bool,
    /// Whether the watcher listens to module uevents (live kernel only,
    /// where permitted). Default true.
    pub uevents: bool,
    /// Whether the watcher opens perf events that report kernel symbols
    /// coming and going (`PERF_RECORD_KSYMBOL`, `PERF_RECORD_BPF_EVENT`;
    /// live kernel only, where permitted). Default true.
    pub ksymbol_events: bool,
    /// How long the fingerprint must stay unchanged after a change before
    /// the watcher rebuilds (coalesces a burst of loads). Default 50 ms.
    pub settle_quiet: Duration,
    /// The longest the watcher waits for a burst to end. Default 500 ms.
    pub settle_max: Duration,
    /// What builds a table. Default [`load_proc`].
    pub loader: Loader,
    /// Where to keep snapshots of the table (see [`crate::snapshot::cache`]): opening
    /// maps a snapshot matching the kernel's identity instead of loading,
    /// and every table built is stored for the next process. `None` (the
    /// default of [`LiveConfig::new`]) keeps no cache;
    /// [`KernelSymbols::open_live`] uses [`crate::snapshot::cache::default_dir`].
    pub cache_dir: Option<PathBuf>,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            proc_root: PathBuf::from("/"),
            poll_interval: Duration::from_secs(1),
            watch: true,
            uevents: true,
            ksymbol_events: true,
            settle_quiet: Duration::from_millis(50),
            settle_max: Duration::from_millis(500),
            loader: Arc::new(load_proc),
            cache_dir: None,
        }
    }
}

impl fmt::Debug for LiveConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveConfig")
            .field("proc_root", &self.proc_root)
            .field("poll_interval", &self.poll_interval)
            .field("watch", &self.watch)
            .field("uevents", &self.uevents)
            .field("ksymbol_events", &self.ksymbol_events)
            .field("settle_quiet", &self.settle_quiet)
            .field("settle_max", &self.settle_max)
            .field("cache_dir", &self.cache_dir)
            .finish_non_exhaustive()
    }
}

impl LiveConfig {
    /// The defaults: the running kernel, watched, polled every second.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn proc_root(mut self, root: impl Into<PathBuf>) -> Self {
        self.proc_root = root.into();
        self
    }

    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    pub fn watch(mut self, watch: bool) -> Self {
        self.watch = watch;
        self
    }

    pub fn uevents(mut self, uevents: bool) -> Self {
        self.uevents = uevents;
        self
    }

    pub fn ksymbol_events(mut self, ksymbol_events: bool) -> Self {
        self.ksymbol_events = ksymbol_events;
        self
    }

    /// Sets [`settle_quiet`](Self::settle_quiet) and [`settle_max`](Self::settle_max).
    pub fn settle(mut self, quiet: Duration, max: Duration) -> Self {
        self.settle_quiet = quiet;
        self.settle_max = max;
        self
    }

    /// Keeps snapshots of the table in `dir` (`None`: no cache).
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// Replaces the table loader (see [`Loader`]).
    pub fn loader<F>(mut self, loader: F) -> Self
    where
        F: Fn(&LiveConfig) -> Result<SymbolTable> + Send + Sync + 'static,
    {
        self.loader = Arc::new(loader);
        self
    }

    fn proc_file(&self, rel: &str) -> PathBuf {
        self.proc_root.join("proc").join(rel)
    }

    /// `<root>/proc/kallsyms`.
    pub fn kallsyms_path(&self) -> PathBuf {
        self.proc_file("kallsyms")
    }

    /// `<root>/proc/modules`.
    pub fn modules_path(&self) -> PathBuf {
        self.proc_file("modules")
    }

    /// `<root>/proc/sys/kernel/random/boot_id`.
    pub fn boot_id_path(&self) -> PathBuf {
        self.proc_file("sys/kernel/random/boot_id")
    }

    /// `<root>/bpf-prog-ids`: the BPF program ids under a fake root.
    pub fn fake_bpf_ids_path(&self) -> PathBuf {
        self.proc_root.join(FAKE_BPF_IDS)
    }

    /// Whether the root is the real `/`: then BPF ids come from `bpf(2)` and
    /// module uevents and perf ksymbol events are listened to.
    pub fn is_live_root(&self) -> bool {
        self.proc_root == Path::new("/")
            || self
                .proc_root
                .canonicalize()
                .is_ok_and(|p| p == Path::new("/"))
    }
}

/// The default [`Loader`]: `<root>/proc/kallsyms`, streamed, with module
/// symbols bounded by `<root>/proc/modules` (when there is one) and the
/// text areas `<root>/sys/module/*/sections` tell.
pub fn load_proc(config: &LiveConfig) -> Result<SymbolTable> {
    let modules = read_live_modules(&config.proc_root)?;
    let kptr = if config.is_live_root() {
        kptr_restrict()
    } else {
        std::fs::read_to_string(config.proc_file("sys/kernel/kptr_restrict"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    };
    let opts = LoadOptions {
        modules,
        ..LoadOptions::default()
    };
    load_procfs(&config.kallsyms_path(), &opts, kptr)
}

/// A set of lines or ids, summed up: how many, and a hash of them in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest {
    pub count: usize,
    pub hash: u64,
}

/// What the symbol set depends on, cheap to read; compared by content to
/// tell whether the table must be rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// The boot id; `None` when it cannot be read.
    pub boot_id: Option<String>,
    /// Each `/proc/modules` line's name, size, state and base address
    /// (not its refcount or users); `None` without `/proc/modules` (a
    /// kernel without loadable modules).
    pub modules: Option<Digest>,
    /// The BPF program ids; `None` when they cannot be listed.
    pub bpf_progs: Option<Digest>,
}

impl Fingerprint {
    /// Reads the fingerprint of the kernel (or fake root) `config` points at.
    pub fn read(config: &LiveConfig) -> Result<Fingerprint> {
        Self::read_with(config, config.is_live_root())
    }

    fn read_with(config: &LiveConfig, live: bool) -> Result<Fingerprint> {
        let boot_id = read_optional(&config.boot_id_path())?
            .map(|b| String::from_utf8_lossy(&b).trim().to_string());
        let modules = read_optional(&config.modules_path())?.map(|b| modules_digest(&b));
        let bpf_progs = if live {
            live_bpf_prog_ids().ok().map(|ids| ids_digest(&ids))
        } else {
            read_optional(&config.fake_bpf_ids_path())?.map(|b| {
                let mut ids: Vec<&str> = std::str::from_utf8(&b)
                    .unwrap_or("")
                    .split_ascii_whitespace()
                    .collect();
                ids.sort_unstable();
                let mut h = std::collections::hash_map::DefaultHasher::new();
                ids.hash(&mut h);
                Digest {
                    count: ids.len(),
                    hash: h.finish(),
                }
            })
        };
        Ok(Fingerprint {
            boot_id,
            modules,
            bpf_progs,
        })
    }
}

/// The identity of the kernel under `root` (`/` normally) whose changing
/// parts (boot id, module set, BPF programs) `fingerprint` has read.
pub fn identity_of(fingerprint: &Fingerprint, root: &Path) -> Identity {
    let p = |rel: &str| root.join(rel);
    Identity {
        release: std::fs::read_to_string(p("proc/sys/kernel/osrelease"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        build_id: std::fs::read(p("sys/kernel/notes"))
            .ok()
            .and_then(|b| gnu_build_id(&b))
            .map(|id| hex(&id)),
        boot_id: fingerprint.boot_id.clone(),
        modules: fingerprint
            .modules
            .map(|d| d.hash ^ (d.count as u64).rotate_left(48)),
        bpf: fingerprint
            .bpf_progs
            .map(|d| d.hash ^ (d.count as u64).rotate_left(48)),
        kaslr_slide: None,
        created: None,
    }
}

/// Reads a file; a missing one is `None`.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Hashes `/proc/modules` without the volatile columns: of
/// `name size refcount users state address [taints]`, the name, size, state
/// and address. Lines of another shape are hashed whole.
fn modules_digest(text: &[u8]) -> Digest {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut count = 0;
    for line in text.split(|&b| b == b'\n') {
        let fields: Vec<&[u8]> = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty())
            .collect();
        if fields.is_empty() {
            continue;
        }
        count += 1;
        if fields.len() >= 6 {
            for i in [0, 1, 4, 5] {
                fields[i].hash(&mut h);
            }
        } else {
            fields.hash(&mut h);
        }
        h.write_u8(b'\n');
    }
    Digest {
        count,
        hash: h.finish(),
    }
}

fn ids_digest(ids: &[u32]) -> Digest {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ids.hash(&mut h);
    Digest {
        count: ids.len(),
        hash: h.finish(),
    }
}

/// `BPF_PROG_GET_NEXT_ID` from `enum bpf_cmd` (include/uapi/linux/bpf.h).
const BPF_PROG_GET_NEXT_ID: libc::c_int = 11;

/// The part of `union bpf_attr` that the `BPF_*_GET_NEXT_ID` commands read
/// and write: `start_id` in, `next_id` out. The kernel accepts an attribute
/// shorter than its own union and zero-fills the rest.
#[repr(C)]
struct NextIdAttr {
    start_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// The ids of the BPF programs loaded in the running kernel, ascending, from
/// `bpf(BPF_PROG_GET_NEXT_ID)`. Needs `CAP_SYS_ADMIN`: fails with `EPERM`
/// without it (or inside some sandboxes), `ENOSYS` without BPF support.
pub fn live_bpf_prog_ids() -> io::Result<Vec<u32>> {
    /// No kernel holds this many programs; a bound in case ids never end.
    const MAX_PROGS: usize = 1 << 20;
    let mut ids = Vec::new();
    let mut start_id = 0u32;
    loop {
        let mut attr = NextIdAttr {
            start_id,
            next_id: 0,
            open_flags: 0,
        };
        // SAFETY: bpf(2) reads `size` bytes from the pointer and, for this
        // command, writes `next_id` back into it. `attr` is a live,
        // exclusively borrowed `repr(C)` value of exactly that size, laid out
        // like the kernel's anonymous struct for this command (three `__u32`s),
        // and nothing else is passed by address. The call has no other effect.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_GET_NEXT_ID,
                &mut attr as *mut NextIdAttr,
                std::mem::size_of::<NextIdAttr>() as libc::c_uint,
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::ENOENT) => return Ok(ids), // past the last id
                Some(libc::EINTR) => continue,
                _ => return Err(err),
            }
        }
        if (start_id != 0 && attr.next_id <= start_id) || ids.len() >= MAX_PROGS {
            return Err(io::Error::other("BPF program ids do not increase"));
        }
        ids.push(attr.next_id);
        start_id = attr.next_id;
    }
}

/// Why the last refresh failed; the table in use stayed the one before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshError {
    /// The error, as text.
    pub message: String,
    /// When it happened.
    pub at: SystemTime,
    /// How many refreshes in a row failed.
    pub consecutive: u64,
}

impl fmt::Display for RefreshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if self.consecutive > 1 {
            write!(f, " ({} failures in a row)", self.consecutive)?;
        }
        Ok(())
    }
}

/// What the handles and the watcher thread share.
struct Shared {
    config: LiveConfig,
    live: bool,
    table: ArcSwap<SymbolTable>,
    /// The fingerprint read just before the current table was loaded.
    fingerprint: ArcSwap<Fingerprint>,
    epoch: Instant,
    /// When the current table's load started, in nanoseconds since `epoch`.
    built_at: AtomicU64,
    refreshes: AtomicU64,
    /// Held while a refresh reads the fingerprint and loads: one at a time.
    refresh_lock: Mutex<()>,
    last_error: Mutex<Option<RefreshError>>,
    /// What the snapshot cache did for the current table.
    cache_outcome: Mutex<CacheOutcome>,
}

impl Shared {
    fn read_fingerprint(&self) -> Result<Fingerprint> {
        Fingerprint::read_with(&self.config, self.live)
    }

    /// Rebuilds if the fingerprint changed (or always, if `force`); whether
    /// the table was replaced. A failure keeps the old table and is recorded.
    fn refresh(&self, force: bool) -> Result<bool> {
        let _one_at_a_time = self
            .refresh_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let result = self.read_fingerprint().and_then(|fp| {
            if !force && **self.fingerprint.load() == fp {
                return Ok(false);
            }
            let started = Instant::now();
            let table = call_loader(&self.config)?;
            if let Some(dir) = &self.config.cache_dir {
                // For the next process; a cache that cannot be written only
                // costs that process the read.
                let identity = identity_of(&fp, &self.config.proc_root);
                let outcome = match cache::store(dir, &identity, &table) {
                    Ok(path) => CacheOutcome::Stored(path),
                    Err(e) => CacheOutcome::Unusable(e.to_string()),
                };
                *self
                    .cache_outcome
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = outcome;
            }
            self.table.store(Arc::new(table));
            self.fingerprint.store(Arc::new(fp));
            self.built_at
                .store(nanos_since(self.epoch, started), Ordering::Release);
            self.refreshes.fetch_add(1, Ordering::AcqRel);
            Ok(true)
        });
        let mut last = self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match &result {
            Ok(true) => *last = None,
            Ok(false) => {}
            Err(e) => {
                *last = Some(RefreshError {
                    message: e.to_string(),
                    at: SystemTime::now(),
                    consecutive: last.as_ref().map_or(0, |l| l.consecutive) + 1,
                });
            }
        }
        result
    }
}

fn nanos_since(epoch: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

/// Runs the loader; a panic in it becomes an error, so neither the watcher
/// nor a caller of `refresh_now` goes down with it.
fn call_loader(config: &LiveConfig) -> Result<SymbolTable> {
    catch_unwind(AssertUnwindSafe(|| (config.loader)(config))).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string payload".to_string());
        Err(Error::Io {
            path: config.kallsyms_path(),
            source: io::Error::other(format!("the table loader panicked: {what}")),
        })
    })
}

/// A shared, self-refreshing handle on the running kernel's symbol table.
/// Clone it freely: clones share the table and the one watcher thread,
/// which stops (and is joined) when the last clone is dropped; that drop
/// waits for a rebuild under way to end.
///
/// A replaced table is freed by whoever lets go of it last: the refreshing
/// thread, or a reader still holding a guard or snapshot of it.
#[derive(Clone)]
pub struct KernelSymbols {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    watcher: Option<Watcher>,
}

impl fmt::Debug for KernelSymbols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.inner.shared;
        f.debug_struct("KernelSymbols")
            .field("table", &**s.table.load())
            .field("refresh_count", &self.refresh_count())
            .field("watching", &self.is_watching())
            .field("config", &s.config)
            .finish()
    }
}

impl KernelSymbols {
    /// Loads the running kernel's table and watches it (default config,
    /// with the snapshot cache in [`crate::snapshot::cache::default_dir`]).
    pub fn open_live() -> Result<Self> {
        Self::open(LiveConfig::default().cache_dir(cache::default_dir()))
    }

    /// Loads the first table (an error here is returned: there is no older
    /// table to keep) and, if `config.watch`, starts the watcher thread.
    pub fn open(config: LiveConfig) -> Result<Self> {
        let live = config.is_live_root();
        let fingerprint = Fingerprint::read_with(&config, live)?;
        let epoch = Instant::now();
        let identity = identity_of(&fingerprint, &config.proc_root);
        let (table, cache_outcome) =
            cache::load_or_build(config.cache_dir.as_deref(), &identity, || {
                call_loader(&config)
            })?;
        let shared = Arc::new(Shared {
            live,
            table: ArcSwap::from_pointee(table),
            fingerprint: ArcSwap::from_pointee(fingerprint),
            epoch,
            built_at: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            refresh_lock: Mutex::new(()),
            last_error: Mutex::new(None),
            cache_outcome: Mutex::new(cache_outcome),
            config,
        });
        let watcher = if shared.config.watch {
            Some(Watcher::start(&shared).map_err(|source| Error::Io {
                path: shared.config.proc_root.clone(),
                source,
            })?)
        } else {
            None
        };
        Ok(KernelSymbols {
            inner: Arc::new(Inner { shared, watcher }),
        })
    }

    /// The current table, held without a lock for a few lookups. Lookups
    /// through one guard all answer from the same table.
    #[inline]
    pub fn current(&self) -> Guard<Arc<SymbolTable>> {
        self.inner.shared.table.load()
    }

    /// The current table, to keep as long as wanted (it stays valid, and
    /// unchanged, after a refresh replaces it here).
    pub fn snapshot(&self) -> Arc<SymbolTable> {
        self.inner.shared.table.load_full()
    }

    /// Looks `addr` up in the current table and hands the answer to `f`.
    #[inline]
    pub fn lookup_with<R>(&self, addr: u64, f: impl FnOnce(Option<Symbol<'_>>) -> R) -> R {
        let table = self.current();
        f(table.lookup(addr))
    }

    /// How many times the table was replaced since [`open`](Self::open).
    pub fn refresh_count(&self) -> u64 {
        self.inner.shared.refreshes.load(Ordering::Acquire)
    }

    /// How old the current table is: the time since its load started.
    pub fn age(&self) -> Duration {
        let s = &self.inner.shared;
        let now = nanos_since(s.epoch, Instant::now());
        Duration::from_nanos(now.saturating_sub(s.built_at.load(Ordering::Acquire)))
    }

    /// Reads the fingerprint and, if it differs from the one the current
    /// table was built at, rebuilds and swaps the table in. Returns whether
    /// it did. On error the old table stays and the error is also kept for
    /// [`last_error`](Self::last_error).
    pub fn refresh_now(&self) -> Result<bool> {
        self.inner.shared.refresh(false)
    }

    /// Rebuilds and swaps the table in whatever the fingerprint says (for
    /// changes it does not see, like new ftrace trampolines). Fails, keeping
    /// the old table, if the fingerprint or the table cannot be read.
    pub fn force_refresh(&self) -> Result<()> {
        self.inner.shared.refresh(true).map(|_| ())
    }

    /// What the snapshot cache did for the current table.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.inner
            .shared
            .cache_outcome
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Why the last refresh failed, if it did; cleared by a successful rebuild.
    pub fn last_error(&self) -> Option<RefreshError> {
        self.inner
            .shared
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The fingerprint read just before the current table was loaded.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::clone(&self.inner.shared.fingerprint.load())
    }

    pub fn config(&self) -> &LiveConfig {
        &self.inner.shared.config
    }

    /// Whether a watcher thread runs.
    pub fn is_watching(&self) -> bool {
        self.inner.watcher.is_some()
    }

    /// Whether the watcher listens to module uevents (else it only polls).
    pub fn listening_for_uevents(&self) -> bool {
        self.inner.watcher.as_ref().is_some_and(|w| w.uevents)
    }

    /// Whether the watcher listens to the kernel's perf `PERF_RECORD_KSYMBOL`
    /// and `PERF_RECORD_BPF_EVENT` records (else BPF programs are only
    /// polled).
    pub fn listening_for_ksymbol_events(&self) -> bool {
        self.inner
            .watcher
            .as_ref()
            .is_some_and(|w| w.ksymbol_events)
    }
}

/// The watcher thread, stopped and joined on drop.
struct Watcher {
    /// Dropping this end wakes the thread (its end reads end-of-file).
    stop: Option<UnixStream>,
    thread: Option<JoinHandle<()>>,
    uevents: bool,
    ksymbol_events: bool,
}

impl Watcher {
    fn start(shared: &Arc<Shared>) -> io::Result<Watcher> {
        let (stop, stop_rx) = UnixStream::pair()?;
        let uevents = if shared.live && shared.config.uevents {
            UeventSocket::open().ok()
        } else {
            None
        };
        let listening = uevents.is_some();
        let rings = if shared.live && shared.config.ksymbol_events {
            // Not permitted (EACCES, EPERM), not built in (ENOENT, ENOSYS),
            // or anything else: polling alone does the work.
            open_ksymbol_rings().unwrap_or_default()
        } else {
            Vec::new()
        };
        let ksymbol_events = !rings.is_empty();
        let waker = Waker {
            stop: stop_rx,
            uevents,
            rings,
            buf: vec![0; 8192],
        };
        let shared = Arc::clone(shared);
        let thread = std::thread::Builder::new()
            .name("ksym-live".to_string())
            .spawn(move || watch(&shared, waker))?;
        Ok(Watcher {
            stop: Some(stop),
            thread: Some(thread),
            uevents: listening,
            ksymbol_events,
        })
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A loader holding a handle could make the watcher drop the last
            // one: it cannot join itself, and returns on its own.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    Stop,
    ModuleEvent,
    /// A perf ring buffer received a record (a kernel symbol came or went).
    KsymbolEvent,
    Timeout,
}

/// What the watcher sleeps on: the stop socket and, maybe, module uevents
/// and per-CPU perf events reporting kernel symbols.
struct Waker {
    stop: UnixStream,
    uevents: Option<UeventSocket>,
    rings: Vec<PerfRing>,
    buf: Vec<u8>,
}

impl Waker {
    /// Sleeps until `deadline`, a stop, a module uevent or a perf record.
    fn wait_until(&mut self, deadline: Instant) -> Wake {
        let pollfd = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Wake::Timeout;
            }
            // A negative descriptor is skipped by poll(2).
            let mut fds: Vec<libc::pollfd> = [
                self.stop.as_raw_fd(),
                self.uevents.as_ref().map_or(-1, |u| u.0.as_raw_fd()),
            ]
            .into_iter()
            .chain(self.rings.iter().map(PerfRing::poll_fd))
            .map(pollfd)
            .collect();
            let ready = match poll(&mut fds, deadline - now) {
                Ok(ready) => ready,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // Not expected; sleep instead of spinning.
                    std::thread::sleep((deadline - now).min(Duration::from_millis(100)));
                    continue;
                }
            };
            if ready == 0 {
                continue; // the deadline check returns
            }
            if fds[0].revents != 0 {
                return Wake::Stop;
            }
            if fds[1].revents != 0 {
                if let Some(u) = &self.uevents {
                    if u.drain(&mut self.buf) {
                        return Wake::ModuleEvent;
                    }
                }
            }
            let mut ksymbol = false;
            for (ring, fd) in self.rings.iter_mut().zip(&fds[2..]) {
                if fd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                    // Not expected (the event went away): stop polling it
                    // rather than spin; the fingerprint polling remains.
                    ring.broken = true;
                }
                if fd.revents != 0 && ring.drain() {
                    ksymbol = true;
                }
            }
            if ksymbol {
                return Wake::KsymbolEvent;
            }
        }
    }
}

/// poll(2) over `fds` for at most `timeout` (rounded up to a millisecond).
fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<usize> {
    let ms = timeout
        .as_nanos()
        .div_ceil(1_000_000)
        .min(libc::c_int::MAX as u128) as libc::c_int;
    // SAFETY: `fds` is a live, exclusively borrowed slice of `pollfd`, and
    // its true length is passed; poll(2) writes only their `revents`.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// A netlink socket on the kernel's uevent multicast group.
struct UeventSocket(OwnedFd);

impl UeventSocket {
    fn open() -> io::Result<UeventSocket> {
        // SAFETY: socket(2) takes no pointers; it returns a new descriptor
        // or -1.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                libc::NETLINK_KOBJECT_UEVENT,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by socket(2): open, and owned by
        // nothing else, so the `OwnedFd` is its only owner and closes it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: `sockaddr_nl` is plain integers; all zeros is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr.nl_pid = 0; // let the kernel pick the port id
        addr.nl_groups = 1; // the kernel's uevents (udev's are group 2)
                            // SAFETY: `addr` is a live `sockaddr_nl` and the length passed is
                            // its size; bind(2) only reads it.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(UeventSocket(fd))
    }

    /// Reads every pending message; whether one was about a module (or
    /// messages were lost, which might have been).
    fn drain(&self, buf: &mut [u8]) -> bool {
        let mut module = false;
        loop {
            // SAFETY: `buf` is a live, exclusively borrowed buffer and its
            // true length is passed; recv(2) writes at most that many bytes.
            let n = unsafe {
                libc::recv(
                    self.0.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if n < 0 {
                match io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ENOBUFS) => module = true, // overrun: look anyway
                    _ => return module,                   // EAGAIN: drained
                }
                continue;
            }
            // Only the kernel (or CAP_NET_ADMIN) sends to this group, and a
            // message only makes the watcher read the fingerprint sooner.
            if is_module_uevent(&buf[..n as usize]) {
                module = true;
            }
        }
    }
}

/// Whether a kernel uevent (`ACTION@DEVPATH\0KEY=VALUE\0...`) is about a module.
fn is_module_uevent(msg: &[u8]) -> bool {
    msg.split(|&b| b == 0).any(|f| f == b"SUBSYSTEM=module")
}

/// `perf_event_attr` up to `config1`: the first published layout,
/// `PERF_ATTR_SIZE_VER0` (64 bytes; include/uapi/linux/perf_event.h). The
/// kernel zero-fills the fields a shorter attribute leaves out.
#[repr(C)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    /// The bit fields `disabled`, `inherit`, ... (bit 0 first).
    flags: u64,
    wakeup_watermark: u32,
    bp_type: u32,
    config1: u64,
}

const PERF_TYPE_SOFTWARE: u32 = 1;
/// `enum perf_sw_ids`: an event that counts nothing, for side-band records.
const PERF_COUNT_SW_DUMMY: u64 = 9;
/// `watermark`: wake after `wakeup_watermark` bytes, not events.
const PERF_ATTR_WATERMARK: u64 = 1 << 14;
/// `ksymbol`: `PERF_RECORD_KSYMBOL` records (kernel 5.1).
const PERF_ATTR_KSYMBOL: u64 = 1 << 29;
/// `bpf_event`: `PERF_RECORD_BPF_EVENT` records (kernel 5.1).
const PERF_ATTR_BPF_EVENT: u64 = 1 << 30;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
/// Where `data_head` and `data_tail` are in `struct perf_event_mmap_page`
/// (after the fields padded to 1 KiB).
const PERF_DATA_HEAD: usize = 1024;
const PERF_DATA_TAIL: usize = 1032;

/// One perf event per online CPU that reports kernel symbols coming and
/// going (BPF programs, trampolines, ...): side-band records are written
/// only to the events of the CPU where they happen. Needs `CAP_PERFMON` or
/// `CAP_SYS_ADMIN` (system-wide events); fails with `EACCES` or `EPERM`
/// without, `ENOENT` or `ENOSYS` without support. A CPU brought online
/// later is not covered (the fingerprint polling still is).
fn open_ksymbol_rings() -> io::Result<Vec<PerfRing>> {
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online")?;
    let cpus = parse_cpu_list(&online)
        .ok_or_else(|| io::Error::other(format!("unexpected CPU list {online:?}")))?;
    // SAFETY: sysconf(3) takes no pointers.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = usize::try_from(page)
        .ok()
        .filter(|p| p.is_power_of_two())
        .ok_or_else(|| io::Error::other("no page size"))?;
    cpus.into_iter()
        .map(|cpu| PerfRing::open(cpu, page))
        .collect()
}

/// `0-3,5,7-8` (a sysfs CPU list) as the CPUs it names.
fn parse_cpu_list(text: &str) -> Option<Vec<libc::c_int>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let (lo, hi): (libc::c_int, libc::c_int) = (lo.parse().ok()?, hi.parse().ok()?);
        if lo < 0 || hi < lo || hi - lo > 1 << 16 {
            return None;
        }
        cpus.extend(lo..=hi);
    }
    (!cpus.is_empty()).then_some(cpus)
}

/// A dummy software perf event on one CPU with side-band KSYMBOL and
/// BPF_EVENT records, and its ring buffer (one control page and one data
/// page), mapped writable so that the kernel never overwrites unread data
/// and the reader moves `data_tail`. Unmapped and closed on drop.
struct PerfRing {
    fd: OwnedFd,
    base: std::ptr::NonNull<libc::c_void>,
    len: usize,
    /// The event reported an error or hang-up: no longer polled.
    broken: bool,
}

// SAFETY: the mapping is owned by this value alone (nothing else unmaps it
// or hands its address out); the kernel shares it with no other thread of
// ours, and the two words written through it are accessed atomically.
unsafe impl Send for PerfRing {}

impl PerfRing {
    fn open(cpu: libc::c_int, page: usize) -> io::Result<PerfRing> {
        let attr = PerfEventAttr {
            kind: PERF_TYPE_SOFTWARE,
            size: std::mem::size_of::<PerfEventAttr>() as u32,
            config: PERF_COUNT_SW_DUMMY,
            sample_period: 0,
            sample_type: 0,
            read_format: 0,
            flags: PERF_ATTR_WATERMARK | PERF_ATTR_KSYMBOL | PERF_ATTR_BPF_EVENT,
            // One byte: every record wakes the poller.
            wakeup_watermark: 1,
            bp_type: 0,
            config1: 0,
        };
        // SAFETY: perf_event_open(2) reads `attr.size` bytes of `attr`, a
        // live `repr(C)` value of exactly that size laid out like the
        // kernel's first `perf_event_attr`; nothing else is passed by address.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                &attr as *const PerfEventAttr,
                -1 as libc::pid_t, // every task...
                cpu,               // ...on this CPU
                -1 as libc::c_int, // no group
                PERF_FLAG_FD_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by perf_event_open(2): open and
        // owned by nothing else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
        let len = 2 * page; // 1 + 2^0 pages
                            // SAFETY: a new shared mapping of the event's ring buffer at an
                            // address of the kernel's choosing; it aliases no Rust object.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = std::ptr::NonNull::new(base).ok_or_else(|| io::Error::other("mmap at 0"))?;
        Ok(PerfRing {
            fd,
            base,
            len,
            broken: false,
        })
    }

    fn poll_fd(&self) -> libc::c_int {
        if self.broken {
            -1
        } else {
            self.fd.as_raw_fd()
        }
    }

    /// A control word of the mapped `perf_event_mmap_page`.
    fn control(&self, offset: usize) -> &AtomicU64 {
        debug_assert!(offset == PERF_DATA_HEAD || offset == PERF_DATA_TAIL);
        // SAFETY: `offset` is that of `data_head` or `data_tail`, 8-byte
        // aligned `__u64`s inside the first (control) page, which stays
        // mapped for as long as `self` lives. The kernel writes `data_head`
        // and reads `data_tail` concurrently: both are only accessed
        // atomically here, as the perf ABI expects.
        unsafe {
            &*self
                .base
                .as_ptr()
                .cast::<u8>()
                .add(offset)
                .cast::<AtomicU64>()
        }
    }

    /// Skips every record written so far (their content is not needed: the
    /// watcher reads the fingerprint next); whether there were any.
    fn drain(&self) -> bool {
        // Acquire: pairs with the kernel's store of the head after the data
        // (we do not read the data, but this is the ABI's order).
        let head = self.control(PERF_DATA_HEAD).load(Ordering::Acquire);
        let tail = self.control(PERF_DATA_TAIL).load(Ordering::Relaxed);
        // Release: the space up to `head` is free again for the kernel.
        self.control(PERF_DATA_TAIL).store(head, Ordering::Release);
        head != tail
    }
}

impl Drop for PerfRing {
    fn drop(&mut self) {
        // SAFETY: `base` and `len` are those of the mapping made in `open`,
        // unmapped only here; no reference from `control` outlives `self`.
        // The descriptor is closed after, when `fd` drops.
        unsafe { libc::munmap(self.base.as_ptr(), self.len) };
    }
}

/// The watcher's loop: poll, settle a burst, rebuild; until stopped.
fn watch(shared: &Shared, mut waker: Waker) {
    // A zero interval would spin.
    let interval = shared.config.poll_interval.max(Duration::from_millis(1));
    loop {
        let wake = waker.wait_until(Instant::now() + interval);
        match wake {
            Wake::Stop => return,
            Wake::Timeout => {
                if let Ok(fp) = shared.read_fingerprint() {
                    if **shared.fingerprint.load() == fp {
                        continue;
                    }
                }
                // Changed, or unreadable: settle, then let refresh() decide
                // (and record any error).
            }
            Wake::ModuleEvent | Wake::KsymbolEvent => {}
        }
        if settle(shared, &mut waker) == Wake::Stop {
            return;
        }
        // Errors are recorded for last_error(); the old table stays.
        let _ = shared.refresh(false);
    }
}

/// Waits until the fingerprint has not changed for `settle_quiet` (and no
/// module uevent or perf record came), at most `settle_max`.
fn settle(shared: &Shared, waker: &mut Waker) -> Wake {
    let config = &shared.config;
    let give_up = Instant::now() + config.settle_max;
    let mut last = shared.read_fingerprint().ok();
    loop {
        let now = Instant::now();
        if now >= give_up {
            return Wake::Timeout;
        }
        match waker.wait_until((now + config.settle_quiet).min(give_up)) {
            Wake::Stop => return Wake::Stop,
            // Not quiet: wait again.
            Wake::ModuleEvent | Wake::KsymbolEvent => last = None,
            Wake::Timeout => {
                let fp = shared.read_fingerprint().ok();
                if fp.is_some() && fp == last {
                    return Wake::Timeout;
                }
                last = fp;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_digest_ignores_refcount_and_users() {
        let a = b"ext4 1000 3 - Live 0xffffffffc0000000\njbd2 200 1 ext4, Live 0xffffffffc0100000 (E)\n";
        let b = b"ext4 1000 7 - Live 0xffffffffc0000000\njbd2 200 2 ext4,vfat, Live 0xffffffffc0100000 (E)\n";
        assert_eq!(modules_digest(a), modules_digest(b));
        let c = b"ext4 1000 3 - Unloading 0xffffffffc0000000\njbd2 200 1 ext4, Live 0xffffffffc0100000 (E)\n";
        assert_ne!(modules_digest(a), modules_digest(c));
        let d = b"ext4 1000 3 - Live 0xffffffffc0001000\njbd2 200 1 ext4, Live 0xffffffffc0100000 (E)\n";
        assert_ne!(modules_digest(a), modules_digest(d));
        assert_eq!(modules_digest(b"").count, 0);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(
            parse_cpu_list("0-3,5,7-8\n"),
            Some(vec![0, 1, 2, 3, 5, 7, 8])
        );
        assert_eq!(parse_cpu_list("0\n"), Some(vec![0]));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn perf_attr_is_the_first_published_size() {
        assert_eq!(std::mem::size_of::<PerfEventAttr>(), 64); // PERF_ATTR_SIZE_VER0
        assert_eq!(std::mem::offset_of!(PerfEventAttr, flags), 40);
        assert_eq!(std::mem::offset_of!(PerfEventAttr, wakeup_watermark), 48);
    }

    #[test]
    fn module_uevents() {
        assert!(is_module_uevent(
            b"add@/module/foo\0ACTION=add\0DEVPATH=/module/foo\0SUBSYSTEM=module\0SEQNUM=9\0"
        ));
        assert!(!is_module_uevent(
            b"add@/devices/x\0ACTION=add\0SUBSYSTEM=block\0MODULE=SUBSYSTEM=module\0"
        ));
    }
}
