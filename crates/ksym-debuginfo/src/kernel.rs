//! What the running kernel says about itself, under the finder's root: its
//! release and build-id (through ksym's `HostKernel`), and a loaded
//! module's build-id (`/sys/module/M/notes/.note.gnu.build-id`).

use std::path::Path;

use ksym::parse::notes::gnu_build_id;
use ksym::read::{limit::ATTRIBUTE_LIMIT, read_small};

use crate::disk::{module_key, under};

/// The GNU build-id of loaded module `name`, when the kernel shows it.
pub fn module_build_id(root: &Path, name: &str) -> Option<Vec<u8>> {
    let path = under(
        root,
        &format!("/sys/module/{}/notes/.note.gnu.build-id", module_key(name)),
    );
    read_small(&path, ATTRIBUTE_LIMIT)
        .ok()
        .and_then(|notes| gnu_build_id(&notes))
}

/// The running kernel's release and build-id (either may be unknown).
pub fn running_kernel(root: &Path) -> (Option<String>, Option<Vec<u8>>) {
    let host = ksym::HostKernel::discover_in(root);
    let build_id = host
        .build_id
        .as_deref()
        .and_then(crate::elf_facts::parse_build_id);
    (host.release, build_id)
}
