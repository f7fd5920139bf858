//! `ksym::live`: a self-refreshing table, tested on fake procfs directories
//! (modules and BPF programs coming and going, a watcher noticing by
//! itself, failures, shutdown), under a swap stress, and on the live kernel.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ksym::live::{load_proc, Fingerprint, LiveConfig};
use ksym::{Error, KernelSymbols, LoadOptions, SymbolTable};

const CORE: &str = "\
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff81000100 T core_fn
ffffffff81000200 t core_other
ffffffff81100000 T _etext
ffffffff83000000 B _end
";

/// Module text sits at A_BASE (module `a`, later `b`), init text at INIT.
const A_BASE: u64 = 0xffff_ffff_c000_0000;
const C_BASE: u64 = 0xffff_ffff_c002_0000;
const INIT: u64 = 0xffff_ffff_c010_0000;
const BPF: u64 = 0xffff_ffff_c140_0000;

/// A fake `/` with `proc/kallsyms`, `proc/modules`, a boot id and,
/// optionally, `bpf-prog-ids`; removed on drop.
struct FakeProc {
    root: PathBuf,
}

impl FakeProc {
    fn new(name: &str) -> FakeProc {
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let root = std::env::temp_dir().join(format!(
            "ksym-live-{name}-{}-{nanos}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(root.join("proc/sys/kernel/random")).unwrap();
        let fake = FakeProc { root };
        fake.write(
            "proc/sys/kernel/random/boot_id",
            "0b0e5f6c-2a4d-4c6e-9f1a-7d3b2c1e0f00\n",
        );
        fake.kallsyms("");
        fake.write("proc/modules", "");
        fake
    }

    /// Writes a file whole (a new file renamed over the old), so a reader
    /// never sees half of it.
    fn write(&self, rel: &str, text: &str) {
        let path = self.root.join(rel);
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
    }

    /// `proc/kallsyms`: the core plus `extra` lines.
    fn kallsyms(&self, extra: &str) {
        self.write("proc/kallsyms", &format!("{CORE}{extra}"));
    }

    fn modules(&self, text: &str) {
        self.write("proc/modules", text);
    }

    fn bpf_ids(&self, ids: &[u32]) {
        let text: String = ids.iter().map(|i| format!("{i}\n")).collect();
        self.write(ksym::live::FAKE_BPF_IDS, &text);
    }

    fn config(&self) -> LiveConfig {
        LiveConfig::new().proc_root(&self.root).watch(false)
    }
}

impl Drop for FakeProc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn sym_line(addr: u64, kind: char, name: &str, module: Option<&str>) -> String {
    match module {
        Some(m) => format!("{addr:016x} {kind} {name}\t[{m}]\n"),
        None => format!("{addr:016x} {kind} {name}\n"),
    }
}

fn module_line(name: &str, size: u64, refs: u32, state: &str, base: u64) -> String {
    format!("{name} {size} {refs} - {state} 0x{base:016x}\n")
}

/// `name [module]` of the symbol at `addr`, or `None`.
fn who(ks: &KernelSymbols, addr: u64) -> Option<String> {
    ks.lookup_with(addr, |s| {
        s.map(|s| match s.module {
            Some(m) => format!("{} [{m}]", s.name),
            None => s.name.to_string(),
        })
    })
}

/// A loader counting its calls, in front of the default one.
fn counting(calls: &Arc<AtomicUsize>) -> impl Fn(&LiveConfig) -> ksym::Result<SymbolTable> {
    let calls = Arc::clone(calls);
    move |config| {
        calls.fetch_add(1, Ordering::SeqCst);
        load_proc(config)
    }
}

/// Waits until `cond` holds, for at most `limit`.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

#[test]
fn handle_is_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<KernelSymbols>();
    check::<LiveConfig>();
}

#[test]
fn module_appears_after_refresh_now() {
    let fake = FakeProc::new("appears");
    let ks = KernelSymbols::open(fake.config()).unwrap();
    assert!(!ks.is_watching());
    assert_eq!(who(&ks, 0xffff_ffff_8100_0104).as_deref(), Some("core_fn"));
    assert_eq!(who(&ks, A_BASE + 0x10), None);
    assert_eq!(ks.refresh_count(), 0);

    fake.kallsyms(&format!(
        "{}{}",
        sym_line(A_BASE, 't', "a_helper", Some("a")),
        sym_line(A_BASE + 0x100, 'T', "a_fn", Some("a")),
    ));
    fake.modules(&module_line("a", 0x2000, 0, "Live", A_BASE));
    let before = ks.identity();
    assert_eq!(
        before,
        ksym::live::identity_of(&ks.fingerprint(), &fake.root)
    );
    assert!(ks.refresh_now().unwrap());
    assert_eq!(ks.refresh_count(), 1);
    // The identity follows the table: the module set changed.
    assert_eq!(
        ks.identity(),
        ksym::live::identity_of(&ks.fingerprint(), &fake.root)
    );
    assert_ne!(ks.identity().modules, before.modules);
    assert_eq!(who(&ks, A_BASE + 0x10).as_deref(), Some("a_helper [a]"));
    assert_eq!(who(&ks, A_BASE + 0x180).as_deref(), Some("a_fn [a]"));
    // Bounded by the module's extent from /proc/modules.
    assert_eq!(who(&ks, A_BASE + 0x2000), None);
    assert!(ks.age() < Duration::from_secs(60));
    assert!(ks.last_error().is_none());
    assert_eq!(ks.fingerprint().modules.unwrap().count, 1);
}

/// On the live kernel, `/sys/module/<m>/sections` bounds a module's text:
/// its last function ends where the text area does (a guard page before
/// the next area, since 6.4), not at the `/proc/modules` extent, which
/// since 6.4 covers the size of every area from the text's base.
#[test]
fn sysfs_sections_end_module_text() {
    let fake = FakeProc::new("sections");
    fake.kallsyms(&format!(
        "{}{}{}",
        sym_line(A_BASE, 't', "a_helper", Some("a")),
        sym_line(A_BASE + 0x100, 'T', "a_fn", Some("a")),
        sym_line(A_BASE + 0x4000, 'd', "a_data", Some("a")),
    ));
    let sections = fake.root.join("sys/module/a/sections");
    std::fs::create_dir_all(&sections).unwrap();
    std::fs::create_dir_all(fake.root.join("sys/module/built_in")).unwrap();
    fake.write("sys/module/a/sections/.text", &format!("0x{A_BASE:016x}\n"));
    fake.write(
        "sys/module/a/sections/.text.unlikely",
        &format!("0x{:016x}\n", A_BASE + 0x100),
    );
    fake.write(
        "sys/module/a/sections/.init.text",
        &format!("0x{:016x}\n", A_BASE + 0x9000),
    );
    fake.write(
        "sys/module/a/sections/.data",
        &format!("0x{:016x}\n", A_BASE + 0x4000),
    );
    // 6.12: areas apart, the extent the sum of their sizes; 6.1: one block
    // (text, then data) that the extent covers.
    for (release, extent, text_end) in [
        ("6.12.0-1-amd64\n", 0x5000, A_BASE + 0x3000),
        ("6.1.0\n", 0x5000, A_BASE + 0x4000),
    ] {
        fake.write("proc/sys/kernel/osrelease", release);
        fake.modules(&module_line("a", extent, 0, "Live", A_BASE));
        let ks = KernelSymbols::open(fake.config()).unwrap();
        let size = ks.lookup_with(A_BASE + 0x180, |s| s.map(|s| s.size));
        assert_eq!(size, Some(text_end - (A_BASE + 0x100)), "{release}");
        assert_eq!(who(&ks, text_end - 1).as_deref(), Some("a_fn [a]"));
        assert_eq!(
            who(&ks, text_end),
            if text_end == A_BASE + 0x3000 {
                None
            } else {
                Some("a_data [a]".into())
            }
        );
    }
}

#[test]
fn module_goes_and_its_addresses_are_reused() {
    let fake = FakeProc::new("reuse");
    fake.kallsyms(&format!(
        "{}{}",
        sym_line(A_BASE, 'T', "a_fn", Some("a")),
        sym_line(A_BASE + 0x800, 't', "a_tail", Some("a")),
    ));
    fake.modules(&module_line("a", 0x1000, 1, "Live", A_BASE));
    let ks = KernelSymbols::open(fake.config()).unwrap();
    let before = ks.snapshot();
    assert_eq!(who(&ks, A_BASE + 0x810).as_deref(), Some("a_tail [a]"));

    // `a` is unloaded: its addresses answer nothing.
    fake.kallsyms("");
    fake.modules("");
    assert!(ks.refresh_now().unwrap());
    assert_eq!(who(&ks, A_BASE + 0x10), None);
    assert_eq!(who(&ks, A_BASE + 0x810), None);
    // A snapshot taken before is whole and unchanged.
    assert_eq!(
        before.lookup(A_BASE + 0x810).map(|s| s.name),
        Some("a_tail")
    );

    // `b` loads at the same addresses: they name `b`.
    fake.kallsyms(&sym_line(A_BASE, 'T', "b_fn", Some("b")));
    fake.modules(&module_line("b", 0x1000, 0, "Live", A_BASE));
    assert!(ks.refresh_now().unwrap());
    assert_eq!(who(&ks, A_BASE + 0x810).as_deref(), Some("b_fn [b]"));
    assert_eq!(ks.refresh_count(), 2);
}

#[test]
fn freed_init_text_then_reused_resolves_to_live_owner() {
    let fake = FakeProc::new("init");
    // `c` is being loaded: its init text is still there.
    fake.kallsyms(&format!(
        "{}{}",
        sym_line(C_BASE, 't', "c_fn", Some("c")),
        sym_line(INIT, 't', "c_init", Some("c")),
    ));
    fake.modules(&module_line("c", 0x1000, 0, "Loading", C_BASE));
    let ks = KernelSymbols::open(fake.config()).unwrap();
    assert_eq!(who(&ks, INIT + 0x20).as_deref(), Some("c_init [c]"));

    // Init done: the state changes and the init text is gone.
    fake.kallsyms(&sym_line(C_BASE, 't', "c_fn", Some("c")));
    fake.modules(&module_line("c", 0x1000, 0, "Live", C_BASE));
    assert!(ks.refresh_now().unwrap(), "a state change is a change");
    assert_eq!(who(&ks, INIT + 0x20), None);

    // `d` loads where `c`'s init text was.
    fake.kallsyms(&format!(
        "{}{}",
        sym_line(C_BASE, 't', "c_fn", Some("c")),
        sym_line(INIT, 'T', "d_fn", Some("d")),
    ));
    fake.modules(&format!(
        "{}{}",
        module_line("d", 0x1000, 0, "Live", INIT),
        module_line("c", 0x1000, 0, "Live", C_BASE)
    ));
    assert!(ks.refresh_now().unwrap());
    assert_eq!(who(&ks, INIT + 0x20).as_deref(), Some("d_fn [d]"));
    assert_eq!(who(&ks, C_BASE + 0x20).as_deref(), Some("c_fn [c]"));
}

#[test]
fn bpf_program_appears_and_goes() {
    let fake = FakeProc::new("bpf");
    fake.bpf_ids(&[]);
    let ks = KernelSymbols::open(fake.config()).unwrap();
    assert_eq!(ks.fingerprint().bpf_progs.unwrap().count, 0);
    assert_eq!(who(&ks, BPF + 0x10), None);

    let prog = "bpf_prog_6deef7357e7b4530_my_prog";
    fake.kallsyms(&sym_line(BPF, 't', prog, Some("bpf")));
    fake.bpf_ids(&[42]);
    assert!(ks.refresh_now().unwrap());
    assert_eq!(who(&ks, BPF + 0x10), Some(format!("{prog} [bpf]")));
    assert_eq!(ks.fingerprint().bpf_progs.unwrap().count, 1);

    fake.kallsyms("");
    fake.bpf_ids(&[]);
    assert!(ks.refresh_now().unwrap());
    assert_eq!(who(&ks, BPF + 0x10), None);
}

#[test]
fn unchanged_fingerprint_does_not_rebuild() {
    let fake = FakeProc::new("unchanged");
    fake.kallsyms(&sym_line(A_BASE, 'T', "a_fn", Some("a")));
    fake.modules(&module_line("a", 0x1000, 0, "Live", A_BASE));
    fake.bpf_ids(&[7, 9]);
    let calls = Arc::new(AtomicUsize::new(0));
    let ks = KernelSymbols::open(fake.config().loader(counting(&calls))).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    assert!(!ks.refresh_now().unwrap());
    // The same content written again (new inode, new times): no change.
    fake.kallsyms(&sym_line(A_BASE, 'T', "a_fn", Some("a")));
    fake.modules(&module_line("a", 0x1000, 0, "Live", A_BASE));
    fake.bpf_ids(&[9, 7]);
    assert!(!ks.refresh_now().unwrap());
    // Only the refcount moved: no change.
    fake.modules(&module_line("a", 0x1000, 5, "Live", A_BASE));
    assert!(!ks.refresh_now().unwrap());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "no rebuild without a change"
    );
    assert_eq!(ks.refresh_count(), 0);

