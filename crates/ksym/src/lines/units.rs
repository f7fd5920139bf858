//! Addresses to compilation units without reading them all: the index is
//! `.debug_aranges` (a distro vmlinux's is 160 KiB for its 2,172 units),
//! and each unit gets its own `addr2line` context, over `.debug_info` cut
//! to that unit, made when an address first falls in it. A context over
//! the whole file would parse every unit's abbreviations and root entry
//! first (half a second on Debian's vmlinux) for a question about one.
//!
//! A cut `.debug_info` shifts offsets: a unit that may refer into others
//! (`DW_FORM_ref_addr`, and the forms that hide a form) is looked up in one
//! context over the whole file instead, as are all units when the file has
//! no usable `.debug_aranges`.

use gimli::{Reader as _, Section as _, SectionId};

use super::context::Reader;

/// One unit: where it is in `.debug_info`, and its context once made.
struct Unit {
    offset: usize,
    len: usize,
    /// `None` until made; `Some(None)`: the unit needs the whole-file context.
    context: Option<Option<addr2line::Context<Reader>>>,
}

/// The units of one file and the contexts made so far.
pub(crate) struct Units {
    /// The debug sections read, and an empty one for those not there.
    sections: Vec<(SectionId, Reader)>,
    empty: Reader,
    /// All of them, for the index and the units' headers.
    dwarf: gimli::Dwarf<Reader>,
    /// `(begin, end, unit)`, by `begin`.
    ranges: Vec<(u64, u64, usize)>,
    longest: u64,
    units: Vec<Unit>,
    /// Units no arange names: asked when no range holds an address.
    unindexed: Vec<usize>,
    whole: Option<addr2line::Context<Reader>>,
    /// No usable index: every question goes to the whole-file context.
    whole_only: bool,
}

impl Units {
    /// Indexes the units of `sections` by `.debug_aranges` (headers only;
    /// `bounds`, each unit's offset and length, when already known).
    pub(crate) fn new(
        sections: Vec<(SectionId, Reader)>,
        empty: Reader,
        bounds: Option<Vec<(usize, usize)>>,
    ) -> Units {
        let dwarf = make_dwarf(&sections, &empty, None);
        let mut units = Units {
            sections,
            empty,
            dwarf,
            ranges: Vec::new(),
            longest: 0,
            units: Vec::new(),
            unindexed: Vec::new(),
            whole: None,
            whole_only: false,
        };
        if units.index(bounds).is_err() {
            units.whole_only = true;
        }
        units
    }

    fn index(&mut self, bounds: Option<Vec<(usize, usize)>>) -> gimli::Result<()> {
        let unit = |(offset, len)| Unit {
            offset,
            len,
            context: None,
        };
        if let Some(bounds) = bounds {
            self.units = bounds.into_iter().map(unit).collect();
        } else {
            let mut headers = self.dwarf.units();
            while let Some(header) = headers.next()? {
                let offset = header
                    .debug_info_offset()
                    .ok_or(gimli::Error::UnsupportedOffset)?;
                self.units
                    .push(unit((offset.0, header.length_including_self())));
            }
        }
        let mut named = vec![false; self.units.len()];
        let mut aranges = self.dwarf.debug_aranges.headers();
        while let Some(header) = aranges.next()? {
            let at = header.debug_info_offset().0;
            let unit = self
                .units
                .binary_search_by_key(&at, |u| u.offset)
                .map_err(|_| gimli::Error::UnsupportedOffset)?;
            named[unit] = true;
            let mut entries = header.entries();
            while let Some(entry) = entries.next()? {
                let range = entry.range();
                if range.end > range.begin {
                    self.ranges.push((range.begin, range.end, unit));
                    self.longest = self.longest.max(range.end - range.begin);
                }
            }
        }
        self.ranges.sort_unstable();
        self.unindexed = (0..self.units.len()).filter(|u| !named[*u]).collect();
        Ok(())
    }

