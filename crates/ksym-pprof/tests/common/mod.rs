//! A profile built the way system-wide profilers write them: user frames
//! already named, kernel frames as bare addresses taken from the real Debian
//! 6.12 kallsyms of `../shared/data`, plus the cases that must be left alone.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use ksym::{LoadOptions, SymbolTable};
use ksym_pprof::proto::{Function, Line, Location, Mapping, Sample, ValueType};
use ksym_pprof::Profile;

/// The shared real-kernel data (see `ksym-testdata`).
pub fn data_dir() -> PathBuf {
    ksym_testdata::data_dir()
}

pub fn kallsyms_path() -> PathBuf {
    data_dir().join("debian-6.12.117/kallsyms.xz")
}

pub fn debian_table() -> SymbolTable {
    let path = kallsyms_path();
    ksym::load_file(&path, &LoadOptions::default()).unwrap_or_else(|e| {
        panic!(
            "{e}: the tests need the shared data beside the repository ({})",
            path.display()
        )
    })
}

/// Mapping ids of the fixture.
pub const MAP_APP: u64 = 1;
/// `[kernel.kallsyms]`: also holds an unresolvable address, so it must not
/// be marked `has_functions`.
pub const MAP_KALLSYMS: u64 = 2;
/// `/usr/lib/debug/boot/vmlinux-...`: every location resolves.
pub const MAP_VMLINUX: u64 = 3;
/// `[vsyscall]`: a kernel-half address that is user space.
pub const MAP_VSYSCALL: u64 = 4;

pub struct Fixture {
    pub profile: Profile,
    /// Kernel locations that must come out named: (location id, function
    /// name, function file name).
    pub expect_named: Vec<(u64, String, String)>,
    /// Kernel locations the table cannot name: kept as they were.
    pub expect_unresolved: Vec<u64>,
    /// Kernel locations that already had a name: kept as they were.
    pub expect_already_named: Vec<u64>,
    /// Locations outside the kernel: kept as they were.
    pub expect_skipped: Vec<u64>,
}

struct Builder {
    p: Profile,
    strings: HashMap<String, i64>,
}

impl Builder {
    fn s(&mut self, text: &str) -> i64 {
        if let Some(&i) = self.strings.get(text) {
            return i;
        }
        let i = self.p.string_table.len() as i64;
        self.p.string_table.push(text.to_string());
        self.strings.insert(text.to_string(), i);
        i
    }

    fn mapping(&mut self, id: u64, start: u64, limit: u64, file: &str, has_functions: bool) {
        let filename = self.s(file);
        self.p.mapping.push(Mapping {
            id,
            memory_start: start,
            memory_limit: limit,
            filename,
            has_functions,
            ..Default::default()
        });
    }

    fn function(&mut self, name: &str, file: &str) -> u64 {
        let id = self.p.function.len() as u64 + 1;
        let name = self.s(name);
        let filename = self.s(file);
        self.p.function.push(Function {
            id,
            name,
            system_name: name,
            filename,
            start_line: 0,
        });
        id
    }

    fn location(&mut self, mapping_id: u64, address: u64, functions: &[u64]) -> u64 {
        let id = self.p.location.len() as u64 + 1;
        self.p.location.push(Location {
            id,
            mapping_id,
            address,
            line: functions
                .iter()
                .map(|&function_id| Line {
                    function_id,
                    line: 42,
                    column: 0,
                })
                .collect(),
            is_folded: false,
        });
        id
    }

    fn sample(&mut self, stack: &[u64], count: i64) {
        self.p.sample.push(Sample {
            location_id: stack.to_vec(),
            value: vec![count, count * 10_000_000],
            label: vec![],
        });
    }
}

/// The address `offset` bytes into the symbol `name` (of `module`, `None`
/// for the core), checked to name that symbol.
pub fn addr_of(table: &SymbolTable, module: Option<&str>, name: &str, offset: u64) -> u64 {
    let sym = table
        .find_in(module, name)
        .next()
        .unwrap_or_else(|| panic!("{name} ({module:?}) is not in the data"));
    assert!(offset < sym.size, "{name}+{offset:#x} is past its size");
    let addr = sym.start + offset;
    assert_eq!(table.lookup(addr).map(|s| s.name), Some(name));
    addr
}

