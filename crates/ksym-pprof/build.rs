//! Generates the Rust types of `proto/profile.proto` with prost-build, which
//! runs `protoc` (from `PROTOC`, else `PATH`).

use std::process::ExitCode;

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed=proto/profile.proto");
    println!("cargo:rerun-if-env-changed=PROTOC");
    match prost_build::Config::new().compile_protos(&["proto/profile.proto"], &["proto"]) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: ksym-pprof generates its pprof types from proto/profile.proto with \
                 protoc, and that failed: {e}\n\
                 Install protoc (Debian/Ubuntu: `apt-get install protobuf-compiler`, which \
                 .ci/install-deps does) or point the PROTOC environment variable at a protoc \
                 binary. To build the ksym command without pprof support instead: \
                 `cargo build -p ksym-cli --no-default-features`."
            );
            ExitCode::FAILURE
        }
    }
}
