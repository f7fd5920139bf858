//! The cheap [`Fingerprint`] of what the symbol set depends on (boot id,
//! `/proc/modules`, BPF program ids from `bpf(2)`), and the snapshot
//! [`Identity`] made from it.

pub use crate::read::bpf_prog::live_bpf_prog_ids;
use std::hash::{Hash, Hasher};
use std::io;
use std::path::Path;

use super::LiveConfig;
use crate::error::{Error, Result};
use crate::parse::notes::build_id_of_file;
use crate::read::limit::TEXT_LIMIT;
use crate::read::read_small;
use crate::snapshot::Identity;

/// A set of lines or ids, summed up: how many, and a hash of them in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digest {
    pub count: usize,
    pub hash: u64,
}

/// What the symbol set depends on, cheap to read; compared by content to
/// tell whether the table must be rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    /// The boot id; `None` when it cannot be read.
    pub boot_id: Option<String>,
    /// Each `/proc/modules` line's name, size, state and base address
    /// (not its refcount or users); `None` without `/proc/modules` (a
    /// kernel without loadable modules).
    pub modules: Option<Digest>,
    /// The BPF program ids; `None` when they cannot be listed.
    pub bpf_progs: Option<Digest>,
}

impl Fingerprint {
    /// Reads the fingerprint of the kernel (or fake root) `config` points at.
    pub fn read(config: &LiveConfig) -> Result<Fingerprint> {
        Self::read_with(config, config.is_live_root())
    }

    pub(super) fn read_with(config: &LiveConfig, live: bool) -> Result<Fingerprint> {
        let boot_id = read_optional(&config.boot_id_path())?
            .map(|b| String::from_utf8_lossy(&b).trim().to_string());
        let modules = read_optional(&config.modules_path())?.map(|b| modules_digest(&b));
        let bpf_progs = if live {
            live_bpf_prog_ids().ok().map(|ids| ids_digest(&ids))
        } else {
            read_optional(&config.fake_bpf_ids_path())?.map(|b| {
                let mut ids: Vec<&str> = std::str::from_utf8(&b)
                    .unwrap_or("")
                    .split_ascii_whitespace()
                    .collect();
                ids.sort_unstable();
                let mut h = std::collections::hash_map::DefaultHasher::new();
                ids.hash(&mut h);
                Digest {
                    count: ids.len(),
                    hash: h.finish(),
                }
            })
        };
        Ok(Fingerprint {
            boot_id,
            modules,
            bpf_progs,
        })
    }
}

/// The identity of the kernel under `root` (`/` normally) whose changing
/// parts (boot id, module set, BPF programs) `fingerprint` has read.
pub fn identity_of(fingerprint: &Fingerprint, root: &Path) -> Identity {
    let p = |rel: &str| root.join(rel);
    Identity {
        release: std::fs::read_to_string(p("proc/sys/kernel/osrelease"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
        build_id: build_id_of_file(&p("sys/kernel/notes")),
        boot_id: fingerprint.boot_id.clone(),
        modules: fingerprint
            .modules
            .map(|d| d.hash ^ (d.count as u64).rotate_left(48)),
        bpf: fingerprint
            .bpf_progs
            .map(|d| d.hash ^ (d.count as u64).rotate_left(48)),
        kaslr_slide: None,
        created: None,
    }
}

/// Reads a procfs file (bounded like symbol text); a missing one is `None`.
fn read_optional(path: &Path) -> Result<Option<Vec<u8>>> {
    match read_small(path, TEXT_LIMIT) {
        Ok(b) => Ok(Some(b)),
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Hashes `/proc/modules` without the volatile columns: of
/// `name size refcount users state address [taints]`, the name, size, state
/// and address. Lines of another shape are hashed whole.
pub(super) fn modules_digest(text: &[u8]) -> Digest {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let mut count = 0;
    for line in text.split(|&b| b == b'\n') {
        let fields: Vec<&[u8]> = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty())
            .collect();
        if fields.is_empty() {
            continue;
        }
        count += 1;
        if fields.len() >= 6 {
            for i in [0, 1, 4, 5] {
                fields[i].hash(&mut h);
            }
        } else {
            fields.hash(&mut h);
        }
        h.write_u8(b'\n');
    }
    Digest {
        count,
        hash: h.finish(),
    }
}

fn ids_digest(ids: &[u32]) -> Digest {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    ids.hash(&mut h);
    Digest {
        count: ids.len(),
        hash: h.finish(),
    }
}
