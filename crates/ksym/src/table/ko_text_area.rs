//! A module's text area and code sections from its `.ko` laid out as the
//! loader does ([`crate::parse::module_text`]), for a table whose modules
//! come with `/proc/modules` alone (a bug report, a saved copy): `%pS`
//! sizes a module's last function to the end of its page-aligned text
//! area, and names an address in arm64's `.plt` or ftrace trampoline after
//! it as that function, which a lookup then does too, saying the section.
//! `/proc/modules` gives only the module's whole extent, data included.
//!
//! A live kernel's `/sys/module`, or a layout file, say all this exactly:
//! a module that has them keeps them.

use std::sync::OnceLock;

use crate::parse::elf::ElfSymbols;
use crate::parse::ModuleArea;
use crate::table::bounds::flatten_bounds;
use crate::table::c_strings::next_serial;
use crate::table::elf_sizes::ModuleMatch;
use crate::table::SymbolTable;

/// A module's text area and its code sections, placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlacedText {
    pub module: String,
    pub area: ModuleArea,
    pub sections: Vec<ModuleArea>,
}

/// `module`'s text area from its `.ko` (`matched`: how its symbols matched
/// the table's), or why not; `Ok(None)` when the table already knows the
/// module's sections or areas, or the `.ko` has no layout to give.
pub(crate) fn text_from_ko(
    table: &SymbolTable,
    ko: &ElfSymbols,
    matched: &ModuleMatch,
) -> Result<Option<PlacedText>, String> {
    let module = matched.module.as_str();
    let info = table.modules.get(module);
    let known = info.is_some_and(|m| {
        m.text_area.is_some() || !m.section_areas.is_empty() || !m.areas.is_empty()
    });
    let layout = match &ko.module_text {
        _ if known => return Ok(None),
        None => return Ok(None),
        Some(Err(e)) => return Err(format!("cannot lay out its code: {e}")),
        Some(Ok(layout)) => layout,
    };
    // Where the .ko's `.text` lies by its symbols, and where the text area
    // starts by `/proc/modules`: when both are known they must agree.
    let text_offset = layout
        .sections
        .iter()
        .find(|s| s.name == ".text")
        .map(|s| s.offset);
    let voted = ko
        .sections
        .iter()
        .position(|s| s.name == ".text")
        .and_then(|i| matched.section_bases.iter().find(|&&(s, _)| s == i))
        .zip(text_offset)
        .map(|(&(_, at), offset)| at.wrapping_sub(offset));
    let listed = info.and_then(|m| m.base).filter(|&b| b != 0);
    let base = match (listed, voted) {
        (Some(b), Some(v)) if b != v => {
            return Err(format!(
                "its symbols put its text area at {v:#x}, /proc/modules at {b:#x}: \
                 not the .ko that was loaded?"
            ))
        }
        (Some(b), _) | (None, Some(b)) => b,
        (None, None) => return Err("nothing says where its text area starts".into()),
    };
    let page = table.modules.page_size();
    let size = layout
        .end
        .checked_add(page - 1)
        .map(|e| e & !(page - 1))
        .filter(|&s| base.checked_add(s).is_some())
        .ok_or("its code does not fit in the address space")?;
    if let Some(whole) = info.and_then(|m| m.size).filter(|&s| s != 0 && s < size) {
        return Err(format!(
            "its code takes {size:#x} bytes, more than the {whole:#x} /proc/modules gives it"
        ));
    }
    // Each section up to where the next begins, the last to the area's
    // end, as `ModuleInfo::section_areas` are from sysfs: the padding
    // after the ftrace trampoline is the trampoline's, as live.
    let starts: Vec<u64> = layout.sections.iter().map(|s| s.offset).collect();
    let sections = layout
        .sections
        .iter()
        .zip(starts.iter().skip(1).copied().chain([size]))
        .map(|(s, next)| ModuleArea {
            kind: s.name.clone(),
            start: base + s.offset,
            size: next.max(s.offset) - s.offset,
        })
        .collect();
    Ok(Some(PlacedText {
        module: module.to_string(),
        area: ModuleArea {
            kind: "text".into(),
            start: base,
            size,
        },
        sections,
    }))
}

impl SymbolTable {
    /// The table with each placed module's text area bounding its symbols
    /// and its code sections known (see the module doc).
    pub(crate) fn with_placed_text(mut self, placed: Vec<PlacedText>) -> SymbolTable {
        if placed.is_empty() {
            return self;
        }
        // Each segment as a range to its limit is within the innermost
        // range that made it: flattening them with the new areas gives
        // what flattening every original range with them would.
        let mut bounds: Vec<(u64, u64)> =
            self.segments.iter().map(|s| (s.start, s.limit)).collect();
        for p in placed {
            bounds.push((p.area.start, p.area.end()));
            let info = self.modules.entry(&p.module);
            info.text_area = Some(p.area);
            info.section_areas = p.sections;
            info.laid_out_from_ko = true;
        }
        self.segments = flatten_bounds(&bounds).into();
        self.mark_bounded();
        self.section_spans = OnceLock::new();
        // Sizes changed: not the table it was.
        self.serial = next_serial();
        self
    }
}
