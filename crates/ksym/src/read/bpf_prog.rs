//! What the kernel keeps of a loaded BPF program for naming its code down
//! to the source line (`bpf(BPF_OBJ_GET_INFO_BY_FD)` on the program, then
//! on its BTF): where each of its functions was JITed and how long it is,
//! the JITed address of each line record, the line records themselves, and
//! the program's BTF, whose strings hold the file names and the source
//! lines' text. Reading another program's info needs `CAP_SYS_ADMIN`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_BTF_GET_FD_BY_ID: libc::c_long = 19;

/// The most of any one array this reader takes from the kernel (a
/// program has at most a million instructions).
const MAX_RECORDS: u32 = 1 << 20;

/// A loaded program's JIT and line facts, as the kernel gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BpfProgInfo {
    pub id: u32,
    pub tag: [u8; 8],
    /// The name given at load (at most 15 bytes).
    pub name: String,
    /// Where each function (the main one first, then subprograms) starts.
    pub jited_ksyms: Vec<u64>,
    /// Each function's JITed length in bytes.
    pub jited_func_lens: Vec<u32>,
    /// The program's BTF id (0: loaded without BTF, so without lines).
    pub btf_id: u32,
    /// `(insn_off, type_id)` per function (`struct bpf_func_info`).
    pub func_info: Vec<(u32, u32)>,
    /// `struct bpf_line_info` records: instruction offset, file name and
    /// line text (offsets into the BTF strings), line << 10 | column.
    pub line_info: Vec<LineRecord>,
    /// The JITed address of each line record.
    pub jited_line_info: Vec<u64>,
}

/// One `struct bpf_line_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRecord {
    pub insn_off: u32,
    pub file_name_off: u32,
    pub line_off: u32,
    pub line_col: u32,
}

/// `bpf(cmd, attr)` returning its value (a file descriptor or 0). The
/// one wrapper of the syscall for this module and [`super::bpf_iter`].
pub(crate) fn bpf(cmd: libc::c_long, attr: &mut [u8]) -> io::Result<i64> {
    // SAFETY: bpf(2) reads and, for BPF_OBJ_GET_INFO_BY_FD, writes back the
    // attribute bytes, a live exclusively borrowed buffer of the size
    // given, laid out as the kernel's `union bpf_attr` for `cmd` (unused
    // bytes zero). Pointers inside it (instructions, license, log, info
    // arrays) point at the callers' buffers, which outlive the call, each
    // with the length the kernel is told.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            attr.len() as libc::c_uint,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}
fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}
fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// [`bpf`] for a command that makes a new file descriptor.
pub(crate) fn bpf_new_fd(cmd: libc::c_long, attr: &mut [u8]) -> io::Result<OwnedFd> {
    let fd = bpf(cmd, attr)?;
    // SAFETY: a non-negative return of such a command is a new descriptor
    // that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A descriptor for the object `id` (`BPF_PROG_GET_FD_BY_ID` or
/// `BPF_BTF_GET_FD_BY_ID`: `attr.prog_id`/`btf_id` at 0).
fn fd_by_id(cmd: libc::c_long, id: u32) -> io::Result<OwnedFd> {
    let mut attr = [0u8; 16];
    put_u32(&mut attr, 0, id);
    bpf_new_fd(cmd, &mut attr)
}

/// `BPF_OBJ_GET_INFO_BY_FD` into `info` (`attr`: bpf_fd, info_len, info).
fn info_by_fd(fd: &OwnedFd, info: &mut [u8]) -> io::Result<()> {
    let mut attr = [0u8; 16];
    put_u32(&mut attr, 0, fd.as_raw_fd() as u32);
    put_u32(&mut attr, 4, info.len() as u32);
    put_u64(&mut attr, 8, info.as_mut_ptr() as u64);
    bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr).map(|_| ())
}

// Offsets in `struct bpf_prog_info` (include/uapi/linux/bpf.h).
const INFO_LEN: usize = 232;
const TAG: usize = 8;
const NAME: usize = 64;
const NR_JITED_KSYMS: usize = 104;
const NR_JITED_FUNC_LENS: usize = 108;
const JITED_KSYMS: usize = 112;
const JITED_FUNC_LENS: usize = 120;
const BTF_ID: usize = 128;
const FUNC_INFO_REC_SIZE: usize = 132;
const FUNC_INFO: usize = 136;
const NR_FUNC_INFO: usize = 144;
const NR_LINE_INFO: usize = 148;
const LINE_INFO: usize = 152;
const JITED_LINE_INFO: usize = 160;
const NR_JITED_LINE_INFO: usize = 168;
const LINE_INFO_REC_SIZE: usize = 172;
const JITED_LINE_INFO_REC_SIZE: usize = 176;

