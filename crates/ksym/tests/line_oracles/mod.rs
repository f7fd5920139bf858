//! The reference tools for source lines, run as processes: eu-addr2line
//! (elfutils), llvm-symbolizer and binutils addr2line, each given a batch of
//! addresses on standard input, their answers parsed into frames; and the
//! comparison of those with `ksym::lines`.

#![allow(dead_code)] // each test file uses its own part

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ksym::lines::SourceFrame;

/// One frame as a tool prints it, made comparable: the path relative to
/// the build directory, no line (0 or `?`) as `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolFrame {
    pub function: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

/// The path of `tool` when it is installed.
pub fn installed(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

/// Where the tools put the build directory (the units' `DW_AT_comp_dir`)
/// and the source tree, which the kernel's paths leave out. Debian's C
/// units record the build directory relative, its assembler units absolute
/// and their files under the source tree.
const BUILD_DIRS: &[&str] = &[
    "/build/reproducible-path/linux-6.1.192/debian/build/build_amd64_none_cloud-amd64/",
    "/build/reproducible-path/linux-6.1.192/debian/build/build_arm64_none_cloud-arm64/",
    "/build/reproducible-path/linux-6.1.192/",
    "debian/build/build_amd64_none_cloud-amd64/",
    "debian/build/build_arm64_none_cloud-arm64/",
];

/// A tool's path as the kernel prints it: the build directory taken off,
/// `.` components dropped.
pub fn kernel_path(path: &str) -> String {
    let rest = BUILD_DIRS
        .iter()
        .find_map(|d| path.strip_prefix(d))
        .unwrap_or(path);
    let lead = if rest.starts_with('/') { "/" } else { "" };
    let parts: Vec<&str> = rest
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    format!("{lead}{}", parts.join("/"))
}

/// Parses `file:line[:column][ (discriminator N)]`; `??:0`, `??:?` is no place.
fn parse_place(text: &str) -> (Option<String>, Option<u32>, Option<u32>) {
    let text = text.split(" (discriminator").next().unwrap_or(text).trim();
    let mut parts = text.rsplitn(3, ':').collect::<Vec<_>>();
    parts.reverse();
    let num = |s: &str| s.parse::<u32>().ok().filter(|n| *n != 0);
    let (file, line, column) = match parts.as_slice() {
        [f, l, c] if l.parse::<u32>().is_ok() => (f.to_string(), num(l), num(c)),
        [f, l, c] => (format!("{f}:{l}"), num(c), None),
        [f, l] => (f.to_string(), num(l), None),
        _ => (text.to_string(), None, None),
    };
    let file = (file != "??").then(|| kernel_path(&file));
    (file, line, column)
}

fn function_name(text: &str) -> Option<String> {
    // eu-addr2line: `inner inlined at FILE:LINE:COL in outer`.
    let name = text.split(" inlined at ").next().unwrap_or(text).trim();
    (name != "??" && !name.is_empty()).then(|| name.to_string())
}

/// Runs `tool` with `args`, the addresses on standard input (one `0x…`
/// a line), and returns its standard output.
fn run(tool: &str, args: &[&str], addrs: &[u64]) -> String {
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let mut input = String::new();
    for a in addrs {
        input.push_str(&format!("{a:#x}\n"));
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Splits `-a` output into one block of lines per address (each block
/// starts with the `0x…` line the tool echoes).
fn blocks_after_address(out: &str, n: usize, tool: &str) -> Vec<Vec<ToolFrame>> {
    let mut blocks: Vec<Vec<&str>> = Vec::new();
    for line in out.lines() {
        if line.starts_with("0x") {
            blocks.push(Vec::new());
        } else if let Some(b) = blocks.last_mut() {
            b.push(line);
        }
    }
    assert_eq!(blocks.len(), n, "{tool}: one answer per address");
    blocks.iter().map(|b| pairs(b)).collect()
}

/// Frames from `function` / `place` line pairs.
fn pairs(lines: &[&str]) -> Vec<ToolFrame> {
    lines
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| {
            let (file, line, column) = parse_place(c[1]);
            ToolFrame {
                function: function_name(c[0]),
                file,
                line,
                column,
            }
        })
        .collect()
}

/// eu-addr2line on `file`; `section` makes the addresses offsets into it.
pub fn eu_addr2line(file: &Path, section: Option<&str>, addrs: &[u64]) -> Vec<Vec<ToolFrame>> {
    let path = file.to_str().unwrap();
    let mut args = vec!["-e", path, "-f", "-i", "-a"];
    if let Some(s) = section {
        args.extend(["-j", s]);
    }
    let out = run("eu-addr2line", &args, addrs);
    blocks_after_address(&out, addrs.len(), "eu-addr2line")
}

/// binutils addr2line on `file`; `section` as for [`eu_addr2line`].
pub fn binutils_addr2line(
    file: &Path,
    section: Option<&str>,
    addrs: &[u64],
) -> Vec<Vec<ToolFrame>> {
    binutils_addr2line_as("addr2line", file, section, addrs)
}

/// [`binutils_addr2line`] run as `tool` (a cross binutils' own, which
/// reads and relocates that architecture's objects).
pub fn binutils_addr2line_as(
    tool: &str,
    file: &Path,
    section: Option<&str>,
    addrs: &[u64],
) -> Vec<Vec<ToolFrame>> {
    let path = file.to_str().unwrap();
    let mut args = vec!["-e", path, "-f", "-i", "-a"];
    if let Some(s) = section {
        args.extend(["-j", s]);
    }
    let out = run(tool, &args, addrs);
    blocks_after_address(&out, addrs.len(), tool)
}

/// llvm-symbolizer on `file` (it takes no section: a `.ko` must have its
/// sections placed apart first), with DWARF's short function names.
pub fn llvm_symbolizer(file: &Path, addrs: &[u64]) -> Vec<Vec<ToolFrame>> {
    let obj = format!("--obj={}", file.display());
    let args = [
        obj.as_str(),
        "--functions=short",
        "--inlining",
        "--output-style=LLVM",
    ];
    let out = run("llvm-symbolizer", &args, addrs);
    let mut blocks = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in out.lines() {
        if line.is_empty() {
            blocks.push(pairs(&current));
            current.clear();
        } else {
            current.push(line);
        }
    }
    assert_eq!(
        blocks.len(),
        addrs.len(),
        "llvm-symbolizer: one answer per address"
    );
    blocks
}

/// A tool's answer as ksym gives it: no frames when the address itself has
/// no line.
pub fn as_lines(frames: &[ToolFrame]) -> &[ToolFrame] {
    match frames.first() {
        Some(f) if f.line.is_some() && f.file.is_some() => frames,
        _ => &[],
    }
}

/// ksym's frames in the tools' terms.
pub fn ours(frames: &[SourceFrame]) -> Vec<ToolFrame> {
    frames
        .iter()
        .map(|f| ToolFrame {
            function: f.function.clone(),
            file: f.file.clone(),
            line: f.line,
            column: f.column,
        })
        .collect()
}

/// Whether two chains agree on function, file and line of every frame
/// (and on columns, when `columns`).
pub fn agree(a: &[ToolFrame], b: &[ToolFrame], columns: bool) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.function == y.function
                && x.file == y.file
                && x.line == y.line
                && (!columns || x.column == y.column)
        })
}