    /// The units whose ranges hold `probe`, then those no arange names.
    pub(crate) fn candidates(&self, probe: u64) -> Vec<usize> {
        let upto = self.ranges.partition_point(|r| r.0 <= probe);
        let mut out: Vec<usize> = self.ranges[..upto]
            .iter()
            .rev()
            .take_while(|r| probe - r.0 < self.longest)
            .filter(|r| probe < r.1)
            .map(|r| r.2)
            .collect();
        out.extend(&self.unindexed);
        out
    }

    /// The range ending last at or below `probe` (among those beginning
    /// below it): a unit whose line rows may run past its ranges.
    pub(crate) fn preceding(&self, probe: u64) -> Option<(u64, u64, usize)> {
        let upto = self.ranges.partition_point(|r| r.0 <= probe);
        self.ranges[..upto]
            .iter()
            .rev()
            .take_while(|r| probe - r.0 < self.preceding_reach())
            .filter(|r| r.1 <= probe && r.1 > r.0)
            .max_by_key(|r| r.1)
            .copied()
    }

    /// Every `(begin, end, unit)` range of the index.
    pub(crate) fn ranges(&self) -> Vec<(u64, u64, usize)> {
        self.ranges.clone()
    }

    /// Where unit `unit` itself, its functions and its inlined calls begin
    /// and end, sorted: a line row can span such a bound (a function's last
    /// row running into the padding after it, a row running past the
    /// unit's ranges), and the frames change there. The unit's ranges are
    /// its root's attributes and its `.debug_aranges` entries (which of
    /// them `addr2line` takes depends on the context; a bound too many
    /// only costs a lookup).
    pub(crate) fn function_bounds(&self, unit: usize) -> gimli::Result<Vec<u64>> {
        let mut bounds: Vec<u64> = self
            .ranges
            .iter()
            .filter(|r| r.2 == unit)
            .flat_map(|r| [r.0, r.1])
            .collect();
        let unit = self.parsed(unit)?;
        let mut entries = unit.entries();
        let mut root = true;
        while let Some(entry) = entries.next_dfs()? {
            if std::mem::take(&mut root)
                || matches!(
                    entry.tag(),
                    gimli::DW_TAG_subprogram | gimli::DW_TAG_inlined_subroutine
                )
            {
                self.entry_bounds(&unit, entry, &mut bounds)?;
            }
        }
        bounds.sort_unstable();
        bounds.dedup();
        Ok(bounds)
    }

    /// Where a function or inlined call's ranges begin and end, read as
    /// `addr2line` reads them when it looks up frames: `DW_AT_ranges`,
    /// else `DW_AT_low_pc` to `DW_AT_high_pc` (an address, or an offset
    /// from `DW_AT_low_pc`); empty ranges left out. Not gimli's
    /// `die_ranges`, which adds the offset unchecked (a panic under
    /// overflow checks, a wrapped end without): an offset past the address
    /// space makes no range, as `addr2line` finds no function there.
    fn entry_bounds(
        &self,
        unit: &gimli::Unit<Reader>,
        entry: &gimli::DebuggingInformationEntry<Reader>,
        bounds: &mut Vec<u64>,
    ) -> gimli::Result<()> {
        let (mut low, mut high, mut size, mut list) = (None, None, None, None);
        for attr in entry.attrs() {
            match attr.name() {
                gimli::DW_AT_low_pc => low = self.dwarf.attr_address(unit, attr.value())?,
                gimli::DW_AT_high_pc => match attr.value() {
                    gimli::AttributeValue::Udata(n) => size = Some(n),
                    value => high = self.dwarf.attr_address(unit, value)?,
                },
                gimli::DW_AT_ranges => {
                    list = self.dwarf.attr_ranges_offset(unit, attr.value())?;
                }
                _ => {}
            }
        }
        let mut add = |r: gimli::Range| {
            if r.begin < r.end {
                bounds.extend([r.begin, r.end]);
            }
        };
        if let Some(list) = list {
            let mut ranges = self.dwarf.ranges(unit, list)?;
            while let Some(r) = ranges.next()? {
                add(r);
            }
        } else if let Some(begin) = low {
            // An offset past the address space: no end, no range.
            if let Some(end) = high.or_else(|| begin.checked_add(size?)) {
                add(gimli::Range { begin, end });
            }
        }
        Ok(())
    }

