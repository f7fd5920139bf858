//! `ksym snapshot save` and `ksym snapshot check`: write the loaded symbols
//! as a snapshot file, or verify one and print what it describes.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ksym::snapshot::{Identity, OpenOptions};
use ksym::SymbolTable;

use super::common::print_identity;
use crate::source::Loaded;
use crate::CliResult;

/// `snapshot check`, which loads no other symbols.
pub(crate) fn check(file: &Path) -> CliResult<ExitCode> {
    let (table, identity) = ksym::snapshot::open(file, OpenOptions { verify: true })?;
    println!(
        "{}: a valid snapshot of {} symbols",
        file.display(),
        table.len()
    );
    print_identity(&mut std::io::stdout(), &identity)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn save(loaded: &Loaded, output: &Path, out: &mut dyn Write) -> CliResult<ExitCode> {
    let table = &loaded.table;
    ksym::snapshot::save(table, &identity(loaded), output)?;
    writeln!(
        out,
        "saved {} symbols to {} (mode 0600)",
        table.len(),
        output.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// What the snapshot of `loaded` says it describes (the KASLR slide from
/// `_text` when the source did not give it).
pub(crate) fn identity(loaded: &Loaded) -> Identity {
    let mut identity = loaded.identity.clone().unwrap_or_default();
    if identity.kaslr_slide.is_none() {
        identity.kaslr_slide = kaslr_slide(&loaded.table);
    }
    identity
}

/// `_text` against its architecture's link address, where that is known.
fn kaslr_slide(table: &SymbolTable) -> Option<i64> {
    let text = table.find_in(None, "_text").next()?;
    ksym::host::kaslr_slide_of_text(text.start)
}
