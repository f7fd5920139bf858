//! The snapshot cache behind the default live source: read `/proc/kallsyms`
//! once per boot and module set, then start from a mapped snapshot.
//!
//! Staleness is decided by content, never timestamps (procfs has none that
//! mean anything): a cached snapshot serves only if its [`Identity`] matches
//! the running kernel's boot id, release, build-id, module set and BPF
//! program set.
//!
//! Addresses defeat KASLR, so the cache is private: a 0700 directory owned
//! by the current user (created so if missing), files created 0600 by
//! rename from a fresh temporary file. A directory or file that is a symlink,
//! belongs to someone else or is open to others is refused. A cache that
//! cannot be read or written costs speed, never an answer: callers get the
//! table either way, and the outcome says what happened.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::snapshot::{self, Identity};
use crate::table::sized_symbols::SizedSymbols;
use crate::table::SymbolTable;

/// Environment variable naming the cache directory; `off` (or empty)
/// turns the cache off.
pub const CACHE_ENV: &str = "KSYM_CACHE_DIR";

/// Where the cache lives, or `None` when turned off.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(v) = std::env::var_os(CACHE_ENV) {
        return (!v.is_empty() && v != "off").then(|| PathBuf::from(v));
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x).join("ksym"));
    }
    if current_uid() == 0 {
        return Some(PathBuf::from("/var/cache/ksym"));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".cache/ksym"))
}

fn current_uid() -> u32 {
    // The owner of /proc/self is the process's effective uid.
    std::fs::metadata("/proc/self").map_or(u32::MAX, |m| m.uid())
}

/// What the cache did for one open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    /// The cache is turned off.
    Disabled,
    /// A matching snapshot was mapped.
    Hit(PathBuf),
    /// No matching snapshot: the table was built and written to the cache.
    Stored(PathBuf),
    /// The table was built, but the cache could not be used (the reason).
    Unusable(String),
}

/// Whether a cached snapshot's identity still describes the running kernel.
pub fn matches(cached: &Identity, now: &Identity) -> bool {
    cached.boot_id.is_some()
        && cached.boot_id == now.boot_id
        && cached.release == now.release
        && cached.build_id == now.build_id
        && cached.modules == now.modules
        && cached.bpf == now.bpf
}

/// Makes sure `dir` is a private directory of the current user: creates it
/// 0700 if missing; refuses a symlink, another owner, or access for others.
pub fn ensure_private_dir(dir: &Path) -> Result<()> {
    let unsafe_path = |reason| Error::UnsafePath {
        path: dir.to_path_buf(),
        reason,
    };
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Every directory made 0700, parents too: a snapshot directory
            // may sit inside another (see LiveConfig::snapshot_cache_dir).
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|source| Error::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(
                |source| Error::Io {
                    path: dir.to_path_buf(),
                    source,
                },
            )?;
            ensure_private_dir_exists(dir)
        }
        Err(source) => Err(Error::Io {
            path: dir.to_path_buf(),
            source,
        }),
        Ok(m) if m.file_type().is_symlink() => Err(unsafe_path("it is a symbolic link")),
        Ok(_) => ensure_private_dir_exists(dir),
    }
}

