//! The search itself: disk, then the shared cache, then debuginfod; every
//! candidate's build-id checked, every place tried written down.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::cache::{default_cache_dir, Cache, Lookup};
use crate::disk::{build_id_link, module_dirs, under, vmlinux_paths, ModuleIndex};
use crate::elf_facts::{elf_facts, hex};
use crate::error::{Error, Mismatch, Result, Tried};
use crate::fetch::{self, Answer, Limits};
use crate::kernel::{module_build_id, running_kernel};

/// elfutils' default `DEBUGINFOD_TIMEOUT`, in seconds.
pub const DEFAULT_TIMEOUT_S: u64 = 90;

/// Where and how to look.
#[derive(Debug, Clone)]
pub struct Config {
    /// Prefix of every disk path (`/`, or `/host` in a container).
    pub root: PathBuf,
    /// debuginfod servers, all asked at once (the first to have it wins).
    pub debuginfod_urls: Vec<String>,
    /// The client cache; `None`: neither read nor written.
    pub cache_dir: Option<PathBuf>,
    /// A transfer slower than 100 KiB/s for this long, or a read that
    /// waits this long, fails (`DEBUGINFOD_TIMEOUT`); `None`: no limit.
    pub timeout: Option<Duration>,
    /// Larger answers are refused (`DEBUGINFOD_MAXSIZE`).
    pub max_size: Option<u64>,
    /// A one-line progress display on standard error while downloading,
    /// when it is a terminal.
    pub progress: bool,
}

impl Default for Config {
    /// Root `/`, no server, elfutils' cache, its 90 s timeout, no size
    /// bound, progress on a terminal.
    fn default() -> Config {
        Config {
            root: PathBuf::from("/"),
            debuginfod_urls: Vec::new(),
            cache_dir: Some(default_cache_dir()),
            timeout: Some(Duration::from_secs(DEFAULT_TIMEOUT_S)),
            max_size: None,
            progress: true,
        }
    }
}

