//! The META section both ways: the table's info, the kernel's identity and
//! the module extents as escaped `key\tvalue` lines, and parsing them back.

use super::{corrupt, Identity};
use crate::error::{LineError, LineErrorKind, Result};
use crate::parse::{FormatSeen, SkippedLines};
use crate::parse::{ModuleArea, ModuleInfo, ModuleMap};
use crate::table::{SymbolTable, TableInfo};

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn kind_code(kind: LineErrorKind) -> String {
    match kind {
        LineErrorKind::BadAddress => "bad-address".into(),
        LineErrorKind::TooFewFields => "too-few-fields".into(),
        LineErrorKind::BadType => "bad-type".into(),
        LineErrorKind::NameTooLong(n) => format!("name-too-long:{n}"),
        LineErrorKind::NotUtf8 => "not-utf8".into(),
        LineErrorKind::UnexpectedField => "unexpected-field".into(),
        LineErrorKind::NulByte => "nul-byte".into(),
        LineErrorKind::LineTooLong(n) => format!("line-too-long:{n}"),
    }
}

fn kind_from_code(code: &str) -> Option<LineErrorKind> {
    Some(match code {
        "bad-address" => LineErrorKind::BadAddress,
        "too-few-fields" => LineErrorKind::TooFewFields,
        "bad-type" => LineErrorKind::BadType,
        "not-utf8" => LineErrorKind::NotUtf8,
        "unexpected-field" => LineErrorKind::UnexpectedField,
        "nul-byte" => LineErrorKind::NulByte,
        other => match other.split_once(':')? {
            ("name-too-long", n) => LineErrorKind::NameTooLong(n.parse().ok()?),
            ("line-too-long", n) => LineErrorKind::LineTooLong(n.parse().ok()?),
            _ => return None,
        },
    })
}

pub(super) fn meta_text(table: &SymbolTable, id: &Identity, tagged: bool) -> String {
    use std::fmt::Write as _;
    let mut m = String::new();
    let info = table.info();
    let _ = writeln!(m, "source\t{}", escape(&info.source));
    let f = info.format;
    let _ = writeln!(
        m,
        "format\t{}\t{}\t{}",
        f.module_tags, f.kallmodsyms_fields, f.path_names
    );
    let _ = writeln!(m, "skipped\t{}", info.skipped.count);
    for e in &info.skipped.first {
        let _ = writeln!(
            m,
            "skipped-line\t{}\t{}\t{}",
            e.line,
            kind_code(e.kind),
            escape(&e.text)
        );
    }
    let _ = writeln!(m, "name-index-tagged\t{}", u8::from(tagged));
    let _ = writeln!(m, "packed-names\t{}", u8::from(table.packed_names));
    let opt = |v: &Option<String>| v.as_deref().map(escape).unwrap_or_default();
    let _ = writeln!(m, "release\t{}", opt(&id.release));
    let _ = writeln!(m, "build-id\t{}", opt(&id.build_id));
    let _ = writeln!(m, "boot-id\t{}", opt(&id.boot_id));
    let num = |v: Option<u64>| v.map(|v| format!("{v:x}")).unwrap_or_default();
    let _ = writeln!(m, "modules-fingerprint\t{}", num(id.modules));
    let _ = writeln!(m, "bpf-fingerprint\t{}", num(id.bpf));
    let _ = writeln!(
        m,
        "kaslr-slide\t{}",
        id.kaslr_slide.map(|v| v.to_string()).unwrap_or_default()
    );
    let _ = writeln!(
        m,
        "created\t{}",
        id.created.map(|v| v.to_string()).unwrap_or_default()
    );
    for module in &table.module_map().modules {
        let _ = writeln!(
            m,
            "module\t{}\t{}\t{}\t{}",
            escape(&module.name),
            num(module.base),
            num(module.size),
            module.state.as_deref().map(escape).unwrap_or_default()
        );
        let areas = module.areas.iter().map(|a| ("area", a));
        let sections = module.section_areas.iter().map(|a| ("section-area", a));
        for (tag, a) in areas.chain(sections) {
            let _ = writeln!(
                m,
                "{tag}\t{}\t{}\t{:x}\t{:x}",
                escape(&module.name),
                escape(&a.kind),
                a.start,
                a.size
            );
        }
        if let Some(id) = &module.build_id {
            let _ = writeln!(
                m,
                "module-build-id\t{}\t{}",
                escape(&module.name),
                escape(id)
            );
        }
        if let Some(a) = &module.text_area {
            let _ = writeln!(
                m,
                "text-area\t{}\t{:x}\t{:x}",
                escape(&module.name),
                a.start,
                a.size
            );
        }
    }
    m
}

