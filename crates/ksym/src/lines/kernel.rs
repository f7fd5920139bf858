//! The source lines of a whole kernel: the vmlinux's DWARF slid by KASLR,
//! and each module's, placed where its sections were loaded; an address
//! goes to the module whose section holds it, else to the core.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::context::LineContext;
use super::file::{debug_error, DebugFile};
use super::table::LineTable;
use super::{Placement, SourceFrame};
use crate::error::Result;
use crate::parse::{ModuleArea, ModuleInfo};

/// What is known of the running (or saved) kernel the DWARF must match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelFacts<'a> {
    /// The kernel's GNU build-id in hex (`/sys/kernel/notes`, a snapshot's
    /// identity); a vmlinux with another one is refused.
    pub build_id: Option<&'a str>,
    /// Where kallsyms puts `_text` (KASLR slides it); `None`: no slide.
    pub text: Option<u64>,
}

/// Refuses `file` unless its build-id is `expected` (hex, any case).
pub fn check_build_id(file: &DebugFile, expected: &str) -> Result<()> {
    let expected = expected.trim().to_ascii_lowercase();
    match file.build_id_hex() {
        Some(found) if found == expected => Ok(()),
        Some(found) => Err(debug_error(
            file.source(),
            &format!(
                "build-id {found} is not the kernel's {expected}: the debug file is from \
                 another build, refused"
            ),
        )),
        None => Err(debug_error(
            file.source(),
            &format!(
                "has no build-id, so it cannot be checked against the kernel's {expected}: refused"
            ),
        )),
    }
}

/// The KASLR slide of a linked kernel: where kallsyms puts `_text` less
/// the vmlinux's own `_text` (`_stext` when `_text` is missing).
pub fn kaslr_slide(file: &DebugFile, kallsyms_text: u64) -> Result<u64> {
    Ok(kallsyms_text.wrapping_sub(own_text(file)?))
}

/// The vmlinux's own (link-time) `_text`, else `_stext`.
pub(crate) fn own_text(file: &DebugFile) -> Result<u64> {
    match file.symbol_value("_text")? {
        Some(v) => Ok(v),
        None => file.symbol_value("_stext")?.ok_or_else(|| {
            debug_error(
                file.source(),
                "no `_text` or `_stext` symbol, so the KASLR slide cannot be known",
            )
        }),
    }
}

/// One module: where its sections are, and its DWARF, opened on the first
/// address that falls in it.
struct ModuleLines {
    name: String,
    sections: Vec<ModuleArea>,
    /// Addresses whose lines are refused, and why (a symbol the `.ko`
    /// places elsewhere than the table does: see [`SourceLines::refuse`]).
    refused: Vec<(u64, u64, String)>,
    pending: Mutex<Option<Pending>>,
    context: OnceLock<std::result::Result<LineContext, String>>,
}

enum Pending {
    Path(PathBuf, Option<String>),
    File(DebugFile),
}

impl ModuleLines {
    fn holds(&self, addr: u64) -> bool {
        self.sections
            .iter()
            .any(|s| s.start <= addr && addr < s.end())
            || self.refused.iter().any(|r| r.0 <= addr && addr < r.1)
    }

    fn context(&self) -> std::result::Result<&LineContext, String> {
        let built = self.context.get_or_init(|| {
            let pending = self
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            let file = match pending {
                Some(Pending::File(file)) => file,
                Some(Pending::Path(path, build_id)) => {
                    let file = DebugFile::open(&path).map_err(|e| e.to_string())?;
                    if let Some(id) = build_id {
                        check_build_id(&file, &id).map_err(|e| e.to_string())?;
                    }
                    file
                }
                None => return Err(format!("module {}: opened twice", self.name)),
            };
            let placement = Placement::Sections(
                self.sections
                    .iter()
                    .map(|s| (s.kind.clone(), s.start))
                    .collect(),
            );
            LineContext::new(file, placement).map_err(|e| e.to_string())
        });
        built.as_ref().map_err(|e| e.clone())
    }
}

