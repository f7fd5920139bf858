//! Batch symbolization and oops decoding against the real Debian 6.12 data
//! (`../shared/data/debian-6.12.117`) and its oops
//! (`../shared/data/oops/oops-6.12-ext4.txt`, consistent with that table).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use ksym::decode::{
    decode_stream, rewrite_line, rewrite_stream, Decoder, FrameForm, Mismatch, Output,
    RewriteFormat, Status, Warning,
};
use ksym::live::{KernelSymbols, LiveConfig};
use ksym::stack::{AddrKind, FailureCause, Frame, Frames, RawReason, Symbolizer};
use ksym::{LoadOptions, ModuleMap, SymbolTable, TableBuilder, TableInfo};

const RELEASE: &str = "6.12.117+deb12-amd64";

fn data() -> PathBuf {
    ksym_testdata::data_dir()
}

fn load_612() -> SymbolTable {
    let dir = data().join("debian-6.12.117");
    let modules = std::fs::read(dir.join("proc-modules")).unwrap();
    let mut map = ModuleMap::default();
    map.add_text("proc-modules", &modules).unwrap();
    let opts = LoadOptions {
        modules: Some(map),
        ..LoadOptions::default()
    };
    ksym::load_file(&dir.join("kallsyms.xz"), &opts).unwrap()
}

fn table() -> &'static SymbolTable {
    static T: OnceLock<SymbolTable> = OnceLock::new();
    T.get_or_init(load_612)
}

fn oops() -> String {
    std::fs::read_to_string(data().join("oops/oops-6.12-ext4.txt")).unwrap()
}

fn decode_all<'a>(text: &'a str, release: Option<&str>) -> Vec<ksym::decode::Line<'a, 'static>> {
    let mut d = Decoder::new(table()).table_release(release.map(str::to_string));
    text.lines().map(|l| d.decode_line(l)).collect()
}

// ---------------------------------------------------------------------------
// Decoding.

#[test]
fn every_oops_frame_is_ok() {
    let text = oops();
    let lines = decode_all(&text, Some(RELEASE));
    let frames: Vec<_> = lines.iter().flat_map(|l| &l.frames).collect();
    // Two RIP lines and twenty call trace frames.
    assert_eq!(frames.len(), 22);
    for l in &lines {
        for f in &l.frames {
            assert_eq!(f.status, Status::Ok, "line {}: {}", l.number, l.text);
            assert_eq!(f.candidates, 1, "line {}", l.number);
            let r = f.reference.unwrap();
            let addr = f.addr.unwrap();
            let sym = f.symbol.unwrap();
            assert_eq!(sym.addr(), addr);
            assert_eq!(
                (sym.name, sym.offset, Some(sym.size)),
                (r.name, r.offset, r.size)
            );
            assert_eq!(sym.module, r.module);
            assert_eq!(table().lookup(addr).unwrap().name, r.name);
        }
        assert!(l.warning.is_none());
    }
    let rip: Vec<_> = frames
        .iter()
        .filter(|f| f.form == FrameForm::Register)
        .collect();
    assert_eq!(rip.len(), 2);
    let trace: Vec<_> = frames
        .iter()
        .filter(|f| f.form == FrameForm::Trace)
        .collect();
    assert_eq!(trace.len(), 20);
    assert!(trace.iter().all(|f| f.context == Some("TASK")));
    assert_eq!(trace.iter().filter(|f| !f.reliable).count(), 6);
    let first = trace[0].reference.unwrap();
    assert_eq!(first.name, "__die");
    assert_eq!(
        rip[0].addr,
        Some(
            table()
                .resolve("mpage_submit_folio+0x23/0x90 [ext4]")
                .unwrap()
        )
    );
}

