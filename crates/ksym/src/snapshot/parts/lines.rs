//! Symbols moved from one table into a new one: each written as the line
//! the parser reads back into the same symbol (address, type, path, name,
//! modules and their kind, object), and its real size given to the id the
//! build hands it.

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::parse::{parse_checked_line, ModuleMap};
use crate::table::{Symbol, SymbolId, SymbolTable, TableBuilder, TableInfo};

/// One symbol on its way into a new table, at its new address.
pub(super) struct Moved<'t> {
    pub addr: u64,
    pub symbol: Symbol<'t>,
    pub modules: Vec<&'t str>,
    pub loadable: bool,
    pub real_size: Option<u64>,
}

impl<'t> Moved<'t> {
    /// Symbol `symbol` of `table`, still at its own address.
    pub fn of(table: &'t SymbolTable, symbol: Symbol<'t>) -> Self {
        Moved {
            addr: symbol.start,
            modules: table.modules_of(symbol.id).collect(),
            loadable: table.in_loadable_module(symbol.id),
            real_size: real_size(table, symbol.id),
            symbol,
        }
    }

    /// Who it is apart from its address: what tells aliases apart.
    fn key(&self) -> (u64, &'t str, char, String, bool) {
        (
            self.addr,
            self.symbol.name,
            self.symbol.kind,
            self.modules.join(" "),
            self.loadable,
        )
    }
}

/// The real size (ELF `st_size`) attached to `id`, if any.
pub(super) fn real_size(table: &SymbolTable, id: SymbolId) -> Option<u64> {
    let sizes = &table.real_sizes;
    let i = sizes.binary_search_by_key(&id.0, |r| r.id).ok()?;
    Some(u64::from(sizes[i].size))
}

/// Builds a table of moved symbols, in the order they are pushed (ties keep it).
#[derive(Default)]
pub(super) struct Rebuild<'t> {
    builder: TableBuilder,
    line: String,
    sized: Vec<Moved<'t>>,
}

impl<'t> Rebuild<'t> {
    pub fn push(&mut self, m: Moved<'t>) -> Result<()> {
        use std::fmt::Write as _;
        let s = &m.symbol;
        self.line.clear();
        let _ = write!(self.line, "{:016x} {} ", m.addr, s.kind);
        if let Some(p) = s.path {
            let _ = write!(self.line, "{p}:");
        }
        self.line.push_str(s.name);
        for (i, name) in m.modules.iter().enumerate() {
            let gap = if i == 0 && m.loadable { '\t' } else { ' ' };
            let _ = write!(self.line, "{gap}[{name}]");
        }
        if let Some(o) = s.object {
            let _ = write!(self.line, " {{{o}}}");
        }
        let raw = parse_checked_line(self.line.as_bytes()).map_err(|kind| Error::Snapshot {
            source_name: "<table parts>".into(),
            reason: format!("symbol {:?} does not read back ({kind:?})", s.name),
        })?;
        self.builder.push(&raw);
        if m.real_size.is_some() {
            self.sized.push(m);
        }
        Ok(())
    }

    /// The table, with `modules` bounding module symbols and the real sizes
    /// of what was pushed attached: the k-th pushed symbol of a kind (same
    /// address, name, type and modules) is the k-th of that kind by id,
    /// since the build sorts stably.
    pub fn finish(mut self, info: TableInfo, modules: ModuleMap) -> Result<SymbolTable> {
        self.builder.set_modules(modules);
        let table = self.builder.build(info)?;
        if self.sized.is_empty() {
            return Ok(table);
        }
        let mut seen: FxHashMap<(u64, &str, char, String, bool), usize> = FxHashMap::default();
        let mut sizes = Vec::with_capacity(self.sized.len());
        for m in &self.sized {
            let nth = seen.entry(m.key()).or_default();
            let mut same: Vec<SymbolId> = table
                .find(m.symbol.name)
                .filter(|s| Moved::of(&table, *s).key() == m.key())
                .map(|s| s.id)
                .collect();
            same.sort_unstable();
            if let (Some(&id), Some(size)) = (same.get(*nth), m.real_size) {
                sizes.push((id, size));
            }
            *nth += 1;
        }
        Ok(table.with_real_sizes(&sizes))
    }
}
