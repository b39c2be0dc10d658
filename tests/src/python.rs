//! Confluent's Python client, the real third-party client of the
//! interoperability tests: the venv `scripts/install-python.sh` makes, and
//! the scripts in `tests/python/`.

use std::path::{Path, PathBuf};

/// The venv's Python with confluent-kafka, or `None` (and a line saying
/// `test` is skipped) when there is none. Where `MESHKIT_TEST_REQUIRE_PYTHON`
/// is set (CI), a missing venv fails the test instead.
pub fn venv_python(test: &str) -> Option<PathBuf> {
    let cache = std::env::var_os("MESHKIT_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/meshkit")))?;
    let python = cache.join("venv/bin/python");
    if python.exists() {
        return Some(python);
    }
    assert!(
        std::env::var_os("MESHKIT_TEST_REQUIRE_PYTHON").is_none(),
        "{test}: no Python venv at {} although MESHKIT_TEST_REQUIRE_PYTHON is set",
        python.display()
    );
    eprintln!("skipped {test}: no Python venv (scripts/install-python.sh makes it)");
    None
}

/// Runs `tests/python/<script>` with `args`; returns its standard output.
///
/// # Panics
/// When the script cannot run or exits non-zero (with its standard error).
pub async fn run_script(python: &Path, script: &str, args: Vec<String>) -> String {
    let script_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("python").join(script);
    let output = tokio::process::Command::new(python)
        .arg(script_path)
        .args(&args)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{script} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The arguments of `data_interop.py`: `mode` (`produce` or `consume`)
/// `count` records of `topic` in `format`, through the registry at `url`.
pub fn interop_args(
    mode: &str,
    brokers: &str,
    url: &str,
    topic: &str,
    count: u32,
    format: &str,
) -> Vec<String> {
    [
        mode,
        "--brokers",
        brokers,
        "--registry",
        url,
        "--topic",
        topic,
        "--count",
        &count.to_string(),
        "--format",
        format,
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}
