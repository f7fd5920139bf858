//! Source lines for a handle opened with `lines = 1`: the core kernel from
//! the cached line table of its build, else from a vmlinux's DWARF (given,
//! or found as the `ksym` command finds it); each live module from its
//! `.ko`, found the same way and opened on the first address in it.

use std::path::Path;

use ksym_core::lines::SourceLines;
use ksym_core::{HostKernel, SymbolTable};
use ksym_debuginfo::{set_core_lines, Config, DebugInfoFinder, KernelIds};

use crate::error::Failure;
use crate::open::Options;

/// The source lines of `table`'s kernel. A `vmlinux` given that cannot be
/// used is an error; nothing found is not (frames come without lines).
pub(crate) fn source_lines(
    table: &SymbolTable,
    live: bool,
    o: &Options,
) -> Result<SourceLines, Failure> {
    let mut lines = SourceLines::new();
    let finder = DebugInfoFinder::new(Config::from_env());
    let host = live.then(HostKernel::discover);
    let ids = KernelIds {
        release: host.as_ref().and_then(|h| h.release.as_deref()),
        build_id: host.as_ref().and_then(|h| h.build_id.as_deref()),
        text: table.text_anchor(),
    };
    let mut notes = Vec::new();
    let core = set_core_lines(
        &mut lines,
        ids,
        o.vmlinux.as_deref(),
        o.cache.as_deref(),
        &finder,
        &mut notes,
    );
    if let (Err(why), Some(vmlinux)) = (core, &o.vmlinux) {
        let status = match vmlinux.exists() {
            true => crate::error::KSYM_ERR_BAD_INPUT,
            false => crate::error::KSYM_ERR_NOT_FOUND,
        };
        return Err(Failure::new(status, why));
    }
    // The `.ko` files given: a module the table lacks (not loaded) has no
    // address to answer; a file that cannot serve is an error, as a
    // vmlinux given is.
    for path in &o.ko {
        let module = ksym_core::elf::module_name_from_path(path);
        if table.module_symbol_ids(&module).is_empty() {
            continue;
        }
        ksym_core::table::ko_placement::add_module_lines(&mut lines, table, &module, path, None)
            .map_err(|e| Failure::new(crate::error::KSYM_ERR_BAD_INPUT, e.to_string()))?;
    }
    // BPF programs to their lines: those the table keeps (a snapshot's, the
    // live loader's), else the live kernel's where they can be read
    // (CAP_SYS_ADMIN).
    if let Ok((Some(set), _)) = ksym_core::load::bpf_lines::bpf_lines_for(table, live) {
        lines.set_bpf_lines(set);
    }
    if live {
        for info in table.module_map().modules.iter() {
            if info.section_areas.is_empty() {
                continue;
            }
            if let Ok(found) = finder.find_running_module(&info.name) {
                let path: &Path = &found.path;
                lines.add_module(
                    &info.name,
                    path,
                    &info.section_areas,
                    info.build_id.as_deref(),
                );
            }
        }
    }
    Ok(lines)
}