    // kallsyms alone is not watched (too costly to poll): force_refresh
    // picks such changes up.
    fake.kallsyms(&sym_line(A_BASE, 'T', "a_fn2", Some("a")));
    assert!(!ks.refresh_now().unwrap());
    ks.force_refresh().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(who(&ks, A_BASE).as_deref(), Some("a_fn2 [a]"));

    // A new boot id is a change.
    fake.write(
        "proc/sys/kernel/random/boot_id",
        "11111111-2a4d-4c6e-9f1a-7d3b2c1e0f00\n",
    );
    assert!(ks.refresh_now().unwrap());
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(!ks.refresh_now().unwrap());
    assert_eq!(ks.refresh_count(), 2);
}

#[test]
fn failed_rebuild_keeps_the_old_table() {
    let fake = FakeProc::new("fail");
    fake.kallsyms(&sym_line(A_BASE, 'T', "a_fn", Some("a")));
    fake.modules(&module_line("a", 0x1000, 0, "Live", A_BASE));
    let panic_now = Arc::new(AtomicBool::new(false));
    let p = Arc::clone(&panic_now);
    let ks = KernelSymbols::open(fake.config().loader(move |config| {
        assert!(!p.load(Ordering::SeqCst), "the loader was told to panic");
        load_proc(config)
    }))
    .unwrap();

    // Addresses hidden (what kptr_restrict does): an error, the old table stays.
    fake.write(
        "proc/kallsyms",
        "0000000000000000 T _stext\n0000000000000000 T b_fn\t[b]\n",
    );
    fake.modules(&module_line("b", 0x1000, 0, "Live", 0));
    let err = ks.refresh_now().unwrap_err();
    assert!(matches!(err, Error::Redacted { .. }), "{err}");
    assert_eq!(who(&ks, A_BASE).as_deref(), Some("a_fn [a]"));
    assert_eq!(ks.refresh_count(), 0);
    let last = ks.last_error().expect("the error is kept");
    assert!(last.message.contains("every address is zero"), "{last}");
    assert_eq!(last.consecutive, 1);

    // A panicking loader is an error too, not a panic here.
    panic_now.store(true, Ordering::SeqCst);
    let err = ks.refresh_now().unwrap_err();
    assert!(err.to_string().contains("loader panicked"), "{err}");
    assert_eq!(ks.last_error().unwrap().consecutive, 2);
    assert_eq!(who(&ks, A_BASE).as_deref(), Some("a_fn [a]"));

    // The kernel file gone: an error.
    panic_now.store(false, Ordering::SeqCst);
    std::fs::remove_file(fake.root.join("proc/kallsyms")).unwrap();
    assert!(matches!(ks.refresh_now(), Err(Error::Io { .. })));

    // Fixed: the next refresh succeeds and clears the error.
    fake.kallsyms(&sym_line(A_BASE, 'T', "b_fn", Some("b")));
    fake.modules(&module_line("b", 0x1000, 0, "Live", A_BASE));
    assert!(ks.refresh_now().unwrap());
    assert_eq!(who(&ks, A_BASE).as_deref(), Some("b_fn [b]"));
    assert!(ks.last_error().is_none());
    assert_eq!(ks.refresh_count(), 1);
}

