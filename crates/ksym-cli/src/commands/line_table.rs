//! `ksym line-table`: boils a vmlinux's DWARF down to a line table, once
//! per build-id, kept in the private cache beside the snapshots, so that
//! `--lines` answers the core kernel from it without reading DWARF. The
//! first `--lines` run that reads a vmlinux's DWARF starts this in the
//! background (as `git gc --auto` does), so the second run is fast.
//!
//! `--for-addr2line FILE` does the same for `ksym addr2line`'s view of any
//! ELF file with DWARF (a tools' table: see [`ksym::lines::build_tool_table`]).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use ksym::lines::{build_line_table, build_tool_table, DebugFile};
use ksym::snapshot::cache;

use crate::CliResult;

/// A build older than this whose lock is still there has died.
const STALE_LOCK: Duration = Duration::from_secs(600);

/// Which table: the kernel's (`--lines`) or the tools' (`addr2line`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Kernel,
    Tools,
}

/// Builds and stores the line table of `path` (a vmlinux for the
/// kernel's); `quiet` (the background build) says nothing and leaves
/// quietly when another build holds the lock.
pub(crate) fn run(
    path: &Path,
    kind: Kind,
    quiet: bool,
    out: &mut impl Write,
) -> CliResult<ExitCode> {
    let dir = cache::default_dir()
        .ok_or("the cache is off (KSYM_CACHE_DIR): there is nowhere to keep a line table")?;
    let file = DebugFile::open(path)?;
    let id = file
        .build_id_hex()
        .ok_or_else(|| format!("{}: no build-id to keep a line table by", path.display()))?;
    cache::ensure_private_dir(&dir)?;
    let Some(_lock) = BuildLock::take(&dir, &id, kind)? else {
        if quiet {
            return Ok(ExitCode::SUCCESS);
        }
        return Err(format!("another process is building the line table of build {id}").into());
    };
    let started = Instant::now();
    let dwarf = file.dwarf_bytes();
    let table = match kind {
        Kind::Kernel => build_line_table(file)?,
        Kind::Tools => build_tool_table(file)?,
    };
    let path = cache::store_line_table(&dir, &table)?;
    if !quiet {
        let bytes = table.as_bytes().len() as u64;
        writeln!(
            out,
            "line table of build {id}: {bytes} bytes ({:.1}% of {dwarf} bytes of DWARF) in {:.2} s: {}",
            bytes as f64 * 100.0 / dwarf.max(1) as f64,
            started.elapsed().as_secs_f64(),
            path.display()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Starts `ksym --vmlinux VMLINUX line-table --quiet` (or `ksym
/// line-table --quiet --for-addr2line FILE`) in the background, detached
/// from this process and its terminal; trouble is only noted.
pub(crate) fn build_in_background(path: &Path, kind: Kind) {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let started = std::env::current_exe().and_then(|exe| {
        let mut command = Command::new(exe);
        match kind {
            Kind::Kernel => command
                .arg("--vmlinux")
                .arg(path)
                .args(["line-table", "--quiet"]),
            Kind::Tools => command
                .args(["line-table", "--quiet", "--for-addr2line"])
                .arg(path),
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
    });
    if let Err(e) = started {
        eprintln!("ksym: could not start building the line table: {e}");
    }
}

/// `lines-<id>.building` in the cache, created exclusively; removed when
/// dropped. One taken by a build that died long ago is taken over.
struct BuildLock(PathBuf);

impl BuildLock {
    fn take(dir: &Path, id: &str, kind: Kind) -> std::io::Result<Option<BuildLock>> {
        use std::os::unix::fs::OpenOptionsExt;
        let table = match kind {
            Kind::Kernel => cache::line_table_file(dir, id),
            Kind::Tools => cache::tool_table_file(dir, id),
        };
        let path = table.with_extension("building");
        for _ in 0..2 {
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path);
            match created {
                Ok(_) => return Ok(Some(BuildLock(path))),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let age = std::fs::symlink_metadata(&path)
                        .and_then(|m| m.modified())
                        .map(|t| SystemTime::now().duration_since(t).unwrap_or_default());
                    if age.is_ok_and(|a| a < STALE_LOCK) {
                        return Ok(None);
                    }
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
