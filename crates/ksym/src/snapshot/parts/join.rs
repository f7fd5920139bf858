//! [`join`]: parts back into the table of one boot.

use super::lines::{Moved, Rebuild};
use super::{slides, ModulePart};
use crate::error::{Error, Result};
use crate::table::SymbolTable;

/// The table of the boot whose parts these are: the core slid by `slide`
/// (absolute symbols as they are), each module at its anchors, the boot's
/// own symbols, module map and info from `boot`. Pushed in the order
/// kallsyms lists them (core, modules, the rest).
pub fn join(
    core: &SymbolTable,
    modules: &[ModulePart],
    boot: &SymbolTable,
    slide: i64,
) -> Result<SymbolTable> {
    let bad = |why: String| Error::Snapshot {
        source_name: boot.info().source.clone(),
        reason: why,
    };
    let mut out = Rebuild::default();
    for symbol in core.iter() {
        let mut m = Moved::of(core, symbol);
        if m.loadable {
            return Err(bad(format!(
                "core part holds module symbol {:?}",
                symbol.name
            )));
        }
        if slides(symbol.kind) {
            m.addr = m.addr.wrapping_add(slide as u64);
        }
        out.push(m)?;
    }
    for part in modules {
        for symbol in part.table.iter() {
            let mut m = Moved::of(&part.table, symbol);
            if !m.loadable || m.modules != [part.name.as_str()] {
                return Err(bad(format!(
                    "part of module {} holds symbol {:?} of {:?}",
                    part.name, symbol.name, m.modules
                )));
            }
            let anchor = part.anchors.get((m.addr >> 32) as usize).ok_or_else(|| {
                bad(format!(
                    "module {}: symbol {:?} refers to anchor {} of {}",
                    part.name,
                    symbol.name,
                    m.addr >> 32,
                    part.anchors.len()
                ))
            })?;
            m.addr = anchor.wrapping_add(m.addr & 0xffff_ffff);
            out.push(m)?;
        }
    }
    for symbol in boot.iter() {
        out.push(Moved::of(boot, symbol))?;
    }
    Ok(SymbolTable {
        bpf_lines: boot.bpf_lines.clone(),
        ..out.finish(boot.info().clone(), boot.module_map().clone())?
    })
}
