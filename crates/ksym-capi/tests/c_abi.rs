//! The C ABI as C sees it: the checked-in header is what cbindgen makes of
//! the sources now and compiles as C11 and C++ with warnings as errors; a C
//! program built against `libksym.a` and against `libksym.so` (found
//! through its SONAME) answers exactly what `ksym addr --json` answers, on
//! real data and on the live kernel, in batches of 1, 64 and 4096, and
//! again under AddressSanitizer where the compiler has it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`, where cargo puts libksym.a, libksym.so and `ksym`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ksym-capi-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Builds the libraries and the `ksym` command this test compares with, so
/// the files are those of the sources under test (cargo builds neither for
/// an integration test of a library without an rlib).
fn build_libraries() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let profile = target_dir();
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-q", "-p", "ksym-capi", "-p", "ksym-cli"]);
    if profile.file_name().is_some_and(|p| p == "release") {
        cmd.arg("--release");
    }
    let status = cmd.status().unwrap();
    assert!(status.success(), "cargo build of the libraries failed");
}

#[test]
fn header_is_current() {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).unwrap();
    let mut made = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen")
        .write(&mut made);
    let path = dir.join("include/ksym.h");
    if std::env::var_os("KSYM_BLESS").is_some() {
        std::fs::write(&path, &made).unwrap();
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == made,
        "{} is stale: regenerate it with `KSYM_BLESS=1 cargo test -p ksym-capi --test c_abi header_is_current`",
        path.display()
    );
}