/// Source lines for a kernel and its modules: build once, ask cheaply.
/// Nothing is read from a file before an address that falls in it is asked.
#[derive(Default)]
pub struct SourceLines {
    core: Option<Core>,
    modules: Vec<ModuleLines>,
    /// BPF programs, when given ([`SourceLines::set_bpf_lines`]).
    bpf: Option<std::sync::Arc<crate::parse::bpf_lines::BpfLinesSet>>,
}

/// Where the core kernel's lines come from.
#[derive(Debug)]
enum Core {
    Dwarf(LineContext),
    /// A line table (link-time addresses) and the KASLR slide.
    Table(LineTable, u64),
}

impl std::fmt::Debug for SourceLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceLines")
            .field("core", &self.core)
            .field(
                "modules",
                &self.modules.iter().map(|m| &m.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl SourceLines {
    pub fn new() -> SourceLines {
        SourceLines::default()
    }

    /// Answers addresses in BPF programs from `set` (the live kernel's,
    /// [`crate::load::bpf_lines::live_bpf_lines`], or those a table keeps,
    /// [`crate::SymbolTable::bpf_lines`]): the BPF function, file, line,
    /// column and the source line's text.
    pub fn set_bpf_lines(
        &mut self,
        set: impl Into<std::sync::Arc<crate::parse::bpf_lines::BpfLinesSet>>,
    ) {
        self.bpf = Some(set.into());
    }

    /// Uses `file` (a vmlinux with DWARF) for the core kernel: refused when
    /// its build-id is not the kernel's; slid by where kallsyms puts `_text`.
    pub fn set_vmlinux(&mut self, file: DebugFile, kernel: KernelFacts<'_>) -> Result<()> {
        if file.is_relocatable() {
            return Err(debug_error(
                file.source(),
                "a relocatable object (a module?), not a vmlinux",
            ));
        }
        if let Some(id) = kernel.build_id {
            check_build_id(&file, id)?;
        }
        let slide = match kernel.text {
            Some(text) => kaslr_slide(&file, text)?,
            None => 0,
        };
        self.core = Some(Core::Dwarf(LineContext::new(
            file,
            Placement::Slide(slide),
        )?));
        Ok(())
    }

    /// Uses a line table ([`super::build_line_table`]) for the core kernel
    /// instead of a vmlinux's DWARF: refused when its build-id is not the
    /// kernel's; slid by where kallsyms puts `_text`.
    pub fn set_line_table(&mut self, table: LineTable, kernel: KernelFacts<'_>) -> Result<()> {
        if let Some(id) = kernel.build_id {
            if !table.build_id().eq_ignore_ascii_case(id.trim()) {
                return Err(debug_error(
                    table.source(),
                    &format!(
                        "build-id {} is not the kernel's {id}: refused",
                        table.build_id()
                    ),
                ));
            }
        }
        let slide = kernel.text.map_or(0, |t| t.wrapping_sub(table.text()));
        self.core = Some(Core::Table(table, slide));
        Ok(())
    }

    /// Adds module `name`, its `.ko` at `path` (plain or compressed), its
    /// sections where they were loaded (`kind` the section name, as
    /// [`crate::parse::ModuleInfo::section_areas`] or
    /// [`super::module_section_addresses`] give them). The file is opened,
    /// and checked against `build_id` (hex) when given, on the first address
    /// in the module.
    pub fn add_module(
        &mut self,
        name: &str,
        path: &Path,
        sections: &[ModuleArea],
        build_id: Option<&str>,
    ) {
        let pending = Pending::Path(path.to_path_buf(), build_id.map(str::to_string));
        self.push_module(name, sections, pending);
    }

    /// Adds a loaded module as a table's [`ModuleInfo`] tells it: each
    /// section where `/sys/module/M/sections` put it (live), else, from a
    /// saved layout, where the 6.1 loader puts it in the module's areas
    /// ([`super::module_section_addresses`], which opens the file now).
    pub fn add_module_info(
        &mut self,
        info: &ModuleInfo,
        path: &Path,
        build_id: Option<&str>,
    ) -> Result<()> {
        if !info.section_areas.is_empty() {
            self.add_module(&info.name, path, &info.section_areas, build_id);
            return Ok(());
        }
        if info.areas.is_empty() {
            return Err(debug_error(
                &format!("module {}", info.name),
                "neither its section addresses nor its areas are known",
            ));
        }
        let file = DebugFile::open(path)?;
        if let Some(id) = build_id {
            check_build_id(&file, id)?;
        }
        let sections = super::module_section_addresses(&file, &info.areas);
        self.add_module_file(&info.name, file, &sections);
        Ok(())
    }

    /// [`SourceLines::add_module`] with the file already open.
    pub fn add_module_file(&mut self, name: &str, file: DebugFile, sections: &[ModuleArea]) {
        self.push_module(name, sections, Pending::File(file));
    }

    fn push_module(&mut self, name: &str, sections: &[ModuleArea], pending: Pending) {
        self.modules.retain(|m| m.name != name);
        self.modules.push(ModuleLines {
            name: name.to_string(),
            sections: sections.to_vec(),
            refused: Vec::new(),
            pending: Mutex::new(Some(pending)),
            context: OnceLock::new(),
        });
    }

    /// Refuses lines for `[start, end)` of module `name` (added before),
    /// saying `why`: where the sections' placement and a symbol disagree,
    /// the answer there would be a guess.
    pub fn refuse(&mut self, name: &str, start: u64, end: u64, why: String) {
        if let Some(m) = self.modules.iter_mut().find(|m| m.name == name) {
            m.refused.push((start, end, why));
        }
    }

    /// The module whose sections hold `addr`, if one does.
    pub fn module_at(&self, addr: u64) -> Option<&str> {
        self.module_lines(addr).map(|m| m.name.as_str())
    }

    fn module_lines(&self, addr: u64) -> Option<&ModuleLines> {
        self.modules.iter().find(|m| m.holds(addr))
    }

    /// [`SourceLines::frames`] for each of `addrs`, in order: the core
    /// kernel's from its DWARF in one batch, its units read on up to
    /// `threads` threads ([`LineContext::frames_batch`]); the rest one by one.
    pub fn frames_batch(&self, addrs: &[u64], threads: usize) -> Vec<Result<Vec<SourceFrame>>> {
        let Some(Core::Dwarf(context)) = &self.core else {
            return addrs.iter().map(|a| self.frames(*a)).collect();
        };
        let core: Vec<u64> = addrs
            .iter()
            .copied()
            .filter(|a| self.module_lines(*a).is_none())
            .collect();
        let mut batch = context.frames_batch(&core, threads).into_iter();
        addrs
            .iter()
            .map(|a| match self.module_lines(*a) {
                Some(_) => self.frames(*a),
                None => batch.next().unwrap_or_else(|| Ok(Vec::new())),
            })
            .collect()
    }

    /// The source frames at `addr`, innermost first (see
    /// [`LineContext::frames`]); empty when no file covers the address or
    /// its DWARF has no line there. For a symbol of a table, ask for its
    /// address (`symbol.start`, plus the offset of interest).
    pub fn frames(&self, addr: u64) -> Result<Vec<SourceFrame>> {
        if let Some(l) = self.bpf.as_ref().and_then(|b| b.lookup(addr)) {
            // One frame: BPF line records know no inlining.
            return Ok(l
                .file
                .map(|file| SourceFrame {
                    function: Some(l.function.to_string()),
                    file: Some(file.to_string()),
                    line: (l.line != 0).then_some(l.line),
                    column: (l.column != 0).then_some(l.column),
                    inlined: false,
                    source: l.source.map(str::to_string),
                })
                .into_iter()
                .collect());
        }
        if let Some(module) = self.module_lines(addr) {
            let refused = module.refused.iter().find(|r| r.0 <= addr && addr < r.1);
            if let Some((_, _, why)) = refused {
                return Err(crate::error::Error::DebugInfo {
                    source_name: format!("module {}", module.name),
                    reason: why.clone(),
                });
            }
            let context = module
                .context()
                .map_err(|reason| crate::error::Error::DebugInfo {
                    source_name: format!("module {}", module.name),
                    reason,
                })?;
            return context.frames(addr);
        }
        match &self.core {
            Some(Core::Dwarf(context)) => context.frames(addr),
            Some(Core::Table(table, slide)) => table.frames(addr.wrapping_sub(*slide)),
            None => Ok(Vec::new()),
        }
    }
}
