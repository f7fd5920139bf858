//! The rules the library's layout keeps (see ARCHITECTURE.md), checked on
//! its source: no file over 600 lines of code (unit tests aside), and each
//! stage imports only the stages before it.

use std::path::{Path, PathBuf};

/// The stages in the order data flows; a stage may import only the ones
/// before it (and `error`, shared by all).
const STAGES: &[&str] = &[
    "error",
    "read",
    "parse",
    "lines",
    "table",
    "snapshot",
    "load",
    "live",
    "symbolize",
];

/// Names the crate root re-exports, by the stage that defines them, for
/// code that writes `crate::SymbolTable` instead of the stage path.
const ROOT_NAMES: &[(&str, &str)] = &[
    ("Error", "error"),
    ("Result", "error"),
    ("LineError", "error"),
    ("LineErrorKind", "error"),
    ("ResolveErrorKind", "error"),
    ("ModuleRange", "parse"),
    ("ModuleMap", "parse"),
    ("SymbolTable", "table"),
    ("SymbolId", "table"),
    ("Symbol", "table"),
    ("parse_bytes", "load"),
    ("LoadOptions", "load"),
    ("KernelSymbols", "live"),
];

const MAX_CODE_LINES: usize = 600;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The lines of a file that are not unit tests: a file named `tests.rs`
/// (declared under `#[cfg(test)]`) has none; elsewhere a `#[cfg(test)]`
/// module is left out up to its closing brace at the start of a line.
fn code_lines(path: &Path, text: &str) -> Vec<(usize, String)> {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return Vec::new();
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let next = lines.get(i + 1).map_or("", |l| l.trim_start());
        if lines[i].trim() == "#[cfg(test)]" && next.starts_with("mod ") {
            if next.ends_with(';') {
                i += 2;
                continue;
            }
            // An inline test module: skip to its closing brace, which sits
            // at the indentation of the attribute.
            let indent = lines[i].len() - lines[i].trim_start().len();
            let close = format!("{}}}", " ".repeat(indent));
            i += 2;
            while i < lines.len() && lines[i] != close {
                i += 1;
            }
            i += 1;
            continue;
        }
        out.push((i + 1, lines[i].to_string()));
        i += 1;
    }
    out
}

/// The stage a file belongs to: its first folder under `src/`, or its own
/// name for a top-level file (`error.rs`); `None` for `lib.rs`.
fn stage_of(rel: &Path) -> Option<String> {
    let first = rel.components().next()?.as_os_str().to_str()?;
    let stage = first.strip_suffix(".rs").unwrap_or(first);
    (stage != "lib").then(|| stage.to_string())
}

fn rank(stage: &str) -> Option<usize> {
    STAGES.iter().position(|s| *s == stage)
}

/// The stages a line of code names through `crate::…` paths.
fn stages_named(line: &str) -> Vec<Result<String, String>> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if rank(&name).is_some() {
            out.push(Ok(name));
        } else if let Some((_, stage)) = ROOT_NAMES.iter().find(|(n, _)| *n == name) {
            out.push(Ok(stage.to_string()));
        } else if !name.is_empty() {
            out.push(Err(name));
        }
    }
    out
}

#[test]
fn no_file_over_600_lines_of_code() {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut too_long = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).expect("read source");
        let n = code_lines(path, &text).len();
        if n > MAX_CODE_LINES {
            too_long.push(format!(
                "{}: {n} lines",
                path.strip_prefix(&src).unwrap().display()
            ));
        }
    }
    assert!(
        too_long.is_empty(),
        "files over {MAX_CODE_LINES} lines of code (unit tests aside):\n{}",
        too_long.join("\n")
    );
}

#[test]
fn stages_import_only_earlier_stages() {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&src).unwrap();
        let Some(stage) = stage_of(rel) else {
            continue;
        };
        let Some(own) = rank(&stage) else {
            wrong.push(format!("{}: not in a known stage", rel.display()));
            continue;
        };
        let text = std::fs::read_to_string(path).expect("read source");
        for (no, line) in code_lines(path, &text) {
            if line.trim_start().starts_with("//") {
                continue; // docs may point anywhere
            }
            for named in stages_named(&line) {
                match named {
                    Ok(other) if rank(&other).unwrap() > own => wrong.push(format!(
                        "{}:{no}: {stage} imports the later stage {other}",
                        rel.display()
                    )),
                    Ok(_) => {}
                    Err(name) => wrong.push(format!(
                        "{}:{no}: crate::{name} is no stage (name it by its stage path)",
                        rel.display()
                    )),
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_rules_are_checked_on_real_files() {
    // The checks above must see the code they judge: every stage has files
    // with code, and a test module is not counted as code.
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    for stage in STAGES {
        assert!(
            files
                .iter()
                .any(|p| stage_of(p.strip_prefix(&src).unwrap()).as_deref() == Some(stage)),
            "no file in stage {stage}"
        );
    }
    let sample = "fn a() {}\n#[cfg(test)]\nmod tests {\n    fn b() {}\n}\nfn c() {}\n";
    let kept: Vec<usize> = code_lines(Path::new("x.rs"), sample)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(kept, [1, 6]);
    assert_eq!(
        stages_named("use crate::table::SymbolTable; // crate::live"),
        [Ok("table".to_string())]
    );
    assert_eq!(
        stages_named("let t = crate::SymbolTable::default();"),
        [Ok("table".to_string())]
    );
}