#[test]
fn open_fails_without_a_table() {
    let fake = FakeProc::new("nothing");
    std::fs::remove_file(fake.root.join("proc/kallsyms")).unwrap();
    assert!(matches!(
        KernelSymbols::open(fake.config()),
        Err(Error::Io { .. })
    ));
}

#[test]
fn watcher_notices_by_itself() {
    let fake = FakeProc::new("watch");
    let ks = KernelSymbols::open(
        fake.config()
            .watch(true)
            .poll_interval(Duration::from_millis(20))
            .settle(Duration::from_millis(20), Duration::from_millis(200)),
    )
    .unwrap();
    assert!(ks.is_watching());
    assert!(!ks.listening_for_uevents(), "no uevents under a fake root");
    assert!(
        !ks.listening_for_ksymbol_events(),
        "no perf events under a fake root"
    );

    // A clone keeps the watcher alive when the first handle goes.
    let clone = ks.clone();
    drop(ks);
    let ks = clone;

    let start = Instant::now();
    fake.kallsyms(&sym_line(A_BASE, 'T', "a_fn", Some("a")));
    fake.modules(&module_line("a", 0x1000, 0, "Live", A_BASE));
    assert!(
        wait_for(Duration::from_secs(20), || who(&ks, A_BASE + 4).is_some()),
        "the watcher did not pick the module up"
    );
    println!("module noticed in {:?}", start.elapsed());
    assert_eq!(who(&ks, A_BASE + 4).as_deref(), Some("a_fn [a]"));
    assert_eq!(ks.refresh_count(), 1);

    // And a BPF program going away.
    fake.bpf_ids(&[1]);
    fake.kallsyms(&sym_line(BPF, 't', "bpf_prog_1_x", Some("bpf")));
    assert!(wait_for(Duration::from_secs(20), || who(&ks, BPF).is_some()));
    fake.bpf_ids(&[]);
    fake.kallsyms("");
    assert!(wait_for(Duration::from_secs(20), || who(&ks, BPF).is_none()));
    assert!(wait_for(Duration::from_secs(20), || who(&ks, A_BASE).is_none()));
    assert!(ks.last_error().is_none());
}

