//! Sets libzk's SONAME and regenerates `include/zk.h` with cbindgen.
//!
//! The header is committed; CI rebuilds it and fails on `git diff --exit-code
//! ffi/include/zk.h`, so a change to the C surface always shows up in review.

use std::path::PathBuf;

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libzk.so.0");
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");

    let crate_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("ffi/cbindgen.toml: {e}"));
    match cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
    {
        Ok(bindings) => {
            bindings.write_to_file(crate_dir.join("include/zk.h"));
        }
        Err(e) => panic!("cbindgen could not generate zk.h: {e}"),
    }
}
