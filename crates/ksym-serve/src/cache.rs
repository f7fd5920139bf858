//! The bounded cache of opened tables, one per boot: fetched from the store
//! on first use (concurrent first requests for one boot fetch it once),
//! kept while the bytes they hold fit the bound, least recently used out.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use ksym::SymbolTable;
use tokio::sync::OnceCell;

use crate::store::StoreError;

/// One boot's opened snapshot.
pub struct Loaded {
    pub table: SymbolTable,
    /// What it holds in memory (the snapshot's bytes and the table's own).
    pub bytes: usize,
}

struct Slot {
    cell: Arc<OnceCell<Arc<Loaded>>>,
    /// 0 until loaded.
    bytes: usize,
    last_used: u64,
}

#[derive(Default)]
struct Slots {
    by_boot: HashMap<String, Slot>,
    total_bytes: usize,
    clock: u64,
}

/// Tables by boot id, within `max_bytes` (one table larger than the bound
/// is still kept, alone).
pub struct TableCache {
    slots: Mutex<Slots>,
    max_bytes: usize,
}

/// How a table was had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Had {
    /// Already open (or opened by a concurrent request this one waited for).
    Hit,
    /// Fetched and opened for this request.
    Loaded,
}

impl TableCache {
    pub fn new(max_bytes: usize) -> Self {
        TableCache {
            slots: Mutex::default(),
            max_bytes,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The table of `boot`, from the cache or by `load` (run once however
    /// many requests wait for it; a failed load is not kept).
    pub async fn get<F, Fut>(&self, boot: &str, load: F) -> Result<(Arc<Loaded>, Had), StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Loaded, StoreError>>,
    {
        let cell = {
            let mut slots = self.lock();
            slots.clock += 1;
            let now = slots.clock;
            let slot = slots
                .by_boot
                .entry(boot.to_string())
                .or_insert_with(|| Slot {
                    cell: Arc::default(),
                    bytes: 0,
                    last_used: now,
                });
            slot.last_used = now;
            if let Some(loaded) = slot.cell.get() {
                return Ok((loaded.clone(), Had::Hit));
            }
            slot.cell.clone()
        };
        let mut loaded_here = false;
        let result = cell
            .get_or_try_init(|| {
                loaded_here = true;
                async { load().await.map(Arc::new) }
            })
            .await
            .cloned();
        let mut slots = self.lock();
        let ours = |s: &Slot| Arc::ptr_eq(&s.cell, &cell);
        match result {
            Ok(loaded) => {
                if loaded_here {
                    if let Some(slot) = slots.by_boot.get_mut(boot).filter(|s| ours(s)) {
                        slot.bytes = loaded.bytes;
                        slots.total_bytes += loaded.bytes;
                        Self::evict(&mut slots, self.max_bytes, boot);
                    }
                }
                let had = if loaded_here { Had::Loaded } else { Had::Hit };
                Ok((loaded, had))
            }
            Err(e) => {
                // Unknown boots must not pile up empty slots.
                if slots
                    .by_boot
                    .get(boot)
                    .is_some_and(|s| ours(s) && s.bytes == 0)
                {
                    slots.by_boot.remove(boot);
                }
                Err(e)
            }
        }
    }

    /// Drops `boot`'s table (a new snapshot was uploaded for it).
    pub fn invalidate(&self, boot: &str) {
        let mut slots = self.lock();
        if let Some(slot) = slots.by_boot.remove(boot) {
            slots.total_bytes -= slot.bytes;
        }
    }

    /// (tables held, bytes held).
    pub fn usage(&self) -> (usize, usize) {
        let slots = self.lock();
        let tables = slots.by_boot.values().filter(|s| s.bytes > 0).count();
        (tables, slots.total_bytes)
    }

    /// Least recently used tables out until the rest fit, `keep` aside.
    fn evict(slots: &mut Slots, max_bytes: usize, keep: &str) {
        while slots.total_bytes > max_bytes {
            let oldest = slots
                .by_boot
                .iter()
                .filter(|(boot, s)| s.bytes > 0 && boot.as_str() != keep)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(boot, _)| boot.clone());
            let Some(oldest) = oldest else { break };
            if let Some(slot) = slots.by_boot.remove(&oldest) {
                slots.total_bytes -= slot.bytes;
            }
        }
    }
}

#[cfg(test)]
mod tests;
