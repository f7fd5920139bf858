//! The BPF lines scenario: a program with BTF line info (built on the host
//! by Debian's clang from `crates/ksym-cli/tests/data/bpf/lines.bpf.c`, put
//! in the initramfs with Debian's bpftool) is loaded; every byte of each
//! JITed function is named with the function's real size and the line
//! bpftool gives for it; a snapshot taken meanwhile answers every byte the
//! same after the program is unloaded.

use std::path::Path;

use ksym::live::{load_proc, LiveConfig};
use ksym::read::bpf_prog::prog_info;
use ksym::snapshot::{from_bytes, to_bytes, Identity};
use ksym_testdata::bpftool::{line_records, load_pinned, runs, Place};

use crate::kernel;
use crate::scenarios::*;

/// Where the host's script puts the program.
const OBJECT: &str = "/usr/share/ksym/lines.bpf.o";

pub(crate) fn bpf_lines(opts: &Options, notes: &mut Notes) -> Step<()> {
    kallsyms()?;
    if !opts.guest {
        return Err(skip("loads a BPF program: only with --guest"));
    }
    if !Path::new(OBJECT).is_file() {
        return Err(skip(format!(
            "no {OBJECT}: the host had no clang or bpftool for this architecture"
        )));
    }
    let pinned = load_pinned(Path::new(OBJECT), Path::new("/tmp/bpffs"), true, "lines")
        .map_err(|e| fail(format!("bpftool could not load {OBJECT}: {e}")))?;
    let id = pinned.id;
    let info = prog_info(id).map_err(|e| fail(format!("bpf_prog_info of {id}: {e}")))?;
    let functions = line_records(id).map_err(fail)?;
    if functions.len() != info.jited_ksyms.len() {
        return Err(fail(format!(
            "bpftool shows {} functions, the kernel JITed {}",
            functions.len(),
            info.jited_ksyms.len()
        )));
    }
    let table = load_proc(&LiveConfig::default()).map_err(|e| fail(e.to_string()))?;
    let mut asked = Vec::new();
    let jited = info.jited_ksyms.iter().zip(&info.jited_func_lens);
    for ((function, want), (&start, &len)) in functions.iter().zip(jited) {
        let sym = table.lookup(start);
        let named = sym.is_some_and(|s| {
            s.start == start
                && s.size == u64::from(len)
                && s.module == Some("bpf")
                && s.name.ends_with(&format!("_{function}"))
        });
        if !named {
            return Err(fail(format!(
                "{start:#x}: {sym:?}, want bpf_prog_*_{function} [bpf] of size {len}"
            )));
        }
        if table
            .lookup(start + u64::from(len))
            .is_some_and(|s| s.start == start)
        {
            return Err(fail(format!("{function} runs past its {len} bytes")));
        }
        let mut got: Vec<Place> = Vec::new();
        for addr in start..start + u64::from(len) {
            let l = table
                .bpf_line(addr)
                .filter(|l| l.function == function)
                .ok_or_else(|| {
                    fail(format!(
                        "{addr:#x}: {:?}, not in {function}",
                        table.bpf_line(addr)
                    ))
                })?;
            got.push((
                l.file.unwrap_or("").to_string(),
                (l.line != 0).then_some(l.line.into()),
                (l.column != 0).then_some(l.column.into()),
                l.source.map(str::to_string),
            ));
            asked.push(addr);
        }
        let (got, want) = (runs(got), runs(want.iter().cloned()));
        if got != want {
            return Err(fail(format!(
                "{function}: lines {got:?}, bpftool gives {want:?}"
            )));
        }
    }
    // A snapshot taken now answers the same once the program is gone.
    let bytes = to_bytes(&table, &Identity::default());
    drop(pinned);
    kernel::wait_for(WAIT, || prog_info(id).is_err()).ok_or_else(|| {
        fail(format!(
            "{WAIT:?} after unpinning, program {id} is still loaded"
        ))
    })?;
    let (snapshot, _) =
        from_bytes("snapshot", &bytes, Default::default()).map_err(|e| fail(e.to_string()))?;
    for &addr in &asked {
        if (snapshot.lookup(addr), snapshot.bpf_line(addr))
            != (table.lookup(addr), table.bpf_line(addr))
        {
            return Err(fail(format!(
                "{addr:#x} after the program was unloaded: {:?}, it was {:?}",
                snapshot.bpf_line(addr),
                table.bpf_line(addr)
            )));
        }
    }
    notes.push(format!(
        "program {id}: {} functions, {} bytes each with bpftool's line; the same from a snapshot after the unload",
        functions.len(),
        asked.len()
    ));
    Ok(())
}
