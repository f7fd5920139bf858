//! Building a line table from a vmlinux's DWARF: unit by unit (each
//! unit's context dropped once done, so memory stays at one unit's worth
//! plus the rows). The frames can change only where a line row starts or
//! a function or inlined call begins or ends; each such address is asked
//! for its frames exactly as a lazy lookup asks, so the table answers what
//! the DWARF answers.

use std::collections::HashMap;

use super::encode::TableWriter;
use super::{FrameKey, LineTable, MAX_DEPTH};
use crate::error::Result;
use crate::lines::context::{frames_at, LineContext};
use crate::lines::file::{debug_error, DebugFile};
use crate::lines::kernel::own_text;
use crate::lines::units::Units;
use crate::lines::{Placement, SourceFrame};

/// The rows of a table being built, and its strings (the tools' builder,
/// [`crate::lines::build_tool_table`], fills one too).
pub(crate) struct Collected {
    /// `strings[0]` is the build-id; a key's id `n` is `strings[n - 1]`.
    strings: Vec<String>,
    ids: HashMap<String, u32>,
    /// `(address, first key, frame count)`; 0 frames: a gap.
    rows: Vec<(u64, usize, u16)>,
    keys: Vec<FrameKey>,
}

/// Builds the line table of `file`, a linked kernel with DWARF and a
/// build-id. Reads every unit: seconds for a distro vmlinux, once per
/// build-id (keep it with [`crate::snapshot::cache::store_line_table`]).
pub fn build(file: DebugFile) -> Result<LineTable> {
    let source = file.source().to_string();
    if file.is_relocatable() {
        return Err(debug_error(
            &source,
            "a module moves with each load: line tables are kept for a vmlinux",
        ));
    }
    let build_id = file
        .build_id_hex()
        .ok_or_else(|| debug_error(&source, "has no build-id, which a line table is kept by"))?;
    let text = own_text(&file)?;
    let context = LineContext::new(file, Placement::Slide(0))?;
    let mut collected = Collected::new(build_id);
    context
        .with_units(|units, _| collected.read_units(units))?
        .map_err(|e| debug_error(&source, &format!("while building its line table: {e}")))?;
    let bytes = collected
        .write(text, false)
        .map_err(|e| debug_error(&source, &format!("while writing its line table: {e}")))?;
    LineTable::from_bytes(&format!("line table of {source}"), bytes)
}

impl Collected {
    /// No rows yet; string 0 the build-id.
    pub(crate) fn new(build_id: String) -> Collected {
        Collected {
            strings: vec![build_id],
            ids: HashMap::new(),
            rows: Vec::new(),
            keys: Vec::new(),
        }
    }

