//! Answers borrowed from a line table: frames whose names and paths are
//! `&str` into the table's arena, and the stack of outer frames a row
//! carries, inline up to [`INLINE_DEPTH`]. A lookup that allocates nothing
//! is what lets a profiler ask millions of addresses (malloc, copies and
//! frees were a fifth of a lookup's instructions); [`LineTable::frames`]
//! copies these into owned [`SourceFrame`]s for those who keep them.

use super::{FrameKey, LineTable};
use crate::lines::SourceFrame;

/// Outer frames held without allocating: most inline chains are this deep
/// or less.
pub const INLINE_DEPTH: usize = 8;

/// A row's outer frames (innermost first): inline up to [`INLINE_DEPTH`],
/// on the heap past it.
#[derive(Clone, Default)]
pub(super) struct KeyStack {
    inline: [FrameKey; INLINE_DEPTH],
    len: usize,
    spilled: Vec<FrameKey>,
}

impl KeyStack {
    pub(super) fn as_slice(&self) -> &[FrameKey] {
        if self.len <= INLINE_DEPTH {
            &self.inline[..self.len]
        } else {
            &self.spilled
        }
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
        self.spilled.clear();
    }

    pub(super) fn push(&mut self, key: FrameKey) {
        if self.len < INLINE_DEPTH {
            self.inline[self.len] = key;
        } else {
            if self.len == INLINE_DEPTH {
                self.spilled.extend_from_slice(&self.inline);
            }
            self.spilled.push(key);
        }
        self.len += 1;
    }

    pub(super) fn set(&mut self, keys: &[FrameKey]) {
        self.clear();
        for k in keys {
            self.push(*k);
        }
    }
}

/// One frame of source, borrowed from the table (see [`SourceFrame`] for
/// what each field means).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRef<'t> {
    pub function: Option<&'t str>,
    pub file: Option<&'t str>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub inlined: bool,
}

impl FrameRef<'_> {
    /// The same frame, owned.
    pub fn to_frame(&self) -> SourceFrame {
        SourceFrame {
            function: self.function.map(str::to_string),
            file: self.file.map(str::to_string),
            line: self.line,
            column: self.column,
            inlined: self.inlined,
            source: None,
        }
    }
}

/// The frames at one address, innermost first, the last not inlined; an
/// iterator that allocates nothing for chains up to [`INLINE_DEPTH`]
/// outer frames. Every string id was checked when it was made.
#[derive(Clone)]
pub struct TableFrames<'t> {
    table: &'t LineTable,
    inner: Option<FrameKey>,
    outer: KeyStack,
    next: usize,
}

impl<'t> TableFrames<'t> {
    /// `None` when a string id of the row is not in the table.
    pub(super) fn new(
        table: &'t LineTable,
        inner: Option<FrameKey>,
        outer: KeyStack,
    ) -> Option<TableFrames<'t>> {
        let known = |id: u32| id == 0 || (id as usize) <= table.strings;
        let keys = inner.iter().chain(if inner.is_some() {
            outer.as_slice()
        } else {
            &[]
        });
        if !keys
            .clone()
            .all(|k| known(k.function) && known(k.file) && known(k.alt_file))
        {
            return None;
        }
        Some(TableFrames {
            table,
            inner,
            outer,
            next: 0,
        })
    }

    /// The string of id `id` (0: none), checked in [`TableFrames::new`].
    pub(crate) fn text(&self, id: u32) -> Option<&'t str> {
        match id {
            0 => None,
            id => self.table.string(id as usize - 1),
        }
    }

    /// The stored frames, innermost first (the tools' view reads their
    /// second paths and discriminators).
    pub(crate) fn keys(&self) -> impl Iterator<Item = &FrameKey> {
        (0..).map_while(|i| self.key(i))
    }

    fn key(&self, i: usize) -> Option<&FrameKey> {
        let inner = self.inner.as_ref()?;
        match i {
            0 => Some(inner),
            i => self.outer.as_slice().get(i - 1),
        }
    }
}

impl<'t> Iterator for TableFrames<'t> {
    type Item = FrameRef<'t>;

    fn next(&mut self) -> Option<FrameRef<'t>> {
        let key = *self.key(self.next)?;
        self.next += 1;
        Some(FrameRef {
            function: self.text(key.function),
            file: self.text(key.file),
            line: (key.line != 0).then_some(key.line),
            column: (key.column != 0).then_some(key.column),
            inlined: self.key(self.next).is_some(),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let total = self.inner.map_or(0, |_| 1 + self.outer.as_slice().len());
        let left = total.saturating_sub(self.next);
        (left, Some(left))
    }
}

impl ExactSizeIterator for TableFrames<'_> {}
