//! Source lines for `Table.lines(addr)`, chosen as `ksym addr --lines`
//! chooses them: the core kernel from the cached line table of its build or
//! a vmlinux's DWARF (given, else found for the kernel's release and
//! build-id), each module from its `.ko` (given, else found), set up on the
//! first address in it; BPF programs from the live kernel.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use ksym::lines::{SourceFrame, SourceLines};
use ksym::SymbolTable;
use ksym_debuginfo::{parse_build_id, set_core_lines, Config, DebugInfoFinder, KernelIds};

/// What a table knows for finding its debug information.
pub(crate) struct LineSetup {
    pub(crate) vmlinux: Option<PathBuf>,
    /// The `.ko` files given, by module name.
    pub(crate) ko: HashMap<String, PathBuf>,
    pub(crate) live: bool,
    pub(crate) release: Option<String>,
    pub(crate) build_id: Option<String>,
    pub(crate) cache_dir: Option<PathBuf>,
}

/// Whether a part (the core, a module) has lines, decided on first use.
enum Ready {
    Yes,
    /// Why not (said once, as a warning).
    No,
}

struct State {
    lines: SourceLines,
    finder: DebugInfoFinder,
    core: Option<Ready>,
    modules: HashMap<String, Ready>,
    bpf_read: bool,
}

/// A table's source lines, opened lazily; one caller at a time.
pub(crate) struct Lines {
    setup: LineSetup,
    state: Mutex<Option<State>>,
}

impl Lines {
    pub(crate) fn new(setup: LineSetup) -> Self {
        Lines {
            setup,
            state: Mutex::new(None),
        }
    }

    /// The frames of `addr`, innermost first; empty where there is no line
    /// information (why goes into `notes` the first time).
    pub(crate) fn frames(
        &self,
        table: &SymbolTable,
        addr: u64,
        notes: &mut Vec<String>,
    ) -> ksym::Result<Vec<SourceFrame>> {
        let Some(sym) = table.lookup(addr) else {
            return Ok(Vec::new());
        };
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = guard.get_or_insert_with(|| State {
            lines: SourceLines::new(),
            finder: DebugInfoFinder::new(Config::from_env()),
            core: None,
            modules: HashMap::new(),
            bpf_read: false,
        });
        let ready = match sym.module {
            Some("bpf") => self.bpf_ready(state, table, notes),
            Some(m) => self.module_ready(state, table, m, notes),
            None => self.core_ready(state, table, notes),
        };
        match ready {
            true => state.lines.frames(addr),
            false => Ok(Vec::new()),
        }
    }

    fn core_ready(&self, s: &mut State, table: &SymbolTable, notes: &mut Vec<String>) -> bool {
        if s.core.is_none() {
            let ids = KernelIds {
                release: self.setup.release.as_deref(),
                build_id: self.setup.build_id.as_deref(),
                text: table.text_anchor(),
            };
            let how = set_core_lines(
                &mut s.lines,
                ids,
                self.setup.vmlinux.as_deref(),
                self.setup.cache_dir.as_deref(),
                &s.finder,
                notes,
            );
            s.core = Some(match how {
                Ok(_) => Ready::Yes,
                Err(why) => {
                    notes.push(format!("no source lines for the core kernel: {why}"));
                    Ready::No
                }
            });
        }
        matches!(s.core, Some(Ready::Yes))
    }

    fn module_ready(
        &self,
        s: &mut State,
        table: &SymbolTable,
        module: &str,
        notes: &mut Vec<String>,
    ) -> bool {
        if !s.modules.contains_key(module) {
            let ready = match self.add_module(s, table, module, notes) {
                Ok(()) => Ready::Yes,
                Err(why) => {
                    notes.push(format!("no source lines for module {module}: {why}"));
                    Ready::No
                }
            };
            s.modules.insert(module.to_string(), ready);
        }
        matches!(s.modules.get(module), Some(Ready::Yes))
    }

    /// A module's `.ko` (given, else found), each section where sysfs or a
    /// layout says, else where the table's own symbols put it.
    fn add_module(
        &self,
        s: &mut State,
        table: &SymbolTable,
        module: &str,
        notes: &mut Vec<String>,
    ) -> Result<(), String> {
        let build_id = table
            .module_map()
            .get(module)
            .and_then(|i| i.build_id.clone());
        let path = match self.setup.ko.get(module) {
            Some(p) => p.clone(),
            None => {
                let release = self
                    .setup
                    .release
                    .as_deref()
                    .ok_or("the kernel's release is unknown: give its .ko in ko=")?;
                let id = build_id.as_deref().and_then(parse_build_id);
                let found = match self.setup.live {
                    true => s.finder.find_running_module(module),
                    false => s.finder.find_module(release, module, id.as_deref()),
                };
                found.map_err(|e| e.to_string())?.path
            }
        };
        let placed = ksym::table::ko_placement::add_module_lines(
            &mut s.lines,
            table,
            module,
            &path,
            build_id.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        if let Some(p) = placed.filter(|p| !p.unplaced.is_empty() || !p.conflicts.is_empty()) {
            notes.push(p.summary());
        }
        Ok(())
    }

    /// BPF programs' lines: the live kernel's, read on the first `[bpf]`
    /// address (a saved table's `[bpf]` symbols have no program to ask).
    fn bpf_ready(&self, s: &mut State, table: &SymbolTable, notes: &mut Vec<String>) -> bool {
        if !s.bpf_read {
            s.bpf_read = true;
            match ksym::load::bpf_lines::bpf_lines_for(table, self.setup.live) {
                Ok((set, problems)) => {
                    notes.extend(problems);
                    if let Some(set) = set {
                        s.lines.set_bpf_lines(set);
                    }
                }
                Err(why) => notes.push(format!("no source lines for BPF programs: {why}")),
            }
        }
        true
    }
}
