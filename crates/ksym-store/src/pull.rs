//! [`Store::get_snapshot`]: a boot record read and checked, each part it
//! names read and checked against the SHA-256 in its name, and the parts
//! joined into the boot's snapshot.

use ksym::snapshot::parts::{join, ModulePart};
use ksym::snapshot::{from_bytes, to_bytes, Identity, OpenOptions};
use ksym::SymbolTable;

use crate::error::Error;
use crate::names::{promised_sha256, record_name, sha256_hex, valid_boot_id};
use crate::record::{BootRecord, ObjectRef};
use crate::store::Store;

fn damaged(object: &str, reason: impl Into<String>) -> Error {
    Error::Damaged {
        object: object.to_string(),
        reason: reason.into(),
    }
}

impl Store {
    /// The snapshot file of `boot_id`, put back together from its parts;
    /// [`Error::NotFound`] when the store has no such boot.
    pub async fn get_snapshot(&self, boot_id: &str) -> Result<Vec<u8>, Error> {
        let not_found = || Error::NotFound {
            boot_id: boot_id.to_string(),
        };
        if !valid_boot_id(boot_id) {
            return Err(not_found());
        }
        let name = record_name(boot_id);
        let bytes = self.get_object(&name).await?.ok_or_else(not_found)?;
        let record = BootRecord::from_bytes(&name, &bytes)?;
        if record.boot_id != boot_id {
            return Err(damaged(&name, format!("it is boot {}'s", record.boot_id)));
        }
        let (core, _) = self.get_table(&record.core).await?;
        let mut modules = Vec::with_capacity(record.modules.len());
        for m in &record.modules {
            let anchors = m
                .anchors
                .iter()
                .map(|a| {
                    a.strip_prefix("0x")
                        .and_then(|h| u64::from_str_radix(h, 16).ok())
                        .ok_or_else(|| damaged(&name, format!("module {}: anchor {a:?}", m.name)))
                })
                .collect::<Result<Vec<u64>, Error>>()?;
            modules.push(ModulePart {
                name: m.name.clone(),
                anchors,
                table: self.get_table(&m.part).await?.0,
            });
        }
        let (boot, identity) = self.get_table(&record.layout).await?;
        if identity.boot_id.as_deref() != Some(boot_id)
            || identity.kaslr_slide != record.kaslr_slide
        {
            return Err(damaged(
                &record.layout.object,
                "its identity is not the boot record's",
            ));
        }
        let layout = record.layout.object.clone();
        tokio::task::spawn_blocking(move || {
            let slide = identity.kaslr_slide.unwrap_or(0);
            let table =
                join(&core, &modules, &boot, slide).map_err(|e| damaged(&layout, e.to_string()))?;
            Ok(to_bytes(&table, &identity))
        })
        .await
        .map_err(|e| damaged(&name, format!("joining the parts failed: {e}")))?
    }

    /// A stored table, its bytes checked against its name's SHA-256 and
    /// its structure and checksums by the snapshot reader.
    async fn get_table(&self, r: &ObjectRef) -> Result<(SymbolTable, Identity), Error> {
        let object = r.object.as_str();
        let sum = promised_sha256(object)
            .ok_or_else(|| damaged(object, "not a content-addressed table name"))?;
        let bytes = self
            .get_object(object)
            .await?
            .ok_or_else(|| damaged(object, "missing, though a boot record names it"))?;
        if sha256_hex(&bytes) != sum {
            return Err(damaged(
                object,
                format!("checksum mismatch ({} bytes read)", bytes.len()),
            ));
        }
        from_bytes(object, &bytes, OpenOptions { verify: true })
            .map_err(|e| damaged(object, e.to_string()))
    }
}
