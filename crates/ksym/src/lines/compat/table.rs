//! The tools' view kept as a line table ([`LineTable`] with its tools'
//! flag), once per build-id, so `ksym addr2line` answers a perf or a
//! `decode_stacktrace.sh` without reading DWARF.
//!
//! Built by asking the DWARF, at every address where an answer can
//! change, exactly what a lookup asks ([`super::frames_in`]), so the
//! table answers what the DWARF answers. An answer can change only where
//! a line row begins or a sequence ends (line, file, discriminator), where
//! a function or an inlined call begins or ends (the chain), where a
//! unit's range begins or ends (which unit is asked), and where a range
//! falls out of reach of an address past it (which unit's rows run on
//! into the padding): those are the addresses asked.

use super::programs::Programs;
use super::{frames_in, placement, ToolFrame};
use crate::error::Result;
use crate::lines::context::LineContext;
use crate::lines::file::{debug_error, DebugFile};
use crate::lines::table::{Collected, FrameKey};
use crate::lines::units::Units;
use crate::lines::LineTable;

/// Builds the tools' line table of `file` (any ELF file with DWARF and a
/// build-id; a relocatable one by `.text` offsets, as the tools read it).
/// Reads every unit: seconds for a distro vmlinux, once per build-id (keep
/// it with [`crate::snapshot::cache::store_line_table`]).
pub fn build_tool_table(file: DebugFile) -> Result<LineTable> {
    let source = file.source().to_string();
    let build_id = file
        .build_id_hex()
        .ok_or_else(|| debug_error(&source, "has no build-id, which a line table is kept by"))?;
    let placement = placement(&file);
    let context = LineContext::new(file, placement)?;
    let mut collected = Collected::new(build_id);
    context
        .with_units(|units, _| collect(units, &mut collected))?
        .map_err(|e| debug_error(&source, &format!("while building its addr2line table: {e}")))?;
    // Addresses are the file's own: no `_text` to slide by.
    let bytes = collected
        .write(0, true)
        .map_err(|e| debug_error(&source, &format!("while writing its addr2line table: {e}")))?;
    LineTable::from_bytes(&format!("addr2line table of {source}"), bytes)
}

/// Every unit's bounds asked in turn; the contexts and programs read for
/// one unit dropped before the next (those of units no arange names are
/// asked everywhere, and kept).
fn collect(units: &mut Units, out: &mut Collected) -> std::result::Result<(), gimli::Error> {
    let mut programs = Programs::default();
    let reach = units.preceding_reach();
    let mut kept = vec![false; units.len()];
    for u in units.unindexed() {
        kept[u] = true;
    }
    let ranges = units.ranges();
    for unit in 0..units.len() {
        let mut probes = units.function_bounds(unit)?;
        probes.extend(units.line_bounds(unit)?);
        probes.extend(
            ranges
                .iter()
                .filter(|r| r.2 == unit)
                .map(|r| r.0.saturating_add(reach)),
        );
        probes.sort_unstable();
        probes.dedup();
        for probe in probes {
            let first = out.key_count();
            for f in frames_in(units, &mut programs, probe)? {
                let key = key(out, &f);
                out.push_key(key);
            }
            out.end_row(probe, first);
        }
        for (other, keep) in kept.iter().enumerate() {
            if !keep && units.is_made(other) {
                units.forget(other);
            }
        }
        programs.clear();
    }
    Ok(())
}

fn key(out: &mut Collected, f: &ToolFrame) -> FrameKey {
    FrameKey {
        function: out.intern(f.function.as_deref()),
        file: out.intern(f.file.as_deref()),
        alt_file: out.intern(f.standard_file.as_deref()),
        line: f.line,
        column: 0,
        discriminator: f.discriminator,
        past_ranges: f.past_ranges,
    }
}

/// The frames a tools' table holds for `addr`, as [`super::frames_in`]
/// finds them in the DWARF.
pub(super) fn frames_from(table: &LineTable, addr: u64) -> Result<Vec<ToolFrame>> {
    let found = table.frames_ref(addr)?;
    Ok(found
        .keys()
        .map(|k| ToolFrame {
            function: found.text(k.function).map(str::to_string),
            file: found.text(k.file).map(str::to_string),
            standard_file: found.text(k.alt_file).map(str::to_string),
            line: k.line,
            discriminator: k.discriminator,
            past_ranges: k.past_ranges,
        })
        .collect())
}
