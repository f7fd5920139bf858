//! Object names: content-addressed tables (`<sha256>.ksym` under a group
//! named by build-id) and boot records, with every name part kept to a safe
//! alphabet.

use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A name part from untrusted text: `[A-Za-z0-9_.-]`, others as `_`, no
/// leading dot, at most 128 bytes; `unknown` when empty.
pub(crate) fn segment(text: Option<&str>) -> String {
    let s: String = text
        .unwrap_or_default()
        .chars()
        .take(128)
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '_' | '-' | '.' => c,
            _ => '_',
        })
        .collect();
    match s.trim_start_matches('.') {
        "" => "unknown".into(),
        t => t.to_string(),
    }
}

/// Whether `id` may name a boot: 1 to 64 of `[A-Za-z0-9-]` (a UUID).
pub(crate) fn valid_boot_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

pub(crate) fn core_name(build_id: Option<&str>, bytes: &[u8]) -> String {
    format!("cores/{}/{}.ksym", segment(build_id), sha256_hex(bytes))
}

pub(crate) fn module_name(module: &str, build_id: Option<&str>, bytes: &[u8]) -> String {
    format!(
        "modules/{}/{}/{}.ksym",
        segment(Some(module)),
        segment(build_id),
        sha256_hex(bytes)
    )
}

pub(crate) fn layout_name(bytes: &[u8]) -> String {
    format!("layouts/{}.ksym", sha256_hex(bytes))
}

pub(crate) fn record_name(boot_id: &str) -> String {
    format!("boots/{boot_id}.json")
}

/// The SHA-256 a content-addressed name promises, if it is one.
pub(crate) fn promised_sha256(name: &str) -> Option<&str> {
    let file = name.rsplit('/').next()?;
    let hex = file.strip_suffix(".ksym")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_to_a_safe_alphabet() {
        assert_eq!(segment(Some("../etc/passwd")), "_etc_passwd");
        assert_eq!(segment(Some("nf_tables")), "nf_tables");
        assert_eq!(segment(None), "unknown");
        assert!(valid_boot_id("0b9f1c1e-3c1a-4b6e-9d7e-2a5c1f0e9b11"));
        assert!(!valid_boot_id("../x"));
        assert!(!valid_boot_id(""));
        let name = core_name(Some("01d2"), b"abc");
        assert_eq!(
            name,
            "cores/01d2/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.ksym"
        );
        assert_eq!(promised_sha256(&name), Some(&name[11..75]));
        assert_eq!(promised_sha256("boots/x.json"), None);
    }
}
