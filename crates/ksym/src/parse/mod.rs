//! Stage 2, text and binary formats to raw symbols and facts.
//!
//! Takes bytes from [`crate::read`]; gives symbol lines to a `SymbolSink`
//! (the table's builder) and facts as plain values:
//! - [`kallsyms`]: the one line grammar of `/proc/kallsyms`, `System.map`,
//!   `/proc/kallmodsyms` and `path:name`, parsed chunk by chunk;
//! - [`modules`]: `/proc/modules`, `/sys/module/*/sections` and module
//!   layout tables, the areas that bound module symbols;
//! - [`builtin`]: `modules.builtin`, `.modinfo` and `.ranges`;
//! - [`elf`]: ELF symbol tables of a vmlinux or `.ko`, and `modules.dep`;
//! - [`module_text`]: a `.ko`'s code as the module loader lays it out;
//! - [`lists`]: the first megabyte of a list file, which must hold a line
//!   of its kind;
//! - [`image`]: the kallsyms tables inside a kernel image;
//! - [`notes`]: GNU build-ids in ELF notes;
//! - [`btf`]: the kernel's BTF, for the BPF ksym iterator's field offsets,
//!   and a BPF program's, for its lines;
//! - [`bpf_lines`]: a loaded BPF program's code to its source lines.
//!
//! Nothing here knows the table.

pub mod arch;
pub mod bpf_lines;
pub mod btf;
pub mod builtin;
pub mod elf;
pub mod image;
pub mod kallsyms;
pub mod lists;
pub mod module_text;
pub mod modules;
pub mod notes;

pub(crate) use kallsyms::{
    parse_checked_line, split_path_name, ModuleFields, Parser, RawSymbol, SymbolSink,
};
pub use kallsyms::{FormatSeen, SkippedLines, CORE_MODULE, MAX_LINE_LEN, MAX_NAME_LEN};
pub use modules::{separate_module_areas, ModuleArea, ModuleInfo, ModuleMap};
