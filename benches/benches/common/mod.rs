//! What the broker benchmarks share (a module of each, not a bench target:
//! cargo discovers only `benches/*.rs` and `benches/*/main.rs`).

/// The test broker's address, or `None` after saying that `bench` is
/// skipped because `MESHKIT_TEST_BROKERS` is not set.
pub(crate) fn brokers(bench: &str) -> Option<String> {
    match std::env::var("MESHKIT_TEST_BROKERS") {
        Ok(b) if !b.is_empty() => Some(b),
        _ => {
            eprintln!("{bench} skipped: MESHKIT_TEST_BROKERS is not set (scripts/start-broker.sh)");
            None
        }
    }
}

/// Setting `name` from the environment, or `default` when unset or unreadable.
pub(crate) fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median of `values` (the upper one of an even count); sorts them.
pub(crate) fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
