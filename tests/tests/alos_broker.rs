//! At-least-once (`Guarantee::AtLeastOnce`) on the real broker, judged by the
//! committed-view oracle: no transaction is written, every input's output is
//! there at least once, the group's offsets reach the end of the input, and
//! the stores stay exact, after a clean run, a restart, failing records and
//! SIGKILLs.

use std::time::Duration;

use meshkit::{Config, Guarantee};
use meshkit_tests::broker::{committed_offsets, end_offsets, input_id, input_key, produce_ids_off_thread};
use meshkit_tests::crash::{kill_mid_stream, run_to_end, TopUp};
use meshkit_tests::oracle::{committed_view, CommittedView};
use meshkit_tests::product::{Relay, TotalsTopics};
use meshkit_tests::run;
use meshkit_tests::verify::{exactly_once, totals_at_least_once, totals_exact};

const PARTITIONS: i32 = 4;
const KEYS: usize = 500;

/// The test's topics and group (the shared setup), with its own settings.
struct Setup(TotalsTopics);

impl std::ops::Deref for Setup {
    type Target = TotalsTopics;
    fn deref(&self) -> &TotalsTopics {
        &self.0
    }
}

async fn setup(test: &str) -> Option<Setup> {
    TotalsTopics::create(test, "alos", PARTITIONS, KEYS)
        .await
        .map(Setup)
}

impl Setup {
    fn config(&self, state: &std::path::Path) -> meshkit::ConfigBuilder {
        Config::builder()
            .brokers(&self.brokers)
            .application_id(&self.app)
            .state_dir(state)
            .topic_partitions(PARTITIONS)
            .guarantee(Guarantee::AtLeastOnce)
            .kafka_property("session.timeout.ms", "6000")
    }

    /// Runs `totals` in this process over inputs `more`, then stops it cleanly.
    async fn run_totals(&self, state: &std::path::Path, more: std::ops::Range<usize>) -> meshkit::Health {
        let mut running =
            run::spawn(self.totals(), self.config(state).build().expect("config")).expect("runtime");
        running
            .until_running(Duration::from_secs(60))
            .await
            .expect("running");
        let n = more.len() as u64;
        self.produce(more).await;
        running
            .until_committed(n, Duration::from_secs(300))
            .await
            .expect("all committed");
        let health = running.handle.health();
        running.stop().await.expect("join").expect("clean stop");
        health
    }

    /// The group's committed offsets are the input's ends, partition by partition.
    fn assert_offsets_at_the_end(&self) {
        let ends = end_offsets(&self.brokers, &self.input).expect("end offsets");
        let committed = committed_offsets(&self.brokers, &self.app, &self.input).expect("committed offsets");
        for (partition, end) in ends {
            assert_eq!(
                committed.get(&partition),
                Some(&end),
                "group offsets reach the end of partition {partition}"
            );
        }
    }
}

