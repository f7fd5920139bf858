//! The little of the kernel's BTF (`/sys/kernel/btf/vmlinux`) that ksym's
//! BPF ksym iterator needs: the type id of the iterator's target function
//! (`bpf_iter_ksym`, what the program attaches to) and the byte offsets of
//! the fields it reads (`struct bpf_iter__ksym`, `struct bpf_iter_meta`,
//! `struct kallsym_iter`), which move between kernels: the CO-RE step a
//! BPF loader would do, for four structs, by one walk over the types.
//!
//! Format (include/uapi/linux/btf.h): a header (magic `0xeB9F`, its own
//! length, then the types' and strings' offsets and lengths past it), then
//! type records of 12 bytes (name offset, info: kind in bits 24-28 and
//! member count in bits 0-15, kind flag in bit 31; size or type), each
//! followed by its kind's own data; ids count from 1 in file order.

use std::collections::HashMap;

pub use crate::read::bpf_iter::KsymIterLayout;

/// BTF kinds this reader looks into.
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_FUNC: u32 = 12;

/// The fields wanted, by struct: (struct, [members]).
const WANTED: [(&str, &[&str]); 3] = [
    ("bpf_iter__ksym", &["meta", "ksym"]),
    ("bpf_iter_meta", &["seq"]),
    (
        "kallsym_iter",
        &["value", "type", "name", "module_name", "exported"],
    ),
];

/// Reads the layout out of a kernel's BTF. Errors say what is missing (a
/// kernel before 6.0 has no `bpf_iter_ksym`) or at which byte the data
/// went wrong.
pub fn ksym_iter_layout(btf: &[u8]) -> Result<KsymIterLayout, String> {
    let data = Sections::of(btf)?;
    let types = data.records()?;
    let target = types
        .iter()
        .position(|t| t.kind == KIND_FUNC && data.name(t.name) == Some("bpf_iter_ksym"))
        .ok_or(
            "the kernel's BTF has no bpf_iter_ksym: a kernel before 6.0, without the BPF ksym iterator",
        )?;
    let mut offsets: HashMap<(&str, &str), u32> = HashMap::new();
    for (s, fields) in WANTED {
        let Some(t) = types
            .iter()
            .find(|t| t.kind == KIND_STRUCT && data.name(t.name) == Some(s))
        else {
            continue;
        };
        data.members(&types, t, 0, 0, &mut |name, bits| {
            if let Some(&f) = fields.iter().find(|f| **f == name) {
                offsets.entry((s, f)).or_insert(bits);
            }
        });
    }
    let off = |s: &'static str, f: &'static str| match offsets.get(&(s, f)) {
        Some(bits) if bits % 8 == 0 => Ok(bits / 8),
        Some(_) => Err(format!("struct {s}: {f} is not byte-aligned")),
        None => Err(format!(
            "the kernel's BTF has no struct {s} with a field {f}"
        )),
    };
    Ok(KsymIterLayout {
        // Ids count from 1: the void type is 0.
        target_btf_id: target as u32 + 1,
        ctx_meta: off("bpf_iter__ksym", "meta")?,
        ctx_ksym: off("bpf_iter__ksym", "ksym")?,
        meta_seq: off("bpf_iter_meta", "seq")?,
        value: off("kallsym_iter", "value")?,
        kind: off("kallsym_iter", "type")?,
        name: off("kallsym_iter", "name")?,
        module_name: off("kallsym_iter", "module_name")?,
        exported: off("kallsym_iter", "exported")?,
    })
}

/// A program's BTF, for its line records: the strings (file names and
/// source lines) and the names of its functions by type id.
pub struct ProgramBtf<'a> {
    sections: Sections<'a>,
    records: Vec<Record>,
}

impl<'a> ProgramBtf<'a> {
    /// Checks the header and steps over every type record; errors name the
    /// byte where the data went wrong.
    pub fn parse(btf: &'a [u8]) -> Result<ProgramBtf<'a>, String> {
        let sections = Sections::of(btf)?;
        let records = sections.records()?;
        Ok(ProgramBtf { sections, records })
    }

    /// The string at `off` in the string section (`None` past its end).
    pub fn string(&self, off: u32) -> Option<&'a str> {
        self.sections.name(off)
    }

    /// The name of type `id` when it is a function (`BTF_KIND_FUNC`).
    pub fn func_name(&self, id: u32) -> Option<&'a str> {
        let r = self.records.get((id as usize).checked_sub(1)?)?;
        (r.kind == KIND_FUNC)
            .then(|| self.sections.name(r.name))
            .flatten()
    }
}

