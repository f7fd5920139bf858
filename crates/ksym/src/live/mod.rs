//! Stage 5, the running kernel. Takes procfs, sysfs, uevents and perf
//! events; gives [`KernelSymbols`], a self-refreshing handle on its table,
//! and facts about the host ([`host`]).
//!
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

mod config;
mod fingerprint;
pub mod host;
mod perf;
mod uevent;
mod watcher;

use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
/// What [`KernelSymbols::current`] returns: a cheap, short-lived hold on one
/// table (keep it for a few lookups, not across blocking work; take a
/// [`KernelSymbols::snapshot`] for that).
pub use arc_swap::Guard;

pub use config::{load_proc, LiveConfig, Loader, FAKE_BPF_IDS};
pub use fingerprint::{identity_of, live_bpf_prog_ids, Digest, Fingerprint};

use crate::error::{Error, Result};
use crate::snapshot::cache::{self, CacheOutcome};
use crate::snapshot::Identity;
use crate::table::{Symbol, SymbolTable};
use watcher::Watcher;

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
    /// What the current table describes (read once per load).
    identity: Mutex<Identity>,
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
            let identity = identity_of(&fp, &self.config.proc_root);
            if let Some(dir) = &self.config.snapshot_cache_dir() {
                // For the next process; a cache that cannot be written only
                // costs that process the read.
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
            *self.identity.lock().unwrap_or_else(PoisonError::into_inner) = identity;
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
    catch_unwind(AssertUnwindSafe(|| config.load_table())).unwrap_or_else(|panic| {
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
            cache::load_or_build(config.snapshot_cache_dir().as_deref(), &identity, || {
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
            identity: Mutex::new(identity),
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

    /// What the current table describes (boot id, release, build-id,
    /// module and BPF fingerprints), as read when it was loaded.
    pub fn identity(&self) -> Identity {
        self.inner
            .shared
            .identity
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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

#[cfg(test)]
mod tests;
