//! Spans on the embedded local cluster, as a subscriber sees them.
//!
//! Alone in its test binary on purpose: tracing caches each callsite's
//! interest process-wide, and another test's thread that meets a callsite
//! first, with no subscriber, can leave it disabled for this test's
//! thread-scoped subscriber (seen: no transaction span at all when this test
//! ran beside the metrics tests in one binary).

use std::time::Duration;

use meshkit::Config;
use meshkit_tests::broker::produce_ids;
use meshkit_tests::product::Relay;
use meshkit_tests::run;

/// A log a test's subscriber writes to.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Spans as a subscriber sees them: one per transaction, closed with its
/// record count and outcome, and one per sampled record. The subscriber is
/// this test thread's default only (a current-thread runtime), as the
/// library installs none.
#[tokio::test(flavor = "current_thread")]
async fn spans_cover_transactions_and_one_record_in_n() {
    use tracing_subscriber::fmt::format::FmtSpan;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .finish();
    let _default = tracing::subscriber::set_default(subscriber);

    let state = tempfile::tempdir().expect("temp dir");
    let mut relay = Relay::new("spans.in", "spans.out");
    relay.fail_every = Some(10);
    let config = Config::builder()
        .embedded_cluster()
        .state_dir(state.path())
        .commit_interval(Duration::from_millis(50))
        .topic_partitions(3)
        .commit_records(1)
        .trace_sample_every(10)
        .build()
        .expect("config");
    let mut running = run::spawn(relay, config).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    produce_ids(&brokers, "spans.in", 1..101).expect("inputs");
    running
        .until_committed(100, Duration::from_secs(60))
        .await
        .expect("all committed");
    running.stop().await.expect("join").expect("clean stop");

    let text = String::from_utf8_lossy(&captured.0.lock().expect("log")).into_owned();
    let closed: Vec<&str> = text.lines().filter(|l| l.contains(" close ")).collect();
    let transactions = |fields: &str| {
        closed
            .iter()
            .filter(|l| !l.contains("record{") && l.contains(&format!("transaction{{{fields}}}")))
            .count()
    };
    // 90 passing records and 10 dead letters, one per transaction; each
    // failure first aborted its own, with no record done in it.
    assert_eq!(transactions("records=1 outcome=\"committed\""), 100, "{text}");
    assert_eq!(transactions("records=0 outcome=\"aborted\""), 10, "{text}");
    // 110 records handled (the 10 failing ones twice): one span in 10.
    let records = closed.iter().filter(|l| l.contains("record{port=\"in\"")).count();
    assert_eq!(records, 11, "{text}");
}
