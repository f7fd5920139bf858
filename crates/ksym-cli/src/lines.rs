//! `--lines`: file:line and inlined frames for the addresses a command
//! prints. The DWARF comes from `--vmlinux` and `--ko` when given, else it
//! is found for the kernel the symbols describe (on disk where
//! distributions put it, in elfutils' debuginfod cache, or from the
//! `DEBUGINFOD_URLS` / `--debuginfod` servers), and each file is looked
//! for and opened only when an address in it is first asked.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ksym::lines::{DebugFile, KernelFacts, SourceFrame, SourceLines};
use ksym::snapshot::Identity;
use ksym::{HostKernel, Symbol, SymbolTable};
use ksym_debuginfo::{parse_build_id, Config, DebugInfoFinder};

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
    modules: HashMap<String, Wanted>,
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
            modules: HashMap::new(),
            found: 0,
            missing: 0,
        }
    }

    /// The frames for `addr` (in `sym`, when the table names it), innermost
    /// first; empty when there is no line information for it.
    pub(crate) fn frames(&mut self, addr: u64, sym: Option<&Symbol<'_>>) -> Vec<SourceFrame> {
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
        if frames.is_empty() {
            self.missing += 1;
        } else {
            self.found += 1;
        }
        frames
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

    fn open_vmlinux(&mut self) -> Result<(), String> {
        let path = match (&self.vmlinux, &self.release) {
            (Some(p), _) => p.clone(),
            (None, Some(release)) => {
                let id = self.build_id.as_deref().and_then(parse_build_id);
                let found = self
                    .finder
                    .find_vmlinux(release, id.as_deref())
                    .map_err(|e| e.to_string())?;
                found.path
            }
            (None, None) => {
                return Err("the kernel's release is unknown: give --vmlinux FILE".into());
            }
        };
        let file = DebugFile::open(&path).map_err(|e| e.to_string())?;
        let text = self
            .table
            .find_in(None, "_text")
            .next()
            .or_else(|| self.table.find_in(None, "_stext").next())
            .map(|s| s.start);
        let facts = KernelFacts {
            build_id: self.build_id.as_deref(),
            text,
        };
        self.lines
            .set_vmlinux(file, facts)
            .map_err(|e| e.to_string())
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

    fn add_module(&mut self, module: &str) -> Result<(), String> {
        let info = self
            .table
            .module_map()
            .get(module)
            .ok_or("where its sections were loaded is unknown (no /proc/modules or layout)")?;
        let path = match self.ko.get(module) {
            Some(p) => p.clone(),
            None => {
                let release = self
                    .release
                    .as_deref()
                    .ok_or("the kernel's release is unknown: give --ko FILE")?;
                let id = info.build_id.as_deref().and_then(parse_build_id);
                let found = if self.live {
                    self.finder.find_running_module(module)
                } else {
                    self.finder.find_module(release, module, id.as_deref())
                };
                found.map_err(|e| e.to_string())?.path
            }
        };
        self.lines
            .add_module_info(info, &path, info.build_id.as_deref())
            .map_err(|e| e.to_string())
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
            serde_json::json!({
                "function": f.function,
                "file": f.file,
                "line": f.line,
                "column": f.column,
                "inlined": f.inlined,
            })
        })
        .collect()
}
