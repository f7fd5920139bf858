//! Hostile inputs cost bounded memory and time: each is made here, given to
//! the real `ksym` binary in a child process, and must be refused with a
//! clear error in under 2 s and under 256 MiB of peak resident memory
//! (the child's `ru_maxrss`, from `wait4`).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MAX_TIME: Duration = Duration::from_secs(2);
const MAX_RSS_KIB: i64 = 256 << 10;

/// One test at a time: a child's peak memory starts from this process's
/// resident size when it forks, so no test may be building a bomb then.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn ksym() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ksym"));
    c.env("KSYM_CACHE_DIR", "off");
    c
}

use ksym_testdata::data_dir;

/// What a child did: exit status, standard error, time, peak memory (KiB).
struct Run {
    code: i32,
    stderr: String,
    took: Duration,
    max_rss_kib: i64,
}

/// What writes a child's standard input.
type Feed = Box<dyn FnOnce(&mut dyn Write) + Send>;

/// Runs `cmd`, feeding it `stdin` (written until the child stops reading),
/// and reaps it with `wait4` for its own peak memory. The child is forked,
/// not spawned with vfork: after a vfork the exec counts the parent's peak
/// memory as the child's; after a fork, only what the parent holds then.
fn run(mut cmd: Command, stdin: Option<Feed>) -> Run {
    use std::os::unix::process::CommandExt;
    // SAFETY: the hook does nothing; having one makes std fork.
    unsafe { cmd.pre_exec(|| Ok(())) };
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let start = Instant::now();
    // Reaped below with wait4, which std's wait cannot do.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().expect("spawn ksym");
    let feeder = stdin.map(|feed| {
        let mut pipe = child.stdin.take().unwrap();
        std::thread::spawn(move || feed(&mut pipe))
    });
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be filled in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet reaped (std never waits on its
    // own); status and usage point at live locals.
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4: {}", std::io::Error::last_os_error());
    let took = start.elapsed();
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Run {
        code: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        stderr: reader.join().unwrap(),
        took,
        max_rss_kib: usage.ru_maxrss,
    }
}

/// The child refused the input with a message holding `want`, fast and small.
fn assert_refused(what: &str, r: &Run, want: &str) {
    assert_eq!(r.code, 1, "{what}: exit status; stderr: {}", r.stderr);
    assert!(
        r.stderr.starts_with("ksym: ") && r.stderr.contains(want),
        "{what}: want {want:?} in: {}",
        r.stderr
    );
    assert!(r.took < MAX_TIME, "{what}: took {:?}", r.took);
    assert!(
        r.max_rss_kib < MAX_RSS_KIB,
        "{what}: peak memory {} KiB",
        r.max_rss_kib
    );
    eprintln!(
        "{what}: refused in {:?}, peak {} KiB: {}",
        r.took,
        r.max_rss_kib,
        r.stderr
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect::<String>()
    );
}

fn temp(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    (dir, path)
}

/// 1 MiB of `fill`, compressed once by `pack`, repeated `copies` times: a
/// multi-stream file that expands to `copies` MiB (xz, gzip and zstd
/// readers take concatenated streams).
fn concatenated(pack: fn(&[u8]) -> Vec<u8>, fill: &[u8], copies: usize) -> Vec<u8> {
    let mut mib = Vec::with_capacity(1 << 20);
    while mib.len() < 1 << 20 {
        mib.extend_from_slice(fill);
    }
    let one = pack(&mib);
    one.repeat(copies)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 19).unwrap()
}

/// One gzip stream of `mib` MiB of zeros (a bzImage payload is one stream).
fn gzip_zeros(mib: usize) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..mib {
        e.write_all(&zeros).unwrap();
    }
    e.finish().unwrap()
}

/// One xz stream of `mib` MiB of zeros.
fn xz_zeros(mib: usize) -> Vec<u8> {
    let mut e = xz2::write::XzEncoder::new(Vec::new(), 0);
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..mib {
        e.write_all(&zeros).unwrap();
    }
    e.finish().unwrap()
}

/// One zstd frame of `mib` MiB of zeros.
fn zstd_zeros(mib: usize) -> Vec<u8> {
    let mut e = zstd::Encoder::new(Vec::new(), 1).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..mib {
        e.write_all(&zeros).unwrap();
    }
    e.finish().unwrap()
}