    fn read_units(&mut self, units: &mut Units) -> std::result::Result<(), gimli::Error> {
        if units.whole_only() {
            return Err(gimli::Error::UnsupportedOffset);
        }
        let mut ranges = units.ranges();
        ranges.sort_unstable_by_key(|&(begin, end, unit)| (unit, begin, end));
        // A lookup asks a unit where any of its aranges holds the address:
        // overlapping or touching ones are merged, so a row is cut only
        // where none holds it.
        let mut merged: Vec<(u64, u64, usize)> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match merged.last_mut() {
                Some(last) if last.2 == r.2 && r.0 <= last.1 => last.1 = last.1.max(r.1),
                _ => merged.push(r),
            }
        }
        let mut ranges = merged;
        // Units no arange names (GCC leaves `.debug_aranges` out unless
        // asked): all their rows, after the named ones, as lookups ask them.
        ranges.extend(units.unindexed().into_iter().map(|u| (0, u64::MAX, u)));
        for group in ranges.chunk_by(|a, b| a.2 == b.2) {
            let unit = group[0].2;
            let bounds = units.function_bounds(unit)?;
            let context = units.context(unit)?;
            for &(begin, end, _) in group {
                let mut open_end = None;
                for (addr, len, _) in context.find_location_range(begin, end)? {
                    // Cut to the range: outside it a lookup does not ask
                    // this unit (a row may start before it or run past it).
                    let row_end = addr.saturating_add(len).min(end);
                    let addr = addr.max(begin);
                    if addr >= row_end {
                        continue;
                    }
                    if let Some(e) = open_end.filter(|e| *e != addr) {
                        self.push_end(context, e, end)?;
                    }
                    // The row itself, and every function bound inside it.
                    let inside = bounds.partition_point(|b| *b <= addr);
                    let splits = bounds[inside..].iter().take_while(|b| **b < row_end);
                    for probe in std::iter::once(&addr).chain(splits) {
                        let frames = frames_at(context, *probe)?;
                        self.push(*probe, &frames);
                    }
                    open_end = Some(row_end);
                }
                if let Some(e) = open_end {
                    self.push_end(context, e, end)?;
                }
            }
            units.forget(unit);
        }
        Ok(())
    }

    /// Where a row ends at `at`, in a range ending at `range_end`: a gap
    /// where the range ends (a lookup asks other units there), else what
    /// a lookup finds there (another sequence's row may hold it: the
    /// `lines` fuzzer's `regress-overlapping-sequences`).
    fn push_end(
        &mut self,
        context: &addr2line::Context<crate::lines::context::Reader>,
        at: u64,
        range_end: u64,
    ) -> std::result::Result<(), gimli::Error> {
        let frames = if at < range_end {
            frames_at(context, at)?
        } else {
            Vec::new()
        };
        self.push(at, &frames);
        Ok(())
    }

    /// The id of `text` (`None`: 0), kept once.
    pub(crate) fn intern(&mut self, text: Option<&str>) -> u32 {
        let Some(text) = text else { return 0 };
        if let Some(id) = self.ids.get(text) {
            return *id;
        }
        self.strings.push(text.to_string());
        // Past 4 Gi strings their arena is past 4 GiB: `finish` refuses.
        let id = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        self.ids.insert(text.to_string(), id);
        id
    }

    fn push(&mut self, addr: u64, frames: &[SourceFrame]) {
        let first = self.keys.len();
        for f in frames {
            let key = FrameKey {
                function: self.intern(f.function.as_deref()),
                file: self.intern(f.file.as_deref()),
                line: f.line.unwrap_or(0),
                column: f.column.unwrap_or(0),
                ..FrameKey::default()
            };
            self.keys.push(key);
        }
        self.end_row(addr, first);
    }

    /// The key of the next frame of the row being written (innermost
    /// first); [`Collected::end_row`] ends the row.
    pub(crate) fn push_key(&mut self, key: FrameKey) {
        self.keys.push(key);
    }

    /// A row from `addr` of the keys pushed since there were `first` (none:
    /// a gap).
    pub(crate) fn end_row(&mut self, addr: u64, first: usize) {
        // A deeper chain is damage (the reader refuses it): keep the inner.
        self.keys.truncate(first + MAX_DEPTH as usize + 1);
        self.rows
            .push((addr, first, (self.keys.len() - first) as u16));
    }

    /// How many keys are written: where the next row's begin.
    pub(crate) fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// Sorted rows (a line row before a gap at one address, the first
    /// unit's row where two units have one), each unlike the one before.
    pub(crate) fn write(mut self, text: u64, tools: bool) -> std::result::Result<Vec<u8>, String> {
        self.rows
            .sort_by_key(|&(addr, first, count)| (addr, count == 0, first));
        self.rows.dedup_by_key(|r| r.0);
        let mut writer = TableWriter::new(tools);
        let mut last: Option<&[FrameKey]> = None;
        for &(addr, first, count) in &self.rows {
            let keys = &self.keys[first..first + usize::from(count)];
            if last == Some(keys) {
                continue;
            }
            writer.push(addr, keys.split_first())?;
            last = Some(keys);
        }
        writer.finish(&self.strings, text)
    }
}
