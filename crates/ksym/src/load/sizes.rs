//! Real sizes for a loaded table from the files a user names: a vmlinux
//! (`--vmlinux`: its ELF symbol sizes, kept per build-id in the cache) and
//! modules' `.ko` files (`--ko`: sizes, and the text areas they lay out).
//! One place for the command, the C ABI's and Python's openers.

use std::path::PathBuf;

use crate::error::Result;
use crate::read::Limit;
use crate::snapshot::cache::{vmlinux_sized_symbols, CacheOutcome};
use crate::table::elf_sizes::apply_modules;
use crate::table::SymbolTable;

/// What to take real sizes from.
#[derive(Debug, Clone, Default)]
pub struct SizeFiles {
    pub vmlinux: Option<PathBuf>,
    pub ko: Vec<PathBuf>,
    /// Where the vmlinux's sizes are cached (`None`: not cached).
    pub cache_dir: Option<PathBuf>,
    /// The bound on each file read.
    pub limit: Option<u64>,
}

impl SizeFiles {
    /// Whether there is nothing to take sizes from.
    pub fn is_empty(&self) -> bool {
        self.vmlinux.is_none() && self.ko.is_empty()
    }
}

/// `table` with the real sizes of `files`, and a sentence for each thing
/// that did not stop it but a user would want to know (a file's sizes not
/// cached, nothing matched, a module's text area unknown). A file that
/// cannot be read is the error.
pub fn with_real_sizes(
    mut table: SymbolTable,
    files: &SizeFiles,
) -> Result<(SymbolTable, Vec<String>)> {
    let limit = Limit::binary(files.limit);
    let mut notes = Vec::new();
    if let Some(path) = &files.vmlinux {
        let (sized, outcome) = vmlinux_sized_symbols(path, files.cache_dir.as_deref(), limit)?;
        if let CacheOutcome::Unusable(why) = outcome {
            notes.push(format!(
                "{}: its sizes are not cached: {why}",
                path.display()
            ));
        }
        let sizes = sized.sizes_for(&table);
        if sizes.is_empty() {
            notes.push(format!("{}: no core symbol matched", path.display()));
        }
        table = table.with_real_sizes(&sizes);
    }
    if !files.ko.is_empty() {
        let kos = files
            .ko
            .iter()
            .map(|p| crate::parse::elf::read_elf_within(p, limit))
            .collect::<Result<Vec<_>>>()?;
        let (sized, reports) = apply_modules(table, &kos);
        for r in &reports {
            if r.matched == 0 {
                notes.push(format!(
                    "no loaded symbol of module {} matched its .ko",
                    r.module
                ));
            }
            if let Some(why) = &r.text_area_problem {
                notes.push(format!(
                    "module {}: its text area is not known: {why}",
                    r.module
                ));
            }
        }
        table = sized;
    }
    Ok((table, notes))
}