#[test]
fn annotated_output_keeps_every_other_line() {
    let text = oops();
    let mut d = Decoder::new(table()).table_release(Some(RELEASE.into()));
    let mut out = Vec::new();
    let summary =
        decode_stream(&mut d, text.as_bytes(), &mut out, Output::Annotated, false).unwrap();
    assert_eq!(summary.frames, 22);
    assert_eq!((summary.ok, summary.mismatched, summary.raw), (22, 0, 0));
    assert!(summary.warnings.is_empty());
    let out = String::from_utf8(out).unwrap();
    let (ins, outs): (Vec<&str>, Vec<&str>) = (text.lines().collect(), out.lines().collect());
    assert_eq!(ins.len(), outs.len());
    let lines = decode_all(&text, None);
    let mut annotated = 0;
    for ((i, o), l) in ins.iter().zip(&outs).zip(&lines) {
        if l.frames.is_empty() {
            assert_eq!(i, o, "a line without frames changed");
        } else {
            annotated += 1;
            let note = o.strip_prefix(i).expect("the note is appended");
            assert!(note.starts_with("  # 0xffffffff"), "{o}");
        }
    }
    assert_eq!(annotated, 22);
    // Byte for byte, line endings and trailing spaces included.
    let stripped: String = out
        .split_inclusive('\n')
        .map(|l| match l.find("  # 0x") {
            Some(i) => format!("{}\n", &l[..i]),
            None => l.to_string(),
        })
        .collect();
    assert_eq!(stripped, text);
    // CRLF endings and a last line without one stay as they were.
    let crlf = "a\r\n[  1.0] ? __die+0x23/0x70\r\nlast";
    let mut out = Vec::new();
    decode_stream(
        &mut Decoder::new(table()),
        crlf.as_bytes(),
        &mut out,
        Output::Annotated,
        false,
    )
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("a\r\n[  1.0] ? __die+0x23/0x70  # 0x"));
    assert!(out.ends_with("\r\nlast"));
}

#[test]
fn a_changed_size_is_a_mismatch() {
    let text = oops().replace("ext4_writepages+0xab/0x170", "ext4_writepages+0xab/0x178");
    let lines = decode_all(&text, None);
    let bad: Vec<_> = lines
        .iter()
        .flat_map(|l| l.frames.iter().map(move |f| (l, f)))
        .filter(|(_, f)| f.status != Status::Ok)
        .collect();
    assert_eq!(bad.len(), 1);
    let (line, f) = bad[0];
    assert!(line.text.contains("ext4_writepages+0xab/0x178 [ext4]"));
    assert_eq!(
        f.status,
        Status::Mismatch(Mismatch::Size {
            trace: 0x178,
            table: vec![0x170]
        })
    );
    let note = line.annotation().unwrap();
    assert!(
        note.contains("MISMATCH: size 0x178 in the trace, 0x170 in this table"),
        "{note}"
    );
    // A name this kernel does not have, a module it is not in, an offset
    // past the end.
    let lines = decode_all(
        "[ 1.0]  ext4_no_such_fn+0x1/0x10 [ext4]\n\
         [ 1.0]  do_writepages+0x8a/0x280 [ext4]\n\
         [ 1.0]  do_writepages+0x281/0x280\n",
        None,
    );
    assert_eq!(
        lines[0].frames[0].status,
        Status::Mismatch(Mismatch::NoSuchName)
    );
    assert!(matches!(
        &lines[1].frames[0].status,
        Status::Mismatch(Mismatch::OtherModule { table, .. }) if table == &[None]
    ));
    assert!(matches!(
        lines[2].frames[0].status,
        Status::Mismatch(Mismatch::OffsetPastEnd {
            offset: 0x281,
            size: 0x280
        })
    ));
}

/// The oops's call trace with every frame replaced by its address, in the
/// old `[<addr>]` form, alone and before the name.
#[test]
fn raw_addresses_get_names() {
    let text = oops();
    let lines = decode_all(&text, None);
    let mut raw_trace = String::from("Call Trace:\n <TASK>\n");
    let mut both = raw_trace.clone();
    let mut want = Vec::new();
    for f in lines.iter().flat_map(|l| &l.frames) {
        if f.form != FrameForm::Trace {
            continue;
        }
        let addr = f.addr.unwrap();
        let q = if f.reliable { "" } else { "? " };
        raw_trace.push_str(&format!(" {q}[<{addr:016x}>]\n"));
        both.push_str(&format!(" [<{addr:016x}>] {q}{}\n", f.symbol.unwrap()));
        want.push(f.symbol.unwrap().to_string());
    }
    raw_trace.push_str(" </TASK>\n");
    let got: Vec<_> = decode_all(&raw_trace, None)
        .into_iter()
        .flat_map(|l| l.frames)
        .collect();
    assert_eq!(got.len(), want.len());
    for (f, w) in got.iter().zip(&want) {
        assert_eq!(f.status, Status::Raw);
        assert_eq!(&f.symbol.unwrap().to_string(), w, "named as %pB would");
    }
    let got: Vec<_> = decode_all(&both, None)
        .into_iter()
        .flat_map(|l| l.frames)
        .collect();
    assert_eq!(got.len(), want.len());
    assert!(got.iter().all(|f| f.status == Status::Ok));
    // `%pB`'s `0x...` for an address it could not name, in a trace: named here.
    let ext4 = table()
        .resolve("ext4_writepages+0xab/0x170 [ext4]")
        .unwrap();
    let text = format!("Call Trace:\n[ 1.0]  ? {ext4:#x}\n[ 1.0]  ? 0xffffffff00000000\n");
    let l = decode_all(&text, None);
    assert_eq!(l[1].frames[0].status, Status::Raw);
    assert_eq!(
        l[1].frames[0].symbol.unwrap().to_string(),
        "ext4_writepages+0xab/0x170 [ext4]"
    );
    assert_eq!(l[2].frames[0].status, Status::Unresolved);
    assert!(l[2]
        .annotation()
        .unwrap()
        .contains("no symbol at 0xffffffff00000000"));
}

