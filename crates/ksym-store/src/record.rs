//! The boot record: a small JSON document naming a boot's parts, behind a
//! first line that carries the SHA-256 of the JSON, so that any change to
//! it is seen on read.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::names::sha256_hex;

const FORMAT: &str = "ksym-boot-record 1";

/// A stored object and its size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub object: String,
    pub bytes: u64,
}

/// One loadable module of a boot: its shared part and where it sat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleRecord {
    pub name: String,
    pub build_id: Option<String>,
    #[serde(flatten)]
    pub part: ObjectRef,
    /// The module's anchors (its areas' starts) in this boot, in hex.
    pub anchors: Vec<String>,
}

/// What one boot's snapshot is made of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootRecord {
    pub boot_id: String,
    pub host: Option<String>,
    pub release: Option<String>,
    pub build_id: Option<String>,
    pub kaslr_slide: Option<i64>,
    /// The core table at link-time addresses, shared by the kernel's boots.
    pub core: ObjectRef,
    pub modules: Vec<ModuleRecord>,
    /// This boot's own table: identity, module map (areas and section
    /// areas), table info, and the symbols of no module part (BPF programs,
    /// ftrace and kprobe pages).
    pub layout: ObjectRef,
    /// How many BPF programs the boot had.
    pub bpf_programs: usize,
}

impl BootRecord {
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("a record serializes");
        let mut out = format!("{FORMAT} sha256:{}\n", sha256_hex(&json)).into_bytes();
        out.extend_from_slice(&json);
        out.push(b'\n');
        out
    }

    pub(crate) fn from_bytes(object: &str, bytes: &[u8]) -> Result<BootRecord, Error> {
        let damaged = |reason: String| Error::Damaged {
            object: object.to_string(),
            reason,
        };
        let nl = bytes
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| damaged("no header line".into()))?;
        let header =
            std::str::from_utf8(&bytes[..nl]).map_err(|_| damaged("header not UTF-8".into()))?;
        let sum = header
            .strip_prefix(FORMAT)
            .and_then(|r| r.strip_prefix(" sha256:"))
            .ok_or_else(|| damaged(format!("not a boot record: {header:?}")))?;
        let json = bytes[nl + 1..]
            .strip_suffix(b"\n")
            .ok_or_else(|| damaged("truncated".into()))?;
        if sha256_hex(json) != sum {
            return Err(damaged("checksum mismatch".into()));
        }
        serde_json::from_slice(json).map_err(|e| damaged(e.to_string()))
    }
}