#[test]
fn watcher_coalesces_a_burst() {
    let fake = FakeProc::new("burst");
    let calls = Arc::new(AtomicUsize::new(0));
    let ks = KernelSymbols::open(
        fake.config()
            .watch(true)
            .poll_interval(Duration::from_millis(10))
            .settle(Duration::from_millis(300), Duration::from_secs(5))
            .loader(counting(&calls)),
    )
    .unwrap();
    // Ten modules, one every 10 ms: far less than the quiet time apart.
    let mut kallsyms = String::new();
    let mut modules = String::new();
    for i in 0..10u64 {
        let base = A_BASE + i * 0x1000;
        kallsyms.push_str(&sym_line(
            base,
            'T',
            &format!("m{i}_fn"),
            Some(&format!("m{i}")),
        ));
        modules.insert_str(0, &module_line(&format!("m{i}"), 0x1000, 0, "Live", base));
        fake.kallsyms(&kallsyms);
        fake.modules(&modules);
        std::thread::sleep(Duration::from_millis(10));
    }
    let last = A_BASE + 9 * 0x1000;
    assert!(wait_for(Duration::from_secs(20), || who(&ks, last).is_some()));
    let rebuilds = calls.load(Ordering::SeqCst) - 1;
    println!("10 loads in a burst, {rebuilds} rebuild(s)");
    assert!(rebuilds <= 3, "{rebuilds} rebuilds for one burst");
    assert_eq!(ks.refresh_count(), rebuilds as u64);
}