fn ensure_private_dir_exists(dir: &Path) -> Result<()> {
    let unsafe_path = |reason| Error::UnsafePath {
        path: dir.to_path_buf(),
        reason,
    };
    let m = std::fs::symlink_metadata(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    if m.file_type().is_symlink() {
        return Err(unsafe_path("it is a symbolic link"));
    }
    if !m.is_dir() {
        return Err(unsafe_path("it is not a directory"));
    }
    if m.uid() != current_uid() {
        return Err(unsafe_path("it belongs to another user"));
    }
    if m.mode() & 0o077 != 0 {
        return Err(unsafe_path("others can access it (want mode 0700)"));
    }
    Ok(())
}

/// The cache file for a boot.
pub fn cache_file(dir: &Path, identity: &Identity) -> PathBuf {
    let boot = identity
        .boot_id
        .as_deref()
        .unwrap_or("unknown")
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
    dir.join(format!("kallsyms-{boot}.ksym"))
}

/// Opens a cached snapshot if one matches `now`, checking that the file is
/// ours and private.
pub fn lookup(dir: &Path, now: &Identity) -> Result<Option<SymbolTable>> {
    ensure_private_dir(dir)?;
    let path = cache_file(dir, now);
    if !is_private_file(&path)? {
        return Ok(None);
    }
    let (table, cached) = snapshot::open(&path, snapshot::OpenOptions::default())?;
    Ok(matches(&cached, now).then_some(table))
}

/// Whether `path` is there: `false` when missing, an error unless it is a
/// plain file of ours that no one else can read.
pub(crate) fn is_private_file(path: &Path) -> Result<bool> {
    let m = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let unsafe_path = |reason| Error::UnsafePath {
        path: path.to_path_buf(),
        reason,
    };
    if m.file_type().is_symlink() || !m.is_file() {
        return Err(unsafe_path("it is not a plain file"));
    }
    if m.uid() != current_uid() || m.mode() & 0o077 != 0 {
        return Err(unsafe_path(
            "it belongs to another user or others can read it",
        ));
    }
    Ok(true)
}

/// The line table file for a kernel build (one per build-id: it holds
/// link-time addresses, good for every boot of that build).
#[cfg(feature = "dwarf")]
pub fn line_table_file(dir: &Path, build_id: &str) -> PathBuf {
    table_file(dir, build_id, false)
}

/// The tools' line table file (`ksym addr2line`'s) of any ELF file by its
/// build-id.
#[cfg(feature = "dwarf")]
pub fn tool_table_file(dir: &Path, build_id: &str) -> PathBuf {
    table_file(dir, build_id, true)
}

#[cfg(feature = "dwarf")]
fn table_file(dir: &Path, build_id: &str, tools: bool) -> PathBuf {
    let id = build_id.replace(|c: char| !c.is_ascii_hexdigit(), "_");
    let kind = if tools { "addr2line" } else { "lines" };
    dir.join(format!("{kind}-{}.ksymlines", id.to_ascii_lowercase()))
}

/// The cached line table of build `build_id`, mapped and checked; `None`
/// when there is none (a damaged one is an error naming the file).
#[cfg(feature = "dwarf")]
pub fn lookup_line_table(dir: &Path, build_id: &str) -> Result<Option<crate::lines::LineTable>> {
    lookup_table(dir, build_id, false)
}

/// The cached tools' line table of build `build_id`, as
/// [`lookup_line_table`].
#[cfg(feature = "dwarf")]
pub fn lookup_tool_table(dir: &Path, build_id: &str) -> Result<Option<crate::lines::LineTable>> {
    lookup_table(dir, build_id, true)
}

#[cfg(feature = "dwarf")]
fn lookup_table(
    dir: &Path,
    build_id: &str,
    tools: bool,
) -> Result<Option<crate::lines::LineTable>> {
    ensure_private_dir(dir)?;
    let path = table_file(dir, build_id, tools);
    if !is_private_file(&path)? {
        return Ok(None);
    }
    let table = crate::lines::LineTable::open(&path)?;
    if !table.build_id().eq_ignore_ascii_case(build_id) || table.is_tools() != tools {
        return Err(Error::UnsafePath {
            path,
            reason: "it holds another build's line table, or another kind",
        });
    }
    Ok(Some(table))
}

/// Keeps `table` (either kind) in the cache (0600, written atomically)
/// under its build-id.
#[cfg(feature = "dwarf")]
pub fn store_line_table(dir: &Path, table: &crate::lines::LineTable) -> Result<PathBuf> {
    ensure_private_dir(dir)?;
    let path = table_file(dir, table.build_id(), table.is_tools());
    snapshot::write_atomically(&path, table.as_bytes())?;
    Ok(path)
}

/// The real-sizes file of a kernel build (link-time addresses, so one per
/// build-id, like its line table).
pub fn sizes_file(dir: &Path, build_id: &str) -> PathBuf {
    let id = build_id.replace(|c: char| !c.is_ascii_hexdigit(), "_");
    dir.join(format!("sizes-{}.ksymsizes", id.to_ascii_lowercase()))
}

/// The cached real sizes of build `build_id`, mapped and checked; `None`
/// when there are none (a damaged file is an error naming it).
pub fn lookup_sized_symbols(dir: &Path, build_id: &str) -> Result<Option<SizedSymbols>> {
    ensure_private_dir(dir)?;
    let path = sizes_file(dir, build_id);
    if !is_private_file(&path)? {
        return Ok(None);
    }
    let sizes = SizedSymbols::open(&path)?;
    if !sizes
        .build_id_hex()
        .is_some_and(|id| id.eq_ignore_ascii_case(build_id))
    {
        return Err(Error::UnsafePath {
            path,
            reason: "it holds another build's sizes",
        });
    }
    Ok(Some(sizes))
}

/// The real sizes of the vmlinux at `path`: cached in `dir` by its
/// build-id when they are there (the file's symbol table is not read),
/// else read from it and kept for next time. Cache trouble never fails the
/// call; the outcome says what happened.
pub fn vmlinux_sized_symbols(
    path: &Path,
    dir: Option<&Path>,
    limit: crate::read::Limit,
) -> Result<(SizedSymbols, CacheOutcome)> {
    let name = crate::read::source_name(path);
    let bytes = crate::read::map_within(path, limit)?;
    let id = crate::parse::elf::build_id_hex(&name, bytes.bytes())?;
    let (Some(dir), Some(id)) = (dir, id) else {
        let elf = crate::parse::elf::parse_elf(&name, bytes.bytes())?;
        let outcome = match dir {
            None => CacheOutcome::Disabled,
            Some(_) => {
                CacheOutcome::Unusable(format!("{name} has no build-id to keep its sizes by"))
            }
        };
        return Ok((SizedSymbols::from_elf(&elf), outcome));
    };
    let lookup_error = match lookup_sized_symbols(dir, &id) {
        Ok(Some(sizes)) => return Ok((sizes, CacheOutcome::Hit(sizes_file(dir, &id)))),
        Ok(None) => None,
        Err(e) => Some(e.to_string()),
    };
    let sizes = SizedSymbols::from_elf(&crate::parse::elf::parse_elf(&name, bytes.bytes())?);
    let stored = ensure_private_dir(dir).and_then(|()| {
        let file = sizes_file(dir, &id);
        snapshot::write_atomically(&file, sizes.as_bytes())?;
        Ok(file)
    });
    let outcome = match (stored, lookup_error) {
        (Ok(file), _) => CacheOutcome::Stored(file),
        (Err(e), None) => CacheOutcome::Unusable(e.to_string()),
        (Err(e), Some(before)) => CacheOutcome::Unusable(format!("{before}; {e}")),
    };
    Ok((sizes, outcome))
}

/// Writes `table` as the cache entry for `identity`.
pub fn store(dir: &Path, identity: &Identity, table: &SymbolTable) -> Result<PathBuf> {
    ensure_private_dir(dir)?;
    let path = cache_file(dir, identity);
    let mut identity = identity.clone();
    identity.created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs());
    snapshot::save(table, &identity, &path)?;
    remove_other_boots(dir, &path);
    Ok(path)
}