/// One type record: where it is in the types, and its header's fields.
#[derive(Debug, Clone, Copy)]
struct Record {
    at: usize,
    name: u32,
    kind: u32,
    vlen: usize,
    kind_flag: bool,
}

/// Bytes of a kind's data after its 12-byte record, `None` for a kind this
/// reader does not know (it could not step over it).
fn extra_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        0 | 2 | 7..=12 | 16 | 18 => 0, // void, ptr, fwd .. func, float, type tag
        1 | 14 | 17 => 4,              // int, var, decl tag
        3 => 12,                       // array
        4 | 5 | 15 | 19 => 12 * vlen,  // struct, union, datasec, enum64
        6 | 13 => 8 * vlen,            // enum, func proto
        _ => return None,
    })
}

/// A BTF blob's type and string sections, little- or big-endian.
struct Sections<'a> {
    types: &'a [u8],
    types_start: usize,
    strings: &'a [u8],
    big_endian: bool,
}

impl<'a> Sections<'a> {
    fn of(btf: &'a [u8]) -> Result<Sections<'a>, String> {
        let big_endian = match btf.get(..2) {
            Some([0x9f, 0xeb]) => false,
            Some([0xeb, 0x9f]) => true,
            _ => return Err("byte 0: not BTF (no 0xeB9F magic)".into()),
        };
        let mut s = Sections {
            types: &[],
            types_start: 0,
            strings: &[],
            big_endian,
        };
        let word = |at: usize| {
            let b: [u8; 4] = btf.get(at..at + 4)?.try_into().ok()?;
            Some(if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            } as usize)
        };
        let header = |at| word(at).ok_or_else(|| format!("byte {at}: the BTF header is cut short"));
        let hdr_len = header(4)?;
        let (type_off, type_len, str_off, str_len) =
            (header(8)?, header(12)?, header(16)?, header(20)?);
        let part = |off: usize, len: usize, what: &str| {
            let start = hdr_len.checked_add(off);
            start
                .and_then(|st| Some((st, btf.get(st..st.checked_add(len)?)?)))
                .ok_or_else(|| {
                    format!(
                        "byte {hdr_len}: the {what} ({off}+{len}) run past the BTF's {} bytes",
                        btf.len()
                    )
                })
        };
        let (types_start, types) = part(type_off, type_len, "types")?;
        (s.types_start, s.types) = (types_start, types);
        s.strings = part(str_off, str_len, "strings")?.1;
        Ok(s)
    }

    /// Every type record, by id less one, checked to lie in the types.
    fn records(&self) -> Result<Vec<Record>, String> {
        let mut out = Vec::new();
        let mut at = 0usize;
        while at < self.types.len() {
            let here = self.types_start + at;
            let cut = || format!("byte {here}: a type record cut short");
            let (name, info) = (
                self.word(at).ok_or_else(cut)?,
                self.word(at + 4).ok_or_else(cut)?,
            );
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let extra = extra_len(kind, vlen)
                .ok_or_else(|| format!("byte {here}: unknown BTF kind {kind}"))?;
            if at + 12 + extra > self.types.len() {
                return Err(format!("byte {here}: a type record runs past the types"));
            }
            out.push(Record {
                at,
                name,
                kind,
                vlen,
                kind_flag: info >> 31 == 1,
            });
            at += 12 + extra;
        }
        Ok(out)
    }

    /// Calls `each(name, bit offset)` for every named member of the struct
    /// or union `t` at `base` bits, looking into anonymous struct and union
    /// members (`__bpf_md_ptr` wraps each pointer of an iterator's context
    /// in one), at most `depth` 8 deep.
    fn members(
        &self,
        types: &[Record],
        t: &Record,
        base: u32,
        depth: u32,
        each: &mut dyn FnMut(&str, u32),
    ) {
        if depth > 8 {
            return;
        }
        for m in 0..t.vlen {
            let at = t.at + 12 + 12 * m;
            let (Some(name), Some(ty), Some(off)) =
                (self.word(at), self.word(at + 4), self.word(at + 8))
            else {
                return;
            };
            // With the kind flag, the low 24 bits are the offset.
            let bits = base.saturating_add(if t.kind_flag { off & 0xff_ffff } else { off });
            match self.name(name) {
                Some("") | None => {
                    let inner = (ty as usize).checked_sub(1).and_then(|i| types.get(i));
                    if let Some(inner) =
                        inner.filter(|r| matches!(r.kind, KIND_STRUCT | KIND_UNION))
                    {
                        self.members(types, inner, bits, depth + 1, each);
                    }
                }
                Some(name) => each(name, bits),
            }
        }
    }

