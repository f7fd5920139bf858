//! The core kernel's source lines set up from what is found: the cached
//! line table of the kernel's build when there is one (no DWARF read at
//! all), else the vmlinux's DWARF, given or found. The command and the C
//! ABI both start here.

use std::path::{Path, PathBuf};

use ksym::lines::{DebugFile, KernelFacts, SourceLines};

use crate::{parse_build_id, DebugInfoFinder};

/// What is known of the kernel whose lines are wanted.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelIds<'a> {
    /// `uname -r` (to find a vmlinux by).
    pub release: Option<&'a str>,
    /// The kernel's GNU build-id in hex.
    pub build_id: Option<&'a str>,
    /// Where kallsyms puts `_text`.
    pub text: Option<u64>,
}

/// Where the core kernel's lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreLines {
    /// The cached line table of the build.
    Table,
    /// The DWARF of this vmlinux (no line table yet: build one for next
    /// time).
    Dwarf(PathBuf),
}

/// The vmlinux with DWARF: `vmlinux` when given, else found by `finder`
/// for the kernel's release and build-id.
pub fn core_vmlinux(
    kernel: KernelIds<'_>,
    vmlinux: Option<&Path>,
    finder: &DebugInfoFinder,
) -> Result<PathBuf, String> {
    match (vmlinux, kernel.release) {
        (Some(p), _) => Ok(p.to_path_buf()),
        (None, Some(release)) => {
            let id = kernel.build_id.and_then(parse_build_id);
            let found = finder.find_vmlinux(release, id.as_deref());
            Ok(found.map_err(|e| e.to_string())?.path)
        }
        (None, None) => Err("the kernel's release is unknown: give --vmlinux FILE".into()),
    }
}

/// Sets up `lines` for the core kernel: the line table in `cache_dir` for
/// the kernel's build-id (or, when that is unknown, the given vmlinux's),
/// else the vmlinux's DWARF. `notes` gets why a cached table was not used.
pub fn set_core_lines(
    lines: &mut SourceLines,
    kernel: KernelIds<'_>,
    vmlinux: Option<&Path>,
    cache_dir: Option<&Path>,
    finder: &DebugInfoFinder,
    notes: &mut Vec<String>,
) -> Result<CoreLines, String> {
    let mut use_table = |lines: &mut SourceLines, id: &str| {
        let Some(dir) = cache_dir else { return false };
        let facts = KernelFacts {
            build_id: Some(id),
            text: kernel.text,
        };
        let used = ksym::snapshot::cache::lookup_line_table(dir, id)
            .and_then(|found| found.map(|t| lines.set_line_table(t, facts)).transpose());
        match used {
            Ok(used) => used.is_some(),
            Err(e) => {
                notes.push(format!("the cached line table is not used: {e}"));
                false
            }
        }
    };
    if let Some(id) = kernel.build_id {
        if use_table(lines, id) {
            return Ok(CoreLines::Table);
        }
    }
    let path = core_vmlinux(kernel, vmlinux, finder)?;
    let file = DebugFile::open(&path).map_err(|e| e.to_string())?;
    if kernel.build_id.is_none() {
        if let Some(id) = file.build_id_hex() {
            if use_table(lines, &id) {
                return Ok(CoreLines::Table);
            }
        }
    }
    let facts = KernelFacts {
        build_id: kernel.build_id,
        text: kernel.text,
    };
    lines.set_vmlinux(file, facts).map_err(|e| e.to_string())?;
    Ok(CoreLines::Dwarf(path))
}