#[test]
fn a_different_release_warns() {
    let text = oops();
    let lines = decode_all(&text, Some("6.18.44"));
    let warned: Vec<_> = lines.iter().filter(|l| l.warning.is_some()).collect();
    assert_eq!(warned.len(), 1);
    assert!(warned[0].text.contains("Not tainted 6.12.117+deb12-amd64"));
    assert_eq!(
        warned[0].warning,
        Some(Warning::ReleaseDiffers {
            trace: RELEASE.into(),
            table: "6.18.44".into()
        })
    );
    // Frames are still checked, and the line itself is not touched.
    assert!(lines
        .iter()
        .flat_map(|l| &l.frames)
        .all(|f| f.status == Status::Ok));
    assert!(warned[0].annotation().is_none());
    // Unknown table release: nothing to compare.
    assert!(decode_all(&text, None).iter().all(|l| l.warning.is_none()));
}

#[test]
fn pfx_frames_with_offset_equal_to_size_are_ok() {
    let t = table();
    let target = t.find_in(None, "do_writepages").next().unwrap();
    let pfx = t.find_in(None, "__pfx_do_writepages").next().unwrap();
    assert_eq!((pfx.size, pfx.start + pfx.size), (0x10, target.start));
    let text = format!(
        "Call Trace:\n <TASK>\n ? __pfx_do_writepages+0x10/0x10\n [<{:016x}>]\n",
        target.start
    );
    let l = decode_all(&text, None);
    assert_eq!(l[2].frames[0].status, Status::Ok);
    assert!(!l[2].frames[0].reliable);
    assert_eq!(l[2].frames[0].addr, Some(target.start));
    // The function's start as a return address is named as the kernel does.
    assert_eq!(
        l[3].frames[0].symbol.unwrap().to_string(),
        "__pfx_do_writepages+0x10/0x10"
    );
}

#[test]
fn warnings_irq_stacks_and_text_references() {
    let t = table();
    let wb = t.resolve("wb_workfn+0xc5/0x430").unwrap();
    let text = format!(
        "[  5.1] WARNING: CPU: 1 PID: 9 at fs/ext4/inode.c:2789 ext4_writepages+0xab/0x170 [ext4 0123456789abcdef]\n\
         [  5.2] workqueue: callback (wb_workfn+0x0/0x430) took too long\n\
         [  5.3] Call Trace:\n\
         [  5.3]  <IRQ>\n\
         [  5.3]  ? __die+0x23/0x70\n\
         [  5.3]  </IRQ>\n\
         [  5.3]  <TASK>\n\
         [  5.3]  RIP: 0010:do_writepages+0x8a/0x280\n\
         [  5.3]  [<{wb:016x}>] wb_workfn+0xc5/0x430\n\
         [  5.3]  </TASK>\n\
         [  5.4] note: nothing+here and no+0x frames\n"
    );
    let lines = decode_all(&text, None);
    let f = &lines[0].frames[0];
    assert_eq!((f.form, &f.status), (FrameForm::Text, &Status::Ok));
    assert_eq!(f.reference.unwrap().module, Some("ext4"));
    let f = &lines[1].frames[0];
    assert_eq!((f.form, &f.status), (FrameForm::Text, &Status::Ok));
    assert_eq!(lines[4].frames[0].context, Some("IRQ"));
    assert_eq!(lines[7].frames[0].form, FrameForm::Register);
    assert_eq!(lines[8].frames.len(), 1);
    assert_eq!(lines[8].frames[0].status, Status::Ok);
    assert_eq!(lines[8].frames[0].context, Some("TASK"));
    assert!(lines[10].frames.is_empty());
}