    fn word(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.types.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// The NUL-terminated name at `off` in the strings ("" for no name or
    /// one that is not UTF-8).
    fn name(&self, off: u32) -> Option<&'a str> {
        let rest = self.strings.get(off as usize..)?;
        let end = memchr::memchr(0, rest).unwrap_or(rest.len());
        Some(std::str::from_utf8(&rest[..end]).unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF blob of `types` (each record's words) and `strings`.
    fn blob(types: &[u32], strings: &[u8]) -> Vec<u8> {
        let t: Vec<u8> = types.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut b = vec![0x9f, 0xeb, 1, 0];
        for w in [
            24u32,
            0,
            t.len() as u32,
            t.len() as u32,
            strings.len() as u32,
        ] {
            b.extend(w.to_le_bytes());
        }
        b.extend(t);
        b.extend(strings);
        b
    }

    #[test]
    fn finds_the_target_and_the_fields() {
        let strings = b"\0bpf_iter_ksym\0bpf_iter__ksym\0meta\0ksym\0bpf_iter_meta\0seq\0\
                        kallsym_iter\0value\0type\0name\0module_name\0exported\0";
        let s = |n: &str| {
            let pat = format!("\0{n}\0");
            (strings
                .windows(pat.len())
                .position(|w| w == pat.as_bytes())
                .unwrap()
                + 1) as u32
        };
        let st = |vlen: u32| KIND_STRUCT << 24 | vlen;
        let types = [
            // 1: int (4 extra bytes), skipped over
            0,
            1 << 24,
            8,
            0,
            // 2: struct bpf_iter__ksym { meta @0; union { ksym } @64 bits }
            s("bpf_iter__ksym"),
            st(2),
            16,
            s("meta"),
            1,
            0,
            0,
            6,
            64,
            // 3: struct bpf_iter_meta { seq @0 }
            s("bpf_iter_meta"),
            st(1),
            8,
            s("seq"),
            1,
            0,
            // 4: struct kallsym_iter, bitfield-style offsets (kind flag)
            s("kallsym_iter"),
            st(5) | 1 << 31,
            700,
            s("value"),
            1,
            8 * 8,
            s("type"),
            1,
            24 * 8,
            s("name"),
            1,
            25 * 8,
            s("module_name"),
            1,
            537 * 8,
            s("exported"),
            1,
            600 * 8,
            // 5: func bpf_iter_ksym
            s("bpf_iter_ksym"),
            KIND_FUNC << 24,
            1,
            // 6: the anonymous union `__bpf_md_ptr` makes
            0,
            KIND_UNION << 24 | 1,
            8,
            s("ksym"),
            1,
            0,
        ];
        let layout = ksym_iter_layout(&blob(&types, strings)).unwrap();
        assert_eq!(
            layout,
            KsymIterLayout {
                target_btf_id: 5,
                ctx_meta: 0,
                ctx_ksym: 8,
                meta_seq: 0,
                value: 8,
                kind: 24,
                name: 25,
                module_name: 537,
                exported: 600,
            }
        );
        // Without the function: a kernel before 6.0.
        let mut older = types.to_vec();
        let func_info = older.len() - 8;
        older[func_info] = KIND_STRUCT << 24; // the func, now a struct
        let err = ksym_iter_layout(&blob(&older, strings)).unwrap_err();
        assert!(err.contains("before 6.0"), "{err}");
        // A record cut short names its byte (24 of header, 16 of the int).
        let err = ksym_iter_layout(&blob(&types[..6], strings)).unwrap_err();
        assert!(err.contains("byte 40"), "{err}");
        assert!(ksym_iter_layout(b"\x7fELF")
            .unwrap_err()
            .contains("not BTF"));
    }

    #[test]
    fn the_running_kernels_btf() {
        let Ok(btf) = std::fs::read("/sys/kernel/btf/vmlinux") else {
            eprintln!("skipped: /sys/kernel/btf/vmlinux cannot be read here");
            return;
        };
        match ksym_iter_layout(&btf) {
            Ok(l) => {
                eprintln!("{l:?}");
                assert_eq!((l.ctx_meta, l.ctx_ksym), (0, 8), "{l:?}");
                assert!(l.name > l.kind && l.module_name > l.name, "{l:?}");
            }
            Err(e) => assert!(e.contains("before 6.0"), "{e}"),
        }
    }
}
