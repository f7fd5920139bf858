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
/// The largest single allocation (or reallocation) seen.
static LARGEST: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LARGEST.fetch_max(layout.size() as u64, Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LARGEST.fetch_max(layout.size() as u64, Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        LARGEST.fetch_max(new_size as u64, Relaxed);
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

/// The tests of this binary take turns, so no other test thread
/// allocates while one counts.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn no_allocation_per_lookup_once_warm() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
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

/// A saved plain kallsyms is mapped while it is parsed, not read into the
/// heap (which made loading one peak above blazesym's heap): no allocation
/// of the load comes near the file's size.
#[test]
fn a_plain_saved_kallsyms_is_not_read_into_the_heap() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let xz = std::fs::read(ksym_testdata::data_dir().join("debian-6.12.117/kallsyms.xz")).unwrap();
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut xz2::read::XzDecoder::new(&xz[..]), &mut text).unwrap();
    let path = std::env::temp_dir().join(format!("ksym-alloc-kallsyms-{}", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    LARGEST.store(0, Relaxed);
    let table = ksym::load_file(&path, &LoadOptions::default()).unwrap();
    let largest = LARGEST.load(Relaxed);
    std::fs::remove_file(&path).unwrap();
    assert!(table.len() > 200_000);
    // (The name arena is sized at half the text.)
    assert!(
        largest < text.len() as u64,
        "an allocation of {largest} bytes while loading a {}-byte file",
        text.len()
    );
}
