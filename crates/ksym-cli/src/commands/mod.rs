//! One file per subcommand, each with its run function and the printing
//! only it uses; `common.rs` holds what several of them share.

pub(crate) mod addr;
pub(crate) mod addr2line;
pub(crate) mod annotate;
mod common;
pub(crate) mod decode;
pub(crate) mod dump;
pub(crate) mod dups;
pub(crate) mod info;
pub(crate) mod line_table;
pub(crate) mod name;
#[cfg(feature = "pprof")]
pub(crate) mod pprof;
pub(crate) mod resolve;
#[cfg(feature = "serve")]
pub(crate) mod serve;
pub(crate) mod snapshot;
#[cfg(feature = "store")]
pub(crate) mod store;
