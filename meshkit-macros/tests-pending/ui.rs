//! The DSL's compile-time behaviour, with trybuild: every file of
//! `meshkit-macros/tests/ui/` must fail to compile with the error in its
//! `.stderr` (one mistake per file), and every file of
//! `meshkit-macros/tests/pass/` must compile and run.
//!
//! This driver needs `meshkit` (and so RocksDB), so it lives in the
//! workspace's `tests` crate, not in `meshkit-macros`; see
//! `meshkit-macros/RUNTIME_NEEDS.md` for how to wire it. The `.stderr` files
//! depend on the compiler's wording: generate them on the pinned toolchain
//! with `TRYBUILD=overwrite cargo test -p meshkit-tests --test ui`, review
//! them, and commit them.

#[test]
fn ui() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../meshkit-macros/tests");
    let cases = trybuild::TestCases::new();
    cases.compile_fail(root.join("ui/*.rs"));
    cases.pass(root.join("pass/*.rs"));
}