// ---------------------------------------------------------------------------
// perf script and bpftrace.

#[test]
fn perf_and_bpftrace_raw_addresses_get_names() {
    let t = table();
    let dw = t.resolve("do_writepages+0x8a").unwrap();
    let ext4 = t.resolve("ext4_writepages+0xab [ext4]").unwrap();
    let perf = format!(
        "kworker/u16:5  1234 [002]   315.447328:     250000 cpu-clock:ppp: \n\
         \t{dw:16x} [unknown] ([kernel.kallsyms])\n\
         \t{ext4:16x} [unknown] ([unknown])\n\
         \t    7f1234567890 [unknown] (/usr/lib/x86_64-linux-gnu/libc.so.6)\n\
         \tffffffff00000000 [unknown] ([unknown])\n\
         \n"
    );
    let mut out = Vec::new();
    let s = rewrite_stream(t, RewriteFormat::Perf, perf.as_bytes(), &mut out, false).unwrap();
    assert_eq!((s.lines, s.rewritten), (6, 2));
    let out = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = out.split('\n').collect();
    let ins: Vec<&str> = perf.split('\n').collect();
    assert_eq!(lines.len(), ins.len());
    assert_eq!(lines[0], ins[0]);
    assert_eq!(
        lines[1],
        format!("\t{dw:16x} do_writepages+0x8a ([kernel.kallsyms])")
    );
    assert_eq!(
        lines[2],
        format!("\t{ext4:16x} ext4_writepages+0xab ([ext4])")
    );
    assert_eq!(&lines[3..], &ins[3..]);

    let bpf = format!("@[\n    {dw:#x}\n    ext4_writepages+171\n    {ext4:x}\n]: 42\n");
    let got: Vec<String> = bpf
        .lines()
        .map(|l| rewrite_line(t, RewriteFormat::Bpftrace, l).unwrap_or_else(|| l.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            "@[",
            "    do_writepages+138",
            "    ext4_writepages+171",
            "    ext4_writepages+171",
            "]: 42"
        ]
    );
}

// ---------------------------------------------------------------------------
// Batch symbolization.

