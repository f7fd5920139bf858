//! Where the workspace's tests, benchmarks and examples find the real
//! kernel data (Debian's kallsyms, images, `.ko` files and oopses):
//! `shared/data` beside the clone, as CI lays it out. One place that knows
//! the layout, and says plainly when the data is not there rather than
//! letting each test fail on a missing file of its own.

pub mod bpftool;

use std::path::{Path, PathBuf};

/// Where the shared data is expected, there or not (for the few callers
/// that skip without it).
pub fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
}

/// The shared data. Panics, naming where it looked, when it is not there.
pub fn data_dir() -> PathBuf {
    let dir = shared_data();
    assert!(
        dir.join("README.md").is_file(),
        "the real kernel data is missing: expected {} (shared/ beside the clone)",
        dir.display()
    );
    dir
}