/// Whether two chains agree on function and line of every frame, files
/// aside.
pub fn agree_but_files(a: &[ToolFrame], b: &[ToolFrame]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.function == y.function && x.line == y.line)
}

/// A chain for a message: `f file:line:col <- g file:line`.
pub fn show(frames: &[ToolFrame]) -> String {
    if frames.is_empty() {
        return "(no line)".into();
    }
    frames
        .iter()
        .map(|f| {
            format!(
                "{} {}:{}:{}",
                f.function.as_deref().unwrap_or("??"),
                f.file.as_deref().unwrap_or("??"),
                f.line.unwrap_or(0),
                f.column.unwrap_or(0)
            )
        })
        .collect::<Vec<_>>()
        .join(" <- ")
}

/// Counts of how the tools' answers compared.
#[derive(Debug, Default)]
pub struct Tally {
    pub asked: usize,
    pub with_lines: usize,
    pub inlined: usize,
    pub tools_disagree: usize,
    pub binutils_cu_file: usize,
    /// Addresses no unit's ranges hold, where only eu and binutils answer.
    pub outside_units: usize,
    pub failures: Vec<String>,
}

impl Tally {
    /// Prints the counts and fails on any disagreement (all of them are
    /// written to the file `KSYM_LINES_DUMP` names, when set).
    pub fn finish(&self, what: &str, min_asked: usize) {
        eprintln!(
            "{what}: {} addresses, {} with lines, {} inlined chains; tools disagreeing: {} \
             ({} outside every unit's ranges); binutils naming the unit's file: {}",
            self.asked,
            self.with_lines,
            self.inlined,
            self.tools_disagree,
            self.outside_units,
            self.binutils_cu_file
        );
        if let Some(dump) = std::env::var_os("KSYM_LINES_DUMP") {
            std::fs::write(dump, self.failures.join("\n")).unwrap();
        }
        assert!(
            self.asked >= min_asked && self.with_lines * 10 >= self.asked * 8,
            "too few addresses or too few with lines: {self:?}"
        );
        assert!(
            self.failures.is_empty(),
            "{} disagreements, first ones:\n{}",
            self.failures.len(),
            self.failures[..self.failures.len().min(30)].join("\n")
        );
    }
}

/// The three tools' answers at the same addresses, in order.
pub struct ToolAnswers {
    pub eu: Vec<Vec<ToolFrame>>,
    pub llvm: Vec<Vec<ToolFrame>>,
    pub bin: Vec<Vec<ToolFrame>>,
}

