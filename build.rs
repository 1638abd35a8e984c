//! Generates include/rtshm.h with cbindgen. (librtshm.so is linked by the Makefile: see the
//! comment at its rule.)

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("generating include/rtshm.h")
        .write_to_file(dir.join("include/rtshm.h"));
}