/// No record of `view` was written in a transaction, and each came from an
/// idempotent producer (one with a producer id).
#[track_caller]
fn assert_idempotent_without_transactions(topic: &str, view: &CommittedView) {
    assert!(!view.committed.is_empty(), "{topic} is empty");
    assert!(
        view.aborted.is_empty() && view.pending.is_empty(),
        "{topic}: no transaction at least once"
    );
    for record in &view.committed {
        assert!(
            !record.transactional && record.producer_id >= 0,
            "{topic}: a record of a transactional or non-idempotent producer at {}@{}: pid {}",
            record.partition,
            record.offset,
            record.producer_id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateful_product_at_least_once_has_exact_totals_after_clean_runs() {
    let Some(s) = setup("a_stateful_product_at_least_once_has_exact_totals_after_clean_runs").await else {
        return;
    };
    const STEP: usize = 20_000;
    let state = tempfile::tempdir().expect("state");

    let first = s.run_totals(state.path(), 0..STEP).await;
    assert_eq!(first.guarantee, Guarantee::AtLeastOnce, "{first:?}");
    assert!(first.transactions_committed > 0, "{first:?}");
    assert_eq!(
        first.transactions_aborted, 0,
        "a clean run gives no batch up: {first:?}"
    );
    s.assert_offsets_at_the_end();

    // A restart goes on from the committed offsets and the checkpointed
    // stores: nothing replayed, nothing counted twice.
    let second = s.run_totals(state.path(), STEP..2 * STEP).await;
    assert_eq!(second.records_restored, 0, "{second:?}");
    s.assert_offsets_at_the_end();

    let view = committed_view(&s.brokers, &s.output).await.expect("oracle");
    assert_idempotent_without_transactions(&s.output, &view);
    let changelog = meshkit::changelog_topic(&s.app, "totals");
    let changes = committed_view(&s.brokers, &changelog).await.expect("oracle");
    assert_idempotent_without_transactions(&changelog, &changes);
    // Clean runs give no batch up, so even at least once nothing repeats.
    let problems = totals_exact(&view, (0..2 * STEP).map(|i| (input_key(i, KEYS), i)));
    assert!(problems.is_empty(), "totals: {problems:#?}");
}

/// Failing records give their batch up (its outputs stay written, its
/// records are processed again) and are dead-lettered: every other id's
/// output is there at least once, a failing id's never, and every failing
/// id is dead-lettered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_records_are_dead_lettered_and_every_other_output_is_written_at_least_once() {
    let Some(s) =
        setup("failing_records_are_dead_lettered_and_every_other_output_is_written_at_least_once").await
    else {
        return;
    };
    const N: usize = 20_000;
    const EVERY: usize = 1_000;
    produce_ids_off_thread(&s.brokers, &s.input, 1..N + 1).await;
    let state = tempfile::tempdir().expect("state");
    let mut relay = Relay::new(&s.input, &s.output);
    relay.fail_every = Some(EVERY);
    let health = run::run_until_committed(
        relay,
        s.config(state.path()).build().expect("config"),
        N,
        Duration::from_secs(300),
    )
    .await;
    assert!(
        health.transactions_aborted >= (N / EVERY) as u64,
        "each failure gave its batch up: {health:?}"
    );
    s.assert_offsets_at_the_end();

    let view = committed_view(&s.brokers, &s.output).await.expect("oracle");
    assert_idempotent_without_transactions(&s.output, &view);
    let expected = (1..=N)
        .filter(|i| i % EVERY != 0)
        .map(|i| Relay::output_value(&input_id(i)));
    let verdict = exactly_once(&view, expected);
    assert!(
        verdict.missing_count == 0 && verdict.unexpected.is_empty(),
        "every output at least once, no failing record's: {verdict:?}"
    );
    eprintln!(
        "{} outputs, {} of them written more than once",
        verdict.committed, verdict.duplicate_count
    );
    let dlq = committed_view(&s.brokers, &format!("{}.dlq", s.app))
        .await
        .expect("oracle on the dead-letter topic");
    let verdict = exactly_once(&dlq, (1..=N).filter(|i| i % EVERY == 0).map(input_id));
    assert!(
        verdict.missing_count == 0 && verdict.unexpected.is_empty(),
        "every failing record dead-lettered: {verdict:?}"
    );
}

/// A rebalance commits the open batch in the revocation callback (flush,
/// then a synchronous offset commit): when one of two instances leaves, the
/// other goes on from its offsets, and every output is there at least once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_hand_partitions_over_at_least_once() {
    let Some(s) = setup("two_instances_hand_partitions_over_at_least_once").await else {
        return;
    };
    const N: usize = 40_000;
    let (state_a, state_b) = (
        tempfile::tempdir().expect("state"),
        tempfile::tempdir().expect("state"),
    );
    let relay = || Relay::new(&s.input, &s.output);
    let config =
        |state: &tempfile::TempDir, id: &str| s.config(state.path()).instance_id(id).build().expect("config");
    let mut a = run::spawn(relay(), config(&state_a, "a")).expect("a");
    a.until_running(Duration::from_secs(60)).await.expect("a running");
    let mut b = run::spawn(relay(), config(&state_b, "b")).expect("b");
    b.until_running(Duration::from_secs(60)).await.expect("b running");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while a.handle.health().assigned_partitions == 0 || b.handle.health().assigned_partitions == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no split");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Input while both run, so that `a` leaves with a batch in flight.
    let produce = tokio::spawn({
        let (brokers, input) = (s.brokers.clone(), s.input.clone());
        async move { produce_ids_off_thread(&brokers, &input, 0..N).await }
    });
    a.until_committed(1, Duration::from_secs(120))
        .await
        .expect("a processes");
    a.stop().await.expect("join").expect("a leaves cleanly");
    produce.await.expect("inputs");
    let ends = end_offsets(&s.brokers, &s.input).expect("ends");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    loop {
        let committed = committed_offsets(&s.brokers, &s.app, &s.input).expect("committed offsets");
        if ends.iter().all(|(p, end)| committed.get(p) == Some(end)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{committed:?} short of {ends:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    b.stop().await.expect("join").expect("b stops cleanly");

    let view = committed_view(&s.brokers, &s.output).await.expect("oracle");
    assert_idempotent_without_transactions(&s.output, &view);
    let verdict = exactly_once(&view, (0..N).map(|i| Relay::output_value(&input_id(i))));
    assert!(
        verdict.missing_count == 0 && verdict.unexpected.is_empty(),
        "every output at least once: {verdict:?}"
    );
    eprintln!(
        "{} outputs for {N} inputs, {} written more than once",
        verdict.committed, verdict.duplicate_count
    );
}

/// SIGKILLs at random points: the records since the last commit are
/// processed again, so outputs may repeat, but none is missing, and the
/// stores (restored from changelogs that hold the killed batches' writes
/// too) count every input once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateful_product_killed_at_random_points_loses_no_input() {
    let Some(s) = setup("a_stateful_product_killed_at_random_points_loses_no_input").await else {
        return;
    };
    // Inputs to start with; more are added before an incarnation starts
    // whenever fewer than `AHEAD` are left, so that every kill lands before
    // the end however fast the machine (without transactions, one
    // incarnation got through 45,000 records before its kill).
    const N: usize = 100_000;
    const AHEAD: usize = 60_000;
    s.produce(0..N).await;
    let state = tempfile::tempdir().expect("state");
    let logs = tempfile::tempdir().expect("logs");
    let envs = vec![
        ("MESHKIT_BROKERS", s.brokers.clone()),
        ("MESHKIT_APPLICATION_ID", s.app.clone()),
        ("MESHKIT_INSTANCE_ID", "crashy".to_string()),
        ("MESHKIT_STATE_DIR", state.path().display().to_string()),
        ("MESHKIT_TOPIC_PARTITIONS", PARTITIONS.to_string()),
        ("MESHKIT_KAFKA_SESSION_TIMEOUT_MS", "6000".to_string()),
        ("MESHKIT_PROCESSING_GUARANTEE", "at_least_once".to_string()),
        ("RELAY_PRODUCT", "totals".to_string()),
        ("RELAY_INPUT", s.input.clone()),
        ("RELAY_OUTPUT", s.output.clone()),
    ];
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relay-product"));
    let group = (s.brokers.as_str(), s.app.as_str(), s.input.as_str());
    let top_up = TopUp {
        keys: KEYS,
        produced: N,
        ahead: AHEAD,
    };
    let n = kill_mid_stream(&binary, &envs, logs.path(), group, 4, top_up)
        .await
        .expect("kills");
    let total = n as i64;
    let mut last = run_to_end(
        &binary,
        &envs,
        &logs.path().join("final.log"),
        group,
        total,
        Duration::from_secs(600),
    )
    .await
    .expect("final run");
    let status = last.terminate(Duration::from_secs(60)).expect("stops");
    assert!(
        status.success(),
        "clean stop: {status:?}; log:\n{}",
        last.log_text()
    );
    assert!(
        last.log_text().contains("at_least_once"),
        "the product says it runs at least once; log:\n{}",
        last.log_text()
    );
    s.assert_offsets_at_the_end();

    let view = committed_view(&s.brokers, &s.output).await.expect("oracle");
    assert_idempotent_without_transactions(&s.output, &view);
    let (problems, duplicates) = totals_at_least_once(&view, (0..n).map(|i| (input_key(i, KEYS), i)));
    assert!(problems.is_empty(), "not at least once: {problems:#?}");
    eprintln!(
        "{} outputs for {n} inputs: {duplicates} written again after a kill",
        view.committed.len()
    );
}
