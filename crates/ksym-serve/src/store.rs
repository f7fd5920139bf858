//! Where the server reads snapshots from: the [`SnapshotStore`] trait (the
//! two operations a store gives the server), implemented over the
//! content-addressed object store of `ksym-store` (`file://`, `s3://`,
//! `memory://`: what `ksym snapshot push` writes), and a plain in-memory
//! one for tests.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use ksym::snapshot::{from_bytes, OpenOptions};

/// The future a store's operation answers with.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What a store operation can fail with; the server answers each with its
/// own status (404, 400, 502, 503).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No snapshot is stored for this boot.
    #[error("no snapshot for boot {0}")]
    NotFound(String),
    /// An upload the store does not take (not a snapshot, no boot id).
    #[error("not a snapshot the store takes: {0}")]
    Refused(String),
    /// A stored snapshot failed its checks (checksum, structure).
    #[error("damaged snapshot: {0}")]
    Damaged(String),
    /// The store could not be read or written (I/O, network).
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// A short code for metrics labels.
    pub fn cause(&self) -> &'static str {
        match self {
            StoreError::NotFound(_) => "not_found",
            StoreError::Refused(_) => "refused",
            StoreError::Damaged(_) => "damaged",
            StoreError::Unavailable(_) => "unavailable",
        }
    }
}

/// The two operations the server needs of a snapshot store.
///
/// Implement it over any store in a few lines:
///
/// ```ignore
/// impl SnapshotStore for MyStore {
///     fn upload<'a>(&'a self, snapshot: &'a [u8]) -> StoreFuture<'a, String> {
///         Box::pin(async move { Ok(self.put_snapshot(snapshot).await.map_err(into)?.boot_id) })
///     }
///     fn fetch<'a>(&'a self, boot_id: &'a str) -> StoreFuture<'a, Vec<u8>> {
///         Box::pin(async move { self.get_snapshot(boot_id).await.map_err(into) })
///     }
/// }
/// ```
pub trait SnapshotStore: Send + Sync + 'static {
    /// Stores a snapshot file's bytes (`ksym::snapshot::to_bytes`'s
    /// format); answers the boot id it is stored under.
    fn upload<'a>(&'a self, snapshot: &'a [u8]) -> StoreFuture<'a, String>;

    /// The snapshot bytes stored for a boot ([`StoreError::NotFound`] when
    /// there are none).
    fn fetch<'a>(&'a self, boot_id: &'a str) -> StoreFuture<'a, Vec<u8>>;
}

/// Whether `id` can name a boot: 1 to 64 of `[A-Za-z0-9_.-]`, not starting
/// with a dot (the kernel's boot ids are UUIDs). Keeps ids safe as file and
/// object names.
pub fn valid_boot_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The boot id a snapshot names, after checking every checksum: what the
/// small stores key uploads by.
pub fn boot_id_of(snapshot: &[u8]) -> Result<String, StoreError> {
    let (_, identity) = from_bytes("upload", snapshot, OpenOptions { verify: true })
        .map_err(|e| StoreError::Refused(e.to_string()))?;
    let Some(boot) = identity.boot_id else {
        return Err(StoreError::Refused(
            "the snapshot names no boot id (save it from the live kernel)".into(),
        ));
    };
    if !valid_boot_id(&boot) {
        return Err(StoreError::Refused(format!(
            "the snapshot's boot id {boot:?} is not a boot id"
        )));
    }
    Ok(boot)
}

/// Snapshots held in memory (`memory://`): for tests.
#[derive(Default)]
pub struct MemoryStore {
    snapshots: Mutex<HashMap<String, Arc<Vec<u8>>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vec<u8>>>> {
        // A panic elsewhere while holding the lock leaves the map whole.
        self.snapshots.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl SnapshotStore for MemoryStore {
    fn upload<'a>(&'a self, snapshot: &'a [u8]) -> StoreFuture<'a, String> {
        Box::pin(async move {
            let boot = boot_id_of(snapshot)?;
            self.lock()
                .insert(boot.clone(), Arc::new(snapshot.to_vec()));
            Ok(boot)
        })
    }

    fn fetch<'a>(&'a self, boot_id: &'a str) -> StoreFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let found = self.lock().get(boot_id).cloned();
            found
                .map(|s| s.to_vec())
                .ok_or_else(|| StoreError::NotFound(boot_id.to_string()))
        })
    }
}

/// The object store `ksym snapshot push` writes: a push is an upload, a
/// boot's parts put back together a fetch.
impl SnapshotStore for ksym_store::Store {
    fn upload<'a>(&'a self, snapshot: &'a [u8]) -> StoreFuture<'a, String> {
        Box::pin(async move {
            let pushed = self.put_snapshot(snapshot).await;
            Ok(pushed.map_err(store_error)?.boot_id)
        })
    }

    fn fetch<'a>(&'a self, boot_id: &'a str) -> StoreFuture<'a, Vec<u8>> {
        Box::pin(async move { self.get_snapshot(boot_id).await.map_err(store_error) })
    }
}

/// The server's kind of each store failure.
fn store_error(e: ksym_store::Error) -> StoreError {
    use ksym_store::Error as E;
    match e {
        E::NotFound { boot_id } => StoreError::NotFound(boot_id),
        E::Damaged { .. } => StoreError::Damaged(e.to_string()),
        E::Refused { .. } | E::Conflict { .. } => StoreError::Refused(e.to_string()),
        E::Url { .. } | E::Store { .. } | E::Io { .. } => StoreError::Unavailable(e.to_string()),
    }
}
