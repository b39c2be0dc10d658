//! What the crate's own unit tests share: the test broker's address.

/// The test broker (`MESHKIT_TEST_BROKERS`), or `None` with a line saying
/// `test` is skipped. Where `MESHKIT_TEST_REQUIRE_BROKER` is set (CI), a
/// missing broker fails the test instead.
pub(crate) fn test_brokers(test: &str) -> Option<String> {
    match std::env::var("MESHKIT_TEST_BROKERS") {
        Ok(brokers) if !brokers.trim().is_empty() => Some(brokers),
        _ if std::env::var("MESHKIT_TEST_REQUIRE_BROKER").is_ok_and(|v| !v.is_empty() && v != "0") => {
            panic!("{test} needs the test broker: MESHKIT_TEST_BROKERS is not set and MESHKIT_TEST_REQUIRE_BROKER is")
        }
        _ => {
            eprintln!("{test}: skipped: MESHKIT_TEST_BROKERS is not set (start a broker with scripts/start-broker.sh)");
            None
        }
    }
}
