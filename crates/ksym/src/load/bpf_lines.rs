//! The running kernel's BPF programs to their source lines: every loaded
//! program's JIT and line facts ([`crate::read::bpf_prog`]) and BTF, made
//! into a [`BpfLinesSet`]. Needs `CAP_SYS_ADMIN` (and addresses shown:
//! under `kptr_restrict` the kernel zeroes the JITed addresses).

use crate::parse::bpf_lines::{BpfLinesSet, BpfProgLines};
use crate::read::bpf_prog::{btf_bytes, live_bpf_prog_ids, prog_info};

/// The most BTF one program may bring (a program's own BTF is kilobytes).
const MAX_PROG_BTF: u32 = 64 << 20;

/// Every loaded program that could be read, and a sentence for each that
/// could not (a program unloaded meanwhile is neither); with `lines`
/// false only their functions and sizes (no BTF read). `Err` when the
/// programs cannot be listed at all.
pub fn live_bpf_lines(lines: bool) -> Result<(BpfLinesSet, Vec<String>), String> {
    let ids = live_bpf_prog_ids().map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) => format!("listing BPF programs needs CAP_SYS_ADMIN ({e})"),
        _ => format!("listing BPF programs failed: {e}"),
    })?;
    let mut progs = Vec::new();
    let mut problems = Vec::new();
    // The programs of one object share one BTF: read each once.
    let mut btfs: rustc_hash::FxHashMap<u32, Option<std::rc::Rc<Vec<u8>>>> = Default::default();
    for id in ids {
        let info = match prog_info(id) {
            Ok(i) => i,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue, // gone
            Err(e) => {
                problems.push(format!("BPF program {id}: {e}"));
                continue;
            }
        };
        if info.jited_ksyms.iter().all(|&a| a == 0) && !info.jited_ksyms.is_empty() {
            problems.push(format!(
                "BPF program {id}: the kernel hides its JITed addresses from this reader"
            ));
            continue;
        }
        let btf = match info.btf_id {
            _ if !lines => None,
            0 => None,
            b => btfs
                .entry(b)
                .or_insert_with(|| match btf_bytes(b, MAX_PROG_BTF) {
                    Ok(bytes) => Some(std::rc::Rc::new(bytes)),
                    Err(e) => {
                        problems.push(format!("BPF program {id}: its BTF {b}: {e}"));
                        None
                    }
                })
                .clone(),
        };
        match BpfProgLines::new(&info, btf.as_deref().map(Vec::as_slice)) {
            Ok(p) => progs.push(p),
            Err(e) => problems.push(e),
        }
    }
    Ok((BpfLinesSet::new(progs), problems))
}

/// The BPF programs' lines for the `[bpf]` symbols of `table`: those it
/// keeps (a snapshot's, the live loader's), else, when it is the running
/// kernel's (`live`), read now with a sentence for each program that could
/// not be; `Ok(None)` for a saved table without them. `Err` when the
/// programs cannot be listed.
pub fn bpf_lines_for(
    table: &crate::SymbolTable,
    live: bool,
) -> Result<(Option<std::sync::Arc<BpfLinesSet>>, Vec<String>), String> {
    if let Some(set) = table.bpf_lines() {
        return Ok((Some(set.clone()), Vec::new()));
    }
    if !live {
        return Ok((None, Vec::new()));
    }
    let (set, problems) = live_bpf_lines(true)?;
    Ok((Some(std::sync::Arc::new(set)), problems))
}
