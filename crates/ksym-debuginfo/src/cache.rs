//! The debuginfod client cache shared with elfutils (gdb, eu-addr2line,
//! debuginfod-find): `<cache>/<build-id hex>/debuginfo`, directories 0700,
//! files written to a temporary name in the same directory and renamed,
//! then made 0400 as elfutils leaves them. A zero-length `debuginfo` is a
//! remembered miss, good for `<cache>/cache_miss_s` seconds (600 unless
//! that file says otherwise) after its mtime, as elfutils keeps it. Nothing
//! here follows a symbolic link below the cache directory.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// How long a miss is remembered when `cache_miss_s` does not say.
pub const DEFAULT_MISS_SECONDS: u64 = 600;
/// The file of the cache that says how long a miss is remembered.
pub const MISS_SECONDS_FILE: &str = "cache_miss_s";

/// The cache elfutils' client uses with this environment:
/// `$DEBUGINFOD_CACHE_PATH`; else `$HOME/.debuginfod_client_cache` when it
/// exists (elfutils' older default, still preferred by it); else
/// `$XDG_CACHE_HOME/debuginfod_client`; else `$HOME/.cache/debuginfod_client`.
pub fn default_cache_dir() -> PathBuf {
    cache_dir_from(|name| std::env::var_os(name))
}

/// [`default_cache_dir`] with the variables `var` gives.
pub fn cache_dir_from(var: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    let var = |name| var(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("DEBUGINFOD_CACHE_PATH") {
        return PathBuf::from(dir);
    }
    let home = PathBuf::from(var("HOME").unwrap_or_else(|| "/".into()));
    let legacy = home.join(".debuginfod_client_cache");
    if fs::metadata(&legacy).is_ok() {
        return legacy;
    }
    match var("XDG_CACHE_HOME") {
        Some(xdg) => PathBuf::from(xdg).join("debuginfod_client"),
        None => home.join(".cache").join("debuginfod_client"),
    }
}

/// What the cache holds for one build-id.
#[derive(Debug)]
pub enum Lookup {
    /// A file, not yet checked.
    Hit(PathBuf),
    /// A remembered miss, `age` old, remembered for `for_seconds`.
    Miss { age: Duration, for_seconds: u64 },
    /// Nothing (or a miss too old to count, now removed).
    Absent,
    /// Something that must not be used (a symbolic link, a directory).
    Unusable(String),
}

/// One cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    pub dir: PathBuf,
}

impl Cache {
    /// `<cache>/<hex>/debuginfo`.
    pub fn entry(&self, hex: &str) -> PathBuf {
        self.dir.join(hex).join("debuginfo")
    }

    /// What the cache has for `hex`. A stale miss is removed, as elfutils does.
    pub fn lookup(&self, hex: &str) -> Lookup {
        if let Err(why) = self.refuse_links(hex) {
            return Lookup::Unusable(why);
        }
        let path = self.entry(hex);
        let meta = match fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(_) => return Lookup::Absent,
        };
        if meta.file_type().is_symlink() {
            return Lookup::Unusable("a symbolic link, not followed".into());
        }
        if !meta.is_file() {
            return Lookup::Unusable("not a regular file".into());
        }
        if meta.len() > 0 {
            return Lookup::Hit(path);
        }
        let age = meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .unwrap_or_default();
        let for_seconds = self.miss_seconds();
        if age.as_secs() <= for_seconds {
            Lookup::Miss { age, for_seconds }
        } else {
            let _ = fs::remove_file(&path);
            Lookup::Absent
        }
    }

    /// How long a miss is remembered: `cache_miss_s`, which elfutils
    /// creates with its default when absent (so do we, that both agree).
    pub fn miss_seconds(&self) -> u64 {
        let path = self.dir.join(MISS_SECONDS_FILE);
        let mut text = String::new();
        let read = open_no_follow(&path).and_then(|f| f.take(64).read_to_string(&mut text));
        match read {
            Ok(_) => leading_number(&text).unwrap_or(DEFAULT_MISS_SECONDS),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if self.make_dir(&self.dir).is_ok() {
                    let _ = OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .custom_flags(libc::O_NOFOLLOW)
                        .mode(0o600)
                        .open(&path)
                        .and_then(|mut f| write!(f, "{DEFAULT_MISS_SECONDS}"));
                }
                DEFAULT_MISS_SECONDS
            }
            Err(_) => DEFAULT_MISS_SECONDS,
        }
    }

    /// Remembers that no server has `hex`: a zero-length entry.
    pub fn remember_miss(&self, hex: &str) -> io::Result<()> {
        let dir = self.entry_dir(hex)?;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600)
            .open(dir.join("debuginfo"))
            .map(drop)
    }

    /// A new temporary file beside `hex`'s entry, removed unless committed.
    pub fn temp_entry(&self, hex: &str) -> io::Result<TempEntry> {
        let mut dir = self.entry_dir(hex)?;
        let pid = std::process::id();
        for n in 0..100u32 {
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let path = dir.join(format!("debuginfo.{pid:x}{nanos:x}{n}"));
            match OpenOptions::new()
                .write(true)
                .read(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .mode(0o600)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(TempEntry {
                        path,
                        target: dir.join("debuginfo"),
                        file: Some(file),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                // Another client removed the empty directory meanwhile (as
                // elfutils does after a failed download): made again.
                Err(e) if e.kind() == io::ErrorKind::NotFound && n < 2 => {
                    dir = self.entry_dir(hex)?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("no free temporary name in {}", dir.display()),
        ))
    }

    /// `<cache>/<hex>/`, made (0700) when missing; never a symbolic link.
    fn entry_dir(&self, hex: &str) -> io::Result<PathBuf> {
        self.make_dir(&self.dir)?;
        let dir = self.dir.join(hex);
        self.make_dir(&dir)?;
        self.refuse_links(hex)
            .map_err(|why| io::Error::new(io::ErrorKind::PermissionDenied, why))?;
        Ok(dir)
    }

    fn make_dir(&self, dir: &Path) -> io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }

    /// Refuses an entry directory that is a symbolic link (one planted to
    /// make a download land elsewhere). The cache directory itself may be
    /// one: users link `~/.cache` to other disks.
    fn refuse_links(&self, hex: &str) -> Result<(), String> {
        let dir = self.dir.join(hex);
        if fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(format!(
                "{} is a symbolic link, not followed",
                dir.display()
            ));
        }
        Ok(())
    }
}

