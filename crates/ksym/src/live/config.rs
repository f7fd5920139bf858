//! How a live handle reads the kernel: [`LiveConfig`] and its builder, the
//! paths under its root, and the default table [`Loader`], [`load_proc`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::load::bpf_lines::live_bpf_lines;
use crate::load::{load_procfs, or_bpf_iter, read_live_modules, LoadOptions};
use crate::read::kptr_restrict;
use crate::table::SymbolTable;

/// Builds a table for a configuration: the hook that reads the kernel's
/// symbols (by default [`load_proc`]). A cache can be put in front of it.
pub type Loader = Arc<dyn Fn(&LiveConfig) -> Result<SymbolTable> + Send + Sync>;

/// The file under a fake [`LiveConfig::proc_root`] that lists BPF program ids.
pub const FAKE_BPF_IDS: &str = "bpf-prog-ids";

/// How a [`KernelSymbols`](super::KernelSymbols) handle reads the kernel and
/// watches it. Built with chained setters from [`LiveConfig::new`] (the same
/// as `default()`).
#[derive(Clone)]
pub struct LiveConfig {
    /// The directory holding `proc/`: `/` for the running kernel, a test
    /// directory with fake files otherwise.
    pub proc_root: PathBuf,
    /// How often the watcher reads the fingerprint. Default 1 s.
    pub poll_interval: Duration,
    /// Whether [`KernelSymbols::open`](super::KernelSymbols::open) starts the
    /// watcher thread. Default true; without it the table changes only by
    /// [`KernelSymbols::refresh_now`](super::KernelSymbols::refresh_now) or
    /// [`KernelSymbols::force_refresh`](super::KernelSymbols::force_refresh).
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
    /// [`KernelSymbols::open_live`](super::KernelSymbols::open_live) uses
    /// [`crate::snapshot::cache::default_dir`].
    pub cache_dir: Option<PathBuf>,
    /// Where the running modules' `.ko` files are found, through its
    /// `modules.dep`, for their symbols' real sizes: every table a handle
    /// builds (and so every table it caches) goes through
    /// [`apply_modules_dep`](crate::elf::apply_modules_dep). A `.ko` that
    /// cannot be read leaves its module's sizes as they were; without a
    /// `modules.dep` nothing changes. `None` (the default): derived sizes.
    pub module_sizes_dir: Option<PathBuf>,
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
            module_sizes_dir: None,
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
            .field("module_sizes_dir", &self.module_sizes_dir)
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

    /// Gives the loaded modules' symbols their real sizes from their `.ko`
    /// files, found through `dir/modules.dep` (the running kernel's is
    /// [`elf::modules_dir`](crate::elf::modules_dir) of its release): see
    /// [`module_sizes_dir`](Self::module_sizes_dir).
    pub fn module_sizes_from(mut self, dir: PathBuf) -> Self {
        self.module_sizes_dir = Some(dir);
        self
    }

    /// What a handle builds: the loader's table, with the module sizes of
    /// [`module_sizes_dir`](Self::module_sizes_dir) applied.
    pub fn load_table(&self) -> Result<SymbolTable> {
        let table = (self.loader)(self)?;
        let Some(dir) = self.sizing_modules_dir() else {
            return Ok(table);
        };
        Ok(match crate::load::apply_modules_dep(table.clone(), dir) {
            Ok((sized, _, _)) => sized,
            Err(_) => table,
        })
    }

    /// Where this configuration's snapshots are kept: `cache_dir`, or its
    /// `ko-sizes/` when module sizes are applied (a `modules.dep` is
    /// there), so that a table with real sizes and one without never stand
    /// in for each other (two programs sharing a cache may differ in this).
    pub fn snapshot_cache_dir(&self) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        Some(match self.sizing_modules_dir() {
            Some(_) => dir.join("ko-sizes"),
            None => dir.clone(),
        })
    }

    /// `module_sizes_dir` when it has a `modules.dep` (else no size can be
    /// applied, and the table is the plain one).
    fn sizing_modules_dir(&self) -> Option<&Path> {
        self.module_sizes_dir
            .as_deref()
            .filter(|d| d.join("modules.dep").is_file())
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
/// text areas `<root>/sys/module/*/sections` tell; for the real root, the
/// BPF ksym iterator where kallsyms is redacted ([`or_bpf_iter`]), and
/// BPF programs' real sizes where they can be read.
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
    let loaded = load_procfs(&config.kallsyms_path(), &opts, kptr);
    if !config.is_live_root() {
        return loaded;
    }
    let table = or_bpf_iter(loaded, &opts)?;
    // BPF programs' real sizes and lines where they can be read
    // (CAP_SYS_ADMIN), so that a snapshot of the table keeps them.
    Ok(match live_bpf_lines(true) {
        Ok((set, _)) => table.with_bpf_lines(set),
        Err(_) => table,
    })
}
