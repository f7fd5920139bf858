//! The library calls README.md shows, and the paths of earlier releases,
//! compiled against the current layout (the example runs on the Debian
//! 6.12 data, its `_text` standing in for README's `0xffffffff81000000`).

use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    ksym_testdata::data_dir().join("debian-6.12.117")
}

/// README.md's "Library" section, word for word where it can run here.
fn readme_library(
    table: ksym::SymbolTable,
    text: u64,
    ko: &Path,
    ranges: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let sym = table.lookup(text).ok_or("no symbol")?;
    println!("{sym}");
    for s in table.find("init_once") {
        println!("{:#x} {:?}", s.start, s.module);
    }
    let ko = ksym::elf::read_elf(ko)?;
    let sizes = ksym::elf::module_sizes(&table, "nvme", &ko);
    let table = table.with_real_sizes(&sizes);
    let ranges = ksym::builtin::BuiltinRanges::read(ranges)?;
    let (table, _) = ranges.apply(table);
    use ksym::stack::{AddrKind, Frames, Symbolizer};
    let symbolizer = Symbolizer::new(&table).addr_kind(AddrKind::Stack);
    let mut frames = Frames::new();
    let ips = [text, text + 0x123];
    symbolizer.symbolize(&ips, &mut frames);
    for f in frames.iter() {
        println!("{f}");
    }
    println!("{:?}", symbolizer.stats());
    Ok(())
}

/// Paths of earlier releases that must keep naming the same items.
#[allow(unused_imports)]
mod earlier_paths {
    pub use ksym::builtin::{read_builtin_files, BuiltinRanges};
    pub use ksym::cache::{default_dir, CacheOutcome};
    pub use ksym::decode::{decode_stream, rewrite_stream, Decoder, Output, RewriteFormat};
    pub use ksym::dump::{write, DumpFormat};
    pub use ksym::elf::{
        apply_modules, apply_modules_dep, load_vmlinux, match_module, module_sizes, modules_dir,
        read_elf, vmlinux_sizes, ElfSymbols,
    };
    pub use ksym::host::{HostKernel, X86_64_TEXT_LINK_ADDR};
    pub use ksym::image::{
        kallsyms_from_image, live_text_address, matches_running_kernel, read_image,
        slide_from_live, text_address_in, AddressEncoding, Container,
    };
    pub use ksym::live::{live_bpf_prog_ids, load_proc, Fingerprint, KernelSymbols, LiveConfig};
    pub use ksym::modules::{ModuleArea, ModuleInfo, ModuleMap};
    pub use ksym::parse::{FormatSeen, SkippedLines};
    pub use ksym::snapshot::{from_bytes, open, save, to_bytes, Identity, OpenOptions};
    pub use ksym::source::{decompress, read_live_modules, PROC_KALLSYMS};
    pub use ksym::stack::{AddrKind, FailureCause, Frame, Frames, RawReason, Symbolizer};
    pub use ksym::table::{CORE_SIZE_CAP, MODULE_SIZE_CAP};
    pub use ksym::{
        load_file, load_image, load_live, load_streaming, parse_bytes, DupInfo, Error, LoadOptions,
        ModuleRange, Qualifier, Symbol, SymbolId, SymbolRef, SymbolTable, TableBuilder, TableInfo,
        CORE_MODULE,
    };
}

#[test]
fn readme_library_example_runs_on_real_data() {
    let dir = data_dir();
    let (kallsyms, ko) = (dir.join("kallsyms.xz"), dir.join("ko/nvme.ko.xz"));
    for p in [&kallsyms, &ko] {
        assert!(p.exists(), "{} is missing (../shared/data)", p.display());
    }
    // The data has no modules.builtin.ranges: one in its format, anchored
    // at _text.
    let ranges = std::env::temp_dir().join(format!("ksym-readme-{}.ranges", std::process::id()));
    std::fs::write(
        &ranges,
        ".text 00000000-00000000 = _text\n.text 00001000-00002000 ext4\n",
    )
    .unwrap();
    let table = ksym::load_file(&kallsyms, &ksym::LoadOptions::default()).unwrap();
    let text = table.find("_text").next().unwrap().start;
    let result = readme_library(table, text, &ko, &ranges);
    let _ = std::fs::remove_file(&ranges);
    result.unwrap();
}
