//! Stage 1, bytes in: files (decompressed by their magic bytes), standard
//! input, and the live `/proc/kallsyms`, read on a thread of its own while
//! the caller parses what has arrived.
//!
//! Takes paths; gives bytes (whole, or chunk by chunk to a callback) and the
//! few one-line facts of `/proc/sys/kernel` that explain a redacted read.
//! Every read is bounded ([`limit`]): decompression stops at the bound.
//! Nothing here knows the text's grammar.

pub mod bpf_iter;
pub mod bpf_prog;
pub mod file;
pub mod limit;
pub mod mapped;
pub mod procfs;

pub use file::{
    decompress, decompress_within, read_file, read_file_within, read_list, read_raw_within,
    read_small, source_name, Compression, STDIN,
};
pub use limit::Limit;
pub use mapped::{map_within, FileBytes};
pub use procfs::{
    kptr_restrict, perf_event_paranoid, stream_chunks, KPTR_RESTRICT, PROC_KALLSYMS, PROC_MODULES,
};
