//! The running kernel: its `_text` from `/proc/kallsyms`, the KASLR slide
//! against an image, and whether an image's build-id is the running one's.

use std::path::Path;

use super::{image_err, ImageKallsyms};
use crate::error::{Error, Result};
use crate::read::procfs::{kptr_restrict, perf_event_paranoid, PROC_KALLSYMS};

/// The running kernel's `_text`, read from the first lines of
/// `/proc/kallsyms` (it comes after the per-cpu symbols, a few hundred
/// lines in): no reading of the whole file, no `/proc/kcore`.
pub fn live_text_address() -> Result<u64> {
    text_address_in(Path::new(PROC_KALLSYMS))
}

/// Like [`live_text_address`], from any kallsyms file (for tests).
pub fn text_address_in(path: &Path) -> Result<u64> {
    match text_anchor_in(path)? {
        ("_text", addr) => Ok(addr),
        _ => Err(no_text(path, "no `_text` line (only `_stext`)")),
    }
}

/// Where the core kernel's text starts in a kallsyms file, and by which
/// symbol: `_text`, else `_stext` (arm64 without CONFIG_KALLSYMS_ALL lists
/// only `[_stext, _etext)`). Read from the first lines only.
pub fn text_anchor_in(path: &Path) -> Result<(&'static str, u64)> {
    use std::io::BufRead;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let reader = std::io::BufReader::with_capacity(16 << 10, file);
    let mut stext = None;
    // _text is within the first thousand lines on every kernel seen; stop
    // there rather than read a whole file.
    for line in reader.lines().take(4096) {
        let line = line.map_err(io)?;
        let mut f = line.split_ascii_whitespace();
        let (Some(addr), Some(_), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let addr = u64::from_str_radix(addr, 16).unwrap_or(0);
        // Sorted by address, `_text` <= `_stext`: past `_stext`'s address
        // no `_text` follows (x86 lists `_stext` first at the same one).
        if let Some(at) = stext.filter(|&at| addr > at) {
            return Ok(("_stext", at));
        }
        if name == "_text" || name == "_stext" {
            if addr == 0 {
                return Err(Error::Redacted {
                    source_name: path.display().to_string(),
                    kptr_restrict: kptr_restrict(),
                    perf_event_paranoid: perf_event_paranoid(),
                    bpf_iter: None,
                });
            }
            if name == "_text" {
                return Ok(("_text", addr));
            }
            stext = Some(addr);
        }
    }
    match stext {
        Some(at) => Ok(("_stext", at)),
        None => Err(no_text(path, "no `_text` line in its first 4096 lines")),
    }
}

fn no_text(path: &Path, why: &str) -> Error {
    image_err(&path.display().to_string(), why)
}

/// The KASLR slide of the running kernel against this image: the live
/// text anchor (`_text`, else `_stext`) minus the image's symbol of that
/// name.
pub fn slide_from_live(image: &ImageKallsyms) -> Result<i64> {
    let (name, live) = text_anchor_in(Path::new(PROC_KALLSYMS))?;
    let Some(text) = image.address_of(name) else {
        return Err(image_err(
            "kernel image",
            format!("its kallsyms have no `{name}` symbol"),
        ));
    };
    Ok(live.wrapping_sub(text) as i64)
}

/// Whether the image is the running kernel: its build-id equals the one in
/// `/sys/kernel/notes`. `None` when either is unknown.
pub fn matches_running_kernel(image: &ImageKallsyms) -> Option<bool> {
    let live = crate::parse::notes::build_id_of_file(Path::new("/sys/kernel/notes"))?;
    Some(image.build_id.as_ref()? == &live)
}
