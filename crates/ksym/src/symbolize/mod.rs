//! Stage 6, what callers do with a table: addresses in, names out.
//!
//! Takes a [`SymbolTable`](crate::SymbolTable) (or anything that holds one:
//! an `Arc`, a [`KernelSymbols`](crate::KernelSymbols) handle, a failed
//! load); gives frames and text:
//! - [`stack`]: batches of instruction pointers to frames (`Symbolizer`);
//! - [`decode`]: kernel log text (oopses, call traces, `%pS`) checked and
//!   named line by line, and `perf script` / bpftrace stacks annotated;
//! - [`dump`]: the table written back as `System.map`, kallsyms,
//!   kallmodsyms or JSON;
//! - [`json`]: symbols and frames as the JSON objects `ksym addr --json`
//!   prints and `ksym serve` answers.

pub mod decode;
pub mod dump;
pub mod json;
pub mod pointer_auth;
pub mod stack;
