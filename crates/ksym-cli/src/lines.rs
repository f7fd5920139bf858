//! `--lines`: file:line and inlined frames for the addresses a command
//! prints. The DWARF comes from `--vmlinux` and `--ko` when given, else it
//! is found for the kernel the symbols describe (on disk where
//! distributions put it, in elfutils' debuginfod cache, or from the
//! `DEBUGINFOD_URLS` / `--debuginfod` servers), and each file is looked
//! for and opened only when an address in it is first asked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ksym::lines::{SourceFrame, SourceLines};
use ksym::snapshot::Identity;
use ksym::{HostKernel, Symbol, SymbolTable};
use ksym_debuginfo::{
    core_vmlinux, parse_build_id, set_core_lines, Config, CoreLines, DebugInfoFinder, KernelIds,
};

use crate::source::{Loaded, SourceArgs};

/// Whether a file for the core or a module was set up yet.
enum Wanted {
    NotYet,
    Ready,
    /// Why there are no lines (said once on standard error).
    Missing,
}

/// The source lines of one command run.
pub(crate) struct Lines<'a> {
    table: &'a SymbolTable,
    lines: SourceLines,
    finder: DebugInfoFinder,
    /// The kernel's release and build-id, when known (live, a snapshot).
    release: Option<String>,
    build_id: Option<String>,
    live: bool,
    vmlinux: Option<PathBuf>,
    /// `--ko` files by module name.
    ko: HashMap<String, PathBuf>,
    core: Wanted,
    /// Where line tables are kept (`None`: `--no-cache`, or the cache off).
    cache_dir: Option<PathBuf>,
    /// The vmlinux whose DWARF answered the core (no line table yet).
    read_dwarf_of: Option<PathBuf>,
    modules: HashMap<String, Wanted>,
    /// Answers worked out ahead by [`Lines::prefetch`], by address.
    prefetched: HashMap<u64, Vec<SourceFrame>>,
    threads: usize,
    /// Whether the BPF programs' lines were set up (on the first `[bpf]`
    /// address).
    bpf_read: bool,
    /// Addresses answered with at least one frame, and without.
    pub(crate) found: u64,
    pub(crate) missing: u64,
}

/// A module's name from its file name: `xfs.ko.xz` -> `xfs`, `-` as `_`.
fn module_of(path: &Path) -> String {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
    file.split('.').next().unwrap_or(file).replace('-', "_")
}

impl<'a> Lines<'a> {
    pub(crate) fn new(args: &SourceArgs, loaded: &'a Loaded, debuginfod: &[String]) -> Self {
        let mut config = Config::from_env();
        config.debuginfod_urls.extend(debuginfod.iter().cloned());
        let live = args.kallsyms.is_none() && args.snapshot.is_none() && args.image.is_none();
        let identity = loaded.identity.clone().unwrap_or_default();
        let Identity {
            release, build_id, ..
        } = if live && identity.release.is_none() {
            let host = HostKernel::discover();
            Identity {
                release: host.release,
                build_id: host.build_id,
                ..identity
            }
        } else {
            identity
        };
        Lines {
            table: &loaded.table,
            lines: SourceLines::new(),
            finder: DebugInfoFinder::new(config),
            release,
            build_id,
            live,
            vmlinux: args.vmlinux.clone(),
            ko: args.ko.iter().map(|p| (module_of(p), p.clone())).collect(),
            core: Wanted::NotYet,
            cache_dir: args.cache_dir(),
            read_dwarf_of: None,
            modules: HashMap::new(),
            prefetched: HashMap::new(),
            threads: args.threads.map_or_else(
                || std::thread::available_parallelism().map_or(1, usize::from),
                usize::from,
            ),
            bpf_read: false,
            found: 0,
            missing: 0,
        }
    }

