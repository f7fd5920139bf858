//! The kernel's symbols through the BPF ksym iterator (`iter/ksym`, Linux
//! 6.0+), for hosts where `kernel.kptr_restrict=2` (or a missing
//! `CAP_SYSLOG`) makes `/proc/kallsyms` show every address as zero: the
//! iterator hands a program each symbol's real `value` whatever the
//! reader may see. Loading the program needs `CAP_BPF` and `CAP_PERFMON`
//! (or root).
//!
//! The program is ours, assembled here (see [`program`]): for each symbol
//! it prints the line `/proc/kallsyms` would, with the real address. The
//! fields it reads move between kernels, so their offsets come from the
//! running kernel's BTF ([`crate::parse::btf`]) and are written into the
//! instructions: what a CO-RE loader does, for the eight fields this needs,
//! with no object file, no clang and no loader library. Loading is one
//! `bpf(BPF_PROG_LOAD)`; then a link, an iterator file, and reads.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;

mod asm;
pub mod records;

pub use asm::Insn;
use asm::*;

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
const BPF_FUNC_SEQ_PRINTF: i32 = 126;

/// The formats, as `/proc/kallsyms` prints (`s_show`, kernel/kallsyms.c).
const MODULE_FORMAT: &[u8] = b"%016llx %c %s\t[%s]\n\0";
const CORE_FORMAT: &[u8] = b"%016llx %c %s\n\0";

/// The iterator program for `layout`. In C, with `it` the symbol:
///
/// ```c
/// if (!it || !it->name[0]) return 0;
/// char t = it->type;
/// if (it->module_name[0] && isalpha(t))   // as s_show labels module symbols
///     t = it->exported ? toupper(t) : tolower(t);
/// u64 args[4] = { it->value, t, (u64)it->name, (u64)it->module_name };
/// if (it->module_name[0]) bpf_seq_printf(seq, "%llx %c %s\t[%s]\n", .., args, 32);
/// else                    bpf_seq_printf(seq, "%llx %c %s\n", .., args, 24);
/// return 0;
/// ```
///
/// The formats live on the stack below the arguments (r10-32..-1).
pub fn program(l: &KsymIterLayout) -> Vec<Insn> {
    let o = |x: u32| x as i16; // offsets a kernel struct can have
    let mut p = vec![
        mov(6, 1),                        // r6 = ctx
        ldx_dw(7, 6, o(l.ctx_ksym)),      // r7 = ctx->ksym
        jmp_imm(0x15, 7, 0, 0),           // if !r7 goto out (patched below)
        ldx_b(1, 7, o(l.name)),           // if !it->name[0] goto out (as
        jmp_imm(0x15, 1, 0, 0),           // s_show; patched below)
        ldx_dw(1, 6, o(l.ctx_meta)),      // r1 = ctx->meta
        ldx_dw(8, 1, o(l.meta_seq)),      // r8 = meta->seq
        ldx_dw(1, 7, o(l.value)),         // args[0] = it->value
        stx_dw(10, -32, 1),               //
        ldx_b(1, 7, o(l.kind)),           // r1 = it->type
        ldx_b(9, 7, o(l.module_name)),    // r9 = it->module_name[0]
        jmp_imm(0x15, 9, 0, 8),           // core symbol: the type as it is
        mov(2, 1),                        // r2 = type | 0x20 (lower case)
        or_imm(2, 0x20),                  //
        jmp_imm(0xa5, 2, b'a' as i32, 5), // not a letter: as it is
        jmp_imm(0x25, 2, b'z' as i32, 4), //
        ldx_w(3, 7, o(l.exported)),       //
        mov(1, 2),                        // r1 = lower
        jmp_imm(0x15, 3, 0, 1),           // not exported: lower
        and_imm(1, 0xdf),                 // exported: upper
        stx_dw(10, -24, 1),               // args[1] = type
        mov(1, 7),                        // args[2] = it->name
        add_imm(1, l.name as i32),        //
        stx_dw(10, -16, 1),               //
        mov(1, 7),                        // args[3] = it->module_name
        add_imm(1, l.module_name as i32),
        stx_dw(10, -8, 1),
    ];
    // The formats: the module one at r10-56, the core one at r10-72.
    for (format, at) in [(MODULE_FORMAT, -56i16), (CORE_FORMAT, -72)] {
        for (i, chunk) in format.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            p.extend(ld_imm64(1, u64::from_le_bytes(word)));
            p.push(stx_dw(10, at + 8 * i as i16, 1));
        }
    }
    let print = |format_at: i32, len: usize, args: i32| {
        [
            mov(1, 8),
            mov(2, 10),
            add_imm(2, format_at),
            mov_imm(3, len as i32),
            mov(4, 10),
            add_imm(4, -32),
            mov_imm(5, args),
            call(BPF_FUNC_SEQ_PRINTF),
        ]
    };
    p.push(jmp_imm(0x15, 9, 0, 9)); // core symbol: skip the module print
    p.extend(print(-56, MODULE_FORMAT.len(), 32));
    p.push(ja(8));
    p.extend(print(-72, CORE_FORMAT.len(), 24));
    let out = p.len();
    p.extend([mov_imm(0, 0), exit()]);
    p[2].off = (out - 3) as i16;
    p[4].off = (out - 5) as i16;
    p
}

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
            let mut text = run(&program(layout), l, max_bytes)?;
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
mod tests {
    use super::*;

