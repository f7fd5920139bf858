//! The kernel's symbols through the BPF ksym iterator (`iter/ksym`, Linux
//! 6.0+), for hosts where `kernel.kptr_restrict=2` (or a missing
//! `CAP_SYSLOG`) makes `/proc/kallsyms` show every address as zero: the
//! iterator hands a program each symbol's real `value` whatever the
//! reader may see. Loading the program needs `CAP_BPF` and `CAP_PERFMON`
//! (or root).
//!
//! The programs are ours, assembled here (`asm.rs`): [`records`] writes a
//! binary record per symbol, decoded into the lines `/proc/kallsyms` would
//! print, with the real addresses, as they stream in; [`lines`] prints the
//! lines itself, slower, where a kernel refuses the first. The fields they
//! read move between kernels, so their offsets come from the running
//! kernel's BTF ([`crate::parse::btf`]) and are written into the
//! instructions: what a CO-RE loader does, for the eight fields this needs,
//! with no object file, no clang and no loader library. Loading is one
//! `bpf(BPF_PROG_LOAD)`; then a link, an iterator file, and reads.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;

mod asm;
pub mod lines;
pub mod records;

pub use asm::Insn;

/// Where the program's fields are, in bytes, and what it attaches to
/// (filled from the running kernel's BTF by [`crate::parse::btf`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KsymIterLayout {
    /// The BTF id of the `bpf_iter_ksym` function (the attach target).
    pub target_btf_id: u32,
    /// `struct bpf_iter__ksym`: `meta` and `ksym` (pointers).
    pub ctx_meta: u32,
    pub ctx_ksym: u32,
    /// `struct bpf_iter_meta`: `seq`.
    pub meta_seq: u32,
    /// `struct kallsym_iter`: `value` (unsigned long), `type` (char),
    /// `name` and `module_name` (char arrays), `exported` (int: a module
    /// symbol's type letter is upper case when exported).
    pub value: u32,
    pub kind: u32,
    pub name: u32,
    pub module_name: u32,
    pub exported: u32,
}

/// The program's name: the kernel lists it as `bpf_prog_<tag>_ksym_own_iter
/// [bpf]` while it runs, a line [`read_ksym_iter`] leaves out.
pub const PROGRAM_NAME: &str = "ksym_own_iter";

/// Why the iterator could not be read.
#[derive(Debug)]
pub struct IterError {
    /// `bpf(2)`'s errno, when that was what failed.
    pub errno: Option<i32>,
    /// A sentence for the user: what failed and what it needs.
    pub reason: String,
}

impl std::fmt::Display for IterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

// bpf(2) commands, program and attach types, helpers (include/uapi/linux/bpf.h).
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_ITER_CREATE: libc::c_long = 33;
const BPF_PROG_TYPE_TRACING: u32 = 26;
const BPF_TRACE_ITER: u32 = 28;
pub(crate) const BPF_FUNC_SEQ_PRINTF: i32 = 126;

/// Which program read the symbols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IterProgram {
    /// Binary records ([`records`]), the fast one.
    Records,
    /// Formatted lines (`bpf_seq_printf`), where the records program is
    /// refused (why).
    Lines(String),
}

/// Reads every symbol through the iterator as `/proc/kallsyms` text with
/// real addresses (the program's own line left out), at most `max_bytes`
/// of it; with each module's lowest code address. Runs the records
/// program, else the lines one.
pub fn read_ksym_iter(
    layout: &KsymIterLayout,
    max_bytes: u64,
) -> Result<(records::Decoded, IterProgram), IterError> {
    let mut text = Vec::with_capacity(8 << 20);
    let (taken, lowest_code, program) = stream_ksym_iter(layout, max_bytes, |t| {
        text.extend_from_slice(t);
        Ok::<(), ()>(())
    })?;
    let _ = taken;
    Ok((records::Decoded { text, lowest_code }, program))
}

