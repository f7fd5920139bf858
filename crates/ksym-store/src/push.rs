//! [`Store::put_snapshot`]: a snapshot checked, split into its parts, the
//! parts not stored yet written, then the boot record that points at them
//! (last, so that a record never names a missing part).

use ksym::snapshot::parts::split;
use ksym::snapshot::{from_bytes, to_bytes, Identity, OpenOptions};

use crate::error::Error;
use crate::names::{core_name, layout_name, module_name, record_name, valid_boot_id};
use crate::record::{BootRecord, ModuleRecord, ObjectRef};
use crate::store::{PushReport, Put, Store};

/// A snapshot's objects, ready to write: the tables first, the record last.
struct Prepared {
    tables: Vec<(String, Vec<u8>)>,
    record: BootRecord,
}

impl Store {
    /// Stores a ksym snapshot file's bytes (see the crate doc for the
    /// layout); the snapshot must carry a boot id.
    pub async fn put_snapshot(&self, snapshot: &[u8]) -> Result<PushReport, Error> {
        self.put_snapshot_of_host(snapshot, None).await
    }

    /// [`put_snapshot`](Self::put_snapshot), naming the host the snapshot
    /// was taken on in the boot record.
    pub async fn put_snapshot_of_host(
        &self,
        snapshot: &[u8],
        host: Option<&str>,
    ) -> Result<PushReport, Error> {
        let (bytes, host) = (snapshot.to_vec(), host.map(str::to_string));
        let prepared = tokio::task::spawn_blocking(move || prepare(&bytes, host))
            .await
            .map_err(|e| Error::Refused {
                reason: format!("splitting the snapshot failed: {e}"),
            })??;
        let boot_id = prepared.record.boot_id.clone();
        let mut report = PushReport {
            boot_id: boot_id.clone(),
            ..PushReport::default()
        };
        let mut count = |put: Put, len: usize| match put {
            Put::Written => {
                report.objects_written += 1;
                report.bytes_written += len as u64;
            }
            Put::Reused => report.objects_reused += 1,
        };
        for (name, bytes) in prepared.tables {
            let len = bytes.len();
            let damaged = || Error::Damaged {
                object: name.clone(),
                reason: "it holds other bytes than its name promises".into(),
            };
            count(self.put_new(&name, bytes, damaged).await?, len);
        }
        let name = record_name(&boot_id);
        let bytes = prepared.record.to_bytes();
        let len = bytes.len();
        let conflict = || Error::Conflict {
            boot_id: boot_id.clone(),
            object: name.clone(),
        };
        count(self.put_new(&name, bytes, conflict).await?, len);
        Ok(report)
    }
}

fn prepare(snapshot: &[u8], host: Option<String>) -> Result<Prepared, Error> {
    let refused = |reason: String| Error::Refused { reason };
    let opts = OpenOptions { verify: true };
    let (table, identity) =
        from_bytes("snapshot", snapshot, opts).map_err(|e| refused(e.to_string()))?;
    let boot_id = identity.boot_id.clone().ok_or_else(|| {
        refused(
            "the snapshot has no boot id (not taken from a running kernel): \
             nothing to file it under"
                .into(),
        )
    })?;
    if !valid_boot_id(&boot_id) {
        return Err(refused(format!(
            "boot id {boot_id:?} is not 1 to 64 letters, digits and dashes"
        )));
    }
    let slide = identity.kaslr_slide.unwrap_or(0);
    let parts = split(&table, slide).map_err(|e| refused(e.to_string()))?;
    let mut tables = Vec::with_capacity(parts.modules.len() + 2);
    let mut put = |name: String, bytes: Vec<u8>| {
        let object = ObjectRef {
            object: name.clone(),
            bytes: bytes.len() as u64,
        };
        tables.push((name, bytes));
        object
    };
    // The core's identity is the kernel build's alone: the same for every boot.
    let core_identity = Identity {
        release: identity.release.clone(),
        build_id: identity.build_id.clone(),
        ..Identity::default()
    };
    let bytes = to_bytes(&parts.core, &core_identity);
    let core = put(core_name(identity.build_id.as_deref(), &bytes), bytes);
    let mut modules = Vec::with_capacity(parts.modules.len());
    for m in &parts.modules {
        let build_id = table
            .module_map()
            .get(&m.name)
            .and_then(|i| i.build_id.clone());
        let bytes = to_bytes(&m.table, &Identity::default());
        let part = put(module_name(&m.name, build_id.as_deref(), &bytes), bytes);
        modules.push(ModuleRecord {
            name: m.name.clone(),
            build_id,
            part,
            anchors: m.anchors.iter().map(|a| format!("{a:#x}")).collect(),
        });
    }
    let bytes = to_bytes(&parts.boot, &identity);
    let layout = put(layout_name(&bytes), bytes);
    let bpf_programs = parts
        .boot
        .iter()
        .filter(|s| s.module == Some("bpf"))
        .count();
    Ok(Prepared {
        tables,
        record: BootRecord {
            boot_id,
            host,
            release: identity.release,
            build_id: identity.build_id,
            kaslr_slide: identity.kaslr_slide,
            core,
            modules,
            layout,
            bpf_programs,
        },
    })
}
