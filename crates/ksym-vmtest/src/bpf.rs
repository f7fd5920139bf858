//! The BPF scenario: a program this test loads with `bpf(2)` and then
//! closes is named by a watching handle through the perf ksymbol events,
//! and stops being named once the kernel drops it.

use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Instant;

use ksym::KernelSymbols;

use crate::kernel;
use crate::scenarios::*;

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
/// The program's name; kallsyms shows `bpf_prog_<tag>_<name>` in `[bpf]`.
const PROG_NAME: &str = "ksym_vmtest";

/// Loads `r0 = 0; exit`, a socket filter that passes nothing: the smallest
/// program the kernel JITs and lists.
fn load_program() -> std::io::Result<OwnedFd> {
    // BPF_ALU64 | BPF_MOV | BPF_K, dst r0, imm 0; then BPF_JMP | BPF_EXIT.
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = b"GPL\0";
    // union bpf_attr, the BPF_PROG_LOAD part: prog_type, insn_cnt, insns,
    // license, log_level, log_size, log_buf, kern_version, prog_flags,
    // prog_name[16]; the rest zero.
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_SOCKET_FILTER.to_ne_bytes());
    attr[4..8].copy_from_slice(&(insns.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    attr[48..48 + PROG_NAME.len()].copy_from_slice(PROG_NAME.as_bytes());
    // SAFETY: bpf(2) reads `attr` (128 bytes, its tail zero) and the
    // instructions and license it points at, all alive across the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            attr.as_ptr(),
            attr.len() as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Our program's line in `/proc/kallsyms`, if listed.
fn listed() -> Step<Option<kernel::KallsymsLine>> {
    let suffix = format!("_{PROG_NAME}");
    Ok(kallsyms()?
        .into_iter()
        .find(|l| l.module.as_deref() == Some("bpf") && l.name.ends_with(&suffix)))
}

fn names(ks: &KernelSymbols, addr: u64, name: &str) -> bool {
    ks.lookup_with(addr, |s| {
        s.is_some_and(|s| s.name == name && s.module == Some("bpf"))
    })
}

/// A watching handle that only perf ksymbol events can wake (it polls once
/// an hour) names a BPF program as soon as it is loaded, and no longer once
/// it is unloaded.
pub(crate) fn bpf_ksymbol(opts: &Options, notes: &mut Notes) -> Step<()> {
    kallsyms()?;
    if !opts.guest {
        return Err(skip("loads a BPF program: only with --guest"));
    }
    let ks = open_woken_by(false)?;
    let fd = load_program().map_err(|e| skip(format!("bpf(BPF_PROG_LOAD): {e}")))?;
    let loaded = Instant::now();
    let prog = listed()?.ok_or_else(|| {
        fail(format!(
            "no bpf_prog_*_{PROG_NAME} [bpf] in /proc/kallsyms after loading it (JIT off? net.core.bpf_jit_kallsyms=0?)"
        ))
    })?;
    kernel::wait_for(WAIT, || names(&ks, prog.addr, &prog.name)).ok_or_else(|| {
        fail(format!(
            "{WAIT:?} after loading, {:#x} is {}, want {} [bpf] ({})",
            prog.addr,
            who(&ks, prog.addr),
            prog.name,
            handle_state(&ks)
        ))
    })?;
    let named = loaded.elapsed();
    drop(fd);
    let closed = Instant::now();
    // The kernel frees the program after an RCU grace period and deferred
    // work: wait for /proc/kallsyms to drop it first.
    kernel::wait_for(WAIT, || matches!(listed(), Ok(None))).ok_or_else(|| {
        fail(format!(
            "{WAIT:?} after closing, {} is still listed",
            prog.name
        ))
    })?;
    kernel::wait_for(WAIT, || !names(&ks, prog.addr, &prog.name)).ok_or_else(|| {
        fail(format!(
            "{WAIT:?} after the kernel dropped it, {:#x} is still {} ({})",
            prog.addr,
            who(&ks, prog.addr),
            handle_state(&ks)
        ))
    })?;
    notes.push(format!(
        "{} at {:#x}: named within {:.1} ms of the load, unnamed within {:.1} ms of the close (this program reads /proc/kallsyms meanwhile); {} refreshes",
        prog.name,
        prog.addr,
        named.as_secs_f64() * 1e3,
        closed.elapsed().as_secs_f64() * 1e3,
        ks.refresh_count()
    ));
    Ok(())
}
