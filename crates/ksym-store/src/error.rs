//! The store's one error type: every variant names the URL, boot or object.

/// What went wrong with a store, a snapshot or an object in it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A store URL that cannot be used.
    #[error("store URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    /// No boot record for this boot id.
    #[error("no snapshot of boot {boot_id} in the store")]
    NotFound { boot_id: String },
    /// A stored object that fails its check (checksum, format, references).
    #[error("object {object} is damaged: {reason}")]
    Damaged { object: String, reason: String },
    /// A boot record already stored with other content: never overwritten.
    #[error("boot {boot_id} is already stored with other content ({object}); not overwritten")]
    Conflict { boot_id: String, object: String },
    /// A snapshot the store does not take.
    #[error("snapshot refused: {reason}")]
    Refused { reason: String },
    /// The object store failed.
    #[error("object {object}: {source}")]
    Store {
        object: String,
        #[source]
        source: object_store::Error,
    },
    /// A local file or directory of a `file://` store.
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}