/// Removes the snapshots of earlier boots from `dir` (all but `keep`): a
/// boot id never comes back, so they can never match again, and each holds
/// addresses that defeat that boot's KASLR. Only our own plain files named
/// like cache entries go; the number removed.
pub fn remove_other_boots(dir: &Path, keep: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let uid = current_uid();
    let mut removed = 0;
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        if path == keep || !name.starts_with("kallsyms-") || !name.ends_with(".ksym") {
            continue;
        }
        let ours = std::fs::symlink_metadata(&path)
            .is_ok_and(|m| m.file_type().is_file() && m.uid() == uid);
        if ours && std::fs::remove_file(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The cache in one call: a mapped snapshot when one matches `now`, else
/// `build()`, stored for next time. Cache trouble never fails the call.
pub fn load_or_build(
    dir: Option<&Path>,
    now: &Identity,
    build: impl FnOnce() -> Result<SymbolTable>,
) -> Result<(SymbolTable, CacheOutcome)> {
    let Some(dir) = dir else {
        return Ok((build()?, CacheOutcome::Disabled));
    };
    if now.boot_id.is_none() {
        return Ok((
            build()?,
            CacheOutcome::Unusable("no boot id: cannot tell a stale cache".into()),
        ));
    }
    let lookup_error = match lookup(dir, now) {
        Ok(Some(table)) => return Ok((table, CacheOutcome::Hit(cache_file(dir, now)))),
        Ok(None) => None,
        Err(e) => Some(e.to_string()),
    };
    let table = build()?;
    let outcome = match (lookup_error, store(dir, now, &table)) {
        (None, Ok(path)) => CacheOutcome::Stored(path),
        (Some(e), Ok(path)) => {
            // A damaged cache file was replaced.
            let _ = e;
            CacheOutcome::Stored(path)
        }
        (_, Err(e)) => CacheOutcome::Unusable(e.to_string()),
    };
    Ok((table, outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_bytes, LoadOptions};

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ksym-cache-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn table() -> SymbolTable {
        parse_bytes(
            "t",
            b"ffffffff81000000 T _text\nffffffff81000010 T foo\n",
            &LoadOptions::default(),
        )
        .unwrap()
    }

    fn identity() -> Identity {
        Identity {
            boot_id: Some("b00t".into()),
            release: Some("6.18".into()),
            modules: Some(1),
            ..Identity::default()
        }
    }

    #[test]
    fn miss_store_hit_and_stale() {
        let root = temp_dir("flow");
        let dir = root.join("cache");
        let now = identity();
        let (_, o) = load_or_build(Some(&dir), &now, || Ok(table())).unwrap();
        assert!(matches!(o, CacheOutcome::Stored(_)), "{o:?}");
        let mode = std::fs::metadata(&dir).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let file = cache_file(&dir, &now);
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        let (t, o) = load_or_build(Some(&dir), &now, || panic!("must not rebuild")).unwrap();
        assert!(matches!(o, CacheOutcome::Hit(_)), "{o:?}");
        assert_eq!(t.lookup(0xffffffff81000012).unwrap().name, "foo");
        // A module loads: the fingerprint changes, the cache is stale.
        let later = Identity {
            modules: Some(2),
            ..now.clone()
        };
        let mut built = false;
        let (_, o) = load_or_build(Some(&dir), &later, || {
            built = true;
            Ok(table())
        })
        .unwrap();
        assert!(built && matches!(o, CacheOutcome::Stored(_)), "{o:?}");
        let _ = std::fs::remove_dir_all(&root);
    }

    /// After a reboot the old boot's snapshot is stale for good: storing the
    /// new one removes it, and nothing else in the directory.
    #[test]
    fn a_new_boot_replaces_the_old_snapshot() {
        let root = temp_dir("reboot");
        let dir = root.join("cache");
        let first = identity();
        load_or_build(Some(&dir), &first, || Ok(table())).unwrap();
        let old = cache_file(&dir, &first);
        assert!(old.is_file());
        let other = root.join("other");
        std::fs::write(&other, b"x").unwrap();
        let planted = dir.join("kallsyms-planted.ksym");
        std::os::unix::fs::symlink(&other, &planted).unwrap();
        std::fs::write(dir.join("notes.txt"), b"keep").unwrap();
        let next = Identity {
            boot_id: Some("b00t-2".into()),
            ..first.clone()
        };
        let (_, o) = load_or_build(Some(&dir), &next, || Ok(table())).unwrap();
        assert!(matches!(o, CacheOutcome::Stored(_)), "{o:?}");
        assert!(!old.exists(), "the old boot's snapshot is still there");
        assert!(cache_file(&dir, &next).is_file());
        assert!(dir.join("notes.txt").is_file() && other.is_file());
        assert!(
            std::fs::symlink_metadata(&planted).is_ok(),
            "a symlink is left alone"
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn refuses_symlinks_and_open_dirs() {
        let root = temp_dir("unsafe");
        std::fs::create_dir_all(&root).unwrap();
        let real = root.join("real");
        std::fs::create_dir(&real).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
        let link = root.join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let (_, o) = load_or_build(Some(&link), &identity(), || Ok(table())).unwrap();
        assert!(
            matches!(&o, CacheOutcome::Unusable(why) if why.contains("symbolic link")),
            "{o:?}"
        );
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (_, o) = load_or_build(Some(&real), &identity(), || Ok(table())).unwrap();
        assert!(
            matches!(&o, CacheOutcome::Unusable(why) if why.contains("0700")),
            "{o:?}"
        );
        // A symlink planted where the cache file goes is not followed.
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o700)).unwrap();
        let target = root.join("victim");
        std::fs::write(&target, b"precious").unwrap();
        std::os::unix::fs::symlink(&target, cache_file(&real, &identity())).unwrap();
        let (_, o) = load_or_build(Some(&real), &identity(), || Ok(table())).unwrap();
        assert!(matches!(o, CacheOutcome::Unusable(_)), "{o:?}");
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        let _ = std::fs::remove_dir_all(&root);
    }
}