#[test]
fn dropping_the_last_handle_stops_the_watcher() {
    let fake = FakeProc::new("drop");
    let token = Arc::new(());
    let t = Arc::clone(&token);
    let ks = KernelSymbols::open(
        fake.config()
            .watch(true)
            .poll_interval(Duration::from_secs(3600))
            .loader(move |config| {
                let _held = &t;
                load_proc(config)
            }),
    )
    .unwrap();
    let clone = ks.clone();
    assert_eq!(Arc::strong_count(&token), 2);
    drop(ks);
    assert_eq!(Arc::strong_count(&token), 2, "a clone still holds it");
    let start = Instant::now();
    drop(clone);
    // The watcher thread held the config (and so the loader); it has ended
    // and been joined when drop returns.
    assert_eq!(Arc::strong_count(&token), 1);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

/// Addresses of the stress tables.
const S_BASE: u64 = 0xffff_ffff_8100_0000;
const S_SPAN: u64 = 0x4000;

/// Generation `g`'s table: even ones name every 0x100 bytes `a{g}_{i}`, odd
/// ones every 0x80 bytes `b{g}_{i}`.
fn stress_table(generation: u64) -> ksym::Result<SymbolTable> {
    let (family, stride) = if generation.is_multiple_of(2) {
        ('a', 0x100)
    } else {
        ('b', 0x80)
    };
    let mut text = String::new();
    for i in 0..S_SPAN / stride {
        text.push_str(&sym_line(
            S_BASE + i * stride,
            'T',
            &format!("{family}{generation}_{i}"),
            None,
        ));
    }
    text.push_str(&sym_line(S_BASE + S_SPAN, 'T', "zz_end", None));
    ksym::parse_bytes("stress", text.as_bytes(), &LoadOptions::default())
}

/// Checks one answer against the rule of the table it names; its generation.
fn check_answer(addr: u64, name: &str, offset: u64) -> u64 {
    let family = name.as_bytes()[0];
    let (generation, index) = name[1..].split_once('_').expect("name shape");
    let generation: u64 = generation.parse().unwrap();
    let index: u64 = index.parse().unwrap();
    let stride = match family {
        b'a' => 0x100,
        b'b' => 0x80,
        _ => panic!("unexpected {name}"),
    };
    assert_eq!(u64::from(family == b'b'), generation % 2, "{name}");
    assert_eq!(index, (addr - S_BASE) / stride, "{name} at {addr:#x}");
    assert_eq!(offset, (addr - S_BASE) % stride, "{name} at {addr:#x}");
    generation
}

#[test]
fn lookups_during_swaps_see_whole_tables() {
    const SWAPS: u64 = 1000;
    const READERS: usize = 4;
    // Lookups each reader does at least (more while swaps go on).
    let quota: u64 = if cfg!(debug_assertions) {
        500_000
    } else {
        2_000_000
    };
    let fake = FakeProc::new("stress");
    let next = Arc::new(AtomicU64::new(0));
    let n = Arc::clone(&next);
    let ks = KernelSymbols::open(
        fake.config()
            .loader(move |_| stress_table(n.fetch_add(1, Ordering::SeqCst))),
    )
    .unwrap();
    let start = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    // Lookups done by all readers, updated every 1024: the writer spreads
    // its swaps over the readers' work instead of bunching them up.
    let progress = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(READERS + 1));
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let ks = ks.clone();
            let done = Arc::clone(&done);
            let progress = Arc::clone(&progress);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (r as u64 + 1);
                let mut next_addr = move || {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    S_BASE + rng % S_SPAN
                };
                let (mut lookups, mut last_gen, mut gens_seen) = (0u64, 0u64, 0u64);
                while lookups < quota || !done.load(Ordering::Acquire) {
                    let (x, y) = (next_addr(), next_addr());
                    let (gx, gy) = match r % 3 {
                        // Two lookups through one guard: one table.
                        0 => {
                            let t = ks.current();
                            let (sx, sy) = (t.lookup(x).unwrap(), t.lookup(y).unwrap());
                            (
                                check_answer(x, sx.name, sx.offset),
                                check_answer(y, sy.name, sy.offset),
                            )
                        }
                        // The same through a snapshot.
                        1 => {
                            let t = ks.snapshot();
                            let (sx, sy) = (t.lookup(x).unwrap(), t.lookup(y).unwrap());
                            (
                                check_answer(x, sx.name, sx.offset),
                                check_answer(y, sy.name, sy.offset),
                            )
                        }
                        // One lookup at a time: each whole, never older.
                        _ => {
                            let g = |a| {
                                ks.lookup_with(a, |s| {
                                    let s = s.unwrap();
                                    check_answer(a, s.name, s.offset)
                                })
                            };
                            let gx = g(x);
                            let gy = g(y);
                            assert!(gy >= gx, "went back from {gx} to {gy}");
                            (gx, gx)
                        }
                    };
                    assert_eq!(gx, gy, "two answers of one table from two generations");
                    assert!(gx >= last_gen, "went back from {last_gen} to {gx}");
                    if gx != last_gen {
                        gens_seen += 1;
                    }
                    last_gen = gx;
                    lookups += 2;
                    if lookups % 1024 == 0 {
                        progress.fetch_add(1024, Ordering::Relaxed);
                    }
                }
                (lookups, gens_seen)
            })
        })
        .collect();
    barrier.wait();
    let total_quota = READERS as u64 * quota;
    for k in 0..SWAPS {
        while progress.load(Ordering::Relaxed) < k * total_quota / SWAPS
            && start.elapsed() < Duration::from_secs(30)
        {
            std::thread::yield_now();
        }
        ks.force_refresh().unwrap();
    }
    done.store(true, Ordering::Release);
    let (mut total, mut changes_seen) = (0, 0);
    for r in readers {
        let (lookups, gens) = r.join().unwrap();
        println!("reader: {lookups} lookups, {gens} generations seen");
        total += lookups;
        changes_seen += gens;
    }
    let elapsed = start.elapsed();
    println!("{total} lookups during {SWAPS} swaps in {elapsed:?}");
    assert_eq!(ks.refresh_count(), SWAPS);
    assert_eq!(next.load(Ordering::SeqCst), SWAPS + 1);
    // The last table is generation SWAPS.
    assert_eq!(check_answer(S_BASE, &who(&ks, S_BASE).unwrap(), 0), SWAPS);
    assert!(total >= READERS as u64 * quota);
    // The swaps happened while the readers read.
    assert!(
        changes_seen >= 20,
        "readers saw {changes_seen} table changes"
    );
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
}