/// Compiles `source` with `compiler` and `flags`; the compiler's complaint
/// when it fails.
fn compile(
    compiler: &str,
    flags: &[&str],
    source: &Path,
    out: Option<&Path>,
    libs: &[&str],
) -> Result<(), String> {
    let mut cmd = Command::new(compiler);
    cmd.args(flags)
        .arg("-I")
        .arg(crate_dir().join("include"))
        .arg(source);
    match out {
        Some(o) => cmd.arg("-o").arg(o),
        None => cmd.arg("-fsyntax-only"),
    };
    cmd.args(libs);
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {compiler}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn header_compiles_as_c11_and_cxx() {
    let dir = scratch("header");
    let c = dir.join("use.c");
    std::fs::write(
        &c,
        "#include \"ksym.h\"\nint main(void) { ksym_frame f; (void)f; return ksym_version()[0] ? 0 : 1; }\n",
    )
    .unwrap();
    let cc_flags = ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror"];
    compile("cc", &cc_flags, &c, None, &[]).unwrap();
    let cpp = dir.join("use.cpp");
    std::fs::copy(&c, &cpp).unwrap();
    let cxx_flags = ["-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Werror"];
    match compile("c++", &cxx_flags, &cpp, None, &[]) {
        Err(e) if e.starts_with("cannot run") => println!("SKIP the C++ check: {e}"),
        r => r.unwrap(),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `ksym addr --json` for `addrs` from `source` (a file, or the live kernel).
fn reference(source: Option<&Path>, addrs: &str) -> String {
    let mut cmd = Command::new(target_dir().join("ksym"));
    match source {
        Some(p) => cmd.arg("--kallsyms").arg(p),
        None => cmd.arg("--no-cache"),
    };
    run_with_input(cmd.args(["addr", "--json"]), addrs)
}

fn run_with_input(cmd: &mut Command, input: &str) -> String {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every line of `got` equals `want`'s, as JSON values.
fn same_json(what: &str, got: &str, want: &str) {
    let parse = |s: &str| -> Vec<serde_json::Value> {
        s.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (g, w) = (parse(got), parse(want));
    assert_eq!(g.len(), w.len(), "{what}: line counts");
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert_eq!(a, b, "{what}: line {}", i + 1);
    }
}

/// Addresses to ask about: every symbol's start, a byte inside, and the
/// gaps around, from the table `ksym` reads.
fn addresses_of(table: &ksym_core::SymbolTable) -> String {
    let mut out = String::new();
    for s in table.iter().step_by(7) {
        for a in [s.start, s.start.wrapping_add(1), s.start.wrapping_sub(1)] {
            out.push_str(&format!("{a:x}\n"));
        }
    }
    out.push_str("0\nffffffffffffffff\n1000\n");
    out
}

/// The C program built against each library (and under ASan when the
/// compiler has it), each with `source` and batches of 1, 64 and 4096.
fn check_c_program(source: Option<&Path>, addrs: &str) {
    build_libraries();
    let want = reference(source, addrs);
    let dir = scratch(if source.is_some() { "file" } else { "live" });
    let prog = crate_dir().join("tests/c/ksym_test.c");
    let lib = target_dir();
    // The shared library is found by its SONAME, libksym.so.0.
    std::os::unix::fs::symlink(lib.join("libksym.so"), dir.join("libksym.so.0")).unwrap();
    let static_lib = lib.join("libksym.a");
    let rpath = format!("-Wl,-rpath,{}", dir.display());
    let libdir = format!("-L{}", lib.display());
    let static_libs = || {
        vec![
            static_lib.display().to_string(),
            "-lpthread".into(),
            "-ldl".into(),
            "-lm".into(),
        ]
    };
    let asan = || {
        vec![
            "-fsanitize=address".to_string(),
            "-fno-omit-frame-pointer".into(),
        ]
    };
    let builds: Vec<(&str, Vec<String>, Vec<String>)> = vec![
        ("static+clang-asan", asan(), static_libs()),
        ("static", vec![], static_libs()),
        (
            "shared",
            vec![],
            vec![libdir.clone(), "-lksym".into(), rpath.clone()],
        ),
        ("static+asan", asan(), static_libs()),
    ];
    for (name, extra, libs) in builds {
        let exe = dir.join(format!("ksym_test-{name}"));
        let mut flags: Vec<&str> = vec!["-std=c11", "-O1", "-g", "-Wall", "-Wextra", "-Werror"];
        flags.extend(extra.iter().map(String::as_str));
        let libs: Vec<&str> = libs.iter().map(String::as_str).collect();
        let compiler = if name.contains("clang") {
            "clang"
        } else {
            "cc"
        };
        if let Err(e) = compile(compiler, &flags, &prog, Some(&exe), &libs) {
            if name.contains("asan") {
                println!(
                    "SKIP {name}: the C compiler cannot build with AddressSanitizer here: {e}"
                );
                continue;
            }
            panic!("building the C test program ({name}): {e}");
        }
        let src = source.map_or("--live".to_string(), |p| p.display().to_string());
        for batch in ["1", "64", "4096"] {
            let got = run_with_input(Command::new(&exe).args([src.as_str(), batch]), addrs);
            same_json(&format!("{name}, batches of {batch}"), &got, &want);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn c_program_matches_the_cli_on_real_data() {
    let data = ksym_testdata::data_dir().join("debian-6.12.117/kallsyms.xz");
    assert!(
        data.is_file(),
        "the real kernel data is missing: expected {} (shared/ beside the clone)",
        data.display()
    );
    let table = ksym_core::load_file(&data, &ksym_core::LoadOptions::default()).unwrap();
    check_c_program(Some(&data), &addresses_of(&table));
}

#[test]
fn c_program_matches_the_cli_on_the_live_kernel() {
    let table = match ksym_core::load_live(&ksym_core::LoadOptions::default()) {
        Ok(t) => t,
        Err(e) => {
            println!("SKIP: the live kernel's symbols cannot be read here: {e}");
            return;
        }
    };
    check_c_program(None, &addresses_of(&table));
}

/// The shared library exports `ksym_*` functions and nothing else, under
/// the SONAME libksym.so.0 (checked with binutils' `nm` and `readelf`).
#[test]
fn exports_only_ksym_names() {
    build_libraries();
    let so = target_dir().join("libksym.so");
    let Ok(nm) = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(&so)
        .output()
    else {
        println!("SKIP: no nm (binutils)");
        return;
    };
    let text = String::from_utf8_lossy(&nm.stdout);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert!(names.len() >= 10, "{text}");
    let others: Vec<&&str> = names.iter().filter(|n| !n.starts_with("ksym_")).collect();
    assert!(others.is_empty(), "exported besides ksym_*: {others:?}");
    let dynamic = Command::new("readelf").arg("-d").arg(&so).output().unwrap();
    let dynamic = String::from_utf8_lossy(&dynamic.stdout);
    assert!(
        dynamic.contains("Library soname: [libksym.so.0]"),
        "{dynamic}"
    );
}

/// Source lines through the C ABI (`lines = 1`, `vmlinux` set) on the 6.1
/// cloud kallsyms and its vmlinux with DWARF (skipped, saying so, when it
/// is not fetched): each frame's `source_frames` are what the library's
/// `SourceLines` answers (itself checked against eu-addr2line,
/// llvm-symbolizer and binutils), in the JSON shape of `ksym addr --lines
/// --json`, in batches of 1 and 64. (The command itself asks only for
/// addresses a symbol holds, and with `--vmlinux` its symbols have the
/// ELF's real sizes, so it is not the reference here.)
#[test]
fn c_program_source_lines_match_the_library() {
    let home = std::env::var_os("HOME").unwrap_or_default();
    let vmlinux = Path::new(&home).join(".cache/ksym-test-data/vmlinux-6.1.0-57-cloud-amd64");
    if !vmlinux.is_file() {
        println!(
            "SKIP: {} is absent (fetch-debug-vmlinux.sh)",
            vmlinux.display()
        );
        return;
    }
    let data = ksym_testdata::data_dir().join("debian-6.1.0-57-cloud/kallsyms.xz");
    let table = ksym_core::load_file(&data, &ksym_core::LoadOptions::default()).unwrap();
    // Inside core functions, and an address no symbol holds.
    let mut addrs: Vec<u64> = table
        .iter()
        .filter(|s| s.module.is_none() && s.kind.eq_ignore_ascii_case(&'t'))
        .step_by(151)
        .take(200)
        .map(|s| s.start + 5)
        .collect();
    addrs.push(0x1000);
    let mut lines = ksym_core::lines::SourceLines::new();
    let facts = ksym_core::lines::KernelFacts {
        build_id: None,
        text: table.find_in(None, "_text").next().map(|s| s.start),
    };
    let file = ksym_core::lines::DebugFile::open(&vmlinux).unwrap();
    lines.set_vmlinux(file, facts).unwrap();
    let want: Vec<serde_json::Value> = addrs
        .iter()
        .map(|a| {
            let frames = lines.frames(*a).unwrap();
            serde_json::json!(frames
                .iter()
                .map(|f| serde_json::json!({
                    "function": f.function, "file": f.file, "line": f.line,
                    "column": f.column, "inlined": f.inlined,
                }))
                .collect::<Vec<_>>())
        })
        .collect();
    let with_lines = want
        .iter()
        .filter(|w| w.as_array().is_some_and(|a| !a.is_empty()))
        .count();
    assert!(
        with_lines > 150,
        "{with_lines} of {} with lines",
        want.len()
    );
    build_libraries();
    let dir = scratch("lines");
    let exe = dir.join("ksym_test-lines");
    let static_lib = target_dir().join("libksym.a");
    let libs = [static_lib.to_str().unwrap(), "-lpthread", "-ldl", "-lm"];
    let prog = crate_dir().join("tests/c/ksym_test.c");
    compile(
        "cc",
        &["-std=c11", "-O1", "-Wall", "-Werror"],
        &prog,
        Some(&exe),
        &libs,
    )
    .unwrap();
    let input: String = addrs.iter().map(|a| format!("{a:x}\n")).collect();
    for batch in ["1", "64"] {
        let mut cmd = Command::new(&exe);
        cmd.args([data.to_str().unwrap(), batch, vmlinux.to_str().unwrap()]);
        let got = run_with_input(&mut cmd, &input);
        assert_eq!(got.lines().count(), want.len());
        for ((line, w), a) in got.lines().zip(&want).zip(&addrs) {
            let g: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(&g["frames"], w, "{a:#x}, batches of {batch}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