/// The kernel build's lz4 "legacy" format: magic, then blocks of up to
/// 8 MiB, each `u32` size and data.
fn lz4_legacy_zeros(mib: usize) -> Vec<u8> {
    let block = lz4_flex::block::compress(&vec![0u8; 8 << 20]);
    let mut out = 0x184c_2102u32.to_le_bytes().to_vec();
    for _ in 0..mib / 8 {
        out.extend((block.len() as u32).to_le_bytes());
        out.extend(&block);
    }
    out
}

/// A bzImage (boot protocol 2.15) around `payload`, claiming `unpacked`.
fn bzimage(payload: &[u8], unpacked: u32) -> Vec<u8> {
    let mut b = vec![0u8; 1024];
    b[0x1f1] = 1;
    b[0x202..0x206].copy_from_slice(b"HdrS");
    b[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    b[0x248..0x24c].copy_from_slice(&0x40u32.to_le_bytes());
    b[0x24c..0x250].copy_from_slice(&(payload.len() as u32 + 4).to_le_bytes());
    b.extend(vec![0u8; 0x40]);
    b.extend(payload);
    b.extend(unpacked.to_le_bytes());
    b
}

#[test]
fn compressed_bombs_of_zeros_as_kallsyms() {
    let _serial = serial();
    // 4 GiB of zeros each: refused at the first megabyte, which holds no
    // symbol line.
    for (name, pack) in [
        ("gzip", gzip as fn(&[u8]) -> Vec<u8>),
        ("xz", xz),
        ("zstd", zstd),
    ] {
        let (_dir, path) = temp(&format!("bomb.{name}"));
        std::fs::write(&path, concatenated(pack, &[0], 4096)).unwrap();
        let mut cmd = ksym();
        cmd.arg("--kallsyms").arg(&path).arg("info");
        assert_refused(
            &format!("{name} bomb of zeros"),
            &run(cmd, None),
            "no symbol line in its first 1 MiB",
        );
    }
}

#[test]
fn compressed_bombs_of_symbol_lines_as_kallsyms() {
    let _serial = serial();
    // Good lines, 4 GiB of them: the first megabyte passes, and the
    // expansion past 64 times the compressed size stops the read.
    let line = b"ffffffff81000000 T start_of_a_bomb\n";
    for (name, pack) in [
        ("gzip", gzip as fn(&[u8]) -> Vec<u8>),
        ("xz", xz),
        ("zstd", zstd),
    ] {
        let (_dir, path) = temp(&format!("lines.{name}"));
        std::fs::write(&path, concatenated(pack, line, 4096)).unwrap();
        let mut cmd = ksym();
        cmd.arg("--kallsyms").arg(&path).arg("info");
        let r = run(cmd, None);
        assert_refused(
            &format!("{name} bomb of lines"),
            &r,
            "a decompression bomb?",
        );
        assert!(r.stderr.contains("--max-input-size"), "{}", r.stderr);
    }
}

#[test]
fn image_payload_bombs() {
    let _serial = serial();
    // One stream each (as the kernel build writes it), expanding to 1 GiB
    // (xz, slow to make, to 256 MiB).
    for (name, payload) in [
        ("gzip", gzip_zeros(1024)),
        ("zstd", zstd_zeros(1024)),
        ("xz", xz_zeros(256)),
        ("lz4", lz4_legacy_zeros(1024)),
    ] {
        let (_dir, path) = temp(&format!("bzImage.{name}"));
        std::fs::write(&path, bzimage(&payload, 64 << 20)).unwrap();
        let mut cmd = ksym();
        cmd.arg("--image").arg(&path).arg("info");
        // Past 64 times the payload, or past 160 MiB, whichever is less.
        assert_refused(
            &format!("bzImage with a {name} bomb"),
            &run(cmd, None),
            "; if the input is real, raise the bound with --max-input-size",
        );
    }
}

#[test]
fn endless_input_through_a_pipe() {
    let _serial = serial();
    // Zeros, lines of junk and one endless line: each refused at the first
    // megabyte while the writer would go on for ever.
    let feeds: [(&str, &'static [u8], &str); 3] = [
        ("zeros", &[0u8; 4096], "no symbol line in its first 1 MiB"),
        (
            "junk lines",
            b"this is not a kallsyms line at all\n",
            "no symbol line in its first 1 MiB",
        ),
        ("one endless line", b"aaaaaaaaaaaaaaaa", "the line is over"),
    ];
    for (what, chunk, want) in feeds {
        let mut cmd = ksym();
        cmd.args(["--kallsyms", "-", "info"]);
        let feed = move |pipe: &mut dyn Write| {
            let block = chunk.repeat((64 << 10) / chunk.len());
            while pipe.write_all(&block).is_ok() {}
        };
        assert_refused(what, &run(cmd, Some(Box::new(feed))), want);
    }
    // Endless good lines: the bound the caller chose stops them, and the
    // message names it.
    let mut cmd = ksym();
    cmd.args(["--max-input-size", "32M", "--kallsyms", "-", "info"]);
    let feed = |pipe: &mut dyn Write| {
        let block = b"ffffffff81000000 T endless\n".repeat(2048);
        while pipe.write_all(&block).is_ok() {}
    };
    assert_refused(
        "endless symbol lines",
        &run(cmd, Some(Box::new(feed))),
        "more than 32 MiB of input",
    );
}

/// Lists are refused at their first megabyte too: `--modules /dev/zero`
/// and an endless `yes` stream, well under 64 MiB (they were read up to the
/// 256 MiB bound: 268 MB resident).
#[test]
fn endless_module_lists_are_refused_at_the_first_megabyte() {
    let _serial = serial();
    let kallsyms = data_dir().join("debian-6.12.117/kallsyms.xz");
    let small = |what: &str, r: &Run| {
        assert!(
            r.max_rss_kib < 64 << 10,
            "{what}: peak memory {} KiB",
            r.max_rss_kib
        );
    };
    let mut cmd = ksym();
    cmd.args(["--modules", "/dev/zero", "--kallsyms"])
        .arg(&kallsyms)
        .arg("info");
    let r = run(cmd, None);
    let want = "/dev/zero: no /proc/modules or module layout line in its first 1 MiB (line 1 has \
                no end in it); refused without reading the rest";
    assert_refused("--modules /dev/zero", &r, want);
    small("--modules /dev/zero", &r);

    let mut cmd = ksym();
    cmd.args(["--modules", "-", "--kallsyms"])
        .arg(&kallsyms)
        .arg("info");
    let feed = |pipe: &mut dyn Write| {
        let block = b"y\n".repeat(32 << 10);
        while pipe.write_all(&block).is_ok() {}
    };
    let r = run(cmd, Some(Box::new(feed)));
    let want = "standard input: no /proc/modules or module layout line in its first 1 MiB (line \
                1: neither a /proc/modules line nor a `module area start size` line: \"y\")";
    assert_refused("--modules - from `yes`", &r, want);
    small("--modules - from `yes`", &r);

    // A modules.dep that is /dev/zero.
    let (dir, dep) = temp("modules.dep");
    std::os::unix::fs::symlink("/dev/zero", &dep).unwrap();
    let mut cmd = ksym();
    cmd.arg("--kallsyms").arg(&kallsyms);
    cmd.arg("--ko-from-modules-dep").arg(dir.path()).arg("info");
    let r = run(cmd, None);
    assert_refused(
        "modules.dep of zeros",
        &r,
        "modules.dep: no modules.dep line in its first 1 MiB (line 1 has no end in it)",
    );
    small("modules.dep of zeros", &r);
}

#[test]
fn a_gigabyte_file_is_refused_before_it_is_read() {
    let _serial = serial();
    // Sparse: 1 GiB on paper, nothing on disk.
    let (_dir, path) = temp("huge");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(1 << 30).unwrap();
    let mut cmd = ksym();
    cmd.arg("--kallsyms").arg(&path).arg("info");
    assert_refused("1 GiB file", &run(cmd, None), "more than 256 MiB of input");
    // A bound raised past it lets the read go on, to the first megabyte.
    let mut cmd = ksym();
    cmd.args(["--max-input-size", "2G", "--kallsyms"])
        .arg(&path)
        .arg("info");
    assert_refused(
        "1 GiB file, bound raised",
        &run(cmd, None),
        "no symbol line in its first 1 MiB",
    );
}

/// The 6.12 `nvme.ko`, decompressed.
fn nvme_ko() -> Vec<u8> {
    let xz = std::fs::read(data_dir().join("debian-6.12.117/ko/nvme.ko.xz")).unwrap();
    let mut out = Vec::new();
    xz2::read::XzDecoder::new(&xz[..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn elf_whose_section_sizes_lie() {
    let _serial = serial();
    let ko = nvme_ko();
    let shoff = u64::from_le_bytes(ko[0x28..0x30].try_into().unwrap()) as usize;
    let shnum = u16::from_le_bytes(ko[0x3c..0x3e].try_into().unwrap()) as usize;
    // The nvme lines of the 6.12 data (a small file: the child's time is
    // the ELF's, not a large table's).
    let mut text = String::new();
    let xz = std::fs::read(data_dir().join("debian-6.12.117/kallsyms.xz")).unwrap();
    xz2::read::XzDecoder::new(&xz[..])
        .read_to_string(&mut text)
        .unwrap();
    let nvme: String = text
        .lines()
        .filter(|l| l.ends_with("\t[nvme]"))
        .flat_map(|l| [l, "\n"])
        .collect();
    let (_kdir, kallsyms) = temp("kallsyms");
    std::fs::write(&kallsyms, nvme).unwrap();
    // The symbol and string tables' headers in turn claim a huge size, then
    // a far offset.
    let kind_of = |i: usize| u32::from_le_bytes(ko[shoff + i * 64 + 4..][..4].try_into().unwrap());
    let tables: Vec<usize> = (0..shnum)
        .filter(|&i| matches!(kind_of(i), 2 | 3))
        .collect();
    assert!(tables.len() >= 2, "nvme.ko has a symbol and a string table");
    let mut refused = 0;
    for (field, value) in [(0x20usize, u64::MAX / 3), (0x18, 1u64 << 40)] {
        for &i in &tables {
            let mut bad = ko.clone();
            let at = shoff + i * 64 + field;
            bad[at..at + 8].copy_from_slice(&value.to_le_bytes());
            let (_dir, path) = temp("nvme.ko");
            std::fs::write(&path, &bad).unwrap();
            let mut cmd = ksym();
            cmd.arg("--kallsyms").arg(&kallsyms).arg("--ko").arg(&path);
            cmd.args(["addr", "ffffffffc014d03c"]);
            let r = run(cmd, None);
            if r.code == 0 {
                continue; // a section the symbol table does not need
            }
            assert_refused(&format!("ELF section {i} field {field:#x}"), &r, "nvme.ko");
            refused += 1;
        }
    }
    assert!(
        refused >= tables.len(),
        "only {refused} lying headers were refused"
    );
}

#[test]
fn snapshot_whose_lengths_lie() {
    let _serial = serial();
    let (dir, good) = temp("good.ksym");
    let kallsyms = data_dir().join("debian-6.12.117/kallsyms.xz");
    let mut cmd = ksym();
    cmd.arg("--kallsyms").arg(&kallsyms);
    cmd.args(["snapshot", "save", "-o"]).arg(&good);
    assert_eq!(run(cmd, None).code, 0);
    let bytes = std::fs::read(&good).unwrap();
    let sections = u32::from_ne_bytes(bytes[20..24].try_into().unwrap()) as usize;
    for i in 0..sections {
        // Directory entry i: id, element size, offset, length.
        for (field, value) in [(16usize, u64::MAX / 5), (8, bytes.len() as u64 * 2)] {
            let mut bad = bytes.clone();
            let at = 64 + i * 32 + field;
            bad[at..at + 8].copy_from_slice(&value.to_ne_bytes());
            let path = dir.path().join(format!("bad-{i}-{field}.ksym"));
            std::fs::write(&path, &bad).unwrap();
            let mut cmd = ksym();
            cmd.arg("--snapshot")
                .arg(&path)
                .args(["addr", "ffffffff9b000000"]);
            assert_refused(
                &format!("section {i} field {field}"),
                &run(cmd, None),
                "bad snapshot",
            );
        }
    }
}
