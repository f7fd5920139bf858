//! Checks shared by the fuzz targets: run every query of a table and assert
//! the invariants lookups promise. Any failed assertion is a library bug.
//! Also the small fixed table some targets start from.

use ksym::{Symbol, SymbolTable};

/// A small fixed table: core, modules, kallmodsyms, aliases, repeated names,
/// absolute and name-only symbols, `__pfx_` pairs and a source path.
pub const TEXT: &[u8] = b"\
0000000000000000 A fixed_percpu_data
0000000000001000 A cpu_debug_store
ffffffff81000000 T _text
ffffffff81000000 T _stext
ffffffff81000010 t __pfx_foo
ffffffff81000020 t foo
ffffffff81000030 t .L123
ffffffff81000040 t dup
ffffffff81000080 t dup
ffffffff810000c0 t fs/ext4/inode.c:ext4_foo
ffffffff81000100 T _etext
ffffffff81000200 d weird:name
ffffffff81000300 t kfoo [ext4] [jbd2] {fs/ext4/inode.o}
ffffffffc0000000 t modfn\t[m]
ffffffffc0000010 t __pfx_modfn2\t[m]
ffffffffc0000020 t modfn2\t[m]
ffffffffc0000040 t dup\t[m]
ffffffffc0001000 t dup\t[m2]
ffffffffc0002000 t bpf_prog_x\t[bpf]
";

/// How many symbols get the per-symbol checks (keeps each run fast).
const CHECKED: usize = 256;

pub fn exercise(t: &SymbolTable, data: &[u8]) {
    let _ = t.info().format.describe();
    let _ = t.module_names().count();
    let _ = t.repeated_names();
    let _ = t.heap_bytes();
    let _ = format!("{t:?}");
    assert!(t.answering_len() <= t.len());

    // Whole iteration: ids in order, answering symbols sorted by address.
    let mut n = 0usize;
    let mut prev_start = 0u64;
    for (i, s) in t.iter().enumerate() {
        assert_eq!(s.id.0 as usize, i, "iter() skipped or reordered an id");
        assert_eq!(s.offset, 0, "iter() symbol with an offset: {s:?}");
        assert_eq!(t.symbol(s.id), Some(s), "symbol(id) differs from iter()");
        if i < t.answering_len() {
            assert!(
                s.start >= prev_start,
                "answering symbols not sorted by address"
            );
            prev_start = s.start;
            assert!(
                s.start.checked_add(s.size).is_some(),
                "symbol end overflows: {s:?}"
            );
        }
        let _ = t.modules_of(s.id).count();
        n += 1;
    }
    assert_eq!(n, t.len(), "iter() count differs from len()");
    assert!(t.symbol(ksym::SymbolId(t.len() as u32)).is_none());

    // Addresses from the input bytes and the edges of the address space.
    let mut addrs: Vec<u64> = vec![0, 1, u64::MAX, u64::MAX - 1, 1 << 32, (1 << 32) - 1];
    for chunk in data.chunks(8).take(4) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        addrs.push(u64::from_le_bytes(b));
        addrs.push(u64::from_be_bytes(b));
    }
    // Every symbol start, start - 1, end, end - 1, middle.
    for s in t.iter().take(CHECKED) {
        addrs.push(s.start);
        addrs.push(s.start.wrapping_sub(1));
        addrs.push(s.start.wrapping_add(1));
        addrs.push(s.start.wrapping_add(s.size));
        addrs.push(s.start.wrapping_add(s.size).wrapping_sub(1));
        addrs.push(s.start.wrapping_add(s.size / 2));
    }
    for &a in &addrs {
        check_lookup_in(t, a, true);
    }

    // Names of the first symbols: find, find_in, resolve of the bare name.
    for s in t.iter().take(CHECKED) {
        check_find(t, &s, true);
    }
}

/// A symbol whose `%pS` text `SymbolRef::parse` can read back whole: the
/// name not empty, without whitespace (the reference ends there), `[` or `{`
/// (a module or object starts there) or `#` (an ordinal follows it), and the
/// module without `]` (the module ends at the first). `ksym::parse` accepts
/// all of these in names and modules; they cannot round-trip through text.
pub fn plain_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains(['[', '{', '#'])
}