    /// How far `preceding` looks back: a range beginning this far below
    /// an address is not asked for it.
    pub(crate) fn preceding_reach(&self) -> u64 {
        self.longest.saturating_mul(2)
    }

    /// Unit `unit`'s header and root, read from the whole file's DWARF.
    fn parsed(&self, unit: usize) -> gimli::Result<gimli::Unit<Reader>> {
        let header = self
            .dwarf
            .debug_info
            .header_from_offset(gimli::DebugInfoOffset(self.units[unit].offset))?;
        self.dwarf.unit(header)
    }

    /// How many units the file has.
    pub(crate) fn len(&self) -> usize {
        self.units.len()
    }

    /// Where unit `unit`'s line rows begin and its sequences end: the
    /// line, file and discriminator found can change only there.
    pub(crate) fn line_bounds(&self, unit: usize) -> gimli::Result<Vec<u64>> {
        let unit = self.parsed(unit)?;
        let mut bounds = Vec::new();
        if let Some(program) = unit.line_program {
            let mut rows = program.rows();
            while let Some((_, row)) = rows.next_row()? {
                bounds.push(row.address());
            }
        }
        Ok(bounds)
    }

    /// The units no arange names (asked after the named ones).
    pub(crate) fn unindexed(&self) -> Vec<usize> {
        self.unindexed.clone()
    }

    /// Drops unit `unit`'s context (made again when asked again).
    pub(crate) fn forget(&mut self, unit: usize) {
        self.units[unit].context = None;
    }

    /// Whether every question goes to the whole-file context.
    pub(crate) fn whole_only(&self) -> bool {
        self.whole_only
    }

    /// The context for unit `unit` (or the whole file's, when it needs it).
    pub(crate) fn context(
        &mut self,
        unit: usize,
    ) -> std::result::Result<&addr2line::Context<Reader>, gimli::Error> {
        if self.units[unit].context.is_none() {
            let made = self.unit_context(unit)?;
            self.units[unit].context = Some(made);
        }
        if !matches!(self.units[unit].context, Some(Some(_))) {
            return self.whole();
        }
        self.units[unit]
            .context
            .as_ref()
            .and_then(Option::as_ref)
            .ok_or(gimli::Error::UnsupportedOffset)
    }

    /// The whole-file context, made on first use.
    pub(crate) fn whole(
        &mut self,
    ) -> std::result::Result<&addr2line::Context<Reader>, gimli::Error> {
        if self.whole.is_none() {
            let dwarf = make_dwarf(&self.sections, &self.empty, None);
            self.whole = Some(addr2line::Context::from_dwarf(dwarf)?);
        }
        Ok(self.whole.as_ref().expect("just made"))
    }

    fn unit_context(
        &self,
        unit: usize,
    ) -> std::result::Result<Option<addr2line::Context<Reader>>, gimli::Error> {
        let Unit { offset, len, .. } = self.units[unit];
        make_unit_context(&self.sections, &self.empty, &self.dwarf, offset, len)
    }

    /// What makes unit contexts on other threads (for a batch: each made,
    /// asked and dropped there, never cached).
    pub(crate) fn maker(&self) -> UnitMaker {
        UnitMaker {
            sections: self.sections.clone(),
            empty: self.empty.clone(),
            units: self.units.iter().map(|u| (u.offset, u.len)).collect(),
        }
    }

    /// Whether unit `unit`'s context is made already.
    pub(crate) fn is_made(&self, unit: usize) -> bool {
        self.units[unit].context.is_some()
    }
}

/// The sections and unit bounds, shared by threads that make contexts.
pub(crate) struct UnitMaker {
    sections: Vec<(SectionId, Reader)>,
    empty: Reader,
    units: Vec<(usize, usize)>,
}