/// A download being written; removed when dropped uncommitted.
#[derive(Debug)]
pub struct TempEntry {
    pub path: PathBuf,
    target: PathBuf,
    file: Option<File>,
}

impl TempEntry {
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("open until committed")
    }

    /// Makes the download the entry: 0400 as elfutils leaves its files,
    /// then renamed over whatever was there (a rename replaces a link, it
    /// does not write through it). Not synced, as elfutils does not: after
    /// a crash an entry cut short fails its check and is fetched again.
    pub fn commit(mut self) -> io::Result<PathBuf> {
        let file = self.file.take().expect("open until committed");
        file.set_permissions(fs::Permissions::from_mode(0o400))?;
        drop(file);
        fs::rename(&self.path, &self.target)?;
        self.path = PathBuf::new();
        Ok(self.target.clone())
    }
}

impl Drop for TempEntry {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
            // The entry's directory too when nothing else is in it, as
            // elfutils leaves no empty one after a failed download.
            if let Some(dir) = self.path.parent() {
                let _ = fs::remove_dir(dir);
            }
        }
    }
}

fn open_no_follow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
}

/// The number a config file starts with, as `fscanf("%ld")` reads it.
fn leading_number(text: &str) -> Option<u64> {
    let t = text.trim_start();
    let end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    t[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_as_elfutils_chooses_it() {
        let home = tempfile::tempdir().unwrap();
        let home_s = home.path().as_os_str().to_owned();
        let dir = |vars: &[(&str, &str)]| {
            cache_dir_from(|name| match name {
                "HOME" => Some(home_s.clone()),
                _ => vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.into()),
            })
        };
        let xdg = [("XDG_CACHE_HOME", "/xdg")];
        let both = [("XDG_CACHE_HOME", "/xdg"), ("DEBUGINFOD_CACHE_PATH", "/dc")];
        assert_eq!(dir(&[]), home.path().join(".cache/debuginfod_client"));
        assert_eq!(dir(&xdg), PathBuf::from("/xdg/debuginfod_client"));
        assert_eq!(dir(&both), PathBuf::from("/dc"));
        assert_eq!(dir(&[("DEBUGINFOD_CACHE_PATH", "")]), dir(&[]));
        // elfutils' older place wins over XDG while it exists.
        fs::create_dir(home.path().join(".debuginfod_client_cache")).unwrap();
        assert_eq!(dir(&xdg), home.path().join(".debuginfod_client_cache"));
    }

    #[test]
    fn config_numbers_read_as_fscanf_reads_them() {
        assert_eq!(leading_number("600\n"), Some(600));
        assert_eq!(leading_number("  42abc"), Some(42));
        assert_eq!(leading_number("abc"), None);
        assert_eq!(leading_number(""), None);
    }
}