    /// Works out the core kernel's frames for `addrs` (those a core symbol
    /// holds) together, the units of its DWARF read on several threads;
    /// [`Lines::frames`] then answers them from what was found.
    pub(crate) fn prefetch(&mut self, addrs: &[u64]) {
        let core: Vec<u64> = addrs
            .iter()
            .copied()
            .filter(|a| self.table.lookup(*a).is_some_and(|s| s.module.is_none()))
            .collect();
        if core.len() < 2 || !self.core_ready() {
            return;
        }
        let found = self.lines.frames_batch(&core, self.threads);
        for (addr, frames) in core.into_iter().zip(found) {
            // An error is said when the address is asked, one by one.
            if let Ok(frames) = frames {
                self.prefetched.insert(addr, frames);
            }
        }
    }

    /// The frames for `addr` (in `sym`, when the table names it), innermost
    /// first; empty when there is no line information for it.
    pub(crate) fn frames(&mut self, addr: u64, sym: Option<&Symbol<'_>>) -> Vec<SourceFrame> {
        if let Some(frames) = self.prefetched.remove(&addr) {
            self.count(&frames);
            return frames;
        }
        if sym.and_then(|s| s.module) == Some("bpf") {
            let frames = self.bpf_frames(addr);
            self.count(&frames);
            return frames;
        }
        let ready = match sym.and_then(|s| s.module) {
            Some(m) => self.module_ready(m),
            None if sym.is_some() => self.core_ready(),
            None => false,
        };
        let frames = if ready {
            self.lines.frames(addr).unwrap_or_else(|e| {
                eprintln!("ksym: no source lines for {addr:#x}: {e}");
                Vec::new()
            })
        } else {
            Vec::new()
        };
        self.count(&frames);
        frames
    }

    /// A BPF program's frame for `addr`: its BPF function, file, line,
    /// column and the line's text, from the programs the table keeps (a
    /// snapshot's, the live loader's), else from the live kernel (a saved
    /// kallsyms has no program to ask). Set up on the first such address.
    fn bpf_frames(&mut self, addr: u64) -> Vec<SourceFrame> {
        if !self.bpf_read {
            self.bpf_read = true;
            match ksym::load::bpf_lines::bpf_lines_for(self.table, self.live) {
                Ok((set, problems)) => {
                    for p in problems {
                        eprintln!("ksym: {p}");
                    }
                    if let Some(set) = set {
                        self.lines.set_bpf_lines(set);
                    }
                }
                Err(why) => eprintln!("ksym: no source lines for BPF programs: {why}"),
            }
        }
        self.lines.frames(addr).unwrap_or_default()
    }

    fn count(&mut self, frames: &[SourceFrame]) {
        if frames.is_empty() {
            self.missing += 1;
        } else {
            self.found += 1;
        }
    }

    fn core_ready(&mut self) -> bool {
        if let Wanted::NotYet = self.core {
            self.core = match self.open_vmlinux() {
                Ok(()) => Wanted::Ready,
                Err(why) => {
                    eprintln!("ksym: no source lines for the core kernel: {why}");
                    Wanted::Missing
                }
            };
        }
        matches!(self.core, Wanted::Ready)
    }

    /// The core's lines: the cached line table of the kernel's build when
    /// there is one (no DWARF read), else the vmlinux's DWARF.
    fn open_vmlinux(&mut self) -> Result<(), String> {
        let mut notes = Vec::new();
        let how = set_core_lines(
            &mut self.lines,
            kernel_ids(self.table, &self.release, &self.build_id),
            self.vmlinux.as_deref(),
            self.cache_dir.as_deref(),
            &self.finder,
            &mut notes,
        );
        for note in notes {
            eprintln!("ksym: {note}");
        }
        if let CoreLines::Dwarf(path) = how? {
            self.read_dwarf_of = Some(path);
        }
        Ok(())
    }

    /// The vmlinux with DWARF: `--vmlinux`, else found for the kernel's
    /// release and build-id.
    pub(crate) fn vmlinux_path(&self) -> Result<PathBuf, String> {
        let ids = kernel_ids(self.table, &self.release, &self.build_id);
        core_vmlinux(ids, self.vmlinux.as_deref(), &self.finder)
    }