impl ToolAnswers {
    /// [`judge`]s ksym's frames for the `k`-th address.
    pub fn judge_at(&self, tally: &mut Tally, k: usize, place: &str, ours: &[ToolFrame]) {
        let (eu, llvm, bin) = (&self.eu[k], &self.llvm[k], &self.bin[k]);
        judge(
            tally,
            place,
            ours,
            as_lines(eu),
            as_lines(llvm),
            as_lines(bin),
        );
    }
}

/// Compares ksym with the three tools at one address. Where the tools
/// disagree, which is right (see also the address outside every unit's
/// ranges, in the body):
/// - no DWARF subprogram covers the address (a function GCC described
///   without a PC range, such as an empty `br_poll_controller`; alignment
///   padding after a function's `DW_AT_high_pc`): ksym and llvm-symbolizer
///   give the line row with no function; eu-addr2line and binutils name the
///   ELF symbol there (or, eu, an enclosing scope's chain). ksym keeps to
///   DWARF (the kallsyms symbol is printed beside it anyway).
/// - overlapping inlined-subroutine entries for one call: llvm-symbolizer
///   and binutils (two independent readers) pick the same chain, eu-addr2line
///   another; ksym must agree with the two.
/// - binutils 2.40 names the unit's own `.c` file for DWARF 5 line rows
///   before the line program's first file switch (entry 0 and 1 both name
///   the primary file, and it takes the wrong one when a header comes
///   first, as all of `xfs_trace.c`'s code from `xfs_trace.h`): its files
///   are compared only where they are not the unit's `.c` file.
pub fn judge(
    tally: &mut Tally,
    place: &str,
    ours: &[ToolFrame],
    eu: &[ToolFrame],
    llvm: &[ToolFrame],
    bin: &[ToolFrame],
) {
    tally.asked += 1;
    tally.with_lines += usize::from(!ours.is_empty());
    tally.inlined += usize::from(ours.len() > 1);
    let no_function = ours.first().is_some_and(|f| f.function.is_none());
    // No unit's ranges hold the address (arm64 6.1: `object_err` and a few
    // other functions GCC left out of their unit's `DW_AT_ranges`):
    // llvm-symbolizer gives no line, eu-addr2line and binutils the row of
    // a line table whose unit does not claim it. ksym keeps to the ranges.
    if ours.is_empty() && llvm.is_empty() && !eu.is_empty() {
        tally.tools_disagree += 1;
        tally.outside_units += 1;
        return;
    }
    let ok = if agree(eu, llvm, true) {
        agree(ours, eu, true)
    } else {
        tally.tools_disagree += 1;
        agree(ours, llvm, true) && (no_function || agree_but_files(ours, bin))
    };
    // binutils, with the ELF symbol it names where DWARF has no function
    // left out, and its unit-file answers counted apart.
    let mut bin_ok = ours.len() == bin.len();
    for (k, (o, b)) in ours.iter().zip(bin).enumerate() {
        let function_ok = o.function == b.function || (k == 0 && no_function);
        bin_ok &= function_ok && o.line == b.line;
        if o.file != b.file {
            tally.binutils_cu_file += 1;
            bin_ok &= b.file.as_deref().is_some_and(|f| f.ends_with(".c"));
        }
    }
    if !ok || !bin_ok {
        tally.failures.push(format!(
            "{place}: {}\n  ksym: {}\n  eu:   {}\n  llvm: {}\n  bin:  {}",
            if ok {
                "binutils differs"
            } else {
                "ksym is not with the tools"
            },
            show(ours),
            show(eu),
            show(llvm),
            show(bin)
        ));
    }
}

/// `ko` linked (by `ld`, which applies its relocations) with each code
/// section at its load address: llvm-symbolizer cannot be told a section,
/// and on a relocatable object it takes every section to start at 0.
pub fn linked_copy(ld: &str, ko: &Path, sections: &[(String, u64)], dir: &Path) -> PathBuf {
    let name = ko.file_name().unwrap().to_string_lossy();
    let script = dir.join(format!("{name}.lds"));
    let mut text = String::from("SECTIONS {\n");
    for (section, addr) in sections {
        text.push_str(&format!("  {section} {addr:#x} : {{ *({section}) }}\n"));
    }
    text.push_str("}\n");
    std::fs::write(&script, text).unwrap();
    let out = dir.join(format!("{name}.linked"));
    // Calls to the kernel's functions (undefined here) must reach: on
    // arm64 a branch spans 128 MiB, so they go to the first section.
    let undefined = Command::new("nm").arg("-u").arg(ko).output().unwrap();
    let defsyms: Vec<String> = String::from_utf8_lossy(&undefined.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(|sym| format!("--defsym={sym}={:#x}", sections[0].1))
        .collect();
    let result = Command::new(ld)
        .args([
            "--unresolved-symbols=ignore-all",
            "-e",
            "0",
            "--no-check-sections",
            "--no-warn-rwx-segments",
        ])
        .args(&defsyms)
        .arg("-T")
        .arg(&script)
        .arg("-o")
        .arg(&out)
        .arg(ko)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{ld} on {}: {}",
        ko.display(),
        String::from_utf8_lossy(&result.stderr)
    );
    out
}
