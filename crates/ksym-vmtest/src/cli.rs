//! The scenarios that run the `ksym` command itself against the live
//! kernel, the way a user does: `addr`, `name`, `dump`, `info`, the
//! snapshot cache, `--image`. Its answers are compared with
//! `/proc/kallsyms` and `/proc/modules` read plainly.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::kernel::{self, KallsymsLine};
use crate::scenarios::*;

/// The module the CLI scenarios load (with `--guest`) and name.
const MODULE: &str = "xfs";

/// The `ksym` binary: `--ksym PATH`, else `ksym` on `PATH` in the guest,
/// else the one cargo built beside this program (host tests).
pub(crate) fn ksym_binary(opts: &Options) -> Step<PathBuf> {
    if let Some(p) = &opts.ksym {
        return Ok(p.clone());
    }
    let beside = std::env::current_exe().ok().and_then(|exe| {
        // target/<profile>/ksym-vmtest or target/<profile>/deps/ksym_vmtest-*.
        exe.ancestors()
            .skip(1)
            .take(2)
            .map(|d| d.join("ksym"))
            .find(|p| p.is_file())
    });
    if let Some(p) = beside {
        return Ok(p);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("ksym"))
            .find(|p| p.is_file())
    });
    on_path.ok_or_else(|| {
        skip("no ksym binary: give --ksym PATH, put it on PATH, or build it (cargo build -p ksym-cli)")
    })
}

/// Runs `ksym ARGS` (with `stdin` fed when given).
pub(crate) fn run_ksym(
    bin: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Step<Output> {
    use std::io::Write;
    let mut cmd = Command::new(bin);
    cmd.args(args).envs(env.iter().copied());
    cmd.stdin(if stdin.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    });
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot run {}: {e}", bin.display())))?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A writer thread: ksym may fill its stdout before reading all input.
        let text = text.to_string();
        std::thread::spawn(move || pipe.write_all(text.as_bytes()));
    }
    child
        .wait_with_output()
        .map_err(|e| fail(format!("waiting for ksym {}: {e}", args.join(" "))))
}

