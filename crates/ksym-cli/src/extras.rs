//! What the `ksym` command adds to a loaded table from ELF files and
//! module lists: --vmlinux, --ko, --ko-from-modules-dep, --builtin-ranges,
//! and the built-in modules that `info` lists.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ksym::{HostKernel, SymbolTable};

use crate::{Cli, CliResult};

/// Whether a file is an ELF object (a vmlinux given as --kallsyms).
pub(crate) fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// `/lib/modules/$(uname -r)` of the running kernel, for the live source.
pub(crate) fn live_modules_dir() -> Option<PathBuf> {
    HostKernel::discover()
        .release
        .map(|r| ksym::elf::modules_dir(&r))
}

/// Attaches what --vmlinux, --ko, --ko-from-modules-dep and
/// --builtin-ranges give to the loaded table.
pub(crate) fn enrich(cli: &Cli, table: Arc<SymbolTable>) -> CliResult<Arc<SymbolTable>> {
    if cli.ko.is_empty()
        && cli.vmlinux.is_none()
        && cli.ko_from_modules_dep.is_none()
        && cli.builtin_ranges.is_none()
    {
        return Ok(table);
    }
    let mut t = Arc::try_unwrap(table).unwrap_or_else(|shared| (*shared).clone());
    if let Some(path) = &cli.vmlinux {
        let elf = ksym::elf::read_elf(path)?;
        let sizes = ksym::elf::vmlinux_sizes(&t, &elf);
        if sizes.is_empty() {
            eprintln!("ksym: {}: no core symbol matched", path.display());
        }
        t = t.with_real_sizes(&sizes);
    }
    if !cli.ko.is_empty() {
        let kos = cli
            .ko
            .iter()
            .map(|p| ksym::elf::read_elf(p))
            .collect::<Result<Vec<_>, _>>()?;
        let (sized, reports) = ksym::elf::apply_modules(t, &kos);
        for r in reports.iter().filter(|r| r.matched == 0) {
            eprintln!(
                "ksym: no loaded symbol of module {} matched its .ko",
                r.module
            );
        }
        t = sized;
    }
    if let Some(dir) = &cli.ko_from_modules_dep {
        let dir = match dir {
            Some(d) => d.clone(),
            None => live_modules_dir().ok_or("cannot tell the kernel release")?,
        };
        let (sized, _, errors) = ksym::elf::apply_modules_dep(t, &dir)?;
        for e in errors {
            eprintln!("ksym: skipped: {e}");
        }
        t = sized;
    }
    if let Some(path) = &cli.builtin_ranges {
        let ranges = ksym::builtin::BuiltinRanges::read(path)?;
        let (with, resolved) = ranges.apply(t);
        for why in resolved.skipped {
            eprintln!("ksym: {}: skipped {why}", path.display());
        }
        t = with;
    }
    Ok(Arc::new(t))
}

/// Built-in modules (modules.builtin and its .modinfo) and real sizes, for `info`.
pub(crate) fn print_builtin(
    out: &mut dyn Write,
    cli: &Cli,
    table: &SymbolTable,
    live: bool,
) -> CliResult<()> {
    if table.real_size_count() > 0 {
        writeln!(
            out,
            "real sizes:        {} symbols (from ELF symbol tables)",
            table.real_size_count()
        )?;
    }
    let path = match &cli.modules_builtin {
        Some(p) => p.clone(),
        None if live => match live_modules_dir() {
            Some(d) if d.join("modules.builtin").is_file() => d.join("modules.builtin"),
            _ => return Ok(()),
        },
        None => return Ok(()),
    };
    let mods = ksym::builtin::read_builtin_files(&path)?;
    writeln!(
        out,
        "built-in modules:  {} ({})",
        mods.len(),
        path.display()
    )?;
    let mut line = String::new();
    for m in &mods {
        if !line.is_empty() && line.len() + m.name.len() > 76 {
            writeln!(out, "  {}", line.trim_end_matches(", "))?;
            line.clear();
        }
        line.push_str(&m.name);
        line.push_str(", ");
    }
    if !line.is_empty() {
        writeln!(out, "  {}", line.trim_end_matches(", "))?;
    }
    Ok(())
}
