//! The `ksym` binary, run as a user would: real data from `../shared/data`,
//! the live kernel, bad inputs, and an unprivileged reader.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;
use common::*;

fn k612() -> PathBuf {
    data_dir().join("debian-6.12.117/kallsyms.xz")
}

fn k612_modules() -> PathBuf {
    data_dir().join("debian-6.12.117/proc-modules")
}

/// The command, with any snapshot cache of the live kernel kept in a
/// private directory of the build (not the user's or /var/cache).
fn ksym() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ksym"));
    c.env("KSYM_CACHE_DIR", private_cache_dir());
    c
}

fn private_cache_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    })
}

fn run(args: &[&str]) -> Output {
    ksym().args(args).output().expect("run ksym")
}

fn run_stdin(args: &[&str], input: &str) -> Output {
    output_with_stdin(ksym().args(args), input.as_bytes())
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Succeeded, with nothing on stderr.
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}, stderr: {}",
        o.status,
        stderr(o)
    );
    assert!(o.stderr.is_empty(), "stderr: {}", stderr(o));
    stdout(o)
}

/// Failed with a message (and a non-zero exit).
fn fails(o: &Output) -> String {
    assert!(!o.status.success(), "unexpected success: {}", stdout(o));
    let err = stderr(o);
    assert!(err.starts_with("ksym: "), "stderr: {err}");
    err
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The 6.12 kallsyms text, decompressed (by magic) to derive expectations.
fn k612_text() -> String {
    let bytes = std::fs::read(k612()).unwrap();
    let bytes = ksym::source::decompress("kallsyms.xz", bytes).unwrap();
    String::from_utf8(bytes).unwrap()
}

/// A small kallsyms file cut from the 6.12 data (the first 5,000 core lines,
/// core lines named like an ext4 symbol, all of ext4 and the pseudo-modules):
/// each debug-build run of the command on the full file costs about a
/// second, so only the tests about the full data read it.
fn extract() -> &'static Path {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        let text = k612_text();
        let module_of = |l: &str| {
            l.split_once('\t')
                .map(|(_, m)| m.trim_matches(|c| c == '[' || c == ']').to_string())
        };
        let name_of = |l: &str| {
            l.split('\t')
                .next()
                .unwrap()
                .split(' ')
                .nth(2)
                .unwrap()
                .to_string()
        };
        let ext4_names: std::collections::HashSet<String> = text
            .lines()
            .filter(|l| module_of(l).as_deref() == Some("ext4"))
            .map(name_of)
            .collect();
        let mut out = String::new();
        for (i, l) in text.lines().enumerate() {
            let keep = match module_of(l) {
                None => i < 5000 || ext4_names.contains(&name_of(l)),
                Some(m) => m == "ext4" || m == "bpf" || m.starts_with("__builtin__"),
            };
            if keep {
                out.push_str(l);
                out.push('\n');
            }
        }
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let path = dir.join("cli-extract-6.12.kallsyms");
        let tmp = dir.join(format!("cli-extract-6.12.kallsyms.{}", std::process::id()));
        std::fs::write(&tmp, out).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    })
}

const RIP: u64 = 0xffffffffc02d46d3; // mpage_submit_folio+0x23/0x90 [ext4]