/// Why the live kernel's symbols cannot be tested here, if they cannot.
fn live_unusable() -> Option<String> {
    let text = match std::fs::read_to_string("/proc/kallsyms") {
        Ok(t) => t,
        Err(e) => return Some(format!("/proc/kallsyms is unreadable: {e}")),
    };
    let nonzero = text.lines().take(1000).any(|l| {
        l.split(' ')
            .next()
            .is_some_and(|a| a.bytes().any(|b| b != b'0'))
    });
    if !nonzero {
        return Some("/proc/kallsyms shows only zero addresses (kptr_restrict)".into());
    }
    None
}

#[test]
fn live_kernel() {
    if let Some(why) = live_unusable() {
        println!("skipped: {why}");
        return;
    }
    let start = Instant::now();
    let ks = KernelSymbols::open(LiveConfig::default().poll_interval(Duration::from_millis(50)))
        .expect("the live kernel's table");
    println!(
        "live: {} symbols in {:?}, uevents: {}, ksymbol events: {}, bpf ids: {:?}",
        ks.current().len(),
        start.elapsed(),
        ks.listening_for_uevents(),
        ks.listening_for_ksymbol_events(),
        ksym::live::live_bpf_prog_ids().map(|ids| ids.len())
    );
    assert!(ks.is_watching());
    let t = ks.snapshot();
    let stext = t.find("_stext").next().expect("_stext").start;
    assert!(ks.lookup_with(stext, |s| s.is_some()));

    let fp = ks.fingerprint();
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert_eq!(fp.boot_id.as_deref(), Some(boot_id.trim()));
    assert_eq!(fp.modules.is_some(), Path::new("/proc/modules").exists());
    // (Other tests load programs meanwhile: only whether ids are known.)
    assert_eq!(
        fp.bpf_progs.is_some(),
        ksym::live::live_bpf_prog_ids().is_ok()
    );
    let again = Fingerprint::read(ks.config()).unwrap();
    // Changes on the live kernel are possible but rare; a rebuild for one is
    // fine either way.
    let changed = ks.refresh_now().unwrap();
    println!("fingerprint stable: {}, refresh: {changed}", again == fp);
    assert!(ks.last_error().is_none());
    let stop = Instant::now();
    drop(ks);
    assert!(stop.elapsed() < Duration::from_secs(5));
}

