//! Compiles the deviation model the C differential test uses (tests-c/deviation.c), so that
//! the fuzzer and the test check rtshm against one model.

fn main() {
    println!("cargo:rerun-if-changed=../tests-c/deviation.c");
    println!("cargo:rerun-if-changed=../tests-c/deviation.h");
    cc::Build::new()
        .file("../tests-c/deviation.c")
        .warnings_into_errors(true)
        .compile("deviation");
}
