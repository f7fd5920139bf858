//! [`Store`]: one object store, and the two ways objects go in and out of
//! it: a conditional put that never replaces an object, and a read.

use std::path::PathBuf;
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::Error;
use crate::open::{open_url, restrict_written};

/// What [`Store::put_snapshot`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    pub boot_id: String,
    /// Objects written by this push.
    pub objects_written: usize,
    /// Objects that were there already with the same bytes.
    pub objects_reused: usize,
    /// Bytes of the objects written.
    pub bytes_written: u64,
}

/// A store of snapshots. Cheap to clone; shares the connection.
#[derive(Clone)]
pub struct Store {
    pub(crate) objects: Arc<dyn ObjectStore>,
    local_root: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.objects)
    }
}

/// Whether a conditional put wrote the object or found it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Put {
    Written,
    Reused,
}

impl Store {
    /// Opens `file:///dir`, `s3://bucket/prefix` or `memory://` (a new,
    /// empty store each time).
    pub fn from_url(url: &str) -> Result<Store, Error> {
        let opened = open_url(url)?;
        Ok(Store {
            objects: opened.objects,
            local_root: opened.local_root,
        })
    }

    /// Writes `name` only if no object has that name: an existing one with
    /// the same bytes is [`Put::Reused`]; with other bytes, `other` is the
    /// error.
    pub(crate) async fn put_new(
        &self,
        name: &str,
        bytes: Vec<u8>,
        other: impl FnOnce() -> Error,
    ) -> Result<Put, Error> {
        let path = ObjectPath::from(name);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        let payload = PutPayload::from(bytes.clone());
        match self.objects.put_opts(&path, payload, opts).await {
            Ok(_) => {
                if let Some(root) = &self.local_root {
                    restrict_written(root, name)?;
                }
                Ok(Put::Written)
            }
            Err(object_store::Error::AlreadyExists { .. }) => match self.get_object(name).await? {
                Some(there) if there == bytes => Ok(Put::Reused),
                _ => Err(other()),
            },
            Err(source) => Err(Error::Store {
                object: name.to_string(),
                source,
            }),
        }
    }

    /// The bytes of `name`, `None` when there is no such object.
    pub(crate) async fn get_object(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        let store_error = |source| Error::Store {
            object: name.to_string(),
            source,
        };
        match self.objects.get(&ObjectPath::from(name)).await {
            Ok(got) => Ok(Some(got.bytes().await.map_err(store_error)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(store_error(source)),
        }
    }
}
