//! Stage 3 (feature `dwarf`), source lines: for an address, the source
//! file, line and column and the chain of inlined calls, from the DWARF of
//! a vmlinux or a module `.ko`. Takes paths (and what [`crate::parse`]
//! knows of module layouts); gives plain [`SourceFrame`]s. Finding the debug
//! files (distribution paths, debuginfod) is not this stage's business.
//!
//! ```no_run
//! use ksym::lines::{DebugFile, KernelFacts, SourceLines};
//! let mut lines = SourceLines::new();
//! let vmlinux = DebugFile::open("/usr/lib/debug/boot/vmlinux-6.1.0-57-cloud-amd64".as_ref())?;
//! let facts = KernelFacts { build_id: Some("01d2640d3a13145ee314eb05b155f141b7b7058b"), text: Some(0xffffffffad000000) };
//! lines.set_vmlinux(vmlinux, facts)?;
//! for frame in lines.frames(0xffffffffad123456)? {
//!     println!("{frame}"); // `foo at fs/xfs/xfs_inode.c:123:4` (innermost first)
//! }
//! # Ok::<(), ksym::Error>(())
//! ```
//!
//! Why it is built this way:
//! - **Files** ([`DebugFile`]): plain files are mapped (a distro vmlinux is
//!   590 MB, of which a lookup touches a few MB); `.ko.xz`/`.zst`/`.gz` are
//!   decompressed by [`crate::read`] within its bound on binary files.
//!   `SHF_COMPRESSED` debug sections (zlib, zstd) are decompressed when the
//!   context is built, held to the size their header promises (which must
//!   be the size they come to) and to the crate's expansion ratio.
//! - **Relocations**: a `.ko` is `ET_REL`, every section at address 0 and
//!   its DWARF's addresses and string offsets in `.rela.debug_*`: those are
//!   applied (`R_X86_64_64`, `_32`, `_32S`, aarch64's `ABS64`/`ABS32`; any
//!   other type is an error naming the file, never a guess) with each
//!   section's load address. A linked vmlinux (`ET_EXEC`/`ET_DYN`) may keep
//!   `.rela.debug_*` too (Debian's holds 255 MB of them, from
//!   `--emit-relocs`); they are already applied and are never read: applying
//!   them costs seconds and a GiB per process.
//! - **Modules are looked up at their load addresses**, not at
//!   section-relative offsets: a `.ko`'s code sections (`.text`,
//!   `.text.unlikely`, `.exit.text`, ...) all start at 0, so an offset alone
//!   cannot say which one it is in. The DWARF is relocated with the address
//!   each section was loaded at ([`Placement::Sections`]; live from
//!   `/sys/module/M/sections/*`, off-line from the module's areas by
//!   [`module_section_addresses`]), so an address from a stack or kallsyms
//!   is asked as it is and lands in the right section.
//! - **The core kernel** is looked up at its link-time addresses: the
//!   KASLR slide is where kallsyms puts `_text` less the vmlinux's own
//!   `_text` ([`kaslr_slide`]), never read from `/proc/kcore`. A vmlinux
//!   whose build-id is not the kernel's is refused ([`check_build_id`]).
//! - **Lookup** is the `addr2line` crate's lazy context over gimli (it
//!   parses a compilation unit's lines and functions only when an address
//!   falls in it), one per unit: `.debug_aranges` says which unit holds an
//!   address, and that unit gets a context over `.debug_info` cut to it,
//!   made on the first address in it. One context over the whole file
//!   would first parse every unit's abbreviations and root entry (0.49 s
//!   of a first question on Debian's vmlinux; 0.09 s this way). Units that
//!   may refer into other units (`DW_FORM_ref_addr`) are asked through a
//!   whole-file context. Nothing is read when the file is opened beyond its
//!   headers, so [`LineContext`] is cheap to make for every module.
//! - **Names** are DWARF's for the subprogram or inlined subroutine (`foo`
//!   where kallsyms says `foo.cold` or `foo.isra.0`); Rust names are
//!   demangled (`rustc-demangle`, small), C++ ones are left as they are.
//! - **Paths** are as the kernel prints them, relative to the build
//!   directory (`fs/xfs/xfs_inode.c`). The data decides: Debian's units
//!   record `DW_AT_comp_dir` as the build directory, relative
//!   (`debian/build/build_amd64_none_cloud-amd64`) for C and absolute
//!   (`/build/reproducible-path/linux-6.1.192/debian/build/...`) for
//!   assembler, and their line tables' directories relative to it
//!   (`fs/xfs`, `include/linux`, `fs/xfs/.`). So the unit's `comp_dir` is
//!   never prefixed (where a tool joins it, it is taken off again), `.`
//!   components are dropped, and paths outside the build directory (GCC's
//!   own headers) stay absolute.
//! - **No line, no frames**: where no line row covers the address
//!   (`.static_call.text` trampolines, `.altinstr_replacement`), the answer
//!   is empty, even when a function's range covers it.

mod batch;
mod compat;
mod context;
mod file;
mod kernel;
mod layout;
mod relocate;
mod table;
#[cfg(test)]
mod tests;
mod units;

pub use compat::{
    build_tool_table, parse_address, Flavour, Style, ToolAnswer, ToolFrame, ToolLines,
};
pub use context::{LineContext, Reader, SectionBytes};
pub use file::{DebugFile, FileSection};
pub use kernel::{check_build_id, kaslr_slide, KernelFacts, SourceLines};
pub use layout::module_section_addresses;
pub use table::{
    build as build_line_table, FrameRef, LineTable, TableFrames, INLINE_DEPTH, LINE_TABLE_VERSION,
    ROWS_PER_BLOCK,
};

use std::fmt;

/// Where a linked kernel or a module's sections are in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// A linked kernel (vmlinux): its own addresses plus this (KASLR) slide
    /// (wrapping).
    Slide(u64),
    /// A `.ko`: each section's load address, by name. A section left out
    /// (init code freed after load) stays at 0, where no kernel address is.
    Sections(Vec<(String, u64)>),
}

impl Placement {
    /// Where section `name` is (0 when the placement does not say).
    pub(crate) fn address_of(&self, name: &str) -> u64 {
        match self {
            Placement::Slide(slide) => *slide,
            Placement::Sections(list) => {
                list.iter().find(|(n, _)| n == name).map_or(0, |(_, a)| *a)
            }
        }
    }
}

/// One frame of source: a function (or inlined call of one) and the place
/// in the source the address comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFrame {
    /// DWARF's name of the subprogram or inlined subroutine.
    pub function: Option<String>,
    /// The source file, relative to the build directory where it is in it.
    pub file: Option<String>,
    pub line: Option<u32>,
    /// `None` when the compiler gave none (or 0, the line's start).
    pub column: Option<u32>,
    /// Inlined into the next frame (every frame but the last).
    pub inlined: bool,
    /// The source line's text, where the debug info keeps it (a BPF
    /// program's BTF does; DWARF does not).
    pub source: Option<String>,
}

impl fmt::Display for SourceFrame {
    /// `foo at fs/xfs/xfs_inode.c:123:4`, `inlined ` before an inlined one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.inlined {
            f.write_str("inlined ")?;
        }
        write!(
            f,
            "{} at {}",
            self.function.as_deref().unwrap_or("??"),
            self.file.as_deref().unwrap_or("??")
        )?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}
