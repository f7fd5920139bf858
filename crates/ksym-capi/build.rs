//! Gives the shared library its SONAME (`libksym.so.0`) and writes
//! `ksym.pc` beside the libraries (`target/<profile>/`), pointing at them and
//! at this crate's `include/`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libksym.so.0");
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    // OUT_DIR is target/<profile>/build/ksym-capi-<hash>/out.
    let Some(libdir) = out.ancestors().nth(3) else {
        return;
    };
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let pc = format!(
        "libdir={}\nincludedir={}\n\nName: ksym\nDescription: Linux kernel symbols: addresses to names and names to addresses\nVersion: {version}\nLibs: -L${{libdir}} -lksym\nLibs.private: -lpthread -ldl -lm\nCflags: -I${{includedir}}\n",
        libdir.display(),
        crate_dir.join("include").display()
    );
    let _ = std::fs::write(libdir.join("ksym.pc"), pc);
}