/// What [`stream_ksym_iter`] gives besides `take`'s answer: each module's
/// lowest code address, and the program that ran.
pub type Streamed<E> = (Result<(), E>, Vec<(String, u64)>, IterProgram);

/// [`read_ksym_iter`] a piece at a time: the records read on another
/// thread while `take` gets their lines on this one, so that a parse
/// hides behind the kernel's work as it does for `/proc/kallsyms`. Stops
/// at `take`'s first `Err`, which is returned.
pub fn stream_ksym_iter<E>(
    layout: &KsymIterLayout,
    max_bytes: u64,
    mut take: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<Streamed<E>, IterError> {
    let l = layout;
    let fields = [
        l.ctx_meta,
        l.ctx_ksym,
        l.meta_seq,
        l.value,
        l.kind,
        l.name,
        l.module_name,
        l.exported,
    ];
    if fields.iter().any(|&f| f > i16::MAX as u32) {
        // An instruction's offset is 16 bits: no kernel's struct is that big.
        return Err(IterError {
            errno: None,
            reason: format!("the kernel's BTF puts a field past what a load can reach: {layout:?}"),
        });
    }
    let opened = match records::program(layout) {
        Some(p) => open(&p, l).map_err(|e| e.reason),
        None => Err(format!(
            "the kernel's kallsym_iter is laid out otherwise: {layout:?}"
        )),
    };
    let (_prog, _link, iter) = match opened {
        Ok(o) => o,
        Err(refused) => {
            let mut text = run(&lines::program(layout), l, max_bytes)?;
            drop_stop_echo(&mut text);
            drop_own_lines(&mut text);
            let lowest_code = lowest_code_of(&text);
            return Ok((take(&text), lowest_code, IterProgram::Lines(refused)));
        }
    };
    enum Stop<E> {
        Take(E),
        Bad(IterError),
    }
    let mut decoder = records::Decoder::new(PROGRAM_NAME);
    let mut text_bytes = 0u64;
    let mut step = |chunk: &[u8]| -> Result<(), Stop<E>> {
        decoder.feed(chunk).map_err(|e| Stop::Bad(bad_records(e)))?;
        text_bytes += decoder.ready().len() as u64;
        if text_bytes > max_bytes {
            return Err(Stop::Bad(too_much(max_bytes)));
        }
        take(decoder.ready()).map_err(Stop::Take)?;
        decoder.consume_ready();
        Ok(())
    };
    let streamed = super::procfs::stream_from(iter, &mut step).map_err(|e| IterError {
        errno: e.raw_os_error(),
        reason: format!("reading the BPF ksym iterator failed: {e}"),
    })?;
    match streamed {
        Ok(()) => {}
        Err(Stop::Take(e)) => return Ok((Err(e), Vec::new(), IterProgram::Records)),
        Err(Stop::Bad(e)) => return Err(e),
    }
    let rest = decoder.finish().map_err(bad_records)?;
    if text_bytes + rest.text.len() as u64 > max_bytes {
        return Err(too_much(max_bytes));
    }
    Ok((take(&rest.text), rest.lowest_code, IterProgram::Records))
}

fn bad_records(e: String) -> IterError {
    IterError {
        errno: None,
        reason: format!("the BPF ksym iterator's records: {e}"),
    }
}

fn too_much(max_bytes: u64) -> IterError {
    IterError {
        errno: None,
        reason: format!("the BPF ksym iterator gave more than {max_bytes} bytes"),
    }
}

/// Loads `insns` and attaches them: (program, link, the iterator's file);
/// the program and link stay alive as long as they are held.
fn open(insns: &[Insn], layout: &KsymIterLayout) -> Result<(OwnedFd, OwnedFd, File), IterError> {
    let prog = load(insns, layout.target_btf_id)?;
    let link = link_create(&prog)?;
    let iter = iter_create(&link)?;
    Ok((prog, link, iter))
}

/// Loads `insns`, runs the iterator and reads all it writes, at most
/// `max_bytes`.
fn run(insns: &[Insn], layout: &KsymIterLayout, max_bytes: u64) -> Result<Vec<u8>, IterError> {
    let (_prog, _link, mut iter) = open(insns, layout)?;
    let mut out = Vec::with_capacity(8 << 20);
    (&mut iter)
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| IterError {
            errno: e.raw_os_error(),
            reason: format!("reading the BPF ksym iterator failed: {e}"),
        })?;
    if out.len() as u64 > max_bytes {
        return Err(too_much(max_bytes));
    }
    Ok(out)
}

