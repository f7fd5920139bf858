//! `ksym snapshot push` and `ksym snapshot pull`: the loaded symbols'
//! snapshot into a snapshot store, and a boot's snapshot out of one.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use ksym_store::{default_store_url, Store};

use super::snapshot::identity;
use crate::source::Loaded;
use crate::CliResult;

fn open(url: Option<&str>) -> CliResult<(Store, String)> {
    let url = match url {
        Some(u) => u.to_string(),
        None => default_store_url()?,
    };
    Ok((Store::from_url(&url)?, url))
}

/// The store's calls run on a runtime of this thread (and its blocking pool).
fn runtime() -> CliResult<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(text.trim().to_string()).filter(|t| !t.is_empty())
}

pub(crate) fn push(
    loaded: &Loaded,
    url: Option<&str>,
    json: bool,
    out: &mut dyn Write,
) -> CliResult<ExitCode> {
    let (store, url) = open(url)?;
    let identity = identity(loaded);
    let bytes = ksym::snapshot::to_bytes(&loaded.table, &identity);
    // This machine's name, when the snapshot is of this machine's boot.
    let this_boot = read_trimmed("/proc/sys/kernel/random/boot_id");
    let host = (identity.boot_id.is_some() && identity.boot_id == this_boot)
        .then(|| read_trimmed("/proc/sys/kernel/hostname"))
        .flatten();
    let report = runtime()?.block_on(store.put_snapshot_of_host(&bytes, host.as_deref()))?;
    if json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        writeln!(
            out,
            "pushed boot {} to {url}: {} objects written ({} bytes), {} already there",
            report.boot_id, report.objects_written, report.bytes_written, report.objects_reused
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn pull(boot_id: &str, file: &Path, url: Option<&str>) -> CliResult<ExitCode> {
    let (store, url) = open(url)?;
    let bytes = runtime()?.block_on(store.get_snapshot(boot_id))?;
    ksym::snapshot::write_atomically(file, &bytes)?;
    println!(
        "pulled boot {boot_id} from {url} to {} ({} bytes, mode 0600)",
        file.display(),
        bytes.len()
    );
    Ok(ExitCode::SUCCESS)
}
