//! ksym snapshots in an object store (`file://`, `s3://`, `memory://`,
//! through the `object_store` crate), laid out so that a fleet pays once
//! for what its boots share:
//!
//! ```text
//! cores/<kernel build-id>/<sha256>.ksym            the core table at link-time addresses
//! modules/<name>/<module build-id>/<sha256>.ksym   one module, relative to its areas
//! layouts/<sha256>.ksym                            a boot's own: identity, module map
//!                                                  (areas, section areas), BPF programs
//! boots/<boot id>.json                             the boot record pointing at them
//! ```
//!
//! Tables are ksym snapshots (`ksym::snapshot`, split and joined by
//! `ksym::snapshot::parts`), named by the SHA-256 of their bytes, which every
//! read checks; the boot record is JSON behind a line with its own SHA-256.
//! Every write is a conditional put that never replaces an object: an
//! existing table with the same bytes is reused, a boot record with other
//! content is a conflict.

mod error;
mod names;
mod open;
mod pull;
mod push;
mod record;
mod store;

pub use error::Error;
pub use open::default_store_url;
pub use record::{BootRecord, ModuleRecord, ObjectRef};
pub use store::{PushReport, Store};