#[test]
fn addr_from_arguments() {
    let (data, modules) = (&k612(), k612_modules());
    let o = run(&[
        "--kallsyms",
        path_str(data),
        "--modules",
        path_str(&modules),
        "addr",
        "ffffffffc02d46d3",
        "0xffffffff9b000000",
        "0X0",
        "ffffffffffffffff",
    ]);
    let out = ok(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(
        lines[0],
        "0xffffffffc02d46d3 mpage_submit_folio+0x23/0x90 [ext4]"
    );
    assert!(lines[1].starts_with("0xffffffff9b000000 "), "{}", lines[1]);
    assert!(lines[1].contains("+0x0/"), "{}", lines[1]);
    assert_eq!(lines[2], "0x0000000000000000 (no symbol)");
    assert_eq!(lines[3], "0xffffffffffffffff (no symbol)");
}

/// `--threads` bounds the threads of a load, never its answers; 0 is
/// refused.
#[test]
fn threads_change_no_answer() {
    let (data, modules) = (&k612(), k612_modules());
    let addrs = ["ffffffffc02d46d3", "ffffffff9b001234", "ffffffffc0000000"];
    let answers = |threads: Option<&str>| {
        let mut args = vec![
            "--kallsyms",
            path_str(data),
            "--modules",
            path_str(&modules),
        ];
        if let Some(n) = threads {
            args.extend(["--threads", n]);
        }
        args.push("addr");
        args.extend(addrs);
        ok(&run(&args))
    };
    let default = answers(None);
    assert_eq!(answers(Some("1")), default);
    assert_eq!(answers(Some("3")), default);
    let o = run(&["--threads", "0", "--kallsyms", path_str(data), "info"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--threads"), "{}", stderr(&o));
}

#[test]
fn addr_rejects_what_is_not_an_address() {
    let data = extract();
    let o = run(&[
        "--kallsyms",
        path_str(data),
        "addr",
        "zz",
        "ffffffffc02d46d3",
        "12345678901234567",
    ]);
    assert_eq!(o.status.code(), Some(2), "stderr: {}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("zz (not an address)"), "{out}");
    assert!(out.contains("12345678901234567 (not an address)"), "{out}");
    assert!(out.contains("mpage_submit_folio+0x23/"), "{out}");
    assert!(
        stderr(&o).contains("2 input(s) were not hex addresses"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn addr_from_stdin() {
    let (data, modules) = (extract(), k612_modules());
    let args = [
        "--kallsyms",
        path_str(data),
        "--modules",
        path_str(&modules),
        "addr",
    ];
    let o = run_stdin(&args, "ffffffffc02d46d3\n\n  0xffffffffc1200010  \r\n0\n");
    let out = ok(&o);
    assert_eq!(
        out,
        "0xffffffffc02d46d3 mpage_submit_folio+0x23/0x90 [ext4]\n\
         0xffffffffc1200010 ftrace_trampoline+0x10/0x1000 [__builtin__ftrace]\n\
         0x0000000000000000 (no symbol)\n"
    );
    // The same through arguments.
    let mut with_args = args.to_vec();
    with_args.extend(["ffffffffc02d46d3", "0xffffffffc1200010", "0"]);
    assert_eq!(ok(&run(&with_args)), out);
}

fn check_symbol_json(sym: &Value) {
    let obj = sym.as_object().expect("symbol is an object or null");
    for key in ["name", "start", "offset", "size", "module", "type"] {
        assert!(obj.contains_key(key), "no {key:?} in {sym}");
    }
    assert!(sym["name"].is_string());
    assert!(sym["start"].as_str().unwrap().starts_with("0x"));
    assert!(sym["offset"].is_u64() && sym["size"].is_u64());
    assert!(sym["module"].is_string() || sym["module"].is_null());
    assert_eq!(sym["type"].as_str().unwrap().chars().count(), 1);
}

fn hex(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap().strip_prefix("0x").unwrap(), 16).unwrap()
}

#[test]
fn addr_json() {
    let (data, modules) = (extract(), k612_modules());
    let args = [
        "--kallsyms",
        path_str(data),
        "--modules",
        path_str(&modules),
        "addr",
        "--json",
    ];
    for o in [
        run_stdin(&args, "ffffffffc02d46d3\n0\nffffffff9b000000\n"),
        run(&[&args[..], &["ffffffffc02d46d3", "0", "ffffffff9b000000"]].concat()),
    ] {
        let out = ok(&o);
        let values: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect();
        assert_eq!(values.len(), 3);
        for v in &values {
            assert!(v["addr"].is_string(), "{v}");
            assert!(v.get("symbol").is_some(), "{v}");
        }
        let s = &values[0]["symbol"];
        check_symbol_json(s);
        assert_eq!(hex(&values[0]["addr"]), RIP);
        assert_eq!(s["name"], "mpage_submit_folio");
        assert_eq!(hex(&s["start"]), 0xffffffffc02d46b0);
        assert_eq!(s["offset"], 0x23);
        assert_eq!(s["size"], 0x90);
        assert_eq!(s["module"], "ext4");
        assert_eq!(s["type"], "t");
        assert_eq!(hex(&values[1]["addr"]), 0);
        assert!(values[1]["symbol"].is_null(), "{}", values[1]);
        let t = &values[2]["symbol"];
        check_symbol_json(t);
        assert!(t["module"].is_null());
        assert_eq!(hex(&t["start"]), 0xffffffff9b000000);
        assert_eq!(t["offset"], 0);
    }
}

/// `--modules` reaches the table: with the 6.12 `/proc/modules`, module
/// symbols answer as the library answers with that map, and some differ
/// from the answers without it.
#[test]
fn modules_option_bounds_module_symbols() {
    let (data, modules) = (extract(), k612_modules());
    let mut map = ksym::ModuleMap::default();
    map.add_text("proc-modules", &std::fs::read(&modules).unwrap())
        .unwrap();
    let with = ksym::load_file(
        data,
        &ksym::LoadOptions {
            modules: Some(map),
            ..ksym::LoadOptions::default()
        },
    )
    .unwrap();
    let without = ksym::load_file(data, &ksym::LoadOptions::default()).unwrap();
    // Module symbol ends where the two tables disagree (extent-bounded),
    // and a few where they agree.
    let mut addrs: Vec<u64> = Vec::new();
    for s in with.iter().take(with.answering_len()) {
        if s.module.is_none() || s.size == 0 {
            continue;
        }
        let other = without.lookup(s.start).unwrap();
        if other.size != s.size && addrs.len() < 8 {
            addrs.push(s.start + s.size - 1);
        }
    }
    assert!(
        !addrs.is_empty(),
        "no symbol whose size depends on /proc/modules"
    );
    addrs.extend([RIP, 0xffffffffc1400650]);
    let args: Vec<String> = addrs.iter().map(|a| format!("{a:x}")).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    for (table, extra) in [
        (&with, vec!["--modules", path_str(&modules)]),
        (&without, vec![]),
    ] {
        let mut cmd = vec!["--kallsyms", path_str(data)];
        cmd.extend(extra);
        cmd.push("addr");
        cmd.extend(&args);
        let out = ok(&run(&cmd));
        let want: String = addrs
            .iter()
            .map(|&a| match table.lookup(a) {
                Some(s) => format!("{a:#018x} {s}\n"),
                None => format!("{a:#018x} (no symbol)\n"),
            })
            .collect();
        assert_eq!(out, want);
    }
}

#[test]
fn name_with_and_without_module() {
    let data = extract();
    let text = std::fs::read_to_string(data).unwrap();
    // The name carried most often, and where it lives.
    let mut counts: HashMap<&str, Vec<(u64, Option<&str>)>> = HashMap::new();
    for l in text.lines() {
        let (head, module) = match l.split_once('\t') {
            Some((h, m)) => (h, Some(m.trim_matches(|c| c == '[' || c == ']'))),
            None => (l, None),
        };
        let f: Vec<&str> = head.split(' ').collect();
        let addr = u64::from_str_radix(f[0], 16).unwrap();
        counts.entry(f[2]).or_default().push((addr, module));
    }
    // A name both in the core and in a module.
    let (name, places) = counts
        .iter()
        .filter(|(_, p)| p.iter().any(|x| x.1.is_none()) && p.iter().any(|x| x.1.is_some()))
        .max_by_key(|(n, p)| (p.len(), std::cmp::Reverse(**n)))
        .unwrap();
    let out = ok(&run(&["--kallsyms", path_str(data), "name", name]));
    assert_eq!(out.lines().count(), places.len(), "{out}");
    let mut starts: Vec<u64> = out
        .lines()
        .map(|l| u64::from_str_radix(l.split(' ').next().unwrap(), 16).unwrap())
        .collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "address order: {out}"
    );
    starts.sort_unstable();
    let mut want: Vec<u64> = places.iter().map(|p| p.0).collect();
    want.sort_unstable();
    assert_eq!(starts, want);
    for l in out.lines() {
        assert!(l.contains(&format!(" {name} size 0x")), "{l}");
    }

    // --module: the core by `vmlinux` or `core`, a module by its name.
    let core_count = places.iter().filter(|p| p.1.is_none()).count();
    for core in ["vmlinux", "core"] {
        let out = ok(&run(&[
            "--kallsyms",
            path_str(data),
            "name",
            name,
            "--module",
            core,
        ]));
        assert_eq!(out.lines().count(), core_count, "{out}");
        // No module tag (the unique spelling after ` = ` names `[vmlinux]`).
        assert!(
            out.lines()
                .all(|l| !l.split(" = ").next().unwrap().contains(" [")),
            "{out}"
        );
    }
    let module = places.iter().find_map(|p| p.1).unwrap();
    let in_module = places.iter().filter(|p| p.1 == Some(module)).count();
    let out = ok(&run(&[
        "--kallsyms",
        path_str(data),
        "name",
        name,
        "--module",
        module,
    ]));
    assert_eq!(out.lines().count(), in_module, "{out}");
    assert!(
        out.lines().all(|l| l.ends_with(&format!(" [{module}]"))),
        "{out}"
    );

    // JSON.
    let out = ok(&run(&[
        "--kallsyms",
        path_str(data),
        "name",
        "ext4_writepages",
        "--module",
        "ext4",
        "--json",
    ]));
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(hex(&v["addr"]), 0xffffffffc02dcbf0);
    check_symbol_json(&v["symbol"]);
    assert_eq!(v["symbol"]["module"], "ext4");
    assert_eq!(v["symbol"]["offset"], 0);

    // Not there.
    let err = fails(&run(&[
        "--kallsyms",
        path_str(data),
        "name",
        "no_such_symbol_here",
    ]));
    assert!(
        err.contains("no symbol named \"no_such_symbol_here\""),
        "{err}"
    );
    let err = fails(&run(&[
        "--kallsyms",
        path_str(data),
        "name",
        "ext4_writepages",
        "--module",
        "core",
    ]));
    assert!(err.contains("no symbol named"), "{err}");
}

#[test]
fn resolve_the_oops_rip() {
    let (data, modules) = (extract(), k612_modules());
    let out = ok(&run(&[
        "--kallsyms",
        path_str(data),
        "--modules",
        path_str(&modules),
        "resolve",
        "mpage_submit_folio+0x23/0x90 [ext4]",
    ]));
    assert_eq!(
        out,
        format!("{RIP:#018x} mpage_submit_folio+0x23/0x90 [ext4]\n")
    );
    let err = fails(&run(&[
        "--kallsyms",
        path_str(data),
        "resolve",
        "mpage_submit_folio+0x23/0x91 [ext4]",
    ]));
    assert!(err.contains("size 0x91 does not match"), "{err}");
}

#[test]
fn info_on_a_file() {
    let (data, modules) = (&k612(), k612_modules());
    let lines = k612_text().lines().filter(|l| !l.trim().is_empty()).count();
    let out = ok(&run(&[
        "--kallsyms",
        path_str(data),
        "--modules",
        path_str(&modules),
        "info",
    ]));
    let field = |key: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key:?} in {out}"))
            .trim()
            .to_string()
    };
    assert_eq!(field("source:"), path_str(data));
    assert_eq!(field("format:"), "kallsyms");
    assert_eq!(field("symbols:"), lines.to_string());
    assert_eq!(field("skipped lines:"), "0");
    assert_eq!(field("_text:"), "0xffffffff9b000000");
    assert!(field("KASLR slide:").starts_with("0x1a000000 "), "{out}");
    // A file says nothing about the host.
    assert!(!out.contains("kernel release:"), "{out}");
}

fn live_kallsyms_readable() -> Result<usize, String> {
    let text =
        std::fs::read_to_string("/proc/kallsyms").map_err(|e| format!("/proc/kallsyms: {e}"))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.iter().all(|l| l.starts_with("0000000000000000 ")) {
        return Err("/proc/kallsyms shows only zero addresses to this user".into());
    }
    Ok(lines.len())
}

#[test]
fn info_on_the_live_kernel() {
    let n = match live_kallsyms_readable() {
        Ok(n) => n,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    let out = ok(&run(&["info"]));
    let field = |key: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key:?} in {out}"))
            .trim()
            .to_string()
    };
    assert_eq!(field("source:"), "/proc/kallsyms");
    assert_eq!(field("skipped lines:"), "0");
    // Symbols can come and go (modules, bpf), so allow a little drift.
    let symbols: usize = field("symbols:").parse().unwrap();
    assert!(
        symbols.abs_diff(n) < 1000,
        "{symbols} symbols, /proc/kallsyms has {n} lines"
    );
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert_eq!(field("kernel release:"), release.trim());
    assert!(field("_text:").starts_with("0xffffffff"), "{out}");
    let kptr = std::fs::read_to_string("/proc/sys/kernel/kptr_restrict").unwrap();
    assert_eq!(field("kptr_restrict:"), kptr.trim());
}

#[test]
fn missing_file_is_a_clear_error() {
    let err = fails(&run(&["--kallsyms", "/nonexistent/kallsyms", "addr", "0"]));
    assert!(err.contains("cannot read /nonexistent/kallsyms"), "{err}");
    assert!(err.contains("no such file"), "{err}");
    let err = fails(&run(&[
        "--kallsyms",
        path_str(&k612()),
        "--modules",
        "/nonexistent/modules",
        "info",
    ]));
    assert!(err.contains("/nonexistent/modules"), "{err}");
}

#[test]
fn empty_file_is_an_error() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let empty = dir.join(format!("cli-empty-{}", std::process::id()));
    std::fs::write(&empty, b"").unwrap();
    let blank = dir.join(format!("cli-blank-{}", std::process::id()));
    std::fs::write(&blank, b"\n  \n\t\n").unwrap();
    for f in [&empty, &blank] {
        let err = fails(&run(&["--kallsyms", path_str(f), "info"]));
        assert!(err.contains(path_str(f)), "{err}");
        assert!(err.contains("empty input"), "{err}");
    }
    std::fs::remove_file(&empty).ok();
    std::fs::remove_file(&blank).ok();
}

#[test]
fn proc_modules_as_kallsyms_says_to_use_modules() {
    let modules = k612_modules();
    let err = fails(&run(&["--kallsyms", path_str(&modules), "addr", "0"]));
    assert!(err.contains("--modules"), "{err}");
    assert!(err.contains("line 1"), "{err}");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|u| u.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

fn setpriv_nobody() -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .current_dir("/");
    c
}

/// An unprivileged reader sees zeros in `/proc/kallsyms`: the command must
/// fail and say why (kptr_restrict).
#[test]
fn redacted_kallsyms_for_an_unprivileged_user() {
    if !is_root() {
        println!("skipped: not root, cannot switch to an unprivileged user");
        return;
    }
    if Command::new("setpriv").arg("--version").output().is_err() {
        println!("skipped: setpriv (util-linux) is missing");
        return;
    }
    let first = setpriv_nobody()
        .args(["head", "-n", "1", "/proc/kallsyms"])
        .output()
        .expect("setpriv head");
    let first = String::from_utf8_lossy(&first.stdout).into_owned();
    if !first.starts_with("0000000000000000 ") {
        println!(
            "skipped: the unprivileged user sees real addresses here ({:?})",
            first.trim()
        );
        return;
    }
    // With the environment a user has, and with the snapshot cache off.
    let runs: [(&[&str], Option<&str>); 4] = [
        (&["addr", "ffffffff81000000"], None),
        (&["info"], None),
        (&["name", "_text"], None),
        (&["addr", "ffffffff81000000"], Some("off")),
    ];
    for (args, cache) in runs {
        let mut cmd = setpriv_nobody();
        if let Some(c) = cache {
            cmd.env("KSYM_CACHE_DIR", c);
        }
        let o = cmd
            .arg(env!("CARGO_BIN_EXE_ksym"))
            .args(args)
            .output()
            .expect("setpriv ksym");
        let err = fails(&o);
        assert!(err.contains("kptr_restrict"), "{err}");
        assert!(err.contains("/proc/kallsyms"), "{err}");
        assert!(o.stdout.is_empty(), "{}", stdout(&o));
    }
}

/// The live kernel answers the same read fresh (cache off), through a cache
/// miss (which stores a snapshot) and through a cache hit (the snapshot).
#[test]
fn live_addr_same_with_and_without_the_cache() {
    if let Err(why) = live_kallsyms_readable() {
        println!("skipped: {why}");
        return;
    }
    let text = std::fs::read_to_string("/proc/kallsyms").unwrap();
    // Starts of symbols that answer addresses (not absolute, not labels).
    let mut addrs: Vec<String> = text
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split(['\t', ' ']).collect();
            !matches!(f[1], "A" | "a" | "U" | "u" | "N" | "n")
                && !f[2].starts_with(".L")
                && !f[2].starts_with("L0")
                && !f[2].starts_with('$')
        })
        .step_by(997)
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    let last = u64::from_str_radix(&addrs[addrs.len() - 1], 16).unwrap();
    addrs.extend([
        format!("{:x}", last + 1),
        "0".into(),
        "ffffffffffffffff".into(),
    ]);
    let input = addrs.join("\n");
    let cache =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-cache-{}", std::process::id()));
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let run_with = |dir: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ksym"));
        c.env("KSYM_CACHE_DIR", dir)
            .args(["addr", "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        ok(&child.wait_with_output().unwrap())
    };
    let fresh = run_with("off");
    let miss = run_with(path_str(&cache));
    let stored = std::fs::read_dir(&cache).unwrap().count();
    let hit = run_with(path_str(&cache));
    std::fs::remove_dir_all(&cache).ok();
    assert_eq!(fresh.lines().count(), addrs.len());
    assert_eq!(miss, fresh, "cache miss differs from a fresh read");
    assert_eq!(hit, fresh, "cache hit (snapshot) differs from a fresh read");
    println!(
        "{} addresses, {stored} file(s) in the cache after the first run",
        addrs.len()
    );
    // Each start answers with a name /proc/kallsyms gives at that address;
    // zero and the top of the address space answer nothing.
    let mut names_at: HashMap<u64, Vec<&str>> = HashMap::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split(['\t', ' ']).collect();
        names_at
            .entry(u64::from_str_radix(f[0], 16).unwrap())
            .or_default()
            .push(f[2]);
    }
    for (line, want) in fresh.lines().zip(&addrs) {
        let v: Value = serde_json::from_str(line).unwrap();
        let addr = hex(&v["addr"]);
        assert_eq!(addr, u64::from_str_radix(want, 16).unwrap());
        match addr {
            0 | u64::MAX => assert!(v["symbol"].is_null(), "{line}"),
            _ if addr == last + 1 => {}
            _ => {
                let name = v["symbol"]["name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{line}"));
                assert!(names_at[&addr].contains(&name), "{line}");
                assert_eq!(v["symbol"]["offset"], 0, "{line}");
            }
        }
    }
}