fn module_named<'m>(modules: &'m mut ModuleMap, name: &str) -> Option<&'m mut ModuleInfo> {
    modules.modules.iter_mut().find(|m| m.name == name)
}

pub(super) struct Meta {
    pub(super) info: TableInfo,
    pub(super) identity: Identity,
    pub(super) modules: ModuleMap,
    pub(super) tagged: bool,
    pub(super) packed_names: bool,
}

pub(super) fn parse_meta(source: &str, text: &[u8]) -> Result<Meta> {
    let text = std::str::from_utf8(text).map_err(|_| corrupt(source, "META is not UTF-8"))?;
    let mut info = TableInfo {
        source: String::new(),
        format: FormatSeen::default(),
        skipped: SkippedLines::default(),
    };
    let mut identity = Identity::default();
    let mut modules = ModuleMap::default();
    let mut tagged = false;
    let mut packed_names = false;
    let hex = |v: &str| -> Result<Option<u64>> {
        if v.is_empty() {
            return Ok(None);
        }
        u64::from_str_radix(v, 16)
            .map(Some)
            .map_err(|_| corrupt(source, format!("META: bad number {v:?}")))
    };
    let text_opt = |v: &str| (!v.is_empty()).then(|| unescape(v));
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let bad = || corrupt(source, format!("META: bad line {line:?}"));
        match f.as_slice() {
            ["source", v] => info.source = unescape(v),
            ["format", a, b, c] => {
                info.format = FormatSeen {
                    module_tags: a.parse().map_err(|_| bad())?,
                    kallmodsyms_fields: b.parse().map_err(|_| bad())?,
                    path_names: c.parse().map_err(|_| bad())?,
                }
            }
            ["skipped", n] => info.skipped.count = n.parse().map_err(|_| bad())?,
            ["skipped-line", n, kind, text] => info.skipped.first.push(LineError {
                line: n.parse().map_err(|_| bad())?,
                kind: kind_from_code(kind).ok_or_else(bad)?,
                text: unescape(text),
            }),
            ["name-index-tagged", v] => tagged = *v == "1",
            ["packed-names", v] => packed_names = *v == "1",
            ["release", v] => identity.release = text_opt(v),
            ["build-id", v] => identity.build_id = text_opt(v),
            ["boot-id", v] => identity.boot_id = text_opt(v),
            ["modules-fingerprint", v] => identity.modules = hex(v)?,
            ["bpf-fingerprint", v] => identity.bpf = hex(v)?,
            ["kaslr-slide", v] => {
                identity.kaslr_slide = (!v.is_empty())
                    .then(|| v.parse())
                    .transpose()
                    .map_err(|_| bad())?
            }
            ["created", v] => {
                identity.created = (!v.is_empty())
                    .then(|| v.parse())
                    .transpose()
                    .map_err(|_| bad())?
            }
            ["module", name, base, size, state] => modules.modules.push(ModuleInfo {
                name: unescape(name),
                base: hex(base)?,
                size: hex(size)?,
                state: text_opt(state),
                areas: Vec::new(),
                text_area: None,
                section_areas: Vec::new(),
                build_id: None,
                laid_out_from_ko: false,
            }),
            [tag @ ("area" | "section-area"), name, kind, start, size] => {
                let area = ModuleArea {
                    kind: unescape(kind),
                    start: hex(start)?.ok_or_else(bad)?,
                    size: hex(size)?.ok_or_else(bad)?,
                };
                let module = module_named(&mut modules, &unescape(name)).ok_or_else(bad)?;
                match *tag {
                    "area" => module.areas.push(area),
                    _ => module.section_areas.push(area),
                }
            }
            ["text-area", name, start, size] => {
                let area = ModuleArea {
                    kind: "text".into(),
                    start: hex(start)?.ok_or_else(bad)?,
                    size: hex(size)?.ok_or_else(bad)?,
                };
                module_named(&mut modules, &unescape(name))
                    .ok_or_else(bad)?
                    .text_area = Some(area);
            }
            ["module-build-id", name, id] => {
                module_named(&mut modules, &unescape(name))
                    .ok_or_else(bad)?
                    .build_id = Some(unescape(id));
            }
            [""] => {}
            _ => return Err(bad()),
        }
    }
    Ok(Meta {
        info,
        identity,
        modules,
        tagged,
        packed_names,
    })
}
