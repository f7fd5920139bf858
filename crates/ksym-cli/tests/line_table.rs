//! The cached line table through the CLI, on the Debian 6.1 cloud data and
//! its 590 MB vmlinux (skipped, saying so, when it is not fetched):
//! `ksym line-table` keeps it 0600 in the cache, `addr --lines` answers
//! from it exactly what the DWARF answers, a damaged one is named and not
//! used, and the run that had to read DWARF rebuilds it in the background.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use std::time::{Duration, Instant};

fn data() -> PathBuf {
    common::data_dir().join("debian-6.1.0-57-cloud")
}

/// `ksym --kallsyms 6.1 --vmlinux V ARGS` with the cache at `cache`.
fn ksym(vmlinux: &Path, cache: &str, args: &[&str], stdin: &str) -> (String, String) {
    let out = common::output_with_stdin(
        Command::new(env!("CARGO_BIN_EXE_ksym"))
            .arg("--kallsyms")
            .arg(data().join("kallsyms.xz"))
            .arg("--vmlinux")
            .arg(vmlinux)
            .args(args)
            .env("KSYM_CACHE_DIR", cache)
            .env_remove("DEBUGINFOD_URLS"),
        stdin.as_bytes(),
    );
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    assert!(out.status.success(), "{}", text(out.stderr.clone()));
    (text(out.stdout), text(out.stderr))
}

/// Addresses inside core functions of the 6.1 kallsyms (KASLR-slid).
fn core_addresses() -> String {
    let mut text = String::new();
    let mut xz =
        xz2::read::XzDecoder::new(std::fs::File::open(data().join("kallsyms.xz")).unwrap());
    std::io::Read::read_to_string(&mut xz, &mut text).unwrap();
    text.lines()
        .filter(|l| !l.contains('[') && (l.contains(" t ") || l.contains(" T ")))
        .step_by(97)
        .take(300)
        .map(|l| format!("{:#x}\n", u64::from_str_radix(&l[..16], 16).unwrap() + 7))
        .collect()
}

#[test]
fn addr_lines_answers_from_the_cached_table_as_from_dwarf() {
    let home = std::env::var_os("HOME").unwrap();
    let vmlinux = Path::new(&home).join(".cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64");
    if !vmlinux.is_file() {
        eprintln!(
            "SKIP: {} is absent (fetch-debug-vmlinux.sh)",
            vmlinux.display()
        );
        return;
    }
    let dir = std::env::temp_dir().join(format!("ksym-cli-line-table-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cache = dir.to_str().unwrap();
    let (said, _) = ksym(&vmlinux, cache, &["line-table"], "");
    assert!(
        said.starts_with("line table of build 01d2640d3a13145ee314eb05b155f141b7b7058b"),
        "{said}"
    );
    let table = dir.join("lines-01d2640d3a13145ee314eb05b155f141b7b7058b.ksymlines");
    let mode = std::fs::metadata(&table).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let addrs = core_addresses();
    let (from_dwarf, _) = ksym(&vmlinux, "off", &["addr", "--lines", "--json"], &addrs);
    let (from_table, notes) = ksym(&vmlinux, cache, &["addr", "--lines", "--json"], &addrs);
    assert_eq!(from_table, from_dwarf, "{notes}");
    let with_lines = from_dwarf
        .lines()
        .filter(|l| l.contains("\"line\":"))
        .count();
    assert!(with_lines > 250, "{with_lines} of 300 with lines");

    // Damaged: named, not used, the DWARF answers, and the table is built
    // again behind the run.
    let mut bytes = std::fs::read(&table).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x10;
    std::fs::write(&table, bytes).unwrap();
    let (answer, notes) = ksym(&vmlinux, cache, &["addr", "--lines", "--json"], &addrs);
    assert_eq!(answer, from_dwarf);
    assert!(
        notes.contains("line table is not used") && notes.contains("checksum"),
        "{notes}"
    );
    let started = Instant::now();
    let rebuilt = loop {
        let ready = ksym::lines::LineTable::open(&table).is_ok()
            && !table.with_extension("building").exists();
        if ready || started.elapsed() > Duration::from_secs(300) {
            break ready;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        rebuilt,
        "the background build did not replace the damaged table"
    );
    let (again, notes) = ksym(&vmlinux, cache, &["addr", "--lines", "--json"], &addrs);
    assert_eq!(again, from_dwarf);
    assert!(notes.is_empty(), "{notes}");
    std::fs::remove_dir_all(&dir).unwrap();
}