/// `-` reads standard input for `--kallsyms`, `--modules` and `--snapshot`,
/// with the same answers as the files.
#[test]
fn dash_reads_standard_input() {
    let data = extract();
    let modules_file = k612_modules();
    let want = ok(&run(&[
        "--kallsyms",
        path_str(data),
        "--modules",
        path_str(&modules_file),
        "addr",
        "ffffffffc02b5123",
    ]));
    let text = std::fs::read_to_string(data).unwrap();
    let args = [
        "--kallsyms",
        "-",
        "--modules",
        path_str(&modules_file),
        "addr",
        "ffffffffc02b5123",
    ];
    assert_eq!(ok(&run_stdin(&args, &text)), want);
    let modules = std::fs::read_to_string(&modules_file).unwrap();
    let args = [
        "--kallsyms",
        path_str(data),
        "--modules",
        "-",
        "addr",
        "ffffffffc02b5123",
    ];
    assert_eq!(ok(&run_stdin(&args, &modules)), want);
    // A snapshot through a pipe.
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("t.ksym");
    let args = [
        "--kallsyms",
        path_str(data),
        "--modules",
        path_str(&modules_file),
        "snapshot",
        "save",
        "-o",
        path_str(&snap),
    ];
    ok(&run(&args));
    let mut child = ksym()
        .args(["--snapshot", "-", "addr", "ffffffffc02b5123"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(&snap).unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    assert_eq!(ok(&child.wait_with_output().unwrap()), want);
    // Two options cannot both read it.
    let o = run_stdin(&["--kallsyms", "-", "--modules", "-", "info"], "");
    assert!(fails(&o).contains("standard input"), "{}", stderr(&o));
}

/// Usage errors speak as every other error does (`ksym: ...`) and exit 2;
/// help exits 0 and documents the exit status.
#[test]
fn usage_errors_and_exit_status() {
    for args in [
        &["--bogus"][..],
        &["addr", "--nope"],
        &["nosuchcommand"],
        &[],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with("ksym: "), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("error:"), "{args:?}: {}", stderr(&o));
    }
    let help = ok(&run(&["--help"]));
    assert!(help.contains("Exit status: 0 answered"), "{help}");
    assert!(help.contains("--max-input-size"), "{help}");
    let o = run(&["--max-input-size", "lots", "info"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a size"), "{}", stderr(&o));
}

/// A reader that goes away (`ksym dump | head -1`): ksym is not killed by
/// `SIGPIPE` (it starts without std's runtime, and ignores it as that
/// would): `dump` stops quietly with status 0, other commands say so and
/// exit 1.
#[test]
fn a_closed_pipe_is_an_exit_status_not_a_signal() {
    for (args, want) in [(&["dump"][..], 0), (&["addr"][..], 1)] {
        let mut child = ksym()
            .arg("--kallsyms")
            .arg(k612())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader leaves before the first answer.
        drop(child.stdout.take());
        if let Some(mut input) = child.stdin.take() {
            // Enough answers to fill no pipe buffer: they fail at once.
            let addrs = "ffffffff81000000\n".repeat(20_000);
            let _ = input.write_all(addrs.as_bytes());
        }
        let out = child.wait_with_output().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.signal(), None, "{args:?}: killed");
        assert_eq!(out.status.code(), Some(want), "{args:?}: {}", stderr(&out));
    }
}

/// arm64 return addresses signed with pointer authentication (a code in
/// bits 63..56 and 54..48, bit 55 set) name what the bare address names,
/// in `addr` and in `decode`; an x86_64 table takes such a number as it is.
#[test]
fn signed_arm64_addresses_are_stripped_before_lookup() {
    let arm64 = data_dir().join("debian-6.12.118-cloud-arm64/kallsyms.xz");
    let o = run(&[
        "--kallsyms",
        arm64.to_str().unwrap(),
        "addr",
        "ffffb06771e4b020",
        "3aabb06771e4b020",
    ]);
    assert_eq!(
        stdout(&o),
        "0xffffb06771e4b020 vfs_get_tree+0x30/0x100\n0x3aabb06771e4b020 vfs_get_tree+0x30/0x100\n"
    );
    let mut child = ksym()
        .args(["--kallsyms", arm64.to_str().unwrap(), "decode"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"[   16.4] pc : 0x3aabb06771e4b020\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("# vfs_get_tree+0x30/0x100"), "{text}");
    let o = run(&[
        "--kallsyms",
        k612().to_str().unwrap(),
        "addr",
        "3aabb06771e4b020",
    ]);
    assert!(stdout(&o).ends_with("(no symbol)\n"), "{}", stdout(&o));
}

/// Off-line, `--modules` (a saved `/proc/modules`) and `--ko` lay the
/// module's code out as the loader did: an address in arm64's `.plt` is
/// the last function's, sized to the page-aligned text area's end as
/// `%pS` gives it, with its section. Without the `.ko` only the whole
/// module's extent is known. A `.ko` of another build is refused a layout
/// with a sentence.
#[test]
fn a_ko_gives_an_off_line_module_its_text_area() {
    let set = data_dir().join("debian-6.1.0-57-cloud-arm64");
    let (kallsyms, modules, vfat) = (
        set.join("kallsyms.xz"),
        set.join("proc-modules"),
        set.join("ko/vfat.ko"),
    );
    let args = |ko: bool| {
        let mut a = vec![
            "--kallsyms",
            kallsyms.to_str().unwrap(),
            "--modules",
            modules.to_str().unwrap(),
        ];
        if ko {
            a.extend(["--ko", vfat.to_str().unwrap()]);
        }
        a.extend(["addr", "--json", "0xffffd5fb84852584"]);
        a
    };
    let with = stdout(&run(&args(true)));
    assert!(
        with.contains("\"name\":\"exit_vfat_fs\",\"start\":\"0xffffd5fb84852554\",\"offset\":48,\"size\":2732,")
            && with.contains("\"section\":\".plt\""),
        "{with}"
    );
    let without = stdout(&run(&args(false)));
    assert!(
        without.contains("\"size\":15020,") && !without.contains("section"),
        "{without}"
    );

    let other = data_dir().join("debian-6.12.118-cloud-arm64");
    let o = run(&[
        "--kallsyms",
        other.join("kallsyms.xz").to_str().unwrap(),
        "--modules",
        other.join("proc-modules").to_str().unwrap(),
        "--ko",
        vfat.to_str().unwrap(),
        "addr",
        "0xffffb067307e5010",
    ]);
    assert!(
        stderr(&o)
            .contains("module vfat: its text area is not known: its symbols put its text area at"),
        "{}",
        stderr(&o)
    );
}
