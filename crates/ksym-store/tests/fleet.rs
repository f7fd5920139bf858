//! What a fleet costs: 100 boots of one kernel (the real 6.12 build, each
//! with its own KASLR slide, module addresses and module set) pushed into
//! one store cost one core table, each module once, and a small record
//! (plus layout) per boot. Prints the figures.

mod common;

use std::collections::HashMap;

use common::{boot, boot_id};
use ksym_store::Store;

const BOOTS: u64 = 100;

#[tokio::test(flavor = "multi_thread")]
async fn a_hundred_boots_cost_one_core_and_small_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::from_url(&format!("file://{}", dir.path().display())).unwrap();
    let mut snapshot_bytes = 0u64;
    let mut written = 0u64;
    // Four boots at a time (as hosts would push), so that both CPUs work.
    for first in (0..BOOTS).step_by(4) {
        let mut pushes = tokio::task::JoinSet::new();
        for i in first..(first + 4).min(BOOTS) {
            let store = store.clone();
            pushes.spawn(async move {
                let snapshot = tokio::task::spawn_blocking(move || boot(i)).await.unwrap();
                let report = store.put_snapshot(&snapshot).await.unwrap();
                assert_eq!(report.boot_id, boot_id(i));
                (snapshot.len() as u64, report.bytes_written)
            });
        }
        while let Some(done) = pushes.join_next().await {
            let (len, bytes) = done.unwrap();
            snapshot_bytes += len;
            written += bytes;
        }
    }
    // What is on disk, by kind of object.
    let mut by_kind: HashMap<&str, (usize, u64)> = HashMap::new();
    for f in common::files_under(dir.path())
        .into_iter()
        .filter(|f| f.is_file())
    {
        let rel = f
            .strip_prefix(dir.path())
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let kind = ["cores", "modules", "layouts", "boots"]
            .into_iter()
            .find(|k| rel.starts_with(k))
            .unwrap();
        let e = by_kind.entry(kind).or_default();
        e.0 += 1;
        e.1 += std::fs::metadata(&f).unwrap().len();
    }
    let get = |k: &str| by_kind.get(k).copied().unwrap_or_default();
    let (cores, core_bytes) = get("cores");
    let (modules, module_bytes) = get("modules");
    let (layouts, layout_bytes) = get("layouts");
    let (records, record_bytes) = get("boots");
    let total = core_bytes + module_bytes + layout_bytes + record_bytes;
    eprintln!("{BOOTS} boots: {snapshot_bytes} bytes as snapshots, {total} bytes stored ({written} written)");
    eprintln!("  core tables: {cores}, {core_bytes} bytes");
    eprintln!("  module parts: {modules}, {module_bytes} bytes");
    eprintln!(
        "  layouts: {layouts}, {layout_bytes} bytes ({} a boot)",
        layout_bytes / BOOTS
    );
    eprintln!(
        "  boot records: {records}, {record_bytes} bytes ({} a boot)",
        record_bytes / BOOTS
    );
    assert_eq!(written, total);
    assert_eq!(cores, 1, "one core table for one kernel build");
    assert_eq!((layouts, records), (BOOTS as usize, BOOTS as usize));
    // Each of the kernel's 66 modules once, whatever its address or boot,
    // though no boot has them all.
    let (table, _) = common::open(&boot(0));
    let all_modules = common::k612_modules_with_symbols().len();
    assert!(common::modules_with_symbols(&table).len() < all_modules);
    assert_eq!(modules, all_modules);
    // Per boot: small next to a snapshot, and the whole close to one core,
    // the modules once and the per-boot part.
    let per_boot = (layout_bytes + record_bytes) / BOOTS;
    let one_snapshot = snapshot_bytes / BOOTS;
    assert!(per_boot * 50 < one_snapshot, "{per_boot} bytes a boot");
    assert!(total < one_snapshot * 2, "{total} bytes for {BOOTS} boots");
}
