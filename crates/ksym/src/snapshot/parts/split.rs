//! [`split`]: a table into its core, module and boot parts.

use rustc_hash::FxHashMap;

use super::lines::{Moved, Rebuild};
use super::{join, pseudo_module, slides, ModulePart, TableParts};
use crate::error::{Error, Result};
use crate::parse::{ModuleInfo, ModuleMap};
use crate::table::{SymbolTable, TableInfo};

/// Splits `table` (of a kernel slid by `slide`) into its parts, and checks
/// that [`join`] puts them back into a table with the same answers (same
/// symbols by id: names, addresses, sizes, types, modules, objects, paths,
/// real sizes; same module map and info).
pub fn split(table: &SymbolTable, slide: i64) -> Result<TableParts> {
    let mut core = Rebuild::default();
    let mut boot = Rebuild::default();
    let mut by_module: Vec<(&str, Vec<Moved<'_>>)> = Vec::new();
    let mut module_index: FxHashMap<&str, usize> = FxHashMap::default();
    for symbol in table.iter() {
        let mut m = Moved::of(table, symbol);
        let single = match m.modules.as_slice() {
            &[name] => Some(name),
            _ => None,
        };
        match (m.loadable, single) {
            (false, _) => {
                if slides(symbol.kind) {
                    m.addr = m.addr.wrapping_sub(slide as u64);
                }
                core.push(m)?;
            }
            (true, Some(name)) if !pseudo_module(name) => {
                let i = *module_index.entry(name).or_insert_with(|| {
                    by_module.push((name, Vec::new()));
                    by_module.len() - 1
                });
                by_module[i].1.push(m);
            }
            _ => boot.push(m)?,
        }
    }
    let mut modules = Vec::with_capacity(by_module.len());
    for (name, mut symbols) in by_module {
        let addrs: Vec<u64> = symbols.iter().map(|m| m.addr).collect();
        let Some((anchors, relative)) = place(&addrs, table.module_map().get(name)) else {
            // Too far apart to be one module's: kept whole with the boot.
            for m in symbols {
                boot.push(m)?;
            }
            continue;
        };
        let mut part = Rebuild::default();
        for (m, rel) in symbols.drain(..).zip(relative) {
            part.push(Moved { addr: rel, ..m })?;
        }
        modules.push(ModulePart {
            name: name.to_string(),
            anchors,
            table: part.finish(TableInfo::default(), ModuleMap::default())?,
        });
    }
    let parts = TableParts {
        core: core.finish(TableInfo::default(), ModuleMap::default())?,
        modules,
        boot: SymbolTable {
            // BPF programs' lines belong to the boot, as their symbols do.
            bpf_lines: table.bpf_lines.clone(),
            ..boot.finish(table.info().clone(), table.module_map().clone())?
        },
    };
    let joined = join(&parts.core, &parts.modules, &parts.boot, slide)?;
    if let Err(why) = same_answers(table, &joined) {
        return Err(Error::Snapshot {
            source_name: table.info().source.clone(),
            reason: format!("the table does not split into parts that join back: {why}"),
        });
    }
    Ok(parts)
}

/// A module's anchors in this boot and its symbols' addresses relative to
/// them (see the module doc); `None` when a symbol is 4 GiB or more past
/// every anchor at or below it.
pub(super) fn place(addrs: &[u64], info: Option<&ModuleInfo>) -> Option<(Vec<u64>, Vec<u64>)> {
    let mut areas: Vec<(u64, u64)> = match info {
        Some(i) if !i.areas.is_empty() => i.areas.iter().map(|a| (a.start, a.end())).collect(),
        Some(i) if !i.section_areas.is_empty() => {
            i.section_areas.iter().map(|a| (a.start, a.end())).collect()
        }
        Some(ModuleInfo {
            base: Some(base),
            size,
            ..
        }) => vec![(*base, base.saturating_add(size.unwrap_or(0)))],
        _ => Vec::new(),
    };
    let anchor_for = |areas: &[(u64, u64)], addr: u64| -> Option<usize> {
        if let Some(k) = areas.iter().position(|&(s, e)| s <= addr && addr < e) {
            return Some(k);
        }
        // The highest anchor at or below, the first of equals.
        let mut best: Option<usize> = None;
        for (k, &(s, _)) in areas.iter().enumerate() {
            if s <= addr && best.is_none_or(|b| areas[b].0 < s) {
                best = Some(k);
            }
        }
        best
    };
    let below = addrs
        .iter()
        .copied()
        .filter(|&a| anchor_for(&areas, a).is_none())
        .min();
    if let Some(low) = below {
        areas.push((low, low));
    }
    let mut relative = Vec::with_capacity(addrs.len());
    for &addr in addrs {
        let k = anchor_for(&areas, addr)?;
        let offset = addr - areas[k].0;
        if offset >> 32 != 0 {
            return None;
        }
        relative.push((k as u64) << 32 | offset);
    }
    Some((areas.into_iter().map(|(s, _)| s).collect(), relative))
}

/// Where two tables first give different answers, if they do.
pub(super) fn same_answers(a: &SymbolTable, b: &SymbolTable) -> std::result::Result<(), String> {
    if (a.len(), a.answering_len()) != (b.len(), b.answering_len()) {
        return Err(format!(
            "{} symbols ({} answering) against {} ({})",
            a.len(),
            a.answering_len(),
            b.len(),
            b.answering_len()
        ));
    }
    for (x, y) in a.iter().zip(b.iter()) {
        let modules_a = (
            a.modules_of(x.id).collect::<Vec<_>>(),
            a.in_loadable_module(x.id),
        );
        let modules_b = (
            b.modules_of(y.id).collect::<Vec<_>>(),
            b.in_loadable_module(y.id),
        );
        if x != y || modules_a != modules_b {
            return Err(format!("symbol {x:?} came back as {y:?}"));
        }
    }
    if a.real_sizes[..] != b.real_sizes[..] {
        return Err("real sizes differ".into());
    }
    if a.module_map() != b.module_map() {
        return Err("module maps differ".into());
    }
    let programs = |t: &SymbolTable| t.bpf_lines().map(|s| s.programs().to_vec());
    if programs(a) != programs(b) {
        return Err("BPF programs' lines differ".into());
    }
    let (ia, ib) = (a.info(), b.info());
    if (&ia.source, ia.format, &ia.skipped) != (&ib.source, ib.format, &ib.skipped) {
        return Err("table info differs".into());
    }
    Ok(())
}
