//! The snapshot cache across reboots, on a directory that outlives the boot
//! (`--state DIR`, a disk image the harness attaches to every boot): the
//! first boot stores a snapshot; each later boot finds the boot id changed,
//! builds anew, and the old boot's snapshot is gone, replaced.

use std::path::Path;

use ksym::cache::{cache_file, CacheOutcome};
use ksym::live::LiveConfig;
use ksym::snapshot::Identity;
use ksym::KernelSymbols;

use crate::scenarios::*;

fn boot_id() -> Step<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .map_err(|e| skip(format!("no boot id: {e}")))
}

fn open_cached(dir: &Path) -> Step<(KernelSymbols, CacheOutcome)> {
    let ks = KernelSymbols::open(LiveConfig::new().watch(false).cache_dir(Some(dir.into())))
        .map_err(|e| fail(format!("KernelSymbols::open: {e}")))?;
    let outcome = ks.cache_outcome();
    Ok((ks, outcome))
}

/// The cache file a boot's snapshot goes to.
fn file_of(dir: &Path, boot: &str) -> std::path::PathBuf {
    cache_file(
        dir,
        &Identity {
            boot_id: Some(boot.to_string()),
            ..Identity::default()
        },
    )
}

/// One boot's part: open through the cache (a miss stores: the first boot,
/// or a later one whose old snapshot must then be gone), open again (a
/// hit), and leave this boot's id for the next. Reported as
/// `cache-across-boots-replaced` too when an earlier boot left a snapshot.
pub(crate) fn cache_across_boots(opts: &Options, notes: &mut Notes) -> Step<()> {
    let state = opts
        .state
        .as_deref()
        .ok_or_else(|| skip("needs --state DIR on a disk that outlives the boot"))?;
    kallsyms()?;
    let now = boot_id()?;
    let dir = state.join("cache");
    let last_file = state.join("last-boot");
    let last = std::fs::read_to_string(&last_file)
        .ok()
        .map(|s| s.trim().to_string());
    let old_snapshot = last
        .as_deref()
        .filter(|b| *b != now)
        .map(|b| file_of(&dir, b))
        .filter(|p| p.is_file());
    let (ks, first) = open_cached(&dir)?;
    let stored = file_of(&dir, &now);
    // Run again in the same boot, the snapshot is there already.
    let again = last.as_deref() == Some(now.as_str());
    let first_ok = match &first {
        CacheOutcome::Stored(p) => !again && *p == stored,
        CacheOutcome::Hit(p) => again && *p == stored,
        _ => false,
    };
    if !first_ok {
        return Err(fail(format!(
            "{} first open: {first:?}, want {}({})",
            if again { "this boot's" } else { "a new boot's" },
            if again { "Hit" } else { "Stored" },
            stored.display()
        )));
    }
    let (_, second) = open_cached(&dir)?;
    if !matches!(second, CacheOutcome::Hit(_)) {
        return Err(fail(format!(
            "second open in the same boot: {second:?}, want a hit"
        )));
    }
    let f = ks.snapshot().len();
    std::fs::write(&last_file, format!("{now}\n"))
        .map_err(|e| fail(format!("writing {}: {e}", last_file.display())))?;
    // The disk must hold what was written when the guest powers off.
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    match (last, old_snapshot) {
        (Some(before), Some(old)) => {
            let replaced = if old.exists() {
                fail(format!(
                    "boot {before}'s snapshot {} is still there after boot {now} stored its own",
                    old.display()
                ))
            } else {
                crate::report::Outcome::Pass
            };
            notes.push(format!(
                "boot {before} -> {now}: the old snapshot was stale and replaced ({f} symbols)"
            ));
            notes.add("replaced", replaced);
        }
        (Some(before), None) if before != now => {
            return Err(fail(format!(
                "the last boot ({before}) left no snapshot in {}",
                dir.display()
            )));
        }
        _ if again => notes.push(format!(
            "boot {now} again: its snapshot ({f} symbols) is kept"
        )),
        _ => notes.push(format!("first boot {now}: stored {f} symbols for the next")),
    }
    Ok(())
}

/// Leaves the live table (with xfs loaded, given `--guest`) as a snapshot
/// on the state disk, `guest.ksym`: the host then checks source lines at
/// this boot's real addresses (KASLR slide, module sections where
/// `/sys/module` put them), see the guest-lines scenario.
pub(crate) fn snapshot_for_host(opts: &Options, notes: &mut Notes) -> Step<()> {
    let state = opts
        .state
        .as_deref()
        .ok_or_else(|| skip("needs --state DIR on a disk the host reads afterwards"))?;
    kallsyms()?;
    if opts.guest && crate::kernel::loaded_modules().is_ok() && !crate::kernel::is_loaded("xfs") {
        crate::kernel::insmod("xfs").map_err(fail)?;
    }
    let ks = open_still()?;
    let identity = ksym::live::identity_of(&ks.fingerprint(), Path::new("/"));
    let path = state.join("guest.ksym");
    ksym::snapshot::save(&ks.snapshot(), &identity, &path)
        .map_err(|e| fail(format!("saving {}: {e}", path.display())))?;
    // SAFETY: sync(2) has no preconditions.
    unsafe { libc::sync() };
    notes.push(format!(
        "{} symbols of {} saved to {}",
        ks.snapshot().len(),
        identity.release.unwrap_or_default(),
        path.display()
    ));
    Ok(())
}
