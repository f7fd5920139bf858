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
//! The modules follow the data's path: [`source`] (bytes in) ->
//! [`parse`] (lines) -> [`table`] (sorted arrays, one name arena, lookups),
//! with [`modules`] giving module extents and [`host`] what the running
//! kernel tells about itself.

mod attach;
pub mod builtin;
pub mod cache;
mod column;
pub mod decode;
pub mod dump;
pub mod elf;
pub mod error;
pub mod host;
pub mod image;
pub mod live;
pub mod modules;
mod names;
pub mod parse;
pub mod snapshot;
pub mod source;
pub mod stack;
pub mod table;

pub use attach::ModuleRange;
pub use error::{Error, LineError, LineErrorKind, ResolveErrorKind, Result};
pub use host::HostKernel;
pub use image::{kallsyms_from_image, load_image};
pub use live::KernelSymbols;
pub use modules::{ModuleArea, ModuleInfo, ModuleMap};
pub use names::{DupInfo, Qualifier, CORE_MODULE};
pub use parse::{FormatSeen, SkippedLines};
pub use source::{load_file, load_live, load_streaming, parse_bytes, LoadOptions};
pub use stack::{AddrKind, Frame, Frames, Symbolizer};
pub use table::{Symbol, SymbolId, SymbolRef, SymbolTable, TableBuilder, TableInfo};
