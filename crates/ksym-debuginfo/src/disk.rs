//! Where distributions install kernel debug info, under a configurable
//! root, and the index of unstripped modules of one release.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::elf_facts::hex;

/// The debug file of `build_id` in the `.build-id` tree that packages fill
/// (`/usr/lib/debug/.build-id/01/d2640d....debug`).
pub fn build_id_link(root: &Path, build_id: &[u8]) -> Option<PathBuf> {
    let hex = hex(build_id);
    (hex.len() > 2).then(|| {
        under(
            root,
            &format!("/usr/lib/debug/.build-id/{}/{}.debug", &hex[..2], &hex[2..]),
        )
    })
}

/// Where distributions put the vmlinux with DWARF of release `release`.
pub fn vmlinux_paths(root: &Path, release: &str) -> Vec<PathBuf> {
    let r = release;
    [
        format!("/usr/lib/debug/boot/vmlinux-{r}"), // Debian, Ubuntu
        format!("/usr/lib/debug/lib/modules/{r}/vmlinux"), // Fedora, RHEL
        format!("/usr/lib/debug/lib/modules/{r}/vmlinux.debug"), // SUSE
        format!("/usr/lib/debug/boot/vmlinux-{r}.debug"), // SUSE
        format!("/lib/modules/{r}/build/vmlinux"),  // a kernel built here
        format!("/boot/vmlinux-{r}"),
    ]
    .iter()
    .map(|p| under(root, p))
    .collect()
}

/// The directories holding a release's unstripped modules (`/lib` and the
/// merged `/usr/lib` spelling).
pub fn module_dirs(root: &Path, release: &str) -> Vec<PathBuf> {
    [
        format!("/usr/lib/debug/lib/modules/{release}"),
        format!("/usr/lib/debug/usr/lib/modules/{release}"),
    ]
    .iter()
    .map(|p| under(root, p))
    .collect()
}

/// `path` (absolute) under `root`.
pub fn under(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

/// A module's name as the kernel compares it: `-` and `_` alike.
pub fn module_key(name: &str) -> String {
    name.replace('-', "_")
}

/// The module a file name is the debug info of: `xfs.ko`, `xfs.ko.debug`,
/// each plain or `.xz`/`.zst`/`.gz`.
pub fn module_of_file(file_name: &str) -> Option<&str> {
    let plain = [".xz", ".zst", ".gz"]
        .iter()
        .find_map(|c| file_name.strip_suffix(c))
        .unwrap_or(file_name);
    let plain = plain.strip_suffix(".debug").unwrap_or(plain);
    plain.strip_suffix(".ko").filter(|n| !n.is_empty())
}

/// The unstripped module files of one release, by module key.
#[derive(Debug, Default)]
pub struct ModuleIndex {
    by_key: HashMap<String, Vec<PathBuf>>,
    /// Directories that could not be read (they name what was tried).
    pub unreadable: Vec<(PathBuf, String)>,
}

/// How deep the walk goes: `kernel/drivers/net/ethernet/intel/ice/` is 6.
const MAX_DEPTH: usize = 16;
/// How many entries the walk reads at most (a distro has ~6,000 modules).
const MAX_ENTRIES: usize = 1 << 20;

impl ModuleIndex {
    /// Walks `dirs` (symbolic links to directories are not followed).
    pub fn build(dirs: &[PathBuf]) -> ModuleIndex {
        let mut index = ModuleIndex::default();
        let mut seen = 0usize;
        let mut stack: Vec<(PathBuf, usize)> = dirs.iter().map(|d| (d.clone(), 0)).collect();
        while let Some((dir, depth)) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    index.unreadable.push((dir, e.to_string()));
                    continue;
                }
            };
            for entry in entries.flatten() {
                seen += 1;
                if seen > MAX_ENTRIES {
                    index
                        .unreadable
                        .push((dir, format!("more than {MAX_ENTRIES} entries")));
                    return index;
                }
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let path = entry.path();
                if kind.is_dir() {
                    if depth < MAX_DEPTH {
                        stack.push((path, depth + 1));
                    }
                } else if let Some(module) = entry.file_name().to_str().and_then(module_of_file) {
                    index
                        .by_key
                        .entry(module_key(module))
                        .or_default()
                        .push(path);
                }
            }
        }
        for paths in index.by_key.values_mut() {
            paths.sort(); // the same order each run
        }
        index
    }

    /// The files that may hold module `name`'s debug info.
    pub fn files(&self, name: &str) -> &[PathBuf] {
        self.by_key
            .get(&module_key(name))
            .map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_file_names() {
        for (file, module) in [
            ("xfs.ko", Some("xfs")),
            ("xfs.ko.debug", Some("xfs")),
            ("xfs.ko.xz", Some("xfs")),
            ("nf_nat-ftp.ko.zst", Some("nf_nat-ftp")),
            ("virtio_net.ko.debug.gz", Some("virtio_net")),
            ("vmlinux", None),
            (".ko", None),
            ("xfs.ko.bz2", None),
        ] {
            assert_eq!(module_of_file(file), module, "{file}");
        }
        assert_eq!(module_key("nf_nat-ftp"), module_key("nf-nat_ftp"));
    }
}
