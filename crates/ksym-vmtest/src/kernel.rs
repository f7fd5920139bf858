//! The running kernel as the scenarios see it without `ksym`: its
//! `/proc/kallsyms` and `/proc/modules` read plainly, modules loaded and
//! unloaded with `insmod`/`rmmod`, SysRq, and the kernel log from
//! `/dev/kmsg`. What `ksym` answers is compared with these.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One line of `/proc/kallsyms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KallsymsLine {
    pub addr: u64,
    pub kind: char,
    pub name: String,
    /// `None` for the core kernel; `bpf`, `__builtin__ftrace` etc. are
    /// modules here as in the file.
    pub module: Option<String>,
}

impl KallsymsLine {
    pub fn is_text(&self) -> bool {
        matches!(self.kind, 't' | 'T')
    }
}

/// `/proc/kallsyms`, every line that parses.
pub fn kallsyms() -> io::Result<Vec<KallsymsLine>> {
    let text = fs::read_to_string("/proc/kallsyms")?;
    Ok(text.lines().filter_map(parse_kallsyms_line).collect())
}

fn parse_kallsyms_line(line: &str) -> Option<KallsymsLine> {
    let mut it = line.split_ascii_whitespace();
    let addr = u64::from_str_radix(it.next()?, 16).ok()?;
    let kind = it.next()?.chars().next()?;
    let name = it.next()?.to_string();
    let module = it
        .next()
        .and_then(|m| m.strip_prefix('[')?.strip_suffix(']'))
        .map(|m| m.split_ascii_whitespace().next().unwrap_or(m).to_string());
    Some(KallsymsLine {
        addr,
        kind,
        name,
        module,
    })
}

/// Why `/proc/kallsyms` cannot be checked against, if it cannot: unreadable,
/// or its addresses hidden (`kptr_restrict`, not root).
pub fn kallsyms_unusable(lines: &io::Result<Vec<KallsymsLine>>) -> Option<String> {
    match lines {
        Err(e) => Some(format!("/proc/kallsyms is unreadable: {e}")),
        Ok(l) if l.is_empty() => Some("/proc/kallsyms is empty".into()),
        Ok(l) if l.iter().take(1000).all(|l| l.addr == 0) => {
            Some("/proc/kallsyms shows only zero addresses (kptr_restrict, or not root)".into())
        }
        Ok(_) => None,
    }
}

/// The names (with modules) at each address.
pub fn names_by_addr(lines: &[KallsymsLine]) -> HashMap<u64, Vec<(&str, Option<&str>)>> {
    let mut map: HashMap<u64, Vec<(&str, Option<&str>)>> = HashMap::new();
    for l in lines {
        map.entry(l.addr)
            .or_default()
            .push((l.name.as_str(), l.module.as_deref()));
    }
    map
}

/// A text symbol of `module` whose address no other symbol shares and whose
/// name no other symbol carries: the one right answer is clear.
pub fn unique_function(lines: &[KallsymsLine], module: &str) -> Option<KallsymsLine> {
    unique_function_in(lines, Some(module))
}

/// [`unique_function`] of the core kernel.
pub fn unique_core_function(lines: &[KallsymsLine]) -> Option<KallsymsLine> {
    unique_function_in(lines, None)
}

fn unique_function_in(lines: &[KallsymsLine], module: Option<&str>) -> Option<KallsymsLine> {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut addrs: HashMap<u64, usize> = HashMap::new();
    for l in lines {
        *names.entry(&l.name).or_default() += 1;
        *addrs.entry(l.addr).or_default() += 1;
    }
    lines
        .iter()
        .filter(|l| l.module.as_deref() == module && l.is_text())
        .filter(|l| l.name.starts_with(|c: char| c.is_ascii_lowercase()))
        .find(|l| names[l.name.as_str()] == 1 && addrs[&l.addr] == 1)
        .cloned()
}

/// The kernel release (`uname -r`).
pub fn release() -> io::Result<String> {
    Ok(fs::read_to_string("/proc/sys/kernel/osrelease")?
        .trim()
        .to_string())
}

/// The names of the loaded modules, when the kernel has `/proc/modules`.
pub fn loaded_modules() -> io::Result<Vec<String>> {
    let text = fs::read_to_string("/proc/modules")?;
    Ok(text
        .lines()
        .filter_map(|l| l.split(' ').next())
        .map(str::to_string)
        .collect())
}

pub fn is_loaded(module: &str) -> bool {
    loaded_modules().is_ok_and(|m| m.iter().any(|n| n == module))
}

/// `/lib/modules/<release>`.
pub fn modules_dir() -> io::Result<PathBuf> {
    Ok(Path::new("/lib/modules").join(release()?))
}

