//! What a C caller needs to hand out a table's strings without copying
//! them: whether every name a lookup gives is a C string in place
//! (followed by a NUL in the table's own memory), and a serial number that
//! tells tables apart, so a cache keyed by symbol id knows when the ids
//! change meaning.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::table::SymbolTable;

static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// A serial no table of this process had before.
pub(crate) fn next_serial() -> u64 {
    NEXT_SERIAL.fetch_add(1, Ordering::Relaxed)
}

impl SymbolTable {
    /// A number no other table of this process has (never 0). A clone keeps
    /// it: its ids name the same symbols. A new table (a module loaded, a
    /// snapshot reopened) gets a new one, so `(serial, SymbolId)` names one
    /// symbol for the life of the process.
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// Whether the name and module of every symbol that address lookups
    /// give are followed by a NUL byte inside the table, so that
    /// [`c_str_ptr`](SymbolTable::c_str_ptr) of each is a C string for as
    /// long as the table lives. True for every table built here with an
    /// ASCII arena (the arena is NUL-terminated strings); else checked once,
    /// on the first call, as for a table mapped from a snapshot, whose spans
    /// a damaged or crafted file could point anywhere.
    pub fn names_are_c_strings(&self) -> bool {
        *self.c_strings.get_or_init(|| self.check_c_strings())
    }

    /// `s`, a name or module this table gave, as a pointer that may be
    /// read through its NUL when [`names_are_c_strings`] holds: the same
    /// address as `s.as_ptr()`, but derived from the whole arena (a pointer
    /// from `s` itself may only read `s`'s bytes). Null when `s` is not in
    /// the arena.
    ///
    /// [`names_are_c_strings`]: SymbolTable::names_are_c_strings
    #[inline]
    pub fn c_str_ptr(&self, s: &str) -> *const u8 {
        match self.arena_span(s) {
            Some((start, _)) => self.names.as_ptr().wrapping_add(start),
            None => std::ptr::null(),
        }
    }

    /// The arena every [`c_str_ptr`](SymbolTable::c_str_ptr) points into,
    /// when [`names_are_c_strings`](SymbolTable::names_are_c_strings)
    /// holds: a caller that copies it (or the parts it meets) can turn each
    /// name pointer into an offset and make its own strings with no lookup
    /// per name.
    pub fn c_string_arena(&self) -> Option<&[u8]> {
        self.names_are_c_strings().then_some(&self.names[..])
    }

    /// Where `s` starts in the arena and where it ends, when the byte after
    /// it is in the arena too.
    #[inline]
    fn arena_span(&self, s: &str) -> Option<(usize, usize)> {
        let start = (s.as_ptr() as usize).wrapping_sub(self.names.as_ptr() as usize);
        let end = start.checked_add(s.len())?;
        (end < self.names.len()).then_some((start, end))
    }

    fn check_c_strings(&self) -> bool {
        let in_place = |s: &str| {
            self.arena_span(s)
                .is_some_and(|(_, end)| self.names[end] == 0)
        };
        self.name_off.iter().all(|&r| in_place(self.name_ref(r)))
            && (0..self.slots.len() as u32).all(|s| self.first_module(s).is_none_or(in_place))
    }
}
