//! Links the rtshm library (librtshm.a, which make builds first) into the command, so that
//! `rtshm rm` and `rtshm gc` remove through rtshm's own shm_unlink and sem_unlink, and find
//! the directory with its rtshm_dir.

use std::path::PathBuf;

fn main() {
    // make passes the archive's directory; by hand, it is the workspace's target/release,
    // whatever the command's own profile: a debug archive (no LTO) keeps its own panic handler
    // and rust_eh_personality, which clash with std's.
    let dir = match std::env::var_os("RTSHM_LIB_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../target/release")
        }
    };
    let archive = dir.join("librtshm.a");
    println!("cargo:rerun-if-env-changed=RTSHM_LIB_DIR");
    println!("cargo:rerun-if-changed={}", archive.display());
    if !archive.exists() {
        panic!(
            "{} is missing: build the command with make (which builds the library first), or run cargo build --release at the top first",
            archive.display()
        );
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=static=rtshm");
}
