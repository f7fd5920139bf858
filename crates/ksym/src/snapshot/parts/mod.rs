//! A table split into what boots share and what is theirs alone, and put
//! back together: the core kernel at link-time addresses (the same for every
//! boot of one kernel build), each loadable module at addresses relative to
//! its own memory areas (the same wherever it was loaded), and the boot's
//! own rest: the module map, the table's info and the symbols of no
//! placeable module (BPF programs, ftrace and kprobe pages). An object store
//! keeps each shared part once ([`split`], [`join`]).
//!
//! Per-cpu absolute (`A`) symbols are not slid by KASLR, so the core keeps
//! them where they are. A module symbol is stored as `(k << 32) | offset`
//! from anchor `k` of its module: the area holding it (exact areas, else
//! sections, else the `/proc/modules` base), else the highest anchor below
//! it, else the module's lowest symbol. [`join`] pushes the parts through the
//! same builder a load uses, in the order kallsyms lists them (core, modules,
//! the rest), so ties between aliases keep their order; [`split`] checks that
//! the parts join into a table with the same answers before handing them out.

mod join;
mod lines;
mod split;

pub use join::join;
pub use split::split;

use crate::table::SymbolTable;

/// A table in parts: see the module doc.
#[derive(Debug)]
pub struct TableParts {
    /// Core and built-in module symbols at link-time addresses (the table's
    /// less the KASLR slide, absolute symbols as they are).
    pub core: SymbolTable,
    /// One per placeable loadable module, in the order they come in the table.
    pub modules: Vec<ModulePart>,
    /// The boot's own: its module map and info, and every symbol of no
    /// part above at its own address.
    pub boot: SymbolTable,
}

/// One loadable module's symbols, at addresses relative to its anchors.
#[derive(Debug)]
pub struct ModulePart {
    pub name: String,
    /// Where the module's anchors are in this boot: symbol `(k << 32) |
    /// offset` of [`table`](Self::table) is at `anchors[k] + offset`.
    pub anchors: Vec<u64>,
    /// The module's symbols at relative addresses, each tagged with the
    /// module; its module map is empty, so it is the same for every boot
    /// that loaded the same module build.
    pub table: SymbolTable,
}

/// Whether a core symbol's address moves with the KASLR slide: per-cpu
/// absolute symbols do not.
fn slides(kind: char) -> bool {
    !matches!(kind, 'A' | 'a')
}

/// Modules that are pages of generated code rather than a `.ko`: their
/// symbols come and go with the boot.
fn pseudo_module(name: &str) -> bool {
    name == "bpf" || name.starts_with("__builtin__")
}

#[cfg(test)]
mod tests;
