//! The DSL's compile-time behaviour, with trybuild: every file of
//! `meshkit-macros/tests/ui/` must fail to compile with the error in its
//! `.stderr` (one mistake per file), and every file of
//! `meshkit-macros/tests/pass/` must compile and run.
//!
//! The `.stderr` files hold the compiler's wording on the toolchain pinned in
//! `rust-toolchain.toml`; regenerate them after a toolchain change with
//! `TRYBUILD=overwrite cargo test --workspace --test dsl_ui`, review, commit.

use std::path::{Path, PathBuf};

/// The RocksDB library this workspace's build already compiled, if any.
///
/// trybuild builds the cases in a target directory of its own, where
/// RocksDB's C++ would be compiled again (some twenty minutes on two cores);
/// pointing its build script at the library built for the workspace's own
/// tests links that one instead.
fn built_rocksdb() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    // <target>/debug/deps/dsl_ui-… → <target>/debug/build
    let build = exe.parent()?.parent()?.join("build");
    std::fs::read_dir(build)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("librocksdb-sys-"))
        .map(|e| e.path().join("out"))
        .filter(|out| out.join("librocksdb.a").exists())
        .max_by_key(|out| {
            std::fs::metadata(out.join("librocksdb.a"))
                .and_then(|m| m.modified())
                .ok()
        })
}

#[test]
fn ui() {
    if let Some(dir) = built_rocksdb() {
        // Read by librocksdb-sys's build script in trybuild's own cargo run.
        std::env::set_var("ROCKSDB_LIB_DIR", &dir);
        std::env::set_var("ROCKSDB_STATIC", "1");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../meshkit-macros/tests");
    let cases = trybuild::TestCases::new();
    cases.compile_fail(root.join("ui/*.rs"));
    cases.pass(root.join("pass/*.rs"));
}
