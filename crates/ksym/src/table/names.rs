//! One name, one symbol: a unique, stable spelling for every symbol, and
//! what tells same-named symbols apart.
//!
//! # The grammar of unique names
//!
//! [`SymbolTable::unique_name`] gives the first of these that names exactly
//! one symbol:
//!
//! ```text
//! name                          the only symbol of that name
//! name [module]                 the only one of that name in the module
//!                               (`vmlinux` for the core kernel; a built-in
//!                               module's name for its core symbols)
//! name [module] {object.o}      ... and the only one from that object file
//!                               (kallmodsyms' `{object}`)
//! path/file.c:name [module]     ... and the only one from that source file
//!                               (the `path:name` form)
//! name#N [module]               the N-th, counting from 1 in address order,
//!                               of the symbols of that name in the module
//! ```
//!
//! A spelling depends only on the symbols of that name (in that module), so
//! it stays the same while unrelated symbols come and go; an ordinal stays
//! the same for a given table (and for the module's symbols while the module
//! stays loaded). [`SymbolTable::resolve`] and [`SymbolTable::find_spelling`]
//! read every spelling back, and `resolve` also takes an offset and size
//! after the name: `name#2+0x10/0x40 [ext4]`.

use std::borrow::Cow;
use std::fmt;

use rustc_hash::FxHashMap;

use crate::error::{Error, ResolveErrorKind, Result};
use crate::table::{Symbol, SymbolId, SymbolRef, SymbolTable};

pub use crate::parse::CORE_MODULE;

/// What a unique name needed to tell a symbol from its namesakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Qualifier {
    /// `name [module]`.
    Module,
    /// `name [module] {object.o}`.
    Object,
    /// `path/file.c:name [module]`.
    Path,
    /// `name#N [module]`: nothing else told them apart.
    Ordinal,
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Qualifier::Module => "module",
            Qualifier::Object => "object",
            Qualifier::Path => "path",
            Qualifier::Ordinal => "ordinal",
        })
    }
}

/// A name that more than one symbol carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DupInfo<'t> {
    pub name: &'t str,
    /// How many symbols carry it.
    pub count: usize,
    /// In how many modules (the core counts as one).
    pub modules: usize,
    /// What the unique names of these symbols use, sorted.
    pub by: Vec<Qualifier>,
    /// The symbols, in address order.
    pub ids: Vec<SymbolId>,
}

