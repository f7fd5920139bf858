//! The running kernel's symbols through the BPF ksym iterator
//! ([`crate::read::bpf_iter`]) when `/proc/kallsyms` is redacted: the same
//! text with real addresses, parsed as `/proc/kallsyms` is, while it is
//! read. `/proc/modules`
//! and `/sys/module` are redacted too, so each module's base comes from its
//! lowest code symbol (its text area starts on that page); its size, which
//! `/proc/modules` still shows, bounds it as before.

use std::path::Path;

use super::text::parse_in_parts;
use super::LoadOptions;
use crate::error::Error;
use crate::parse::btf::ksym_iter_layout;
use crate::parse::{ModuleMap, Parser};
use crate::read::bpf_iter::{read_ksym_iter, stream_ksym_iter, IterProgram};
use crate::read::{read_small, Limit};
use crate::table::{SymbolTable, TableBuilder};

/// Where the kernel's BTF is.
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// The page modules are laid out in.
const PAGE: u64 = 4096;

/// The live table through the iterator, named `source` (which says why it
/// was used), or why the iterator cannot be used: a sentence naming what is
/// missing (BTF, a kernel before 6.0, a capability, BPF itself).
pub fn load_ksym_iter(
    opts: &LoadOptions,
    source: &str,
) -> std::result::Result<SymbolTable, String> {
    let limit = Limit::text(opts.max_input_bytes);
    let btf = read_small(Path::new(VMLINUX_BTF), 256 << 20).map_err(|e| match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => format!(
            "{VMLINUX_BTF} is missing (a kernel built without CONFIG_DEBUG_INFO_BTF), and the \
             iterator's field offsets come from it"
        ),
        e => e.to_string(),
    })?;
    let layout = ksym_iter_layout(&btf).map_err(|e| format!("{VMLINUX_BTF}: {e}"))?;
    // With two threads, parsed as it is read (as /proc/kallsyms is).
    let (parser, fed, builder, lowest_code, program) = if opts.threads() >= 2 {
        let mut builder = TableBuilder::new();
        // The live kernel here has ~120k-240k symbols.
        builder.reserve(1 << 17, 6 << 20);
        let mut parser = Parser::new(opts.strict);
        let (taken, lowest_code, program) = stream_ksym_iter(&layout, limit.max_bytes, |text| {
            parser.feed(text, &mut builder)
        })
        .map_err(|e| e.reason)?;
        let fed = taken.and_then(|()| parser.finish(&mut builder));
        (parser, fed, builder, lowest_code, program)
    } else {
        let (decoded, program) = read_ksym_iter(&layout, limit.max_bytes).map_err(|e| e.reason)?;
        let (parser, fed, builder) = parse_in_parts(&decoded.text, opts, 1);
        (parser, fed, builder, decoded.lowest_code, program)
    };
    // Said where the slower program had to stand in, and why.
    let source = match program {
        IterProgram::Records => source.to_string(),
        IterProgram::Lines(why) => {
            format!("{source}; formatted lines, the records program refused: {why}")
        }
    };
    let mut opts = opts.clone();
    if let Some(map) = &mut opts.modules {
        place_modules(map, &lowest_code);
    }
    super::text::finish(&source, parser, fed, builder, &opts, Some(None))
        .map_err(|e| format!("the iterator's text: {e}"))
}

/// Gives each module of `map` without a base the page of its lowest code
/// symbol (`lowest_code`), its text area's start.
fn place_modules(map: &mut ModuleMap, lowest_code: &[(String, u64)]) {
    for m in &mut map.modules {
        if m.base.unwrap_or(0) != 0 {
            continue;
        }
        if let Some((_, low)) = lowest_code.iter().find(|(n, _)| *n == m.name) {
            m.base = Some(low & !(PAGE - 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_are_placed_on_their_lowest_code_symbols_page() {
        let mut map = ModuleMap::default();
        map.add_text(
            "m",
            b"xfs 1421312 0 - Live 0x0000000000000000\nstp 16384 1 bridge, Live 0x0000000000000000\n",
        )
        .unwrap();
        let text = b"ffff800080001000 T _text\n\
                     ffffd5fb846a0108 t xfs_a\t[xfs]\n\
                     ffffd5fb846a0008 t xfs_b\t[xfs]\n\
                     ffffd5fb84700000 d xfs_data\t[xfs]\n\
                     ffffd5fb84806000 T stp_x\t[stp]\n";
        place_modules(&mut map, &crate::read::bpf_iter::lowest_code_of(text));
        assert_eq!(map.get("xfs").unwrap().base, Some(0xffffd5fb846a0000));
        assert_eq!(map.get("stp").unwrap().base, Some(0xffffd5fb84806000));
    }
}