impl UnitMaker {
    /// A fresh context for unit `unit`; `None` when it needs the
    /// whole-file context.
    pub(crate) fn context(
        &self,
        unit: usize,
    ) -> std::result::Result<Option<addr2line::Context<Reader>>, gimli::Error> {
        let (offset, len) = self.units[unit];
        let dwarf = make_dwarf(&self.sections, &self.empty, None);
        make_unit_context(&self.sections, &self.empty, &dwarf, offset, len)
    }
}

/// A context over `.debug_info` cut to the unit at `offset`, or `None`
/// when the unit may refer into others.
fn make_unit_context(
    sections: &[(SectionId, Reader)],
    empty: &Reader,
    dwarf: &gimli::Dwarf<Reader>,
    offset: usize,
    len: usize,
) -> std::result::Result<Option<addr2line::Context<Reader>>, gimli::Error> {
    let header = dwarf
        .debug_info
        .header_from_offset(gimli::DebugInfoOffset(offset))?;
    let abbrev_at = header.debug_abbrev_offset().0;
    let mut abbrevs = dwarf.debug_abbrev.reader().clone();
    abbrevs.skip(abbrev_at)?;
    if refers_outside(abbrevs)? {
        return Ok(None);
    }
    let mut cut = dwarf.debug_info.reader().clone();
    cut.skip(offset)?;
    cut.truncate(len)?;
    let dwarf = make_dwarf(sections, empty, Some(cut));
    Ok(Some(addr2line::Context::from_dwarf(dwarf)?))
}

/// The DWARF of `sections`; with `unit`, `.debug_info` cut to that unit
/// and no `.debug_aranges` (the unit's own ranges say where it is).
fn make_dwarf(
    sections: &[(SectionId, Reader)],
    empty: &Reader,
    unit: Option<Reader>,
) -> gimli::Dwarf<Reader> {
    let found = |id: SectionId| {
        sections
            .iter()
            .find(|(s, _)| *s == id)
            .map_or_else(|| empty.clone(), |(_, r)| r.clone())
    };
    let loaded = gimli::Dwarf::load(|id| -> std::result::Result<Reader, ()> {
        Ok(match (id, &unit) {
            (SectionId::DebugInfo, Some(cut)) => cut.clone(),
            (SectionId::DebugAranges, Some(_)) => empty.clone(),
            _ => found(id),
        })
    });
    loaded.unwrap_or_else(|()| unreachable!("the loader never fails"))
}

