//! `ksym serve` (the `serve` feature): the HTTP service of `ksym-serve`,
//! its options as the command line gives them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ksym_serve::{Config, Token};

use crate::CliResult;

#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// Where to listen. Off loopback, --token-file is required.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: SocketAddr,
    /// Where the snapshots are, as `ksym snapshot push` writes them:
    /// `file:///dir`, `s3://bucket/prefix` (endpoint and credentials from
    /// the `AWS_*` variables) or `memory://`.
    #[arg(long)]
    store: String,
    /// A file holding the bearer token that queries and uploads must carry
    /// (`Authorization: Bearer <token>`); readable by its owner only.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// The boot /pprof/symbol and /v1/pprof answer for when a request
    /// names none.
    #[arg(long)]
    default_boot: Option<String>,
    /// Largest query or profile body, in bytes.
    #[arg(long, default_value_t = Config::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Largest snapshot upload, in bytes.
    #[arg(long, default_value_t = Config::default().max_snapshot_bytes)]
    max_snapshot_bytes: usize,
    /// Largest profile once decompressed, in bytes.
    #[arg(long, default_value_t = Config::default().max_profile_bytes)]
    max_profile_bytes: usize,
    /// Most addresses in one request.
    #[arg(long, default_value_t = Config::default().max_addrs)]
    max_addrs: usize,
    /// Longest a request may take, in seconds.
    #[arg(long, default_value_t = Config::default().request_timeout.as_secs())]
    timeout_secs: u64,
    /// Bytes of opened tables to keep (least recently used out).
    #[arg(long, default_value_t = Config::default().cache_bytes)]
    cache_bytes: usize,
    /// Write the addresses asked about to the log (off: they defeat KASLR).
    #[arg(long)]
    log_addresses: bool,
}

pub(crate) fn run(args: &ServeArgs) -> CliResult<ExitCode> {
    let token = args
        .token_file
        .as_deref()
        .map(Token::from_file)
        .transpose()?;
    if let Some(boot) = &args.default_boot {
        if !ksym_serve::valid_boot_id(boot) {
            return Err(format!("--default-boot: {boot:?} is not a boot id").into());
        }
    }
    let config = Config {
        max_body_bytes: args.max_body_bytes,
        max_snapshot_bytes: args.max_snapshot_bytes,
        max_profile_bytes: args.max_profile_bytes,
        max_addrs: args.max_addrs,
        request_timeout: Duration::from_secs(args.timeout_secs.max(1)),
        cache_bytes: args.cache_bytes,
        token,
        log_addresses: args.log_addresses,
        default_boot: args.default_boot.clone(),
    };
    let store = ksym_serve::open_store(&args.store)?;
    ksym_serve::run(args.listen, store, config)?;
    Ok(ExitCode::SUCCESS)
}