    fn module_ready(&mut self, module: &str) -> bool {
        if !self.modules.contains_key(module) {
            let state = match self.add_module(module) {
                Ok(()) => Wanted::Ready,
                Err(why) => {
                    eprintln!("ksym: no source lines for module {module}: {why}");
                    Wanted::Missing
                }
            };
            self.modules.insert(module.to_string(), state);
        }
        matches!(self.modules.get(module), Some(Wanted::Ready))
    }

    /// Sets up `module`'s lines: its `.ko` (`--ko`, else found for the
    /// kernel), each section where sysfs or a layout says, else where the
    /// table's own symbols of the module put it (what a bug report allows).
    fn add_module(&mut self, module: &str) -> Result<(), String> {
        let info = self.table.module_map().get(module);
        let build_id = info.and_then(|i| i.build_id.clone());
        let path = match self.ko.get(module) {
            Some(p) => p.clone(),
            None => {
                let release = self
                    .release
                    .as_deref()
                    .ok_or("the kernel's release is unknown: give --ko FILE")?;
                let id = build_id.as_deref().and_then(parse_build_id);
                let found = if self.live {
                    self.finder.find_running_module(module)
                } else {
                    self.finder.find_module(release, module, id.as_deref())
                };
                found.map_err(|e| e.to_string())?.path
            }
        };
        let placed = ksym::table::ko_placement::add_module_lines(
            &mut self.lines,
            self.table,
            module,
            &path,
            build_id.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        if let Some(p) = placed.filter(|p| !p.unplaced.is_empty() || !p.conflicts.is_empty()) {
            eprintln!("ksym: {}", p.summary());
        }
        Ok(())
    }
}

/// The kernel's release, build-id and where kallsyms puts `_text`.
fn kernel_ids<'s>(
    table: &SymbolTable,
    release: &'s Option<String>,
    build_id: &'s Option<String>,
) -> KernelIds<'s> {
    KernelIds {
        release: release.as_deref(),
        build_id: build_id.as_deref(),
        text: table.text_anchor(),
    }
}

impl Drop for Lines<'_> {
    /// After a run that read a vmlinux's DWARF, its line table is built in
    /// the background for the next runs.
    fn drop(&mut self) {
        if let (Some(path), Some(_)) = (&self.read_dwarf_of, &self.cache_dir) {
            crate::commands::line_table::build_in_background(
                path,
                crate::commands::line_table::Kind::Kernel,
            );
        }
    }
}

/// ` at fs/xfs/xfs_inode.c:123` for the outermost frame (the function the
/// symbol is), or nothing.
pub(crate) fn at(frames: &[SourceFrame]) -> String {
    frames
        .last()
        .map_or(String::new(), |f| format!(" at {}", place(f)))
}

/// `file:line` (`?` where unknown).
pub(crate) fn place(f: &SourceFrame) -> String {
    match (&f.file, f.line) {
        (Some(file), Some(line)) => format!("{file}:{line}"),
        (Some(file), None) => file.clone(),
        _ => "?".to_string(),
    }
}

/// The inlined frames, outermost first (the call chain as it reads):
/// `inlined foo at include/linux/x.h:10`.
pub(crate) fn inlined_lines(frames: &[SourceFrame]) -> impl Iterator<Item = String> + '_ {
    frames.iter().rev().skip(1).map(|f| {
        format!(
            "inlined {} at {}",
            f.function.as_deref().unwrap_or("?"),
            place(f)
        )
    })
}

/// The frames as JSON, innermost first.
pub(crate) fn frames_json(frames: &[SourceFrame]) -> serde_json::Value {
    frames
        .iter()
        .map(|f| {
            let mut frame = serde_json::json!({
                "function": f.function,
                "file": f.file,
                "line": f.line,
                "column": f.column,
                "inlined": f.inlined,
            });
            // The line's text, where the debug info keeps it (BPF's BTF).
            if let Some(source) = &f.source {
                frame["source"] = source.as_str().into();
            }
            frame
        })
        .collect()
}