impl Config {
    /// The defaults with elfutils' variables applied: `DEBUGINFOD_URLS`
    /// (space-separated), `DEBUGINFOD_CACHE_PATH` (and `XDG_CACHE_HOME`,
    /// `HOME`), `DEBUGINFOD_TIMEOUT` (seconds; 0 for none),
    /// `DEBUGINFOD_MAXSIZE` (bytes; 0 for none).
    pub fn from_env() -> Config {
        Config::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Config::from_env`] with the variables `var` gives (the cache
    /// directory still comes from the environment).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Config {
        let mut config = Config::default();
        if let Some(urls) = var("DEBUGINFOD_URLS") {
            for url in urls.split_whitespace() {
                if !config.debuginfod_urls.iter().any(|u| u == url) {
                    config.debuginfod_urls.push(url.to_string());
                }
            }
        }
        if let Some(t) = var("DEBUGINFOD_TIMEOUT").and_then(|t| t.trim().parse::<u64>().ok()) {
            config.timeout = (t > 0).then(|| Duration::from_secs(t));
        }
        if let Some(m) = var("DEBUGINFOD_MAXSIZE").and_then(|m| m.trim().parse::<u64>().ok()) {
            config.max_size = (m > 0).then_some(m);
        }
        config
    }
}

/// Where a returned file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Installed on disk.
    Disk,
    /// The debuginfod client cache (fetched earlier, by us or by elfutils).
    Cache,
    /// Downloaded now from this URL (and kept in the cache).
    Debuginfod { url: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Disk => f.write_str("on disk"),
            Origin::Cache => f.write_str("debuginfod cache"),
            Origin::Debuginfod { url } => write!(f, "downloaded from {url}"),
        }
    }
}

/// A file with DWARF, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The file (possibly `.xz`/`.zst`/`.gz` compressed, for modules).
    pub path: PathBuf,
    pub origin: Origin,
    /// Its GNU build-id (equal to the wanted one when one was given).
    pub build_id: Option<Vec<u8>>,
}

/// The searcher. Module directories are indexed once per release.
pub struct DebugInfoFinder {
    config: Config,
    agent: ureq::Agent,
    modules: Mutex<HashMap<String, Arc<ModuleIndex>>>,
}

/// What a search gathered on its way.
#[derive(Default)]
struct Search {
    tried: Vec<Tried>,
    mismatched: Vec<Mismatch>,
}

impl Search {
    fn note(&mut self, place: impl fmt::Display, outcome: impl Into<String>) {
        self.tried.push(Tried {
            place: place.to_string(),
            outcome: outcome.into(),
        });
    }

    /// Returns `path` when it has DWARF and (if one is wanted) the build-id.
    fn judge(&mut self, path: &Path, wanted: Option<&[u8]>, origin: Origin) -> Option<Found> {
        let facts = match elf_facts(path) {
            Ok(f) => f,
            Err(e) => {
                let outcome = if std::fs::symlink_metadata(path).is_err() {
                    "absent".to_string()
                } else {
                    e
                };
                self.note(path.display(), outcome);
                return None;
            }
        };
        if !facts.has_dwarf {
            self.note(path.display(), "no DWARF (.debug_info)");
            return None;
        }
        match (wanted, facts.build_id.as_deref()) {
            (Some(w), Some(b)) if w != b => {
                self.note(
                    path.display(),
                    format!("build-id {}, not {}", hex(b), hex(w)),
                );
                self.mismatched.push(Mismatch {
                    path: path.to_path_buf(),
                    found: hex(b),
                    wanted: hex(w),
                });
                None
            }
            (Some(_), None) => {
                self.note(path.display(), "no build-id note to match");
                None
            }
            _ => Some(Found {
                path: path.to_path_buf(),
                origin,
                build_id: facts.build_id,
            }),
        }
    }

    /// Whether `release` names one directory (no `/`, not `.` or `..`);
    /// notes why the disk is not searched when not.
    fn plain_release(&mut self, release: &str) -> bool {
        let plain =
            !release.is_empty() && !release.contains('/') && release != "." && release != "..";
        if !plain {
            self.note(
                format!("release {release:?}"),
                "not a plain name; disk not searched",
            );
        }
        plain
    }

    fn fail(self, what: String) -> Error {
        if self.mismatched.is_empty() {
            Error::NotFound {
                what,
                tried: self.tried,
            }
        } else {
            Error::Mismatch {
                what,
                mismatched: self.mismatched,
                tried: self.tried,
            }
        }
    }
}

impl DebugInfoFinder {
    pub fn new(config: Config) -> DebugInfoFinder {
        let agent = fetch::agent(&config.limits());
        DebugInfoFinder {
            config,
            agent,
            modules: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The core kernel's vmlinux with DWARF for `release`, whose build-id
    /// is `build_id` when given (without one, the first file with DWARF).
    pub fn find_vmlinux(&self, release: &str, build_id: Option<&[u8]>) -> Result<Found> {
        let mut search = Search::default();
        let mut paths: Vec<_> = build_id
            .and_then(|b| build_id_link(&self.config.root, b))
            .into_iter()
            .collect();
        if search.plain_release(release) {
            paths.extend(vmlinux_paths(&self.config.root, release));
        }
        for path in paths {
            if let Some(found) = search.judge(&path, build_id, Origin::Disk) {
                return Ok(found);
            }
        }
        self.remote(build_id, &mut search)
            .ok_or_else(|| search.fail(what("vmlinux", release, build_id)))
    }

    /// Module `name`'s unstripped `.ko` for `release`, whose build-id is
    /// `build_id` when the kernel shows it.
    pub fn find_module(&self, release: &str, name: &str, build_id: Option<&[u8]>) -> Result<Found> {
        let mut search = Search::default();
        self.module_on_disk(release, name, build_id, &mut search)
            .or_else(|| self.remote(build_id, &mut search))
            .ok_or_else(|| search.fail(what(&format!("module {name}"), release, build_id)))
    }

    fn module_on_disk(
        &self,
        release: &str,
        name: &str,
        build_id: Option<&[u8]>,
        search: &mut Search,
    ) -> Option<Found> {
        if let Some(link) = build_id.and_then(|b| build_id_link(&self.config.root, b)) {
            if let Some(found) = search.judge(&link, build_id, Origin::Disk) {
                return Some(found);
            }
        }
        if !search.plain_release(release) {
            return None;
        }
        let index = self.module_index(release);
        for (dir, why) in &index.unreadable {
            search.note(dir.display(), why.clone());
        }
        let files = index.files(name);
        if files.is_empty() {
            for dir in module_dirs(&self.config.root, release) {
                let none = format!("no {name}.ko or {name}.ko.debug below");
                search.note(dir.display(), none);
            }
        }
        files
            .iter()
            .find_map(|path| search.judge(path, build_id, Origin::Disk))
    }

    /// The running kernel's vmlinux with DWARF: its release and build-id
    /// read under the root (`/proc/sys/kernel/osrelease`, `/sys/kernel/notes`).
    pub fn find_running_vmlinux(&self) -> Result<Found> {
        let (release, build_id) = running_kernel(&self.config.root);
        let release = self.running_release(release)?;
        self.find_vmlinux(&release, build_id.as_deref())
    }

    /// Loaded module `name`'s `.ko` with DWARF, matched by the build-id the
    /// kernel shows for it (`/sys/module/M/notes/.note.gnu.build-id`).
    pub fn find_running_module(&self, name: &str) -> Result<Found> {
        let (release, _) = running_kernel(&self.config.root);
        let release = self.running_release(release)?;
        let build_id = module_build_id(&self.config.root, name);
        self.find_module(&release, name, build_id.as_deref())
    }

    fn running_release(&self, release: Option<String>) -> Result<String> {
        release.ok_or_else(|| Error::NotFound {
            what: "release of the running kernel".into(),
            tried: vec![Tried {
                place: under(&self.config.root, "/proc/sys/kernel/osrelease")
                    .display()
                    .to_string(),
                outcome: "unreadable".into(),
            }],
        })
    }

    /// The debug info of `build_id` from the cache or a debuginfod server.
    pub fn fetch_debuginfo(&self, build_id: &[u8]) -> Result<Found> {
        let mut search = Search::default();
        self.remote(Some(build_id), &mut search)
            .ok_or_else(|| search.fail(format!("debuginfo of build-id {}", hex(build_id))))
    }

    fn module_index(&self, release: &str) -> Arc<ModuleIndex> {
        let mut map = self.modules.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(release.to_string())
            .or_insert_with(|| {
                Arc::new(ModuleIndex::build(&module_dirs(&self.config.root, release)))
            })
            .clone()
    }

    /// The cache, then each server in order.
    fn remote(&self, build_id: Option<&[u8]>, search: &mut Search) -> Option<Found> {
        let Some(build_id) = build_id.filter(|b| !b.is_empty()) else {
            if !self.config.debuginfod_urls.is_empty() {
                search.note("debuginfod", "not asked: the kernel shows no build-id");
            }
            return None;
        };
        let Some(cache) = self.config.cache_dir.clone().map(|dir| Cache { dir }) else {
            if !self.config.debuginfod_urls.is_empty() {
                search.note("debuginfod", "no cache directory to download into");
            }
            return None;
        };
        let id = hex(build_id);
        let entry = cache.entry(&id);
        match cache.lookup(&id) {
            Lookup::Hit(path) => {
                if let Some(found) = search.judge(&path, Some(build_id), Origin::Cache) {
                    return Some(found);
                }
            }
            Lookup::Miss { age, for_seconds } => {
                search.note(
                    entry.display(),
                    format!(
                        "a remembered miss ({} s ago; asked again after {for_seconds} s)",
                        age.as_secs()
                    ),
                );
                return None;
            }
            Lookup::Absent => search.note(entry.display(), "absent"),
            Lookup::Unusable(why) => {
                search.note(entry.display(), why);
                return None;
            }
        }
        // All servers at once, as elfutils asks them; the first to answer
        // that it has the file is read, the next one if that goes wrong.
        // A server that never answers holds up nothing: its thread ends at
        // its timeout, writing nothing.
        let limits = self.config.limits();
        let (answers, arrivals) = std::sync::mpsc::channel();
        for server in &self.config.debuginfod_urls {
            let (agent, answers) = (self.agent.clone(), answers.clone());
            let url = fetch::debuginfo_url(server, build_id);
            let max_size = limits.max_size;
            std::thread::spawn(move || {
                let asked = fetch::ask(&agent, &url, max_size);
                let _ = answers.send((url, asked));
            });
        }
        drop(answers);
        let mut misses = 0;
        for (url, asked) in arrivals {
            let answer = match asked {
                Ok(response) => match cache.temp_entry(&id) {
                    Ok(temp) => fetch::receive(response, &url, build_id, &limits, temp),
                    Err(e) => {
                        search.note(cache.dir.display(), format!("cannot write the cache: {e}"));
                        return None;
                    }
                },
                Err(answer) => answer,
            };
            match answer {
                Answer::Got(temp) => match temp.commit() {
                    Ok(path) => {
                        return Some(Found {
                            path,
                            origin: Origin::Debuginfod { url },
                            build_id: Some(build_id.to_vec()),
                        })
                    }
                    Err(e) => search.note(entry.display(), format!("cannot write: {e}")),
                },
                Answer::NotThere(why) => {
                    misses += 1;
                    search.note(url, why);
                }
                Answer::TooBig(why) | Answer::Failed(why) => search.note(url, why),
                Answer::Mismatch(m) => {
                    search.note(&url, format!("build-id {}, not {}", m.found, m.wanted));
                    search.mismatched.push(m);
                }
            }
        }
        // Remembered only when every server said it has no such file.
        if misses > 0 && misses == self.config.debuginfod_urls.len() {
            let _ = cache.remember_miss(&id);
        }
        None
    }
}

impl Config {
    fn limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            max_size: self.max_size,
            progress: self.progress,
        }
    }
}

fn what(thing: &str, release: &str, build_id: Option<&[u8]>) -> String {
    match build_id {
        Some(b) => format!("{thing} with DWARF for {release} (build-id {})", hex(b)),
        None => format!("{thing} with DWARF for {release}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_elfutils_variables() {
        let config = |vars: &[(&str, &str)]| {
            Config::from_vars(|name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            })
        };
        let c = config(&[]);
        assert!(c.debuginfod_urls.is_empty());
        assert_eq!(
            (c.timeout, c.max_size),
            (Some(Duration::from_secs(90)), None)
        );
        let c = config(&[
            ("DEBUGINFOD_URLS", " http://a  https://b/ http://a "),
            ("DEBUGINFOD_TIMEOUT", "5"),
            ("DEBUGINFOD_MAXSIZE", "1000"),
        ]);
        assert_eq!(c.debuginfod_urls, ["http://a", "https://b/"]);
        assert_eq!(
            (c.timeout, c.max_size),
            (Some(Duration::from_secs(5)), Some(1000))
        );
        let c = config(&[("DEBUGINFOD_TIMEOUT", "0"), ("DEBUGINFOD_MAXSIZE", "0")]);
        assert_eq!((c.timeout, c.max_size), (None, None));
    }
}
