//! The live kernel (or a fake root's) procfs to a table: `/proc/kallsyms`
//! parsed while another thread reads it, with `/proc/modules` and
//! `/sys/module/*/sections` bounding module symbols.

use std::path::Path;

use super::text::{finish, no_symbols_ahead, parse_in_parts};
use super::LoadOptions;
use crate::error::{Error, LineError, Result};
use crate::parse::{separate_module_areas, ModuleMap, Parser};
use crate::read::file::io_err;
use crate::read::limit::HEAD_BYTES;
use crate::read::{stream_chunks, Limit};
use crate::table::{SymbolTable, TableBuilder};

/// Reads a procfs symbol file the faster way for this machine: with two
/// threads allowed (and CPUs for them), parsing on this thread while another
/// reads ([`load_streaming`]); else reading it whole, then parsing.
pub fn load_procfs(
    path: &Path,
    opts: &LoadOptions,
    kptr_restrict: Option<u8>,
) -> Result<SymbolTable> {
    if opts.threads() >= 2 {
        return load_streaming(path, opts, kptr_restrict);
    }
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let (parser, fed, builder) = parse_in_parts(&bytes, opts, 1);
    let name = path.display().to_string();
    finish(&name, parser, fed, builder, opts, Some(kptr_restrict))
}

/// Reads symbol text from a file that is produced as it is read (procfs),
/// parsing on this thread while another thread reads.
pub fn load_streaming(
    path: &Path,
    opts: &LoadOptions,
    kptr_restrict: Option<u8>,
) -> Result<SymbolTable> {
    let mut builder = TableBuilder::new();
    // The live kernel here has ~120k-240k symbols.
    builder.reserve(1 << 17, 6 << 20);
    let mut parser = Parser::new(opts.strict);
    let name = path.display().to_string();
    let limit = Limit::text(opts.max_input_bytes);
    // The same bounds as a file's: the bytes in, and a symbol line in the
    // first megabyte (a FIFO may be endless, or not kallsyms at all).
    let mut taken = 0u64;
    let mut head_checked = false;
    let streamed = stream_chunks(path, |chunk| {
        parser.feed(chunk, &mut builder).map_err(Stop::Line)?;
        taken += chunk.len() as u64;
        if taken > limit.max_bytes {
            return Err(Stop::Other(limit.exceeded(&name, None)));
        }
        if !head_checked && taken >= HEAD_BYTES as u64 {
            head_checked = true;
            if builder.is_empty() {
                return Err(Stop::Other(no_symbols_ahead(&name, taken, &parser)));
            }
        }
        Ok(())
    })?;
    let fed = match streamed {
        Ok(()) => parser.finish(&mut builder),
        Err(Stop::Line(e)) => Err(e),
        Err(Stop::Other(e)) => return Err(e),
    };
    finish(&name, parser, fed, builder, opts, Some(kptr_restrict))
}

/// Why a streamed read stopped early.
enum Stop {
    /// Strict mode: a bad line.
    Line(LineError),
    /// A bound.
    Other(Error),
}

/// `<root>/proc/modules`, with each module's text area bounded by its
/// sections under `<root>/sys/module` when they can be read. The release in
/// `<root>/proc/sys/kernel/osrelease` tells how the kernel lays modules
/// out; without it the bounds stay loose (never too tight). `None` without
/// `/proc/modules`. `root` is `/` for the running kernel.
pub fn read_live_modules(root: &Path) -> Result<Option<ModuleMap>> {
    let Some(mut map) = read_proc_modules(&root.join("proc/modules"))? else {
        return Ok(None);
    };
    let release = std::fs::read_to_string(root.join("proc/sys/kernel/osrelease"));
    let separate = release.is_ok_and(|r| separate_module_areas(r.trim()));
    map.add_sysfs_sections(&root.join("sys/module"), separate)?;
    Ok(Some(map))
}

/// Reads a `/proc/modules`-like file; a missing file is `None`, not an error.
pub fn read_proc_modules(path: &Path) -> Result<Option<ModuleMap>> {
    match ModuleMap::read(path, Limit::text(None)) {
        Ok(map) => Ok(Some(map)),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}