    /// The program's shape, whatever the kernel: every jump lands on an
    /// instruction of its own (never inside a 16-byte load), it ends in
    /// `exit`, and the offsets the layout gives are where the loads read.
    #[test]
    fn the_program_jumps_where_it_should() {
        let layout = KsymIterLayout {
            target_btf_id: 1,
            ctx_meta: 0,
            ctx_ksym: 8,
            meta_seq: 0,
            value: 32,
            kind: 44,
            name: 45,
            module_name: 557,
            exported: 616,
        };
        let p = program(&layout);
        jumps_land_on_instructions(&p);
        assert_eq!(p.last().map(|i| i.code), Some(0x95));
        let loads: Vec<(u8, i16)> = p
            .iter()
            .filter(|i| matches!(i.code, 0x79 | 0x71 | 0x61))
            .map(|i| (i.regs >> 4, i.off))
            .collect();
        for want in [(6, 8), (6, 0), (1, 0), (7, 32), (7, 44), (7, 557), (7, 616)] {
            assert!(loads.contains(&want), "no load of {want:?}: {loads:?}");
        }
    }

    /// Every jump of `p` lands on an instruction of its own (never inside a
    /// 16-byte load), and `p` ends in `exit`.
    pub(super) fn jumps_land_on_instructions(p: &[Insn]) {
        let second_halves: Vec<usize> = (0..p.len())
            .filter(|&i| i > 0 && p[i - 1].code == 0x18)
            .collect();
        for (i, insn) in p.iter().enumerate() {
            let is_jump = insn.code & 0x07 == 0x05 && !matches!(insn.code, 0x85 | 0x95);
            if is_jump {
                let to = i as i64 + 1 + i64::from(insn.off);
                assert!((0..p.len() as i64).contains(&to), "{i}: jumps out");
                assert!(!second_halves.contains(&(to as usize)), "{i}: into a load");
            }
        }
        assert_eq!(p.last().map(|i| i.code), Some(0x95));
    }

    #[test]
    fn the_kernels_echo_at_the_end_is_left_out() {
        let mut t =
            b"a t x\tb t y\t[bpf]\nffff t y\t[bpf]\nffff t y\t[__builtin__kprobes]\n".to_vec();
        drop_stop_echo(&mut t);
        assert_eq!(t, b"a t x\tb t y\t[bpf]\nffff t y\t[bpf]\n");
        // A kprobe page's own symbol, and a last line unlike the one
        // before it, stay.
        for kept in [
            &b"ffff t y\t[bpf]\nffff t z\t[__builtin__kprobes]\n"[..],
            b"ffff t y\nffff t y\t[m]\n",
            b"one\n",
            b"",
        ] {
            let mut t = kept.to_vec();
            drop_stop_echo(&mut t);
            assert_eq!(t, kept);
        }
    }

    /// On this machine, when it lets us: every line the iterator gives is
    /// a line of `/proc/kallsyms` (read with addresses shown), and the
    /// other way round but for BPF programs coming and going.
    #[test]
    fn the_iterator_prints_what_kallsyms_does() {
        let layout = match std::fs::read("/sys/kernel/btf/vmlinux")
            .map_err(|e| e.to_string())
            .and_then(|b| crate::parse::btf::ksym_iter_layout(&b))
        {
            Ok(l) => l,
            Err(e) => {
                eprintln!("skipped: no BPF ksym iterator here: {e}");
                return;
            }
        };
        let text = match read_ksym_iter(&layout, 1 << 30) {
            Ok((d, _)) => d.text,
            Err(e) => {
                eprintln!("skipped: the BPF ksym iterator cannot be used here: {e}");
                return;
            }
        };
        let kallsyms = std::fs::read("/proc/kallsyms").unwrap();
        let lines = |b: &[u8]| -> std::collections::BTreeSet<String> {
            String::from_utf8_lossy(b)
                .lines()
                .filter(|l| !l.contains("[bpf]") && !l.contains("[__builtin__kprobes]"))
                .map(str::to_string)
                .collect()
        };
        let (ours, theirs) = (lines(&text), lines(&kallsyms));
        if theirs.iter().all(|l| l.starts_with("0000000000000000 ")) {
            eprintln!("/proc/kallsyms is redacted here: comparing names only");
            let names =
                |s: &std::collections::BTreeSet<String>| -> std::collections::BTreeSet<String> {
                    s.iter().map(|l| l[17..].to_string()).collect()
                };
            assert!(
                names(&ours) == names(&theirs),
                "the iterator and /proc/kallsyms differ"
            );
        } else {
            assert!(ours == theirs, "the iterator and /proc/kallsyms differ");
        }
        eprintln!("{} lines as /proc/kallsyms has them", ours.len());
        let own: Vec<_> = String::from_utf8_lossy(&text)
            .lines()
            .filter(|l| l.contains(PROGRAM_NAME))
            .map(str::to_string)
            .collect();
        assert!(own.is_empty(), "{own:?}");
        // Both programs give the same lines: the records one, decoded, and
        // the lines one (each names itself, left out).
        let records = run(&records::program(&layout).unwrap(), &layout, 1 << 30).unwrap();
        let decoded = records::decode(&records, PROGRAM_NAME).unwrap();
        let mut formatted = run(&program(&layout), &layout, 1 << 30).unwrap();
        drop_own_lines(&mut formatted);
        assert!(
            lines(&decoded.text) == lines(&formatted),
            "the two programs differ"
        );
        assert_eq!(decoded.lowest_code, lowest_code_of(&formatted));
    }
}