/// The `.ko` of `module` and its dependencies, deepest first (in load
/// order), from `modules.dep`.
pub fn module_files(module: &str) -> Result<Vec<PathBuf>, String> {
    let dir = modules_dir().map_err(|e| format!("no release: {e}"))?;
    let dep = dir.join("modules.dep");
    let text =
        fs::read_to_string(&dep).map_err(|e| format!("cannot read {}: {e}", dep.display()))?;
    let want = format!("/{module}.ko");
    let line = text
        .lines()
        .find(|l| l.split(':').next().is_some_and(|p| p.ends_with(&want)))
        .ok_or_else(|| format!("no {module} in {}", dep.display()))?;
    let (own, deps) = line.split_once(':').unwrap_or((line, ""));
    // modules.dep lists the deepest dependency last.
    let mut files: Vec<PathBuf> = deps
        .split_ascii_whitespace()
        .rev()
        .map(|p| dir.join(p))
        .collect();
    files.push(dir.join(own));
    Ok(files)
}

fn module_name_of(path: &Path) -> String {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or("");
    file.split('.').next().unwrap_or(file).replace('-', "_")
}

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {}: {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `insmod`s `module`'s dependencies that are not loaded, then `module`.
pub fn insmod(module: &str) -> Result<(), String> {
    let files = module_files(module)?;
    let (own, deps) = files.split_last().expect("at least the module");
    for d in deps {
        if !is_loaded(&module_name_of(d)) {
            run("insmod", &[&d.to_string_lossy()])?;
        }
    }
    run("insmod", &[&own.to_string_lossy()])
}

pub fn rmmod(module: &str) -> Result<(), String> {
    run("rmmod", &[module])
}

/// `rmmod module` if it is loaded.
pub fn ensure_unloaded(module: &str) -> Result<(), String> {
    if is_loaded(module) {
        rmmod(module)?;
    }
    Ok(())
}

/// `/sys/module/<module>/sections/<section>`, as an address.
pub fn section_addr(module: &str, section: &str) -> Option<u64> {
    let path = Path::new("/sys/module")
        .join(module)
        .join("sections")
        .join(section);
    let text = fs::read_to_string(path).ok()?;
    let hex = text.trim().trim_start_matches("0x");
    u64::from_str_radix(hex, 16).ok()
}

/// Every `/sys/module/<module>/sections/*` with its address, by address.
pub fn sections(module: &str) -> Vec<(u64, String)> {
    let dir = Path::new("/sys/module").join(module).join("sections");
    let mut out: Vec<(u64, String)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            Some((section_addr(module, &name)?, name))
        })
        .collect();
    out.sort();
    out
}

/// Polls `cond` every millisecond or so until it holds or `limit` passes;
/// how long it took, if it held.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if cond() {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The kernel log, read from `/dev/kmsg` without blocking.
pub struct Kmsg {
    file: fs::File,
    /// Records the kernel overwrote before they were read.
    pub lost: usize,
}

impl Kmsg {
    /// Opens `/dev/kmsg` at its oldest record (`at_end`: after its newest).
    pub fn open(at_end: bool) -> io::Result<Kmsg> {
        use std::os::fd::AsRawFd;
        let file = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")?;
        if at_end {
            // SAFETY: lseek(2) on a descriptor this function owns.
            if unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_END) } < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(Kmsg { file, lost: 0 })
    }

    /// The message text of every record there is now, one line each (a
    /// record's text is one printk line; its dictionary lines are dropped).
    pub fn read_available(&mut self) -> io::Result<Vec<String>> {
        let mut lines = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let rec = String::from_utf8_lossy(&buf[..n]);
                    if let Some((_, text)) = rec.split_once(';') {
                        let text = text.split('\n').next().unwrap_or("");
                        lines.push(unescape(text));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => self.lost += 1,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(lines)
    }
}

/// `/dev/kmsg` writes unprintable bytes as `\xNN`.
fn unescape(text: &str) -> String {
    if !text.contains("\\x") {
        return text.to_string();
    }
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1] == b'x'
            && b[i + 2].is_ascii_hexdigit()
            && b[i + 3].is_ascii_hexdigit()
        {
            if let Ok(v) = u8::from_str_radix(&text[i + 2..i + 4], 16) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes `value` to a procfs file (`/proc/sys/kernel/sysrq`,
/// `/proc/sysrq-trigger`).
pub fn write_proc(path: &str, value: &str) -> Result<(), String> {
    fs::write(path, value).map_err(|e| format!("cannot write {value:?} to {path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kallsyms_lines() {
        let l = parse_kallsyms_line("ffffffffc0a01000 t dummy_setup\t[dummy]").unwrap();
        assert_eq!(l.addr, 0xffffffffc0a01000);
        assert_eq!(l.module.as_deref(), Some("dummy"));
        assert!(l.is_text());
        let l = parse_kallsyms_line("ffffffff81000000 T _stext").unwrap();
        assert_eq!(l.module, None);
        assert_eq!(unescape("a\\x0ab"), "a\nb");
        assert_eq!(unescape("tail\\x4"), "tail\\x4");
    }
}
