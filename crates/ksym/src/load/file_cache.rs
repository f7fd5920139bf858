//! The cache behind a saved symbol file (`--kallsyms FILE`, plain or
//! compressed): the table built from it is kept as a snapshot named by a
//! hash of the file's bytes, of the modules list's and of the options that
//! shape the table, so the next run over the same bytes maps the table
//! instead of parsing 100k lines again (Debian's 6.1 kallsyms: 12 ms of a
//! 20 ms run). Keyed by content, never by names or timestamps: a file
//! changed in place, or the same bytes under another name, is told right.
//!
//! Same rules as the live kernel's snapshots ([`crate::snapshot::cache`]): a private
//! directory, files 0600 written by rename; cache trouble costs speed,
//! never an answer. Only the most recent [`KEEP_FILES`] such tables stay.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use xxhash_rust::xxh3::Xxh3;

use super::LoadOptions;
use crate::error::{Error, Result};
use crate::read::{source_name, STDIN};
use crate::snapshot::cache::{ensure_private_dir, is_private_file, CacheOutcome};
use crate::table::SymbolTable;

/// How many tables of saved files the cache keeps (the newest).
pub const KEEP_FILES: usize = 16;

const PREFIX: &str = "file-";
const SUFFIX: &str = ".ksymsnap";

/// The table of the symbol file at `path` (with `opts.modules`, read from
/// `modules`): mapped from the cache in `dir` when the same bytes were
/// loaded with the same options before, else loaded and kept there.
/// Standard input, pipes and files past the text bound are loaded, never
/// cached.
pub fn load_file_cached(
    path: &Path,
    modules: Option<&Path>,
    opts: &LoadOptions,
    dir: Option<&Path>,
) -> Result<(SymbolTable, CacheOutcome)> {
    // A file past the bound is left to the load to refuse, not hashed.
    let bound = crate::read::Limit::text(opts.max_input_bytes).max_bytes;
    let cacheable = |p: &Path| {
        p != Path::new(STDIN) && std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() <= bound)
    };
    let Some(dir) = dir.filter(|_| cacheable(path) && modules.is_none_or(cacheable)) else {
        return Ok((super::load_file(path, opts)?, CacheOutcome::Disabled));
    };
    let key = key_of(path, modules, opts)?;
    let file = dir.join(format!("{PREFIX}{key:032x}{SUFFIX}"));
    let looked = ensure_private_dir(dir).and_then(|()| is_private_file(&file));
    if let Ok(true) = looked {
        if let Ok((mut table, _)) =
            crate::snapshot::open(&file, crate::snapshot::OpenOptions::default())
        {
            // The same bytes may have had another name when kept.
            table.info.source = source_name(path);
            return Ok((table, CacheOutcome::Hit(file)));
        }
    }
    let table = super::load_file(path, opts)?;
    let stored = looked
        .and_then(|_| crate::snapshot::save(&table, &crate::snapshot::Identity::default(), &file));
    let outcome = match stored {
        Ok(()) => {
            keep_newest(dir, KEEP_FILES);
            CacheOutcome::Stored(file)
        }
        Err(e) => CacheOutcome::Unusable(e.to_string()),
    };
    Ok((table, outcome))
}

/// The hash naming a file's table: its bytes, the modules list's, the
/// options that change the table, and this ksym's version (a newer one
/// may parse the same bytes better).
fn key_of(path: &Path, modules: Option<&Path>, opts: &LoadOptions) -> Result<u128> {
    let mut key = Xxh3::new();
    key.update(env!("CARGO_PKG_VERSION").as_bytes());
    key.update(&[u8::from(opts.strict)]);
    key.update(&opts.max_input_bytes.unwrap_or(0).to_le_bytes());
    for p in std::iter::once(path).chain(modules) {
        let mut f = File::open(p).map_err(|source| Error::Io {
            path: p.to_path_buf(),
            source,
        })?;
        let mut buf = vec![0u8; 1 << 16];
        let mut len = 0u64;
        loop {
            let n = f.read(&mut buf).map_err(|source| Error::Io {
                path: p.to_path_buf(),
                source,
            })?;
            if n == 0 {
                break;
            }
            key.update(&buf[..n]);
            len += n as u64;
        }
        // Lengths between the files, so that bytes moved from one to the
        // next make another key.
        key.update(&len.to_le_bytes());
    }
    Ok(key.digest128())
}

/// Removes all but the `keep` newest tables of saved files (our own plain
/// files only).
fn keep_newest(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(PREFIX) && name.ends_with(SUFFIX)
        })
        .filter_map(|e| {
            let meta = std::fs::symlink_metadata(e.path()).ok()?;
            meta.is_file()
                .then(|| Some((meta.modified().ok()?, e.path())))?
        })
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, old) in files.drain(keep..) {
        let _ = std::fs::remove_file(old);
    }
}
