//! Answers as GNU `addr2line` and `llvm-addr2line` give them, for the
//! programs that run those tools as a child and read their output (perf's
//! `srcline`, the kernel's `decode_stacktrace.sh`): what they print for an
//! address of any ELF file with DWARF, byte for byte.
//!
//! The rest of [`crate::lines`] prints paths as the kernel does (relative to
//! the build directory) and leaves out discriminators; these tools print
//! neither way, so this view keeps what they print:
//! - **paths** joined as the line table has them (`DW_AT_comp_dir`, the
//!   include directory, the file name; `./` kept);
//! - **discriminators** of the innermost line row (GNU prints
//!   ` (discriminator N)` after the line);
//! - **names** as DWARF has them (the linkage name where there is one),
//!   demangled only when asked;
//! - where DWARF has neither line nor function, the **symbol table**: the
//!   nearest function symbol before the address in its section, with the
//!   file of the `STT_FILE` symbol before it, as GNU's BFD falls back.
//!
//! Answers come from the DWARF or, once built ([`build_tool_table`]),
//! from a line table of the same answers kept per build-id.

mod format;
mod programs;
mod symbols;
mod table;

use std::path::Path;

use super::context::{LineContext, Reader};
use super::file::{debug_error, DebugFile};
use super::units::Units;
use super::{LineTable, Placement};
use crate::error::Result;

pub use format::{parse_address, Flavour, Style};
pub use table::build_tool_table;

use programs::Programs;
use symbols::Symbols;

/// One frame as the tools print it, innermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolFrame {
    /// The DWARF name (linkage name first), or the symbol's.
    pub function: Option<String>,
    /// The path as BFD joins it (GNU's).
    pub file: Option<String>,
    /// The path as the DWARF standard reads it (llvm's).
    pub standard_file: Option<String>,
    /// 0: no line.
    pub line: u32,
    /// 0: none.
    pub discriminator: u32,
    /// Found past its unit's ranges (BFD's reading only).
    pub past_ranges: bool,
}

/// What the tools find for an address: each tool picks from it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ToolAnswer {
    /// DWARF's frames (a function or a line), innermost first.
    pub frames: Vec<ToolFrame>,
    /// Whether an allocated section holds the address (GNU asks nothing
    /// else otherwise).
    pub in_section: bool,
    /// GNU's symbol where DWARF has no function: its name and `STT_FILE`
    /// name.
    pub symbol_before: Option<(String, Option<String>)>,
    /// llvm's symbol: the one whose range holds the address, and its
    /// `STT_FILE` name.
    pub symbol_holding: Option<(String, Option<String>)>,
}

impl ToolAnswer {
    /// The frame is of a line row past its unit's ranges, which BFD finds
    /// and llvm does not.
    pub fn past_ranges(&self) -> bool {
        self.frames.first().is_some_and(|f| f.past_ranges)
    }
}

/// One ELF file, asked the way the tools ask it.
pub struct ToolLines {
    lines: Lines,
    relocatable: bool,
    symbols: Symbols,
}

/// Where the frames come from.
enum Lines {
    Dwarf {
        context: LineContext,
        programs: Programs,
    },
    Table(LineTable),
}

impl std::fmt::Debug for ToolLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source = match &self.lines {
            Lines::Dwarf { context, .. } => context.source(),
            Lines::Table(table) => table.source(),
        };
        f.debug_struct("ToolLines")
            .field("source", &source)
            .finish_non_exhaustive()
    }
}

/// Where the tools read a file's sections: a linked file where it is
/// linked; a relocatable one with `.text` at 0, where its offsets are, and
/// every other section far from it and from each other, so no other code
/// answers for them.
fn placement(file: &DebugFile) -> Placement {
    if !file.is_relocatable() {
        return Placement::Slide(0);
    }
    let mut far = 1u64 << 40;
    let list = file
        .sections()
        .iter()
        .filter(|s| s.is_alloc())
        .map(|s| {
            if s.name == ".text" {
                return (s.name.clone(), 0);
            }
            far += 1 << 32;
            (s.name.clone(), far)
        })
        .collect();
    Placement::Sections(list)
}

impl ToolLines {
    /// Opens an ELF file: linked (an executable, a shared object, a
    /// vmlinux) or relocatable (a `.ko`, whose addresses are read as
    /// offsets in `.text`, as GNU's addr2line reads them).
    pub fn open(path: &Path) -> Result<ToolLines> {
        ToolLines::new(DebugFile::open(path)?)
    }

    /// As [`ToolLines::open`], over a file already read: answers from
    /// its DWARF.
    pub fn new(file: DebugFile) -> Result<ToolLines> {
        let symbols = Symbols::read(&file)?;
        let relocatable = file.is_relocatable();
        let placement = placement(&file);
        let context = LineContext::new(file, placement)?;
        Ok(ToolLines {
            lines: Lines::Dwarf {
                context,
                programs: Programs::default(),
            },
            relocatable,
            symbols,
        })
    }