pub fn plain_symbol(s: &Symbol<'_>) -> bool {
    plain_name(s.name) && s.module.is_none_or(|m| !m.contains(']'))
}

/// One lookup and the invariants around it. `round_trip`: also check that `%pS` text resolves back.
pub fn check_lookup_in(t: &SymbolTable, addr: u64, round_trip: bool) {
    let absolute = t.lookup_absolute(addr);
    let Some(s) = t.lookup(addr) else {
        if let Some(a) = absolute {
            assert!(
                a.start <= addr && a.start.checked_add(a.offset) == Some(addr),
                "lookup_absolute({addr:#x}) gave {a:?}"
            );
            assert!(
                a.offset < a.size.max(1),
                "lookup_absolute({addr:#x}) offset past size: {a:?}"
            );
            assert!((a.id.0 as usize) >= t.answering_len());
        }
        return;
    };
    assert_eq!(
        absolute,
        Some(s),
        "lookup_absolute differs from lookup at {addr:#x}"
    );
    assert!(
        s.offset < s.size || (s.offset == 0 && s.size == 0),
        "lookup({addr:#x}): offset {:#x} not inside size {:#x}: {s:?}",
        s.offset,
        s.size
    );
    assert_eq!(
        s.start.checked_add(s.offset),
        Some(addr),
        "lookup({addr:#x}): start + offset != addr: {s:?}"
    );
    assert_eq!(s.addr(), addr);
    assert!(
        (s.id.0 as usize) < t.answering_len(),
        "lookup gave a name-only symbol"
    );
    let at_start = t.lookup(s.start).unwrap_or_else(|| {
        panic!(
            "lookup({:#x}) (a symbol start) is None; from {s:?}",
            s.start
        )
    });
    assert_eq!(
        at_start.start, s.start,
        "lookup(start) starts elsewhere: {at_start:?} vs {s:?}"
    );
    assert_eq!(
        at_start.id, s.id,
        "lookup(start) names another alias: {at_start:?} vs {s:?}"
    );
    assert_eq!(
        at_start.size, s.size,
        "lookup(start) gives another size: {at_start:?} vs {s:?}"
    );
    let by_id = t.symbol(s.id).expect("symbol(id) of a lookup result");
    assert_eq!(
        (
            by_id.name,
            by_id.start,
            by_id.size,
            by_id.kind,
            by_id.module
        ),
        (s.name, s.start, s.size, s.kind, s.module),
        "symbol(id) differs from lookup"
    );
    // Aliases: every one starts at start, same size; the first is `s`.
    let aliases: Vec<Symbol<'_>> = t.aliases(s.start).collect();
    assert_eq!(
        aliases.first().map(|a| a.id),
        Some(s.id),
        "aliases(start) does not begin with lookup's symbol"
    );
    for a in &aliases {
        assert_eq!(
            (a.start, a.size, a.offset),
            (s.start, s.size, 0),
            "alias differs: {a:?} vs {s:?}"
        );
    }
    if addr != s.start {
        assert_eq!(
            t.aliases(addr).count(),
            0,
            "aliases of an address inside a symbol"
        );
    }

    // `%pS` text back to the address.
    let text = format!("{s}");
    let unique = t.find(s.name).count() == 1;
    let res = t.resolve(&text);
    if round_trip && unique && plain_symbol(&s) {
        match res {
            Ok(a) => assert_eq!(
                a, addr,
                "resolve({text:?}) gave {a:#x}, lookup said {addr:#x}"
            ),
            Err(e) => panic!("resolve({text:?}) of a unique name failed: {e}"),
        }
        let bare = format!("{}+{:#x}", s.name, s.offset);
        match t.resolve(&bare) {
            Ok(a) => assert_eq!(
                a, addr,
                "resolve({bare:?}) gave {a:#x}, lookup said {addr:#x}"
            ),
            Err(e) => panic!("resolve({bare:?}) of a unique name failed: {e}"),
        }
    }
}