/// The live kernel's BPF program ids, or why they cannot be listed or a
/// program loaded here.
fn live_bpf_unusable() -> Option<String> {
    if let Some(why) = live_unusable() {
        return Some(why);
    }
    match ksym::live::live_bpf_prog_ids() {
        Ok(_) => None,
        Err(e) => Some(format!("BPF program ids cannot be listed: {e}")),
    }
}

/// `union bpf_attr` for `BPF_PROG_LOAD`, up to `prog_name`.
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// Loads `r0 = 0; exit` as an unattached socket filter named `name` (at
/// most 15 bytes): with the JIT and `bpf_jit_kallsyms`, it shows in
/// kallsyms as `bpf_prog_<tag>_<name> [bpf]` until the descriptor is closed.
fn load_test_bpf_prog(name: &str) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    const BPF_PROG_LOAD: libc::c_int = 5;
    const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
    // code, dst/src registers, offset, immediate: mov64 r0, 0; exit.
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = b"GPL\0";
    let mut prog_name = [0u8; 16];
    prog_name[..name.len()].copy_from_slice(name.as_bytes());
    let attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 0,
        log_size: 0,
        log_buf: 0,
        kern_version: 0,
        prog_flags: 0,
        prog_name,
    };
    // SAFETY: bpf(2) reads `size` bytes of `attr`, laid out as the kernel's
    // `union bpf_attr` for this command, and through it the two instructions
    // and the NUL-terminated license, all alive across the call; it writes
    // nothing of ours (no log buffer is given).
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>() as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor, owned by nothing else; closing it unloads the
    // program.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// The address of the test program `name` in `ks`'s current table.
fn test_prog_addr(ks: &KernelSymbols, name: &str) -> Option<u64> {
    let suffix = format!("_{name}");
    ks.current()
        .iter()
        .find(|s| s.module == Some("bpf") && s.name.ends_with(&suffix))
        .map(|s| s.start)
}

#[test]
fn live_bpf_program_appears_and_goes() {
    if let Some(why) = live_bpf_unusable() {
        println!("skipped: {why}");
        return;
    }
    let ks = KernelSymbols::open(LiveConfig::default().watch(false)).unwrap();
    assert!(ks.fingerprint().bpf_progs.is_some(), "ids are listable");
    const NAME: &str = "ksym_live_a";
    let prog = match load_test_bpf_prog(NAME) {
        Ok(fd) => fd,
        Err(e) => {
            println!("skipped: cannot load a BPF program: {e}");
            return;
        }
    };
    assert!(ks.refresh_now().unwrap(), "a new BPF program is a change");
    let Some(addr) = test_prog_addr(&ks, NAME) else {
        // bpf_jit_kallsyms=0 or no JIT: the id changes, no symbol shows.
        println!("skipped: the program has no kallsyms entry (bpf_jit_kallsyms?)");
        return;
    };
    let name = ks.lookup_with(addr + 1, |s| {
        let s = s.expect("the program resolves");
        assert_eq!(s.module, Some("bpf"));
        s.name.to_string()
    });
    println!("loaded {name} at {addr:#x}");

    drop(prog);
    // The program is freed after an RCU grace period: wait for its id to go.
    assert!(
        wait_for(Duration::from_secs(20), || {
            ks.refresh_now().unwrap();
            test_prog_addr(&ks, NAME).is_none()
        }),
        "the unloaded program still resolves"
    );
    assert_ne!(
        ks.lookup_with(addr + 1, |s| s.map(|s| s.name.to_string())),
        Some(name)
    );
}

/// Whether JIT-compiled BPF programs show in kallsyms.
fn jit_kallsyms() -> bool {
    std::fs::read_to_string("/proc/sys/net/core/bpf_jit_kallsyms").is_ok_and(|s| s.trim() == "1")
}