    /// Answers for `file` from `table`, its tools' line table (built by
    /// [`build_tool_table`] from this file or another of the same
    /// build-id): its DWARF is not read, only its symbol table.
    pub fn with_table(file: &DebugFile, table: LineTable) -> Result<ToolLines> {
        let refuse = |why: &str| Err(debug_error(file.source(), why));
        if !table.is_tools() {
            return refuse("its line table holds the kernel's view, not the tools'");
        }
        if !file
            .build_id_hex()
            .is_some_and(|id| id.eq_ignore_ascii_case(table.build_id()))
        {
            return refuse("the line table given is of another build");
        }
        Ok(ToolLines {
            symbols: Symbols::read(file)?,
            relocatable: file.is_relocatable(),
            lines: Lines::Table(table),
        })
    }

    /// Whether answers come from a line table (not the DWARF).
    pub fn from_table(&self) -> bool {
        matches!(self.lines, Lines::Table(_))
    }

    /// A relocatable object (`.ko`): addresses are `.text` offsets.
    pub fn is_relocatable(&self) -> bool {
        self.relocatable
    }

    /// What the tools find at `addr` (a file address).
    pub fn answer(&mut self, addr: u64) -> Result<ToolAnswer> {
        let frames = match &mut self.lines {
            Lines::Table(table) => table::frames_from(table, addr)?,
            Lines::Dwarf { context, programs } => context
                .with_units(|units, _| frames_in(units, programs, addr))?
                .map_err(|e| debug_error(context.source(), &format!("at {addr:#x}: {e}")))?,
        };
        // GNU names from the symbol table where DWARF has no function.
        let symbol_before = match frames.first() {
            Some(ToolFrame {
                function: Some(_), ..
            }) => None,
            _ => self
                .symbols
                .before(addr)
                .map(|s| (s.name.clone(), s.file.clone())),
        };
        Ok(ToolAnswer {
            frames,
            in_section: self.symbols.section_of(addr).is_some(),
            symbol_before,
            symbol_holding: self
                .symbols
                .holding(addr)
                .map(|s| (s.name.clone(), s.file.clone())),
        })
    }
}

/// The frames at `probe` from the first unit with a line or a function
/// there.
fn frames_in(
    units: &mut Units,
    programs: &mut Programs,
    probe: u64,
) -> std::result::Result<Vec<ToolFrame>, gimli::Error> {
    if probe == u64::MAX {
        return Ok(Vec::new());
    }
    if units.whole_only() {
        return frames_at(units.whole()?, programs, probe);
    }
    for unit in units.candidates(probe) {
        let frames = frames_at(units.context(unit)?, programs, probe)?;
        if !frames.is_empty() {
            return Ok(frames);
        }
    }
    // BFD holds a unit to cover its line sequences too: the last row of a
    // unit may run past its ranges (into the padding after its code).
    let Some((_, end, unit)) = units.preceding(probe) else {
        return Ok(Vec::new());
    };
    let ctx = units.context(unit)?;
    let Some(unit) = ctx.find_dwarf_and_unit(end - 1).skip_all_loads() else {
        return Ok(Vec::new());
    };
    Ok(match programs.row(unit, probe)? {
        Some((line, discriminator, file)) if line != 0 => vec![ToolFrame {
            function: None,
            standard_file: None,
            file,
            line,
            discriminator,
            past_ranges: true,
        }],
        _ => Vec::new(),
    })
}

fn frames_at(
    ctx: &addr2line::Context<Reader>,
    programs: &mut Programs,
    probe: u64,
) -> std::result::Result<Vec<ToolFrame>, gimli::Error> {
    let Some(unit) = ctx.find_dwarf_and_unit(probe).skip_all_loads() else {
        return Ok(Vec::new());
    };
    let mut frames = Vec::new();
    let mut iter = ctx.find_frames(probe).skip_all_loads()?;
    while let Some(frame) = iter.next()? {
        let function = match &frame.function {
            Some(name) => Some(name.raw_name()?.into_owned()),
            None => None,
        };
        let location = frame.location.as_ref();
        let standard_file = location.and_then(|l| l.file);
        frames.push(ToolFrame {
            function,
            file: match standard_file {
                Some(path) => Some(programs.gnu_path(unit, path)?),
                None => None,
            },
            standard_file: standard_file.map(str::to_string),
            line: location.and_then(|l| l.line).unwrap_or(0),
            discriminator: 0,
            past_ranges: false,
        });
    }
    if let Some(inner) = frames.first_mut() {
        if inner.line != 0 {
            let (discriminator, file) = programs.innermost(unit, probe)?;
            inner.discriminator = discriminator;
            inner.file = file.or(inner.file.take());
        }
    }
    Ok(frames)
}
