//! What a warm run skips, and that it answers the same: the table of a
//! saved kallsyms kept by its bytes, and the real sizes of a `--vmlinux`
//! kept by its build-id, each against `--no-cache` runs, then changed
//! under the cache (a file edited in place, damaged cache files).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    out: String,
    err: String,
}

fn ksym(cache: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_ksym"))
        .args(args)
        .env("KSYM_CACHE_DIR", cache)
        .output()
        .expect("run ksym");
    let run = Run {
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(out.status.success(), "ksym {args:?}: {}", run.err);
    run
}

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ksym-caches-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cache_line(run: &Run) -> &str {
    run.out
        .lines()
        .find(|l| l.starts_with("snapshot cache:"))
        .unwrap_or("no cache line")
}

/// Files in `dir` whose names start with `prefix`, each checked private.
fn private_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with(prefix) {
            let mode = e.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", e.path().display());
            out.push(e.path());
        }
    }
    out
}

#[test]
fn a_saved_kallsyms_is_kept_by_its_bytes() {
    let src = common::data_dir().join("debian-6.12.117/kallsyms.xz");
    if !src.is_file() {
        eprintln!("skipped: no shared data ({})", src.display());
        return;
    }
    let dir = temp("file");
    let cache = dir.join("cache");
    let text = common::xz_text(&src);
    let k = dir.join("kallsyms");
    std::fs::write(&k, &text).unwrap();
    let k = k.to_str().unwrap();
    // Every 97th text symbol, and a few past its start.
    let addrs: Vec<String> = text
        .lines()
        .filter(|l| l.split(' ').nth(1).is_some_and(|t| t == "t" || t == "T"))
        .step_by(97)
        .flat_map(|l| {
            let a = u64::from_str_radix(&l[..16], 16).unwrap();
            [format!("{a:#x}"), format!("{:#x}", a + 5)]
        })
        .collect();
    let mut addr_args = vec!["--kallsyms", k, "addr"];
    addr_args.extend(addrs.iter().map(String::as_str));

    let fresh = ksym(&cache, &[&["--no-cache"][..], &addr_args].concat());
    let miss = ksym(&cache, &["--kallsyms", k, "info"]);
    assert!(
        cache_line(&miss).contains(&format!("miss, read {k}, stored")),
        "{}",
        miss.out
    );
    let hit = ksym(&cache, &["--kallsyms", k, "info"]);
    assert!(cache_line(&hit).contains("hit, mapped"), "{}", hit.out);
    assert_eq!(
        ksym(&cache, &addr_args).out,
        fresh.out,
        "answers from the cache"
    );
    assert_eq!(private_files(&cache, "file-").len(), 1);

    // The same bytes under another name: the cached table, its new name.
    let copy = dir.join("copy");
    std::fs::copy(k, &copy).unwrap();
    let copy = copy.to_str().unwrap();
    let info = ksym(&cache, &["--kallsyms", copy, "info"]);
    assert!(cache_line(&info).contains("hit"), "{}", info.out);
    assert!(
        info.out.contains(copy),
        "the source is the file given: {}",
        info.out
    );

    // Edited in place (same length, same name): never the old table.
    let (first, rest) = addr_args.split_at(3);
    let target = rest[0].trim_start_matches("0x");
    let moved = text.replacen(
        target,
        &format!("{:016x}", u64::from_str_radix(target, 16).unwrap() + 0x1000),
        1,
    );
    std::fs::write(first[1], &moved).unwrap();
    let edited = ksym(&cache, &["--kallsyms", first[1], "info"]);
    assert!(cache_line(&edited).contains("miss"), "{}", edited.out);
    let after = ksym(&cache, &[first, &rest[..1]].concat());
    let expected = ksym(&cache, &[&["--no-cache"][..], first, &rest[..1]].concat());
    assert_eq!(after.out, expected.out);
    assert_ne!(
        after.out.lines().next(),
        fresh.out.lines().next(),
        "the edit shows"
    );

    // A damaged cache file is replaced, the answer unchanged.
    for f in private_files(&cache, "file-") {
        std::fs::write(&f, b"KSYMSNAP damaged").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    assert_eq!(
        ksym(&cache, &[first, &rest[..1]].concat()).out,
        expected.out
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small linked program stands in for a vmlinux: `_text` defined, a
/// build-id, functions of known sizes; its kallsyms is `nm`'s view slid
/// by a KASLR offset.
fn small_vmlinux(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let c = dir.join("k.c");
    std::fs::write(
        &c,
        "int f(int x) { return x * 3 + 1; }\n\
         int g(int x) { return f(x) ^ (x << 2) ^ 0x55; }\n\
         int main(int argc, char **argv) { (void)argv; return g(argc); }\n",
    )
    .unwrap();
    let exe = dir.join("vmlinux");
    let built = Command::new("cc")
        .args([
            "-O1",
            "-falign-functions=64",
            "-no-pie",
            "-nostartfiles",
            "-Wl,-e,main",
            "-Wl,--build-id",
        ])
        .args(["-Wl,--defsym=_text=main", "-o"])
        .arg(&exe)
        .arg(&c)
        .status()
        .ok()?;
    let nm = Command::new("nm").arg(&exe).output().ok()?;
    if !built.success() || !nm.status.success() {
        return None;
    }
    let slide = 0xffff_ffff_8000_0000u64;
    let mut lines: Vec<(u64, String)> = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (a, t, n) = (f.next()?, f.next()?, f.next()?);
            let a = u64::from_str_radix(a, 16).ok()? + slide;
            Some((a, format!("{a:016x} {t} {n}")))
        })
        .collect();
    lines.sort();
    let k = dir.join("kallsyms");
    let text: String = lines.into_iter().map(|(_, l)| l + "\n").collect();
    std::fs::write(&k, text).unwrap();
    Some((exe, k))
}

#[test]
fn vmlinux_sizes_are_kept_by_build_id() {
    let dir = temp("sizes");
    let Some((exe, k)) = small_vmlinux(&dir) else {
        eprintln!("skipped: cannot build a program with cc and read it with nm");
        return;
    };
    let cache = dir.join("cache");
    let kallsyms = std::fs::read_to_string(&k).unwrap();
    let of = |name: &str| {
        let l = kallsyms
            .lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .unwrap();
        format!("0x{}", &l[..16])
    };
    let (f, g) = (of("f"), of("g"));
    let args = [
        "--kallsyms",
        k.to_str().unwrap(),
        "--vmlinux",
        exe.to_str().unwrap(),
        "addr",
        &f,
        &g,
    ];
    let fresh = ksym(&cache, &[&["--no-cache"][..], &args].concat());
    // Real sizes: `/0x..` is f's st_size, not the distance to g.
    let readelf = Command::new("readelf").args(["-sW"]).arg(&exe).output();
    if let Ok(r) = readelf {
        let size_of = |name: &str| {
            String::from_utf8_lossy(&r.stdout)
                .lines()
                .find(|l| l.split_whitespace().nth(7) == Some(name))
                .and_then(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
        };
        if let Some(size) = size_of("f") {
            assert!(
                fresh.out.contains(&format!("f+0x0/{size:#x}")),
                "{}",
                fresh.out
            );
        }
    }
    let cold = ksym(&cache, &args);
    let files = private_files(&cache, "sizes-");
    assert_eq!(files.len(), 1, "one sizes file, by build-id");
    let warm = ksym(&cache, &args);
    assert_eq!((&cold.out, &warm.out), (&fresh.out, &fresh.out));
    assert!(
        cold.err.is_empty() && warm.err.is_empty(),
        "{}{}",
        cold.err,
        warm.err
    );

    // The warm run reads the cached sizes, not the program: with the
    // program's symbols gone (same build-id), the sizes stay.
    let stripped = dir.join("stripped");
    let strip = Command::new("objcopy")
        .arg("--strip-all")
        .arg(&exe)
        .arg(&stripped)
        .status();
    if strip.is_ok_and(|s| s.success()) {
        let args = [
            "--kallsyms",
            k.to_str().unwrap(),
            "--vmlinux",
            stripped.to_str().unwrap(),
            "addr",
            &f,
            &g,
        ];
        assert_eq!(
            ksym(&cache, &args).out,
            fresh.out,
            "sizes came from the cache"
        );
    }

    // A damaged sizes file is replaced, the answer unchanged.
    std::fs::write(&files[0], b"KSYMSIZE damaged").unwrap();
    assert_eq!(ksym(&cache, &args).out, fresh.out);
    let replaced = std::fs::read(&files[0]).unwrap();
    assert!(
        replaced.len() > 104 && replaced.starts_with(b"KSYMSIZE"),
        "replaced"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_past_the_bound_is_refused_and_not_kept() {
    let dir = temp("bound");
    let cache = dir.join("cache");
    let k = dir.join("kallsyms");
    let text: String = (0..200u64)
        .map(|i| format!("{:016x} t f{i}\n", 0xffff_ffff_8100_0000 + i * 16))
        .collect();
    std::fs::write(&k, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ksym"))
        .args([
            "--max-input-size",
            "1K",
            "--kallsyms",
            k.to_str().unwrap(),
            "info",
        ])
        .env("KSYM_CACHE_DIR", &cache)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--max-input-size"), "{err}");
    let kept = std::fs::read_dir(&cache).map_or(0, |d| d.count());
    assert_eq!(kept, 0, "nothing kept for a refused file");
    let _ = std::fs::remove_dir_all(&dir);
}