/// Sends a forged kernel uevent about module `ksym_live_test` to uevent
/// group 1 of this thread's network namespace.
fn send_module_uevent() -> std::io::Result<()> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let msg = b"add@/module/ksym_live_test\0ACTION=add\0DEVPATH=/module/ksym_live_test\0\
                SUBSYSTEM=module\0SEQNUM=1\0";
    // SAFETY: socket(2) takes no pointers.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_KOBJECT_UEVENT,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a new descriptor owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `sockaddr_nl` is plain integers; zeros are valid.
    let mut to: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    to.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    to.nl_groups = 1;
    // SAFETY: `msg` and `to` are alive across the call and their true sizes
    // are passed; sendto(2) only reads them.
    let rc = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            msg.as_ptr().cast(),
            msg.len(),
            0,
            (&to as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A module uevent wakes the watcher at once: with an hour between polls,
/// a new BPF program is picked up only because a (forged) module uevent
/// woke the watcher. The uevent is sent in a private network namespace
/// (netlink multicast stays within one), so nothing else on the machine sees it.
#[test]
fn live_uevent_wakes_the_watcher() {
    if let Some(why) = live_bpf_unusable() {
        println!("skipped: {why}");
        return;
    }
    let outcome = std::thread::spawn(|| -> Result<(), String> {
        // SAFETY: unshare(2) takes no pointers; CLONE_NEWNET moves only this
        // thread, which ends with the test, into a new network namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!("no private network namespace: {e}"));
        }
        let ks = KernelSymbols::open(
            LiveConfig::default()
                .poll_interval(Duration::from_secs(3600))
                // The BPF program below must not wake it by itself.
                .ksymbol_events(false)
                .settle(Duration::from_millis(20), Duration::from_millis(200)),
        )
        .map_err(|e| e.to_string())?;
        assert!(!ks.listening_for_ksymbol_events());
        if !ks.listening_for_uevents() {
            return Err("the uevent socket could not be opened".into());
        }
        let _prog = load_test_bpf_prog("ksym_live_b")
            .map_err(|e| format!("cannot load a BPF program: {e}"))?;
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(ks.refresh_count(), 0, "nothing polls within the hour");
        let start = Instant::now();
        send_module_uevent().map_err(|e| format!("cannot send a uevent: {e}"))?;
        assert!(
            wait_for(Duration::from_secs(30), || ks.refresh_count() > 0),
            "the uevent did not wake the watcher"
        );
        println!("woken and rebuilt in {:?}", start.elapsed());
        assert!(ks.last_error().is_none());
        assert!(test_prog_addr(&ks, "ksym_live_b").is_some() || !jit_kallsyms());
        Ok(())
    })
    .join()
    .unwrap();
    if let Err(why) = outcome {
        println!("skipped: {why}");
    }
}

/// Whether this process is root (perf events on every CPU need
/// `CAP_PERFMON` or `CAP_SYS_ADMIN`).
fn is_root() -> bool {
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A perf `PERF_RECORD_KSYMBOL` record wakes the watcher at once: with an
/// hour between polls and no uevent socket, a new BPF program resolves
/// shortly after it is loaded, and stops resolving shortly after its
/// descriptor is closed, only because the perf events woke the watcher.
#[test]
fn live_ksymbol_event_wakes_the_watcher() {
    if let Some(why) = live_bpf_unusable() {
        println!("skipped: {why}");
        return;
    }
    if !is_root() {
        println!("skipped: not root (system-wide perf events)");
        return;
    }
    if !jit_kallsyms() {
        println!("skipped: BPF programs do not show in kallsyms (bpf_jit_kallsyms)");
        return;
    }
    let ks = KernelSymbols::open(
        LiveConfig::default()
            .poll_interval(Duration::from_secs(3600))
            .uevents(false)
            .settle(Duration::from_millis(20), Duration::from_millis(200)),
    )
    .unwrap();
    assert!(!ks.listening_for_uevents());
    if !ks.listening_for_ksymbol_events() {
        println!("skipped: the perf ksymbol events could not be opened");
        return;
    }
    const NAME: &str = "ksym_live_c";
    let start = Instant::now();
    let prog = match load_test_bpf_prog(NAME) {
        Ok(fd) => fd,
        Err(e) => {
            println!("skipped: cannot load a BPF program: {e}");
            return;
        }
    };
    assert!(
        wait_for(Duration::from_secs(5), || test_prog_addr(&ks, NAME)
            .is_some()),
        "the load did not wake the watcher"
    );
    println!("load seen in {:?}", start.elapsed());
    let addr = test_prog_addr(&ks, NAME).unwrap();
    assert!(ks.lookup_with(addr + 1, |s| s.is_some_and(|s| s.name.ends_with(NAME))));

    let start = Instant::now();
    drop(prog);
    assert!(
        wait_for(Duration::from_secs(5), || test_prog_addr(&ks, NAME)
            .is_none()),
        "the unload did not wake the watcher"
    );
    println!("unload seen in {:?}", start.elapsed());
    assert!(ks.last_error().is_none());
}
