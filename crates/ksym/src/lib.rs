//! `ksym`: Linux kernel symbols, addresses to names and names to addresses.
//!
//! Build a [`SymbolTable`] once from any symbol source users meet (the live
//! `/proc/kallsyms`, a saved copy, `System.map`, `/proc/kallmodsyms`), then
//! ask it cheap questions that return plain values borrowing from it:
//!
//! ```no_run
//! let table = ksym::load_live(&ksym::LoadOptions::default())?;
//! if let Some(sym) = table.lookup(0xffffffff81000000) {
//!     println!("{sym}"); // `name+0x0/0x10`, like the kernel's %pS
//! }
//! for sym in table.find("init_once") {
//!     println!("{:#x} {:?}", sym.start, sym.module);
//! }
//! # Ok::<(), ksym::Error>(())
//! ```
//!
//! The modules are the stages of the data's path, in order; each imports
//! only the ones above it:
//!
//! 1. [`read`]: bytes in (files, decompression, the live `/proc/kallsyms`).
//! 2. [`parse`]: text and binary formats to raw symbols and facts.
//! 3. `lines` (feature `dwarf`): source file:line and inlined frames from DWARF.
//! 4. [`table`]: the immutable table (sorted arrays, one name arena) and its lookups.
//! 5. [`snapshot`]: the table as a mapped file, and the private cache of them.
//! 6. [`live`]: the running kernel: a self-refreshing handle, host facts.
//! 7. [`symbolize`]: batches of addresses, kernel logs and dumps.
//!
//! [`load`] runs read -> parse -> table for each kind of source.

pub mod error;
#[cfg(feature = "dwarf")]
pub mod lines;
pub mod live;
pub mod load;
pub mod parse;
pub mod read;
pub mod snapshot;
pub mod symbolize;
pub mod table;

pub use error::{Error, LineError, LineErrorKind, ResolveErrorKind, Result};
pub use live::host::HostKernel;
pub use live::KernelSymbols;
pub use load::{load_file, load_image, load_live, load_streaming, parse_bytes, LoadOptions};
pub use parse::builtin::ModuleRange;
pub use parse::image::kallsyms_from_image;
pub use parse::{FormatSeen, ModuleArea, ModuleInfo, ModuleMap, SkippedLines};
pub use symbolize::stack::{AddrKind, Frame, Frames, Symbolizer};
pub use table::{
    DupInfo, Qualifier, Symbol, SymbolId, SymbolRef, SymbolTable, TableBuilder, TableInfo,
    CORE_MODULE,
};

// The paths of earlier releases, kept so that code written against them
// still compiles.
pub use live::host;
pub use parse::{builtin, image, modules};
pub use snapshot::cache;
pub use symbolize::{decode, dump, stack};

/// ELF symbol tables and real sizes (earlier path): [`parse::elf`],
/// [`table::elf_sizes`] and [`load::elf`] in one place.
pub mod elf {
    pub use crate::load::elf::*;
    pub use crate::parse::elf::*;
    pub use crate::table::elf_sizes::*;
    pub use crate::table::sized_symbols::*;
}

/// Where symbol text comes from (earlier path): [`read`] and [`load`].
pub mod source {
    pub use crate::load::{
        load_file, load_ksym_iter, load_live, load_procfs, load_streaming, parse_bytes,
        read_live_modules, read_proc_modules, LoadOptions,
    };
    pub use crate::read::*;
}
