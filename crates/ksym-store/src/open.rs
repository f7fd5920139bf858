//! Store URLs: `file:///dir` (created 0700), `s3://bucket/prefix` (endpoint,
//! region and credentials from the `AWS_*` variables), `memory://`; and the
//! default store of a user.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::prefix::PrefixStore;
use object_store::ObjectStore;

use crate::error::Error;

/// An opened object store, and its directory when it is a local one.
pub(crate) struct Opened {
    pub objects: Arc<dyn ObjectStore>,
    pub local_root: Option<PathBuf>,
}

pub(crate) fn open_url(text: &str) -> Result<Opened, Error> {
    let bad = |reason: String| Error::Url {
        url: text.to_string(),
        reason,
    };
    let url = url::Url::parse(text).map_err(|e| bad(e.to_string()))?;
    match url.scheme() {
        "memory" => Ok(Opened {
            objects: Arc::new(InMemory::new()),
            local_root: None,
        }),
        "file" => {
            if url
                .host_str()
                .is_some_and(|h| !h.is_empty() && h != "localhost")
            {
                return Err(bad("a file URL names no host: file:///dir".into()));
            }
            let dir = url
                .to_file_path()
                .map_err(|()| bad("not an absolute directory path".into()))?;
            private_dir(&dir)?;
            let objects = LocalFileSystem::new_with_prefix(&dir).map_err(|e| bad(e.to_string()))?;
            Ok(Opened {
                objects: Arc::new(objects),
                local_root: Some(dir),
            })
        }
        "s3" => {
            let bucket = url
                .host_str()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| bad("no bucket: s3://bucket/prefix".into()))?;
            let s3 = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| bad(e.to_string()))?;
            let prefix = url.path().trim_matches('/');
            let objects: Arc<dyn ObjectStore> = if prefix.is_empty() {
                Arc::new(s3)
            } else {
                let prefix = object_store::path::Path::parse(prefix)
                    .map_err(|e| bad(format!("prefix {prefix:?}: {e}")))?;
                Arc::new(PrefixStore::new(s3, prefix))
            };
            Ok(Opened {
                objects,
                local_root: None,
            })
        }
        other => Err(bad(format!(
            "unknown scheme {other:?}: use file:///dir, s3://bucket/prefix or memory://"
        ))),
    }
}

/// `dir` made if missing, and kept to its owner (0700): the addresses in
/// it defeat KASLR.
fn private_dir(dir: &Path) -> Result<(), Error> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)
}

/// After a write into a local store: the file 0600 and every directory
/// from the root down to it 0700.
pub(crate) fn restrict_written(root: &Path, name: &str) -> Result<(), Error> {
    let mut path = root.to_path_buf();
    let parts: Vec<&str> = name.split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        path.push(part);
        let mode = if i + 1 == parts.len() { 0o600 } else { 0o700 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(
            |source| Error::Io {
                path: path.clone(),
                source,
            },
        )?;
    }
    Ok(())
}

/// The store used when none is named: `$XDG_DATA_HOME/ksym/store`, else
/// `~/.local/share/ksym/store`, as a `file://` URL.
pub fn default_store_url() -> Result<String, Error> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".local/share"))
        })
        .ok_or_else(|| Error::Url {
            url: String::new(),
            reason: "no default store: neither XDG_DATA_HOME nor HOME is set; give --store".into(),
        })?;
    let dir = data.join("ksym/store");
    url::Url::from_directory_path(&dir)
        .map(String::from)
        .map_err(|()| Error::Url {
            url: dir.display().to_string(),
            reason: "not a usable directory path".into(),
        })
}