/// How a unique name qualifies its symbol.
enum Spelling<'t> {
    Bare,
    Module(&'t str),
    Object(&'t str, &'t str),
    Path(&'t str, &'t str),
    Ordinal(&'t str, usize),
}

impl SymbolTable {
    /// Ids of every symbol named `name`, in address order.
    fn ids_named<'t>(&'t self, name: &'t str) -> impl Iterator<Item = u32> + 't {
        self.name_index_built()
            .probe(name)
            .filter(move |&id| self.name_of_id(id) == name)
    }

    /// The module label of a symbol in unique names: its first module, or
    /// `vmlinux` for the core.
    fn module_label(&self, id: SymbolId) -> &str {
        self.modules_of(id).next().unwrap_or(CORE_MODULE)
    }

    /// Whether symbol `id` belongs to `module` (`vmlinux`: the core, which
    /// no module can be named).
    fn in_module(&self, id: SymbolId, module: &str) -> bool {
        let mut mods = self.modules_of(id);
        if module == CORE_MODULE {
            return mods.next().is_none();
        }
        mods.any(|m| m == module)
    }

    fn spelling(&self, id: SymbolId) -> Option<Spelling<'_>> {
        if id.0 as usize >= self.len() {
            return None;
        }
        let name = self.name_of_id(id.0);
        let mut same = self.ids_named(name);
        let first = same.next();
        if same.next().is_none() && first.is_some() {
            return Some(Spelling::Bare);
        }
        let module = self.module_label(id);
        let scope: Vec<u32> = self
            .ids_named(name)
            .filter(|&o| self.in_module(SymbolId(o), module))
            .collect();
        if scope.len() <= 1 {
            return Some(Spelling::Module(module));
        }
        let (object, path) = self.extra_of(id.0);
        if let Some(object) = object {
            let n = scope
                .iter()
                .filter(|&&o| self.extra_of(o).0 == Some(object))
                .count();
            if n == 1 {
                return Some(Spelling::Object(module, object));
            }
        }
        if let Some(path) = path {
            let n = scope
                .iter()
                .filter(|&&o| self.extra_of(o).1 == Some(path))
                .count();
            if n == 1 {
                return Some(Spelling::Path(module, path));
            }
        }
        let k = scope.iter().position(|&o| o == id.0)? + 1;
        Some(Spelling::Ordinal(module, k))
    }

    /// The symbol's unique, stable spelling (see the module doc for the
    /// grammar): `name`, `name [ext4]`, `name [ext4] {fs/ext4/inode.o}`,
    /// `fs/ext4/inode.c:name [ext4]` or `name#2 [vmlinux]`.
    /// [`resolve`](Self::resolve) turns it back into the symbol's start.
    /// Empty for an id not in the table.
    pub fn unique_name(&self, id: SymbolId) -> Cow<'_, str> {
        let name = self.name_of_id(id.0);
        match self.spelling(id) {
            None => Cow::Borrowed(""),
            Some(Spelling::Bare) => Cow::Borrowed(name),
            Some(Spelling::Module(m)) => Cow::Owned(format!("{name} [{m}]")),
            Some(Spelling::Object(m, o)) => Cow::Owned(format!("{name} [{m}] {{{o}}}")),
            Some(Spelling::Path(m, p)) => Cow::Owned(format!("{p}:{name} [{m}]")),
            Some(Spelling::Ordinal(m, k)) => Cow::Owned(format!("{name}#{k} [{m}]")),
        }
    }

    /// The symbols a parsed reference names (ignoring its offset and size),
    /// in address order.
    pub(crate) fn candidates(&self, r: &SymbolRef<'_>) -> Vec<Symbol<'_>> {
        let mut ids: Vec<u32> = match r.module {
            Some(m) => self
                .ids_named(r.name)
                .filter(|&id| self.in_module(SymbolId(id), m))
                .collect(),
            None => self.ids_named(r.name).collect(),
        };
        if let Some(k) = r.ordinal {
            ids = ids.get(k as usize - 1).copied().into_iter().collect();
        }
        ids.into_iter()
            .filter(|&id| {
                let (object, path) = self.extra_of(id);
                r.object.is_none_or(|o| object == Some(o)) && r.path.is_none_or(|p| path == Some(p))
            })
            .filter_map(|id| self.symbol(SymbolId(id)))
            .collect()
    }

    /// Every symbol a spelling names: a name, `name [module]`, or any unique
    /// name ([`unique_name`](Self::unique_name)), in address order. An
    /// offset or size in the text is ignored.
    pub fn find_spelling(&self, text: &str) -> Result<Vec<Symbol<'_>>> {
        let r = SymbolRef::parse(text).map_err(|why| Error::Resolve {
            text: text.to_string(),
            kind: ResolveErrorKind::Syntax(why),
        })?;
        Ok(self.candidates(&r))
    }

    /// What `ksym name` answers: every symbol named `name`, held to
    /// `module` when given (`vmlinux` or `core`: the core kernel); when
    /// none, the symbols a unique spelling such as `name [ext4]` or
    /// `name#2 [vmlinux]` names, held to `module` too. Empty when none.
    pub fn find_named(&self, name: &str, module: Option<&str>) -> Vec<Symbol<'_>> {
        let module = module.map(|m| (m != CORE_MODULE && m != "core").then_some(m));
        let mut found: Vec<Symbol<'_>> = match module {
            Some(m) => self.find_in(m, name).collect(),
            None => self.find(name).collect(),
        };
        if found.is_empty() {
            found = self.find_spelling(name).unwrap_or_default();
            if let Some(m) = module {
                found.retain(|s| s.module == m);
            }
        }
        found
    }

    /// The names more than one symbol carries, sorted by name: how many
    /// symbols each, in how many modules, and what their unique names need
    /// to tell them apart.
    pub fn duplicates(&self) -> Vec<DupInfo<'_>> {
        let mut counts: FxHashMap<&str, u32> = FxHashMap::default();
        for (name, n) in self.repeated_names() {
            counts.insert(name, n as u32);
        }
        let mut names: Vec<&str> = counts
            .into_iter()
            .filter(|&(_, c)| c > 1)
            .map(|(n, _)| n)
            .collect();
        names.sort_unstable();
        names
            .into_iter()
            .map(|name| {
                let ids: Vec<SymbolId> = self.ids_named(name).map(SymbolId).collect();
                let mut modules: Vec<&str> = ids.iter().map(|&id| self.module_label(id)).collect();
                modules.sort_unstable();
                modules.dedup();
                let mut by: Vec<Qualifier> = ids
                    .iter()
                    .filter_map(|&id| match self.spelling(id)? {
                        Spelling::Bare => None,
                        Spelling::Module(_) => Some(Qualifier::Module),
                        Spelling::Object(..) => Some(Qualifier::Object),
                        Spelling::Path(..) => Some(Qualifier::Path),
                        Spelling::Ordinal(..) => Some(Qualifier::Ordinal),
                    })
                    .collect();
                by.sort_unstable();
                by.dedup();
                DupInfo {
                    name,
                    count: ids.len(),
                    modules: modules.len(),
                    by,
                    ids,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::{parse_bytes, LoadOptions, Qualifier, SymbolId};

    #[test]
    fn spellings_read_back() {
        let text = "\
ffffffff81000000 T _text
ffffffff81000100 t show
ffffffff81000200 t show
ffffffff81000300 t fs/a.c:dup
ffffffff81000400 t fs/b.c:dup
ffffffff81000500 t single
ffffffff81000600 t lonely_in_core
ffffffff81000700 t km [ext4] {fs/ext4/a.o}
ffffffff81000800 t km [ext4] {fs/ext4/b.o}
ffffffff81000900 t km [ext4] {fs/ext4/b.o}
ffffffffc0000000 t show\t[m]
ffffffffc0000100 t lonely_in_core\t[m]
";
        let t = parse_bytes("t", text.as_bytes(), &LoadOptions::default()).unwrap();
        let names: Vec<String> = (0..t.len() as u32)
            .map(|i| t.unique_name(SymbolId(i)).into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "_text",
                "show#1 [vmlinux]",
                "show#2 [vmlinux]",
                "fs/a.c:dup [vmlinux]",
                "fs/b.c:dup [vmlinux]",
                "single",
                "lonely_in_core [vmlinux]",
                "km [ext4] {fs/ext4/a.o}",
                "km#2 [ext4]",
                "km#3 [ext4]",
                "show [m]",
                "lonely_in_core [m]",
            ]
        );
        for (i, n) in names.iter().enumerate() {
            let s = t.symbol(SymbolId(i as u32)).unwrap();
            assert_eq!(t.resolve(n).unwrap(), s.start, "{n}");
            let found = t.find_spelling(n).unwrap();
            assert_eq!(found.len(), 1, "{n}");
            assert_eq!(found[0].id, s.id);
        }
        assert_eq!(
            t.resolve("show#2+0x10 [vmlinux]").unwrap(),
            0xffffffff81000210
        );
        assert!(t.resolve("show#3 [vmlinux]").is_err());
        assert_eq!(t.find_spelling("show").unwrap().len(), 3);
        let dups = t.duplicates();
        let d: Vec<_> = dups
            .iter()
            .map(|d| (d.name, d.count, d.modules, d.by.clone()))
            .collect();
        assert_eq!(
            d,
            [
                ("dup", 2, 1, vec![Qualifier::Path]),
                ("km", 3, 1, vec![Qualifier::Object, Qualifier::Ordinal]),
                ("lonely_in_core", 2, 2, vec![Qualifier::Module]),
                ("show", 3, 2, vec![Qualifier::Module, Qualifier::Ordinal]),
            ]
        );
    }
}