/// `ksym ARGS`'s standard output when it succeeds; a failure naming the
/// command and its message otherwise.
fn ksym_ok(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Step<String> {
    let out = run_ksym(bin, args, env, None)?;
    if !out.status.success() {
        return Err(fail(format!(
            "ksym {}: {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// With `--guest`, loads [`MODULE`] when it is not loaded.
fn load_module(opts: &Options) -> Step<()> {
    if opts.guest && kernel::loaded_modules().is_ok() && !kernel::is_loaded(MODULE) {
        kernel::insmod(MODULE).map_err(fail)?;
    }
    Ok(())
}

/// A function whose address and name no other symbol has: in [`MODULE`]
/// when loaded, else in any module, else in the core kernel.
fn unambiguous_function(lines: &[KallsymsLine]) -> Option<KallsymsLine> {
    let modules: Vec<String> = kernel::loaded_modules().unwrap_or_default();
    std::iter::once(MODULE.to_string())
        .chain(modules)
        .find_map(|m| kernel::unique_function(lines, &m))
        .or_else(|| kernel::unique_core_function(lines))
}

fn module_suffix(l: &KallsymsLine) -> String {
    l.module
        .as_deref()
        .map_or(String::new(), |m| format!(" [{m}]"))
}

/// `ksym addr` names a function at its address, and `ksym name` finds it
/// there, with its module.
pub(crate) fn cli_addr_name(opts: &Options, notes: &mut Notes) -> Step<()> {
    let bin = ksym_binary(opts)?;
    load_module(opts)?;
    let lines = kallsyms()?;
    let f = unambiguous_function(&lines).ok_or_else(|| fail("no unambiguous function"))?;
    let m = module_suffix(&f);
    notes.push(format!("{}{m} at {:#x}", f.name, f.addr));
    let hex = format!("{:016x}", f.addr);
    let out = ksym_ok(&bin, &["--no-cache", "addr", &hex], &[])?;
    let want = format!("0x{hex} {}+0x0/0x", f.name);
    let line = out.trim_end();
    if !(line.starts_with(&want) && line.ends_with(&m) && !line.contains('\n')) {
        return Err(fail(format!(
            "ksym addr {hex}: {line:?}, want \"{want}...{m}\""
        )));
    }
    let out = ksym_ok(&bin, &["--no-cache", "name", &f.name], &[])?;
    let line = out.trim_end();
    let want = format!("{hex} {} {} size 0x", f.kind, f.name);
    if !(line.starts_with(&want) && line.ends_with(&m) && !line.contains('\n')) {
        return Err(fail(format!(
            "ksym name {}: {line:?}, want \"{want}...{m}\"",
            f.name
        )));
    }
    Ok(())
}

/// Every module text address of `/proc/kallsyms`, given to `ksym addr` on
/// standard input, comes back as a symbol at that address in that module
/// at offset 0 (the `.ko` files through modules.dep give real sizes; with
/// `--guest`, again with modules.dep out of the way); and `ksym dump
/// --format kallsyms` has every module line of `/proc/kallsyms`.
pub(crate) fn cli_module_symbols(opts: &Options, notes: &mut Notes) -> Step<()> {
    let bin = ksym_binary(opts)?;
    kernel::loaded_modules()
        .map_err(|e| skip(format!("no /proc/modules ({e}): no loadable modules")))?;
    load_module(opts)?;
    let lines = kallsyms()?;
    let text: Vec<&KallsymsLine> = lines
        .iter()
        .filter(|l| l.module.is_some() && l.is_text() && !is_mapping_symbol(&l.name))
        .collect();
    if text.is_empty() {
        return Err(skip("no module is loaded"));
    }
    check_module_text(&bin, &lines, &text, "with .ko sizes", notes)?;
    if opts.guest {
        let dep = kernel::modules_dir()
            .map_err(|e| fail(e.to_string()))?
            .join("modules.dep");
        let off = dep.with_extension("dep.off");
        std::fs::rename(&dep, &off).map_err(|e| fail(format!("moving modules.dep: {e}")))?;
        let without = check_module_text(&bin, &lines, &text, "without .ko files", notes);
        std::fs::rename(&off, &dep).map_err(|e| fail(format!("restoring modules.dep: {e}")))?;
        without?;
    }
    let pseudo = |l: &KallsymsLine| {
        l.module
            .as_deref()
            .is_some_and(|m| m == "bpf" || m.starts_with("__builtin"))
    };
    let want: HashSet<String> = lines
        .iter()
        .filter(|l| l.module.is_some() && !pseudo(l))
        .map(|l| format!("{:016x} {} {}{}", l.addr, l.kind, l.name, module_suffix(l)))
        .collect();
    let dump = ksym_ok(&bin, &["--no-cache", "dump", "--format", "kallsyms"], &[])?;
    let got: HashSet<String> = dump
        .lines()
        .map(|l| l.replace('\t', " "))
        .filter(|l| l.ends_with(']') && !l.contains(" [bpf]") && !l.contains(" [__builtin"))
        .collect();
    let missing: Vec<&String> = want.difference(&got).take(3).collect();
    let extra: Vec<&String> = got.difference(&want).take(3).collect();
    notes.push(format!("{} module lines in the dump", got.len()));
    if !missing.is_empty() || !extra.is_empty() {
        return Err(fail(format!(
            "ksym dump: {} module lines in /proc/kallsyms, {} in the dump; missing {missing:?}, extra {extra:?}",
            want.len(),
            got.len()
        )));
    }
    Ok(())
}

fn check_module_text(
    bin: &Path,
    lines: &[KallsymsLine],
    text: &[&KallsymsLine],
    how: &str,
    notes: &mut Notes,
) -> Step<()> {
    let names = kernel::names_by_addr(lines);
    let mut addrs: Vec<u64> = text.iter().map(|l| l.addr).collect();
    addrs.sort_unstable();
    addrs.dedup();
    let input: String = addrs.iter().map(|a| format!("{a:016x}\n")).collect();
    let out = run_ksym(bin, &["--no-cache", "addr"], &[], Some(&input))?;
    if !out.status.success() {
        return Err(fail(format!(
            "ksym addr on stdin ({how}): {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut bad = Vec::new();
    let mut seen = 0;
    for (line, addr) in stdout.lines().zip(&addrs) {
        seen += 1;
        // 0xADDR name+0x0/0xSIZE [module]
        let mut f = line.split_ascii_whitespace();
        let (given, sym, module) = (f.next(), f.next(), f.next());
        let name = sym.and_then(|s| s.split_once("+0x0/")).map(|(n, _)| n);
        let module = module.and_then(|m| m.strip_prefix('[')?.strip_suffix(']'));
        let ok = given == Some(&format!("0x{addr:016x}"))
            && name.is_some_and(|n| {
                names
                    .get(addr)
                    .is_some_and(|v| v.iter().any(|&(vn, vm)| vn == n && vm == module))
            });
        if !ok && bad.len() < 3 {
            bad.push(line.to_string());
        }
    }
    notes.push(format!("{} module text addresses {how}", addrs.len()));
    if seen != addrs.len() || !bad.is_empty() {
        return Err(fail(format!(
            "ksym addr ({how}): {seen} answers for {} addresses; wrong: {bad:?}",
            addrs.len()
        )));
    }
    Ok(())
}

/// `ksym info` counts the loaded modules and the text areas that
/// `/sys/module/*/sections` bound; with `--guest`, after `rmmod` the
/// module's function is no longer named or found.
pub(crate) fn cli_info_rmmod(opts: &Options, notes: &mut Notes) -> Step<()> {
    let bin = ksym_binary(opts)?;
    let loaded = kernel::loaded_modules()
        .map_err(|e| skip(format!("no /proc/modules ({e}): no loadable modules")))?;
    kallsyms()?;
    load_module(opts)?;
    let loaded = kernel::loaded_modules().unwrap_or(loaded);
    let info = ksym_ok(&bin, &["--no-cache", "info"], &[])?;
    let want = format!("modules:           {}", loaded.len());
    if !info.contains(&want) {
        return Err(fail(format!("ksym info lacks {want:?}: {info}")));
    }
    let with_sections = loaded
        .iter()
        .filter(|m| kernel::section_addr(m, ".text").is_some_and(|a| a != 0))
        .count();
    let want = format!(" {with_sections} text areas from /sys/module sections");
    if !info.contains(&want) {
        return Err(fail(format!("ksym info lacks {want:?}: {info}")));
    }
    let with_notes = loaded
        .iter()
        .filter(|m| {
            Path::new("/sys/module")
                .join(m)
                .join("notes/.note.gnu.build-id")
                .is_file()
        })
        .count();
    let want = format!("  build-ids:       {with_notes} from /sys/module notes");
    if !info.contains(&want) {
        return Err(fail(format!("ksym info lacks {want:?}: {info}")));
    }
    notes.push(format!(
        "{} modules, {with_sections} with sections, {with_notes} with build-id notes",
        loaded.len()
    ));
    if !opts.guest || !kernel::is_loaded(MODULE) {
        return Ok(());
    }
    let f = kernel::unique_function(&kallsyms()?, MODULE)
        .ok_or_else(|| fail(format!("no unambiguous function of [{MODULE}]")))?;
    kernel::rmmod(MODULE).map_err(fail)?;
    let hex = format!("{:016x}", f.addr);
    let out = ksym_ok(&bin, &["--no-cache", "addr", &hex], &[])?;
    if out.contains(&f.name) || out.contains(&format!("[{MODULE}]")) {
        return Err(fail(format!(
            "after rmmod {MODULE}, ksym addr {hex}: {out:?}"
        )));
    }
    let out = run_ksym(&bin, &["--no-cache", "name", &f.name], &[], None)?;
    if out.status.success() {
        return Err(fail(format!(
            "after rmmod {MODULE}, ksym name {} still finds {:?}",
            f.name,
            String::from_utf8_lossy(&out.stdout)
        )));
    }
    Ok(())
}

/// The `snapshot cache:` line of `ksym info`.
fn cache_line(bin: &Path, dir: &str) -> Step<String> {
    let info = ksym_ok(bin, &["info"], &[("KSYM_CACHE_DIR", dir)])?;
    Ok(info
        .lines()
        .find(|l| l.starts_with("snapshot cache:"))
        .unwrap_or("no snapshot cache line")
        .to_string())
}

/// The snapshot cache through the CLI: a miss stores, the next run maps it;
/// with `--guest`, a module load makes it stale and the answers after it
/// are right.
pub(crate) fn cli_cache(opts: &Options, notes: &mut Notes) -> Step<()> {
    let bin = ksym_binary(opts)?;
    kallsyms()?;
    let dir = std::env::temp_dir().join(format!("ksym-vmtest-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_string_lossy().into_owned();
    let result = (|| {
        let (c1, c2) = (cache_line(&bin, &d)?, cache_line(&bin, &d)?);
        if !(c1.contains("miss") && c1.contains("stored") && c2.contains("hit")) {
            return Err(fail(format!("first run {c1:?}, second {c2:?}")));
        }
        if !opts.guest || kernel::loaded_modules().is_err() {
            return Ok(());
        }
        kernel::ensure_unloaded(MODULE).map_err(fail)?;
        kernel::insmod(MODULE).map_err(fail)?;
        let f = kernel::unique_function(&kallsyms()?, MODULE)
            .ok_or_else(|| fail(format!("no unambiguous function of [{MODULE}]")))?;
        let c3 = cache_line(&bin, &d)?;
        let hex = format!("{:016x}", f.addr);
        let env = [("KSYM_CACHE_DIR", d.as_str())];
        let (a1, a2) = (
            ksym_ok(&bin, &["addr", &hex], &env)?,
            ksym_ok(&bin, &["addr", &hex], &env)?,
        );
        let want = format!("0x{hex} {}+0x0/0x", f.name);
        let right =
            |a: &str| a.starts_with(&want) && a.trim_end().ends_with(&format!("[{MODULE}]"));
        notes.push(format!("after insmod {MODULE}: {c3}"));
        if !(c3.contains("miss") && right(&a1) && right(&a2)) {
            return Err(fail(format!(
                "after insmod {MODULE}: cache {c3:?}, ksym addr {hex}: {a1:?} then {a2:?}, want {want:?}"
            )));
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// `ksym --image /boot/vmlinuz-<release>`: the running kernel's own image
/// answers at the running addresses (its build-id is the running one's).
pub(crate) fn cli_image(opts: &Options, notes: &mut Notes) -> Step<()> {
    let bin = ksym_binary(opts)?;
    let release = kernel::release().map_err(|e| fail(e.to_string()))?;
    let image = format!("/boot/vmlinuz-{release}");
    if !Path::new(&image).is_file() {
        return Err(skip(format!("no {image}")));
    }
    let lines = kallsyms()?;
    for name in ["schedule", "vfs_read"] {
        let l = lines
            .iter()
            .find(|l| l.name == name && l.module.is_none())
            .ok_or_else(|| fail(format!("no {name} in /proc/kallsyms")))?;
        let hex = format!("{:016x}", l.addr);
        let out = ksym_ok(&bin, &["--image", &image, "addr", &hex], &[])?;
        if !out.starts_with(&format!("0x{hex} {name}+0x0/0x")) {
            return Err(fail(format!("ksym --image {image} addr {hex}: {out:?}")));
        }
    }
    notes.push(format!("{image} names schedule and vfs_read"));
    Ok(())
}
