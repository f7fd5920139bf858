//! Read-only arrays that live either on the heap (a table built in this
//! process) or inside a snapshot file mapped into memory, so one lookup code
//! path serves both.
//!
//! A [`Column`] is a pointer and a length plus what keeps the memory alive:
//! nothing more to branch on in a lookup than a plain slice. Its memory is
//! never written after construction and never moves (a heap allocation
//! released only on drop, or a mapping held by an `Arc`), which is what makes
//! handing out `&[T]` sound. `cargo +nightly miri test -p ksym --lib column`
//! checks this module.
//!
//! It also holds [`prefetch`], the one other `unsafe` of the lookup path: a
//! cache hint that batch lookups give for what they read next.

use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

use bytemuck::Pod;

/// Bytes a mapped table borrows from: a file mapping, or (for tests and
/// fuzzing) an owned buffer aligned to 8 bytes.
pub(crate) enum Backing {
    Map(memmap2::Mmap),
    Words(Box<[u64]>, usize),
}

impl Backing {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Backing::Map(m) => m,
            Backing::Words(w, len) => &bytemuck::cast_slice(w)[..*len],
        }
    }
}

enum Owner {
    /// The column owns a heap allocation made by `Box<[T]>`, released in `drop`.
    Heap,
    /// The column views memory that the backing keeps alive.
    Shared(#[allow(dead_code)] Arc<Backing>),
}

/// An immutable array of `T`, owned or a view into a [`Backing`].
pub(crate) struct Column<T: Pod> {
    ptr: NonNull<T>,
    len: usize,
    owner: Owner,
}

// SAFETY: a column is immutable after construction and `T: Pod` has no
// interior mutability or thread affinity; the owner (`Arc<Backing>`, or the
// allocation the column alone frees) is `Send + Sync`.
unsafe impl<T: Pod> Send for Column<T> {}
unsafe impl<T: Pod> Sync for Column<T> {}

impl<T: Pod> Column<T> {
    /// Views `range` of the backing as `[T]`; `None` when the range is out of
    /// bounds, misaligned for `T`, or not a whole number of `T`s.
    pub(crate) fn mapped(backing: &Arc<Backing>, range: std::ops::Range<usize>) -> Option<Self> {
        let bytes = backing.bytes().get(range)?;
        let slice: &[T] = bytemuck::try_cast_slice(bytes).ok()?;
        Some(Column {
            // A slice's pointer is never null (dangling but aligned when empty).
            ptr: NonNull::from(slice).cast(),
            len: slice.len(),
            owner: Owner::Shared(Arc::clone(backing)),
        })
    }

    /// Heap bytes this column owns (a mapped column owns none).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self.owner {
            Owner::Heap => std::mem::size_of_val::<[T]>(self),
            Owner::Shared(_) => 0,
        }
    }

    /// The column as raw bytes, for writing a snapshot.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        bytemuck::cast_slice(self)
    }
}

impl<T: Pod> Deref for Column<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` and `len` come from a valid `&[T]` (a leaked box or a
        // slice of the backing) whose memory lives as long as `self.owner`,
        // which lives as long as `self`, and is never written.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Pod> From<Vec<T>> for Column<T> {
    fn from(v: Vec<T>) -> Self {
        let boxed: Box<[T]> = v.into_boxed_slice();
        let len = boxed.len();
        // The box is turned into a raw pointer (not kept as a `Box`, whose
        // moves would assert uniqueness over memory we hand out shared).
        let ptr = NonNull::from(Box::leak(boxed)).cast();
        Column {
            ptr,
            len,
            owner: Owner::Heap,
        }
    }
}

impl<T: Pod> Drop for Column<T> {
    fn drop(&mut self) {
        if let Owner::Heap = self.owner {
            let slice = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len);
            // SAFETY: `ptr`/`len` came from `Box::leak` of a `Box<[T]>` in
            // `from`, and this is the only place that frees it.
            drop(unsafe { Box::from_raw(slice) });
        }
    }
}

impl<T: Pod> Clone for Column<T> {
    /// A mapped column shares its backing; an owned one is copied.
    fn clone(&self) -> Self {
        match &self.owner {
            Owner::Heap => self.to_vec().into(),
            Owner::Shared(backing) => Column {
                ptr: self.ptr,
                len: self.len,
                owner: Owner::Shared(Arc::clone(backing)),
            },
        }
    }
}

impl<T: Pod> Default for Column<T> {
    fn default() -> Self {
        Vec::new().into()
    }
}

/// Asks the CPU to start loading the cache line holding `*r`, for code that
/// knows what it will read next. A hint: it changes no value and cannot
/// fault.
#[inline(always)]
pub(crate) fn prefetch<T>(r: &T) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: `r` is a valid reference, and `prefetcht0` only hints the cache.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
            (r as *const T).cast(),
        );
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = r;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_and_mapped_columns() {
        let owned: Column<u32> = vec![1, 2, 3].into();
        assert_eq!(&*owned, &[1, 2, 3]);
        assert_eq!(owned.heap_bytes(), 12);
        assert_eq!(owned.as_bytes().len(), 12);
        let moved = owned;
        let shared = std::thread::scope(|s| s.spawn(|| moved.iter().sum::<u32>()).join().unwrap());
        assert_eq!(shared, 6);

        let words: Box<[u64]> = vec![0x0000_0002_0000_0001, 0x0000_0004_0000_0003].into();
        let backing = Arc::new(Backing::Words(words, 16));
        let col: Column<u32> = Column::mapped(&backing, 4..16).unwrap();
        assert_eq!(&*col, &[2, 3, 4]);
        assert_eq!(col.heap_bytes(), 0);
        drop(backing); // the column keeps the memory alive
        assert_eq!(col[2], 4);
        let backing = Arc::new(Backing::Words(vec![0u64; 2].into(), 16));
        assert!(
            Column::<u32>::mapped(&backing, 1..5).is_none(),
            "misaligned"
        );
        assert!(Column::<u32>::mapped(&backing, 0..6).is_none(), "ragged");
        assert!(
            Column::<u32>::mapped(&backing, 8..24).is_none(),
            "out of bounds"
        );
        let copy = col.clone();
        assert_eq!(copy.heap_bytes(), 0, "a mapped clone shares the mapping");
        assert_eq!(&*copy, &*col);
        let owned: Column<u32> = vec![7, 8].into();
        assert_eq!(&*owned.clone(), &[7, 8]);
        let empty: Column<u64> = Column::default();
        assert!(empty.is_empty());
    }
}