pub fn fixture(table: &SymbolTable) -> Fixture {
    let mut b = Builder {
        p: Profile::default(),
        strings: HashMap::new(),
    };
    b.s("");
    let (samples, count) = (b.s("samples"), b.s("count"));
    let (cpu, ns) = (b.s("cpu"), b.s("nanoseconds"));
    b.p.sample_type = vec![
        ValueType {
            r#type: samples,
            unit: count,
        },
        ValueType {
            r#type: cpu,
            unit: ns,
        },
    ];
    b.p.period_type = Some(ValueType {
        r#type: cpu,
        unit: ns,
    });
    b.p.period = 10_000_000;
    b.p.time_nanos = 1_700_000_000_000_000_000;
    b.p.duration_nanos = 1_000_000_000;
    let comment = b.s("built by ksym-pprof's tests");
    b.p.comment = vec![comment];

    b.mapping(MAP_APP, 0x40_0000, 0x50_0000, "/usr/bin/app", true);
    b.mapping(
        MAP_KALLSYMS,
        0xffff_ffff_8000_0000,
        u64::MAX,
        "[kernel.kallsyms]",
        false,
    );
    b.mapping(
        MAP_VMLINUX,
        0xffff_ffff_8000_0000,
        u64::MAX,
        "/usr/lib/debug/boot/vmlinux-6.12.117+deb12-amd64",
        false,
    );
    b.mapping(
        MAP_VSYSCALL,
        0xffff_ffff_ff60_0000,
        0xffff_ffff_ff60_1000,
        "[vsyscall]",
        false,
    );

    let f_main = b.function("main", "app.c");
    let f_work = b.function("app_work", "app.c");
    let f_read = b.function("read", "libc.c");
    let f_unknown = b.function("[unknown]", "");
    let f_hex = b.function("0xffffffff9b457350", "");
    let f_sched = b.function("schedule", "[kernel.kallsyms]");

    let mut fx = Fixture {
        profile: Profile::default(),
        expect_named: vec![],
        expect_unresolved: vec![],
        expect_already_named: vec![],
        expect_skipped: vec![],
    };

    // User space, named and not: skipped.
    let main = b.location(MAP_APP, 0x40_1000, &[f_main]);
    let work = b.location(MAP_APP, 0x40_2000, &[f_work]);
    let libc_read = b.location(0, 0x7f12_3456_7000, &[f_read]);
    let bare_user = b.location(MAP_APP, 0x40_3000, &[]);
    let vsyscall = b.location(MAP_VSYSCALL, 0xffff_ffff_ff60_0400, &[]);
    fx.expect_skipped
        .extend([main, work, libc_read, bare_user, vsyscall]);

    let core = "[kernel.kallsyms]".to_string();
    let mut named = |b: &mut Builder, map: u64, module: Option<&str>, name: &str, off: u64| {
        let id = b.location(map, addr_of(table, module, name, off), &[]);
        let file = module.map_or(core.clone(), |m| format!("[{m}]"));
        fx.expect_named.push((id, name.to_string(), file));
        id
    };
    // A read(2) going through the kernel, all in the vmlinux mapping; two
    // addresses in vfs_read share one function.
    let entry = named(&mut b, MAP_VMLINUX, None, "entry_SYSCALL_64", 0x10);
    let sys_read = named(&mut b, MAP_VMLINUX, None, "__x64_sys_read", 0x12);
    let ksys_read = named(&mut b, MAP_VMLINUX, None, "ksys_read", 0x5);
    let vfs_read_a = named(&mut b, MAP_VMLINUX, None, "vfs_read", 0x10);
    let vfs_read_b = named(&mut b, MAP_VMLINUX, None, "vfs_read", 0x40);
    // Module frames under no mapping at all, the way eBPF profilers write them.
    let ext4_read = named(&mut b, 0, Some("ext4"), "ext4_file_read_iter", 0x8);
    let xfs_read = named(&mut b, 0, Some("xfs"), "xfs_file_read_iter", 0x18);
    // `[kernel.kallsyms]`, no lines.
    let open = named(&mut b, MAP_KALLSYMS, None, "do_sys_open", 0x12);
    // Lines whose functions name nothing: replaced.
    let ksys_read_unknown = b.location(
        MAP_KALLSYMS,
        addr_of(table, None, "ksys_read", 0x9),
        &[f_unknown],
    );
    fx.expect_named
        .push((ksys_read_unknown, "ksys_read".into(), core.clone()));
    let vfs_read_hex = b.location(
        MAP_KALLSYMS,
        addr_of(table, None, "vfs_read", 0x20),
        &[f_hex],
    );
    fx.expect_named
        .push((vfs_read_hex, "vfs_read".into(), core.clone()));
    // Already named by the producer (line 42 of its own function): kept.
    let sched = b.location(
        MAP_KALLSYMS,
        addr_of(table, None, "schedule", 0x3),
        &[f_sched],
    );
    fx.expect_already_named.push(sched);
    // Kernel-half addresses no symbol holds: the direct map, the top page.
    let direct_map = b.location(0, 0xffff_8881_0000_0000, &[]);
    let top = b.location(MAP_KALLSYMS, 0xffff_ffff_ffff_f000, &[]);
    assert!(table.lookup(0xffff_8881_0000_0000).is_none());
    assert!(table.lookup(0xffff_ffff_ffff_f000).is_none());
    fx.expect_unresolved.extend([direct_map, top]);

    b.sample(
        &[
            vfs_read_a, ksys_read, sys_read, entry, libc_read, work, main,
        ],
        5,
    );
    b.sample(
        &[vfs_read_b, ksys_read, sys_read, entry, libc_read, main],
        3,
    );
    b.sample(
        &[ext4_read, vfs_read_hex, ksys_read_unknown, entry, main],
        7,
    );
    b.sample(&[xfs_read, vfs_read_a, ksys_read, entry, main], 2);
    b.sample(&[open, entry, work, main], 4);
    b.sample(&[sched, entry, main], 6);
    b.sample(&[direct_map, top, entry, bare_user, main], 1);
    b.sample(&[vsyscall, main], 1);
    b.sample(&[bare_user, main], 2);

    fx.profile = b.p;
    fx
}
