//! The reference for BPF line tests, on the host and in the guests: a
//! program with BTF line info loaded and pinned by Debian's `bpftool`, and
//! the line records `bpftool prog dump xlated linum` gives for it, per BPF
//! function in instruction order. (`dump jited` would pair each JITed
//! instruction with its line, but Debian's bpftool is built without a
//! disassembler; the JITed address of each record is the kernel's own
//! `jited_line_info`, which ksym reads.)

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A program pinned in a bpffs (mounted for it when `mounted`), unpinned
/// and the mount undone on drop: the kernel then frees the program.
pub struct Pinned {
    pub pin: PathBuf,
    pub id: u32,
    mounted: Option<PathBuf>,
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pin);
        if let Some(dir) = &self.mounted {
            let _ = Command::new("umount").arg(dir).status();
        }
    }
}

/// `cmd`'s standard output, or what went wrong.
pub fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Loads the object `obj` with bpftool and pins it as `bpffs/name`,
/// mounting a bpffs at `bpffs` unless `mount` is false (one is there).
pub fn load_pinned(obj: &Path, bpffs: &Path, mount: bool, name: &str) -> Result<Pinned, String> {
    std::fs::create_dir_all(bpffs).map_err(|e| format!("{}: {e}", bpffs.display()))?;
    let mounted = if mount {
        run(Command::new("mount").args(["-t", "bpf", "bpf"]).arg(bpffs))?;
        Some(bpffs.to_path_buf())
    } else {
        None
    };
    let mut pinned = Pinned {
        pin: bpffs.join(name),
        id: 0,
        mounted,
    };
    run(Command::new("bpftool")
        .args(["prog", "load"])
        .arg(obj)
        .arg(&pinned.pin))?;
    let show: Value = serde_json::from_str(&run(Command::new("bpftool")
        .args(["-j", "prog", "show", "pinned"])
        .arg(&pinned.pin))?)
    .map_err(|e| format!("bpftool prog show: {e}"))?;
    pinned.id = show["id"]
        .as_u64()
        .and_then(|i| u32::try_from(i).ok())
        .ok_or("bpftool prog show: no id")?;
    Ok(pinned)
}

/// Where a line record points: file, line and column (0 as none), and the
/// line's text (trimmed, empty as none).
pub type Place = (String, Option<u64>, Option<u64>, Option<String>);

/// bpftool's line records of program `id`, per BPF function (named from
/// its prototype), in instruction order.
pub fn line_records(id: u32) -> Result<Vec<(String, Vec<Place>)>, String> {
    let text = run(Command::new("bpftool").args([
        "-j",
        "prog",
        "dump",
        "xlated",
        "id",
        &id.to_string(),
        "linum",
    ]))?;
    let insns: Value = serde_json::from_str(&text).map_err(|e| format!("bpftool dump: {e}"))?;
    let mut out: Vec<(String, Vec<Place>)> = Vec::new();
    for insn in insns.as_array().ok_or("bpftool dump: not an array")? {
        if let Some(proto) = insn["proto"].as_str() {
            // `int weigh(int x)`: the function's name before the `(`.
            let head = proto.split('(').next().unwrap_or("");
            let name = head.rsplit([' ', '*']).next().unwrap_or(head);
            out.push((name.to_string(), Vec::new()));
        }
        if let Some(file) = insn["file"].as_str() {
            let line = insn["line_num"].as_u64().filter(|&l| l != 0);
            let col = insn["line_col"].as_u64().filter(|&c| c != 0);
            let src = insn["src"]
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            let Some(function) = out.last_mut() else {
                return Err("bpftool dump: a line record before any function".into());
            };
            function.1.push((file.to_string(), line, col, src));
        }
    }
    Ok(out)
}

/// `places` with each run of equal ones kept once: what a walk over a
/// function's bytes meets, in order.
pub fn runs(places: impl IntoIterator<Item = Place>) -> Vec<Place> {
    let mut out: Vec<Place> = Vec::new();
    for p in places {
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    out
}