pub fn check_find(t: &SymbolTable, s: &Symbol<'_>, round_trip: bool) {
    let found: Vec<Symbol<'_>> = t.find(s.name).collect();
    // Mapping symbols (`.L*`, `L0*`, `$x`) answer no name lookup.
    let n = s.name;
    if n.starts_with(".L") || n.starts_with("L0") || n.starts_with('$') {
        assert!(found.is_empty(), "find({n:?}) found a mapping symbol: {found:?}");
        assert_eq!(t.find_in(s.module, n).count(), 0, "find_in(.., {n:?})");
        return;
    }
    assert!(
        found
            .iter()
            .any(|f| f.id == s.id && f.start == s.start && f.size == s.size),
        "find({:?}) does not return symbol {s:?}: {found:?}",
        s.name
    );
    for f in &found {
        assert_eq!(f.name, s.name);
        assert_eq!(f.offset, 0);
    }
    assert!(
        found.windows(2).all(|w| w[0].start <= w[1].start),
        "find({:?}) not in address order: {found:?}",
        s.name
    );
    assert!(
        t.find_in(s.module, s.name).any(|f| f.id == s.id),
        "find_in({:?}, {:?}) does not return symbol {s:?}",
        s.module,
        s.name
    );
    // A bare name holding `+` reads as `name+offset`: only `%pS` text
    // (checked in `check_lookup_in`) gives such a name back.
    if round_trip && found.len() == 1 && plain_name(s.name) && !s.name.contains('+') {
        match t.resolve(s.name) {
            Ok(a) => assert_eq!(
                a, s.start,
                "resolve({:?}) gave {a:#x}, symbol at {:#x}",
                s.name, s.start
            ),
            Err(e) => panic!("resolve({:?}) of a unique name failed: {e}", s.name),
        }
    }
}

/// What a reference reading of the documented line grammar (module doc of
/// `ksym::parse`) makes of `data`: (symbol lines, bad lines, whether every
/// symbol line has address zero).
///
/// `ADDR TYPE NAME [fields]`, fields split by any run of spaces and tabs:
/// 1-16 hex digits, one letter or `?`, a name of 1-512 bytes, then only
/// `[module]` (1-512 bytes) and at most one `{object}`; the line UTF-8; `\r`
/// before the newline dropped; lines of ASCII whitespace only skipped.
pub fn reference_counts(data: &[u8]) -> (u64, u64, bool) {
    let (mut good, mut bad, mut all_zero) = (0u64, 0u64, true);
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    if data.ends_with(b"\n") || data.is_empty() {
        lines.pop();
    }
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match reference_line(line) {
            Some(addr) => {
                good += 1;
                all_zero &= addr == 0;
            }
            None => bad += 1,
        }
    }
    (good, bad, all_zero)
}

fn reference_line(line: &[u8]) -> Option<u64> {
    // Kernel names are C strings: a NUL anywhere makes a bad line.
    if line.contains(&0) {
        return None;
    }
    let text = std::str::from_utf8(line).ok()?;
    let mut fields = text.split([' ', '\t']).filter(|f| !f.is_empty());
    let (addr, kind, name) = (fields.next()?, fields.next()?, fields.next()?);
    if addr.is_empty() || name.is_empty() {
        return None;
    }
    if addr.len() > 16 || !addr.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let addr = u64::from_str_radix(addr, 16).ok()?;
    if kind.len() != 1 || !(kind.as_bytes()[0].is_ascii_alphabetic() || kind == "?") {
        return None;
    }
    if name.len() > 512 {
        return None;
    }
    // The rest is split on all ASCII whitespace (so `\x0c` separates there).
    let name_at = name.as_ptr() as usize - text.as_ptr() as usize;
    let tail = &text[name_at + name.len()..];
    let mut object = false;
    for f in tail.split_ascii_whitespace() {
        if let Some(m) = f.strip_prefix('[').and_then(|f| f.strip_suffix(']')) {
            // No brackets inside: `[mod]` must read back from `%pS` text.
            // Nor `vmlinux`, the core kernel's name in unique spellings.
            if m.is_empty() || m.len() > 512 || m.contains(['[', ']']) || m == "vmlinux" {
                return None;
            }
        } else if let Some(o) = f.strip_prefix('{').and_then(|f| f.strip_suffix('}')) {
            if o.is_empty() || object {
                return None;
            }
            object = true;
        } else {
            return None;
        }
    }
    Some(addr)
}