fn rng(seed: &mut u64) -> u64 {
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

#[test]
fn no_frame_is_ever_dropped() {
    let t = table();
    let s = Symbolizer::new(t).addr_kind(AddrKind::Stack);
    let text = t.find_in(None, "_stext").next().unwrap().start;
    let mut seed = 42u64;
    let mut ips: Vec<u64> = (0..50_000)
        .map(|i| match i % 5 {
            0 => rng(&mut seed),                           // anything at all
            1 => 0x7f00_0000_0000 + rng(&mut seed) % 4096, // user space
            _ => text + rng(&mut seed) % 0x100_0000,       // core text
        })
        .collect();
    ips.extend([0, 1, u64::MAX, 0xffff_ffff_ffff_f000]);
    let mut frames = Frames::new();
    s.symbolize(&ips, &mut frames);
    assert_eq!(frames.len(), ips.len());
    let mut raw = 0;
    for (i, (f, &ip)) in frames.iter().zip(&ips).enumerate() {
        assert_eq!(f.addr(), ip, "frame {i} keeps its address");
        match f {
            Frame::Symbol(sym) => {
                let look = if i == 0 { ip } else { ip - 1 };
                assert_eq!(Some(sym.start), t.lookup(look).map(|x| x.start));
            }
            Frame::Raw { addr, why } => {
                raw += 1;
                assert_eq!((addr, why), (ip, RawReason::NoSymbol));
                let look = if i == 0 { ip } else { ip.wrapping_sub(1) };
                assert!(t.lookup(look).is_none());
            }
        }
    }
    let st = s.stats();
    assert_eq!((st.batches, st.ips), (1, ips.len() as u64));
    assert_eq!((st.raw, st.no_symbol), (raw, raw));
    assert_eq!(st.resolved + st.raw, st.ips);
    assert!(
        raw > 10_000,
        "user-space and wild addresses stay raw ({raw})"
    );
}

#[test]
fn return_addresses_name_the_caller() {
    let t = table();
    // Each function's start is the end of the function before it: as a
    // return address, the call that ended the previous function.
    let mut starts = Vec::new();
    let mut prev: Option<ksym::Symbol<'_>> = None;
    for sym in t.iter().take(t.answering_len()) {
        if t.lookup(sym.start) != Some(sym) {
            continue; // not the alias that answers
        }
        if let Some(p) = prev {
            if p.size > 0 && p.start + p.size == sym.start {
                starts.push((sym.start, p.name, p.size, sym.name));
            }
        }
        prev = Some(sym);
        if starts.len() == 5000 {
            break;
        }
    }
    assert_eq!(starts.len(), 5000);
    let ips: Vec<u64> = starts.iter().map(|s| s.0).collect();
    let exact = Symbolizer::new(t);
    let ret = Symbolizer::new(t).addr_kind(AddrKind::Return);
    let (e, r) = (exact.symbolize_new(&ips), ret.symbolize_new(&ips));
    for (i, &(ip, prev_name, prev_size, name)) in starts.iter().enumerate() {
        let es = *e.get(i).unwrap().symbol().unwrap();
        assert_eq!((es.name, es.offset), (name, 0));
        let rs = *r.get(i).unwrap().symbol().unwrap();
        assert_eq!(
            (rs.name, rs.offset, rs.size),
            (prev_name, prev_size, prev_size)
        );
        assert_eq!(rs.addr(), ip);
    }
    // `Stack`: the first frame is where the CPU was, the rest return addresses.
    let st = Symbolizer::new(t).addr_kind(AddrKind::Stack);
    let f = st.symbolize_new(&ips[..3]);
    assert_eq!(f.get(0).unwrap().symbol().unwrap().name, starts[0].3);
    assert_eq!(f.get(1).unwrap().symbol().unwrap().name, starts[1].1);
}

#[test]
fn sources_arc_live_handle_and_failures() {
    let t = table();
    let ips = [
        t.resolve("do_writepages+0x8a/0x280").unwrap(),
        t.resolve("mpage_submit_folio+0x23/0x90 [ext4]").unwrap(),
        0x1000,
    ];
    let want = [
        "do_writepages+0x8a/0x280",
        "mpage_submit_folio+0x23/0x90 [ext4]",
        "0x1000",
    ];
    let texts = |f: &Frames<'_>| f.iter().map(|f| f.to_string()).collect::<Vec<_>>();

    let arc = Symbolizer::new(Arc::new(load_small()));
    assert_eq!(
        arc.symbolize_new(&[0xffffffff81000010])
            .get(0)
            .unwrap()
            .to_string(),
        "f+0x10/0x100"
    );

    let by_ref = Symbolizer::new(t);
    assert_eq!(texts(&by_ref.symbolize_new(&ips)), want);

    // The live handle over a loader (no kernel needed): frames keep the table
    // they were found in, even after the handle moves on to a new one.
    let config = LiveConfig::new()
        .proc_root(std::env::temp_dir().join("ksym-stacks-no-such-root"))
        .watch(false)
        .loader(|_| Ok(load_small()));
    let live = Symbolizer::new(KernelSymbols::open(config).unwrap());
    let frames = live.symbolize_new(&[0xffffffff81000010, 0xffffffff81000110]);
    live.source().force_refresh().unwrap();
    assert_eq!(live.source().refresh_count(), 1);
    assert_eq!(texts(&frames), ["f+0x10/0x100", "g+0x10/0x100"]);

    // A source that could not be read: raw frames, counted by cause.
    let denied: ksym::Result<SymbolTable> = ksym::load_file(
        &std::env::temp_dir().join("ksym-stacks-no-such-file"),
        &LoadOptions::default(),
    );
    let s = Symbolizer::new(denied);
    let f = s.symbolize_new(&ips);
    assert_eq!(
        texts(&f),
        ips.iter().map(|a| format!("{a:#x}")).collect::<Vec<_>>()
    );
    assert!(matches!(
        f.get(0),
        Some(Frame::Raw {
            why: RawReason::Unavailable(FailureCause::Other),
            ..
        })
    ));
    let st = s.stats();
    assert_eq!((st.failed_other, st.raw, st.resolved), (3, 3, 0));
    assert_eq!((st.batches, st.failed_batches), (1, 1));
}

fn load_small() -> SymbolTable {
    let mut b = TableBuilder::new();
    b.add(0xffffffff81000000, 'T', "f", None);
    b.add(0xffffffff81000100, 'T', "g", None);
    b.add(0xffffffff81000200, 'T', "h", None);
    b.build(TableInfo::default()).unwrap()
}

/// The arm64 guests' SysRq `l`/`t` dumps (`sysrq-dmesg.txt`, 54 and 60
/// `task:` headers, many between a trace's frames) and their oops in
/// `fat`: no header is a frame, and every frame found names a symbol of
/// the guest's own kallsyms, with the size and module the kernel printed
/// (%pS's rules: mapping symbols skipped, a module's last function running
/// to its text area's end), from kallsyms and `/proc/modules` alone.
#[test]
fn sysrq_task_headers_of_arm64_dumps_are_no_frames() {
    for kernel in ["debian-6.1.0-57-cloud-arm64", "debian-6.12.118-cloud-arm64"] {
        let dir = data().join(kernel);
        let mut map = ModuleMap::default();
        map.add_text(
            "proc-modules",
            &std::fs::read(dir.join("proc-modules")).unwrap(),
        )
        .unwrap();
        let opts = LoadOptions {
            modules: Some(map),
            ..LoadOptions::default()
        };
        let table = ksym::load_file(&dir.join("kallsyms.xz"), &opts).unwrap();
        let text = std::fs::read_to_string(dir.join("sysrq-dmesg.txt")).unwrap()
            + &std::fs::read_to_string(dir.join("oops.txt")).unwrap();
        let mut d = Decoder::new(&table);
        let (mut headers, mut frames) = (0, 0);
        for line in text.lines() {
            let l = d.decode_line(line);
            if line.contains("] task:") {
                headers += 1;
                assert!(
                    l.frames.is_empty(),
                    "{kernel}: a task header taken for a frame: {line}"
                );
            }
            for f in &l.frames {
                frames += 1;
                assert!(
                    f.symbol.is_some() && f.status == Status::Ok,
                    "{kernel}: {line} # {}",
                    f.note()
                );
            }
        }
        assert!(
            headers >= 50 && frames > 100,
            "{kernel}: {headers} headers, {frames} frames"
        );
    }
}

/// arm64 prints a call trace's return addresses as they are (`%pS`): a
/// call that never returns, last in its function, leaves a frame at `+0x0`
/// of the next function (`trace_suspend_resume+0x0/0x70` after `vpanic`
/// in a real panic). Such a frame is checked as printed and also names the
/// caller; x86_64's traces (`%pB`, less one) get no caller.
#[test]
fn arm64_return_addresses_at_a_function_start_name_the_caller() {
    let dir = data().join("debian-6.12.118-cloud-arm64");
    let arm64 = ksym::load_file(&dir.join("kallsyms.xz"), &LoadOptions::default()).unwrap();
    let vpanic = arm64.find_in(None, "vpanic").next().unwrap();
    let next = arm64.lookup(vpanic.start + vpanic.size).unwrap();
    assert_eq!(next.name, "nmi_panic");
    let text = format!(
        "[   16.4] Call trace:\n[   16.4]  {}+0x0/{:#x}\n[   16.4]  vpanic+0x8/{:#x}\n",
        next.name, next.size, vpanic.size
    );
    let mut d = Decoder::new(&arm64);
    let lines: Vec<_> = text.lines().map(|l| d.decode_line(l)).collect();
    let f = &lines[1].frames[0];
    assert_eq!(f.status, Status::Ok);
    let caller = f.caller.expect("a caller");
    assert_eq!((caller.name, caller.offset), ("vpanic", vpanic.size));
    assert!(f.note().contains("the call is in vpanic+"), "{}", f.note());
    // Not at `+0x0`: the frame is inside its function, no caller.
    assert_eq!(lines[2].frames[0].caller, None);
    // x86_64 (the 6.12 oops's table): the same form names no caller.
    let x86 = table();
    let schedule = x86.find_in(None, "schedule").next().unwrap();
    let text = format!("Call Trace:\n schedule+0x0/{:#x}\n", schedule.size);
    let mut d = Decoder::new(x86);
    let lines: Vec<_> = text.lines().map(|l| d.decode_line(l)).collect();
    assert_eq!(lines[1].frames[0].status, Status::Ok);
    assert_eq!(lines[1].frames[0].caller, None);
}