/// (module, lowest `t`/`T` address) of the modules in `text` (kallsyms
/// lines), as [`records::decode`] gives them.
pub(crate) fn lowest_code_of(text: &[u8]) -> Vec<(String, u64)> {
    let mut lowest: Vec<(String, u64)> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let Some(tab) = memchr::memchr(b'\t', line) else {
            continue;
        };
        let (head, module) = (&line[..tab], &line[tab + 1..]);
        let Some(module) = module
            .strip_prefix(b"[")
            .and_then(|m| m.split(|&b| b == b']').next())
            .and_then(|m| std::str::from_utf8(m).ok())
        else {
            continue;
        };
        let mut fields = head.split(|&b| b == b' ');
        let (Some(addr), Some(b"t" | b"T")) = (fields.next(), fields.next()) else {
            continue;
        };
        let Some(addr) = std::str::from_utf8(addr)
            .ok()
            .and_then(|a| u64::from_str_radix(a, 16).ok())
        else {
            continue;
        };
        match lowest.iter_mut().find(|(n, _)| n == module) {
            Some((_, low)) => *low = (*low).min(addr),
            None => lowest.push((module.to_string(), addr)),
        }
    }
    lowest
}

/// The module name the kernel leaves in the iterator at the end (its last
/// try, for kprobe pages, failed): see [`drop_stop_echo`].
pub(crate) const STOP_MODULE: &[u8] = b"__builtin__kprobes";

/// Leaves out the last line when it echoes the one before it under
/// `[__builtin__kprobes]`. The kernel runs the program once more when the
/// walk ends (`bpf_iter_ksym_seq_stop`) with the iterator as the last,
/// failed, step left it: the last symbol's address, type and name, and
/// the module name of the kprobe pages.
fn drop_stop_echo(text: &mut Vec<u8>) {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let mut lines = body.rsplitn(3, |&b| b == b'\n');
    let (Some(last), Some(prev)) = (lines.next(), lines.next()) else {
        return;
    };
    let Some(tab) = memchr::memchr(b'\t', last) else {
        return;
    };
    let (head, module) = (&last[..tab], &last[tab + 1..]);
    let prev_head = prev.split(|&b| b == b'\t').next().unwrap_or(prev);
    if module.strip_prefix(b"[").and_then(|m| m.strip_suffix(b"]")) == Some(STOP_MODULE)
        && head == prev_head
    {
        let keep = body.len() - last.len();
        text.truncate(keep);
    }
}

/// Leaves out the lines naming the iterator's own program.
fn drop_own_lines(text: &mut Vec<u8>) {
    let own = format!("_{PROGRAM_NAME}\t");
    let own = own.as_bytes();
    let mut kept = Vec::with_capacity(text.len());
    for line in text.split_inclusive(|&b| b == b'\n') {
        let is_own = memchr::memmem::find(line, own).is_some()
            && memchr::memmem::find(line, b" bpf_prog_").is_some();
        if !is_own {
            kept.extend_from_slice(line);
        }
    }
    *text = kept;
}

/// `bpf(cmd, attr)` with the attribute union as words, returning the new
/// file descriptor.
fn bpf_fd(cmd: libc::c_long, attr: &mut [u64]) -> io::Result<OwnedFd> {
    super::bpf_prog::bpf_new_fd(cmd, bytemuck::cast_slice_mut(attr))
}