/// Whether an abbreviation table (read raw, to its end: `code tag children
/// (attribute form [constant])* 0 0`, ..., `0`) declares a form that may
/// point into another unit.
fn refers_outside(mut r: Reader) -> gimli::Result<bool> {
    loop {
        let code = r.read_uleb128()?;
        if code == 0 {
            return Ok(false);
        }
        r.read_uleb128()?; // tag
        r.read_u8()?; // children
        loop {
            let name = r.read_uleb128()?;
            let form = gimli::DwForm(r.read_uleb128_u16()?);
            if name == 0 && form.0 == 0 {
                break;
            }
            match form {
                gimli::DW_FORM_ref_addr
                | gimli::DW_FORM_indirect
                | gimli::DW_FORM_GNU_ref_alt
                | gimli::DW_FORM_ref_sup4
                | gimli::DW_FORM_ref_sup8
                | gimli::DW_FORM_ref_sig8 => return Ok(true),
                gimli::DW_FORM_implicit_const => {
                    r.read_sleb128()?;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lines::context::SectionBytes;

    /// One DWARF 4 unit: its root's `(low_pc, high_pc as a size)` when
    /// given, its subprograms' likewise, and `.debug_aranges` entries
    /// `(address, length)` naming it.
    fn unit_of(
        root: Option<(u64, u64)>,
        functions: &[(u64, u64)],
        aranges: &[(u64, u64)],
    ) -> Units {
        // 1: compile unit with children; 2: subprogram, low_pc addr,
        // high_pc data8 (an offset from low_pc); 3: compile unit with
        // children, low_pc and high_pc as 2.
        let abbrev = vec![
            1, 0x11, 1, 0, 0, //
            2, 0x2e, 0, 0x11, 0x01, 0x12, 0x07, 0, 0, //
            3, 0x11, 1, 0x11, 0x01, 0x12, 0x07, 0, 0, //
            0,
        ];
        let mut dies = Vec::new();
        let range = |dies: &mut Vec<u8>, (low, size): (u64, u64)| {
            dies.extend_from_slice(&low.to_le_bytes());
            dies.extend_from_slice(&size.to_le_bytes());
        };
        match root {
            Some(r) => {
                dies.push(3);
                range(&mut dies, r);
            }
            None => dies.push(1),
        }
        for &f in functions {
            dies.push(2);
            range(&mut dies, f);
        }
        dies.push(0);
        let mut info = Vec::new();
        info.extend_from_slice(&(dies.len() as u32 + 7).to_le_bytes());
        info.extend_from_slice(&4u16.to_le_bytes());
        info.extend_from_slice(&0u32.to_le_bytes());
        info.push(8);
        info.extend_from_slice(&dies);
        let mut sections = vec![
            (SectionId::DebugAbbrev, SectionBytes::reader(abbrev)),
            (SectionId::DebugInfo, SectionBytes::reader(info)),
        ];
        if !aranges.is_empty() {
            // Header (12 bytes, padded to 16), entries, the (0, 0) end.
            let mut set = Vec::new();
            set.extend_from_slice(&(((aranges.len() + 1) * 16 + 12) as u32).to_le_bytes());
            set.extend_from_slice(&2u16.to_le_bytes());
            set.extend_from_slice(&0u32.to_le_bytes());
            set.extend_from_slice(&[8, 0, 0, 0, 0, 0]);
            for &a in aranges.iter().chain(&[(0, 0)]) {
                range(&mut set, a);
            }
            sections.push((SectionId::DebugAranges, SectionBytes::reader(set)));
        }
        Units::new(sections, SectionBytes::reader(Vec::new()), None)
    }

    /// The `lines` fuzzer's crash (`fuzz/seeds/lines/regress-high-pc-overflow`):
    /// a `DW_AT_high_pc` offset past the address space overflowed in
    /// gimli's `die_ranges` (a panic with debug assertions, a wrapped end
    /// without). Such a function has no range (as `addr2line` sees it):
    /// no bounds, and the others' stay.
    #[test]
    fn a_high_pc_offset_past_the_address_space_gives_no_bounds() {
        let units = unit_of(
            None,
            &[
                (0x40_1000, 0x20),
                (0x40_1040, u64::MAX),
                (0xffff_ffff_ffff_fff0, 0x10),
                (0x40_1080, 0),
            ],
            &[],
        );
        assert_eq!(units.function_bounds(0).unwrap(), [0x40_1000, 0x40_1020]);
    }

    /// The `lines` fuzzer's second find (`fuzz/seeds/lines/
    /// regress-row-past-unit-range`): a line row ran past the end of its
    /// unit's range where no function ended (the function's range was
    /// dropped, its offset overflowing), so the line table answered a line
    /// where `addr2line` finds no unit and answers nothing. The unit's own
    /// ranges, from its root and its aranges, are bounds too.
    #[test]
    fn the_units_own_ranges_are_bounds() {
        let units = unit_of(
            Some((0x40_1000, 0x8)),
            &[(0x40_1000, u64::MAX), (0x40_1010, 0x8)],
            &[(0x40_1000, 0x8), (0x40_1010, 0x8), (0x40_1030, 0x10)],
        );
        assert_eq!(
            units.function_bounds(0).unwrap(),
            [0x40_1000, 0x40_1008, 0x40_1010, 0x40_1018, 0x40_1030, 0x40_1040]
        );
        let root_only = unit_of(Some((0x40_1000, 0x8)), &[(0x40_1000, u64::MAX)], &[]);
        assert_eq!(
            root_only.function_bounds(0).unwrap(),
            [0x40_1000, 0x40_1008]
        );
    }
}
