//! The committed prost code must be what prost-build makes of the committed
//! proto file today (where `protoc` is installed to check it).

use std::path::Path;

#[test]
fn generated_code_is_current() {
    let protoc = std::env::var_os("PROTOC")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join("protoc"))
                    .find(|p| p.is_file())
            })
        });
    let Some(protoc) = protoc else {
        eprintln!("skipped: no protoc (apt-get install protobuf-compiler) to regenerate with");
        return;
    };
    std::env::set_var("PROTOC", protoc);
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("ksym-pprof-gen-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    prost_build::Config::new()
        .out_dir(&out)
        .compile_protos(
            &[crate_dir.join("proto/profile.proto")],
            &[crate_dir.join("proto")],
        )
        .expect("protoc runs");
    let fresh = std::fs::read_to_string(out.join("perftools.profiles.rs")).unwrap();
    let committed =
        std::fs::read_to_string(crate_dir.join("src/generated/perftools.profiles.rs")).unwrap();
    let _ = std::fs::remove_dir_all(&out);
    assert!(
        fresh == committed,
        "src/generated/perftools.profiles.rs is stale: copy the output of prost-build over it"
    );
}
