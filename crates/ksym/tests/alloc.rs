//! Batch symbolization allocates nothing per lookup once warm: a counting
//! global allocator (in this test binary only) over large batches against
//! the real Debian 6.12 table, through a borrowed table and the live handle.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use ksym::live::{KernelSymbols, LiveConfig};
use ksym::stack::{AddrKind, Frames, Symbolizer};
use ksym::{LoadOptions, ModuleMap, SymbolTable};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn load_612() -> SymbolTable {
    let dir = ksym_testdata::data_dir().join("debian-6.12.117");
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
    ksym::load_file(&dir.join("kallsyms.xz"), &opts).unwrap()
}

/// Addresses all over the table: symbol starts and insides, gaps, user space.
fn addresses(table: &SymbolTable, n: usize) -> Vec<u64> {
    let starts: Vec<(u64, u64)> = table
        .iter()
        .take(table.answering_len())
        .map(|s| (s.start, s.size))
        .collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|i| {
            seed ^= seed >> 12;
            seed ^= seed << 25;
            seed ^= seed >> 27;
            let r = seed.wrapping_mul(0x2545_F491_4F6C_DD1D);
            let (start, size) = starts[(r % starts.len() as u64) as usize];
            match i % 10 {
                0 => r >> 16, // user space or nothing
                1 => start,
                _ => start + (r >> 40) % size.max(1),
            }
        })
        .collect()
}

fn allocs_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCS.load(Relaxed);
    f();
    ALLOCS.load(Relaxed) - before
}

/// One test in this binary, so no other test thread allocates meanwhile.
#[test]
fn no_allocation_per_lookup_once_warm() {
    const N: usize = 300_000;
    let table = load_612();
    let ips = addresses(&table, N);

    // A profile's repeats: folded before the lookups.
    let repeated: Vec<u64> = (0..N).map(|i| ips[(i * 7) % 1500]).collect();
    let s = Symbolizer::new(&table).addr_kind(AddrKind::Stack);
    let mut frames = Frames::new();
    s.symbolize(&ips, &mut frames); // warm-up: the buffers grow once
    s.symbolize(&repeated, &mut frames);
    let mut names = 0usize;
    let n = allocs_during(|| {
        for _ in 0..3 {
            s.symbolize(&ips, &mut frames);
            // Reading the frames (names, modules) allocates nothing either.
            for f in frames.iter() {
                if let Some(sym) = f.symbol() {
                    names += sym.name.len() + sym.module.map_or(0, str::len);
                }
            }
        }
        s.symbolize(&repeated, &mut frames);
        assert_eq!(frames.len(), N);
        // Smaller batches reuse the same buffer.
        for chunk in ips.chunks(127) {
            s.symbolize(chunk, &mut frames);
        }
    });
    assert_eq!(n, 0, "allocations over {} lookups", 5 * N);
    assert!(names > 0);
    let st = s.stats();
    assert_eq!(st.ips, 7 * N as u64);
    assert!(st.resolved > 4 * N as u64, "{st:?}");

    // The live handle: one reference count per batch, no allocation.
    let config = LiveConfig::new()
        .proc_root(std::env::temp_dir().join("ksym-alloc-no-such-root"))
        .watch(false)
        .loader(move |_| Ok(load_612()));
    let live = Symbolizer::new(KernelSymbols::open(config).unwrap());
    let mut frames = Frames::new();
    live.symbolize(&ips, &mut frames);
    let n = allocs_during(|| {
        for chunk in ips.chunks(4096) {
            live.symbolize(chunk, &mut frames);
        }
        live.symbolize(&ips, &mut frames);
    });
    assert_eq!(n, 0, "allocations through the live handle");
    // Reading the counters allocates nothing.
    assert_eq!(
        allocs_during(|| {
            std::hint::black_box(live.stats());
        }),
        0
    );
}