/// Loads the program; when the kernel refuses it, loads it again with the
/// verifier's log on, for the error. (Asked for at once, a log longer than
/// its buffer fails a load that would pass: 6.1 and 6.12 logged more than
/// 64 KiB for the records program.)
fn load(insns: &[Insn], target_btf_id: u32) -> Result<OwnedFd, IterError> {
    if let Ok(fd) = load_logged(insns, target_btf_id, &mut []) {
        return Ok(fd);
    }
    let mut log = vec![0u8; 4 << 20];
    load_logged(insns, target_btf_id, &mut log).map_err(|e| {
        let errno = e.raw_os_error();
        let verifier =
            String::from_utf8_lossy(&log[..log.iter().position(|&b| b == 0).unwrap_or(0)])
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(|l| format!(" (verifier: {})", l.trim()))
                .unwrap_or_default();
        IterError {
            errno,
            reason: match errno {
                Some(libc::EPERM) | Some(libc::EACCES) => format!(
                    "loading the BPF ksym iterator was refused ({e}): it needs CAP_BPF and \
                     CAP_PERFMON (or root), and no lockdown forbidding BPF{verifier}"
                ),
                Some(libc::ENOSYS) => "this kernel has no BPF (bpf(2): ENOSYS)".to_string(),
                _ => format!("loading the BPF ksym iterator failed: {e}{verifier}"),
            },
        }
    })
}

/// One `BPF_PROG_LOAD` of `insns`, the verifier's log into `log` when it
/// is not empty.
fn load_logged(insns: &[Insn], target_btf_id: u32, log: &mut [u8]) -> io::Result<OwnedFd> {
    let license = b"GPL\0";
    let mut name = [0u8; 16];
    name[..PROGRAM_NAME.len()].copy_from_slice(PROGRAM_NAME.as_bytes());
    // union bpf_attr for BPF_PROG_LOAD, by byte offset: prog_type 0,
    // insn_cnt 4, insns 8, license 16, log_level 24, log_size 28,
    // log_buf 32, kern_version 40, prog_flags 44, prog_name 48..64,
    // prog_ifindex 64, expected_attach_type 68, ..., attach_btf_id 108.
    let mut attr = [0u64; 15];
    attr[0] = u64::from(BPF_PROG_TYPE_TRACING) | (insns.len() as u64) << 32;
    attr[1] = insns.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    if !log.is_empty() {
        attr[3] = 1 | (log.len() as u64) << 32; // log_level 1
        attr[4] = log.as_mut_ptr() as u64;
    }
    attr[6] = u64::from_le_bytes(name[..8].try_into().expect("8 bytes"));
    attr[7] = u64::from_le_bytes(name[8..].try_into().expect("8 bytes"));
    attr[8] = u64::from(BPF_TRACE_ITER) << 32;
    attr[13] = u64::from(target_btf_id) << 32;
    bpf_fd(BPF_PROG_LOAD, &mut attr)
}

fn link_create(prog: &OwnedFd) -> Result<OwnedFd, IterError> {
    use std::os::fd::AsRawFd;
    // prog_fd 0, target_fd 4, attach_type 8, flags 12, iter_info 16, iter_info_len 24.
    let mut attr = [0u64; 4];
    attr[0] = prog.as_raw_fd() as u32 as u64;
    attr[1] = u64::from(BPF_TRACE_ITER);
    bpf_fd(BPF_LINK_CREATE, &mut attr).map_err(|e| IterError {
        errno: e.raw_os_error(),
        reason: format!("attaching the BPF ksym iterator failed: {e}"),
    })
}

fn iter_create(link: &OwnedFd) -> Result<File, IterError> {
    use std::os::fd::AsRawFd;
    let mut attr = [link.as_raw_fd() as u32 as u64];
    let fd = bpf_fd(BPF_ITER_CREATE, &mut attr).map_err(|e| IterError {
        errno: e.raw_os_error(),
        reason: format!("opening the BPF ksym iterator failed: {e}"),
    })?;
    Ok(File::from(fd))
}

#[cfg(test)]
mod tests;