/// Reads program `id`'s info: a first call for the counts, a second with
/// buffers for the arrays.
pub fn prog_info(id: u32) -> io::Result<BpfProgInfo> {
    let fd = fd_by_id(BPF_PROG_GET_FD_BY_ID, id)?;
    let mut first = vec![0u8; INFO_LEN];
    info_by_fd(&fd, &mut first)?;
    let count = |at: usize| get_u32(&first, at).min(MAX_RECORDS) as usize;
    let (n_ksyms, n_lens) = (count(NR_JITED_KSYMS), count(NR_JITED_FUNC_LENS));
    let (n_func, n_line, n_jline) = (
        count(NR_FUNC_INFO),
        count(NR_LINE_INFO),
        count(NR_JITED_LINE_INFO),
    );
    let func_rec = get_u32(&first, FUNC_INFO_REC_SIZE).clamp(8, 64) as usize;
    let line_rec = get_u32(&first, LINE_INFO_REC_SIZE).clamp(16, 64) as usize;
    let mut ksyms = vec![0u64; n_ksyms];
    let mut lens = vec![0u32; n_lens];
    let mut funcs = vec![0u8; n_func * func_rec];
    let mut lines = vec![0u8; n_line * line_rec];
    let mut jlines = vec![0u64; n_jline];
    let mut second = vec![0u8; INFO_LEN];
    put_u32(&mut second, NR_JITED_KSYMS, n_ksyms as u32);
    put_u64(&mut second, JITED_KSYMS, ksyms.as_mut_ptr() as u64);
    put_u32(&mut second, NR_JITED_FUNC_LENS, n_lens as u32);
    put_u64(&mut second, JITED_FUNC_LENS, lens.as_mut_ptr() as u64);
    put_u32(&mut second, NR_FUNC_INFO, n_func as u32);
    put_u32(&mut second, FUNC_INFO_REC_SIZE, func_rec as u32);
    put_u64(&mut second, FUNC_INFO, funcs.as_mut_ptr() as u64);
    put_u32(&mut second, NR_LINE_INFO, n_line as u32);
    put_u32(&mut second, LINE_INFO_REC_SIZE, line_rec as u32);
    put_u64(&mut second, LINE_INFO, lines.as_mut_ptr() as u64);
    put_u32(&mut second, NR_JITED_LINE_INFO, n_jline as u32);
    put_u32(&mut second, JITED_LINE_INFO_REC_SIZE, 8);
    put_u64(&mut second, JITED_LINE_INFO, jlines.as_mut_ptr() as u64);
    info_by_fd(&fd, &mut second)?;
    let name_bytes = &second[NAME..NAME + 16];
    let name_len = name_bytes.iter().position(|&b| b == 0).unwrap_or(16);
    Ok(BpfProgInfo {
        id,
        tag: second[TAG..TAG + 8].try_into().expect("8 bytes"),
        name: String::from_utf8_lossy(&name_bytes[..name_len]).into_owned(),
        jited_ksyms: ksyms,
        jited_func_lens: lens,
        btf_id: get_u32(&second, BTF_ID),
        func_info: funcs
            .chunks_exact(func_rec)
            .map(|r| (get_u32(r, 0), get_u32(r, 4)))
            .collect(),
        line_info: lines
            .chunks_exact(line_rec)
            .map(|r| LineRecord {
                insn_off: get_u32(r, 0),
                file_name_off: get_u32(r, 4),
                line_off: get_u32(r, 8),
                line_col: get_u32(r, 12),
            })
            .collect(),
        jited_line_info: jlines,
    })
}

/// The raw BTF of object `btf_id` (a program's), at most `max` bytes.
pub fn btf_bytes(btf_id: u32, max: u32) -> io::Result<Vec<u8>> {
    let fd = fd_by_id(BPF_BTF_GET_FD_BY_ID, btf_id)?;
    // struct bpf_btf_info: btf (u64) 0, btf_size 8, id 12, name 16,
    // name_len 24, kernel_btf 28.
    let mut info = [0u8; 32];
    info_by_fd(&fd, &mut info)?;
    let size = get_u32(&info, 8);
    if size > max {
        return Err(io::Error::other(format!(
            "BTF {btf_id} holds {size} bytes, more than {max}"
        )));
    }
    let mut bytes = vec![0u8; size as usize];
    let mut info = [0u8; 32];
    put_u64(&mut info, 0, bytes.as_mut_ptr() as u64);
    put_u32(&mut info, 8, size);
    info_by_fd(&fd, &mut info)?;
    Ok(bytes)
}

/// `BPF_PROG_GET_NEXT_ID` from `enum bpf_cmd` (include/uapi/linux/bpf.h).
const BPF_PROG_GET_NEXT_ID: libc::c_int = 11;

/// The part of `union bpf_attr` that the `BPF_*_GET_NEXT_ID` commands read
/// and write: `start_id` in, `next_id` out. The kernel accepts an attribute
/// shorter than its own union and zero-fills the rest.
#[repr(C)]
struct NextIdAttr {
    start_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// The ids of the BPF programs loaded in the running kernel, ascending, from
/// `bpf(BPF_PROG_GET_NEXT_ID)`. Needs `CAP_SYS_ADMIN`: fails with `EPERM`
/// without it (or inside some sandboxes), `ENOSYS` without BPF support.
pub fn live_bpf_prog_ids() -> io::Result<Vec<u32>> {
    /// No kernel holds this many programs; a bound in case ids never end.
    const MAX_PROGS: usize = 1 << 20;
    let mut ids = Vec::new();
    let mut start_id = 0u32;
    loop {
        let mut attr = NextIdAttr {
            start_id,
            next_id: 0,
            open_flags: 0,
        };
        // SAFETY: bpf(2) reads `size` bytes from the pointer and, for this
        // command, writes `next_id` back into it. `attr` is a live,
        // exclusively borrowed `repr(C)` value of exactly that size, laid out
        // like the kernel's anonymous struct for this command (three `__u32`s),
        // and nothing else is passed by address. The call has no other effect.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_PROG_GET_NEXT_ID,
                &mut attr as *mut NextIdAttr,
                std::mem::size_of::<NextIdAttr>() as libc::c_uint,
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::ENOENT) => return Ok(ids), // past the last id
                Some(libc::EINTR) => continue,
                _ => return Err(err),
            }
        }
        if (start_id != 0 && attr.next_id <= start_id) || ids.len() >= MAX_PROGS {
            return Err(io::Error::other("BPF program ids do not increase"));
        }
        ids.push(attr.next_id);
        start_id = attr.next_id;
    }
}
