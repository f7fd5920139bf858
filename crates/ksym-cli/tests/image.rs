//! The `ksym` command on kernel images: `dump --format system-map --image`
//! prints the image's own table, line for line.

use std::io::Read;
use std::path::PathBuf;
use std::process::Command;

fn data(rel: &str) -> PathBuf {
    ksym_testdata::data_dir().join(rel)
}

fn ksym(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ksym"))
        .args(args)
        .output()
        .expect("runs ksym")
}

#[test]
fn dump_system_map_of_the_debian_6_12_vmlinuz() {
    let vmlinuz = data("debian-6.12.117/vmlinuz");
    let out = ksym(&[
        "dump",
        "--format",
        "system-map",
        "--image",
        vmlinuz.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut want = Vec::new();
    xz2::read::XzDecoder::new(
        std::fs::File::open(data("debian-6.12.117/vmlinuz-kallsyms.map.xz")).unwrap(),
    )
    .read_to_end(&mut want)
    .unwrap();
    // Link-time addresses unless this machine runs that very kernel.
    if out.stdout != want {
        let running =
            String::from_utf8_lossy(&ksym(&["info", "--image", vmlinuz.to_str().unwrap()]).stdout)
                .contains("the running kernel's");
        assert!(running, "ksym dump differs from vmlinuz-kallsyms.map.xz");
    }
}

#[test]
fn image_errors_and_conflicts() {
    let ko = data("debian-6.12.117/ko/ext4.ko.xz");
    let out = ksym(&["info", "--image", ko.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a kernel image"), "{err}");
    let out = ksym(&["info", "--image", "x", "--kallsyms", "y"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}
