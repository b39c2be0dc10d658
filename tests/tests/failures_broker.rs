//! What a failing record leaves behind, on the real broker, judged by the
//! committed-view oracle and by state restored from the changelogs.

use std::time::Duration;

use meshkit::Config;
use meshkit_tests::broker::{
    create_topic, create_topic_with, input_id, produce_ids, produce_with_keys, test_brokers, unique_name,
};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::product::{RejectedOutputs, Relay, Totals};
use meshkit_tests::run;
use meshkit_tests::verify::{exactly_once, totals_exact};

/// One partition: every record after a failure is in the failing record's
/// partition, so a write it carries along is restored, never filtered out
/// by the restore's check of its source offset.
const PARTITIONS: i32 = 1;

/// Issue 12, finding 2. Every hundredth record's transform succeeds and writes
/// its store, but one of its outputs is refused by the Kafka client: the
/// transaction aborts and the record is dead-lettered. Its store write must
/// go with it, from RocksDB and from the changelog alike. Each id is its own
/// key here, so a write left behind is never overwritten: a second instance
/// that restores the stores from the changelogs and counts every key once
/// more would count the refused records' keys twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_output_leaves_no_store_write_behind() {
    let Some(brokers) = test_brokers("a_refused_output_leaves_no_store_write_behind") else {
        return;
    };
    const N: usize = 2_000;
    // Sparse enough that the transaction after each failure commits.
    const EVERY: usize = 100;
    let (input, output, app) = (unique_name("in"), unique_name("out"), unique_name("app"));
    create_topic(&brokers, &input, PARTITIONS)
        .await
        .expect("input topic");
    let produce = |range: std::ops::Range<usize>| {
        let (brokers, input) = (brokers.clone(), input.clone());
        // Ids past N reuse the keys of ids 1..=N.
        tokio::task::spawn_blocking(move || {
            produce_with_keys(&brokers, &input, range, |i| input_id((i - 1) % N + 1))
        })
    };
    let config = |state: &tempfile::TempDir| {
        Config::builder()
            .brokers(&brokers)
            .application_id(&app)
            .state_dir(state.path())
            .topic_partitions(PARTITIONS)
            .startup_timeout(Duration::from_secs(30))
            .build()
            .expect("config")
    };
    let totals = || Totals {
        input: input.clone(),
        output: output.clone(),
    };

    produce(1..N + 1).await.expect("join").expect("inputs");
    let first_state = tempfile::tempdir().expect("temp dir");
    let product = RejectedOutputs {
        inner: totals(),
        every: EVERY,
        size: 2_000_000,
    };
    let health = run::run_until_committed(product, config(&first_state), N, Duration::from_secs(300)).await;
    assert!(
        health.transactions_aborted >= (N / EVERY) as u64,
        "each refused output aborted a transaction: {health:?}"
    );

    // A fresh state directory: the second instance restores the stores
    // from their changelogs, then counts every key once more.
    produce(N + 1..2 * N + 1).await.expect("join").expect("inputs");
    let second_state = tempfile::tempdir().expect("temp dir");
    let health = run::run_until_committed(totals(), config(&second_state), N, Duration::from_secs(300)).await;
    assert!(health.records_restored > 0, "the second restored: {health:?}");

    let view = committed_view(&brokers, &output).await.expect("oracle");
    let first_run = (1..=N).filter(|i| i % EVERY != 0).map(|i| (input_id(i), i));
    let second_run = (N + 1..=2 * N).map(|i| (input_id(i - N), i));
    let problems = totals_exact(&view, first_run.chain(second_run));
    assert!(problems.is_empty(), "state and outputs disagree: {problems:#?}");
}

/// Issue 12, finding 3. The broker refuses an output of every 1,000th record
/// (above the output topic's `max.message.bytes`, below the client's
/// limit): the refusal comes late, in a delivery report, and fails the whole
/// batch it was in; meanwhile the transaction needs an abort and every
/// output sent in it fails with a state error. Neither may be blamed on the
/// record being processed: only the refused record is dead-lettered, found
/// by replaying its transaction one record at a time; every other record's
/// output is committed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_delivery_dead_letters_its_own_record_only() {
    let Some(brokers) = test_brokers("a_refused_delivery_dead_letters_its_own_record_only") else {
        return;
    };
    const N: usize = 2_000;
    const EVERY: usize = 1_000;
    let (input, output, app) = (unique_name("in"), unique_name("out"), unique_name("app"));
    create_topic(&brokers, &input, 4).await.expect("input topic");
    create_topic_with(&brokers, &output, 4, 1, &[("max.message.bytes", "100000")])
        .await
        .expect("output topic");
    {
        let (brokers, input) = (brokers.clone(), input.clone());
        tokio::task::spawn_blocking(move || produce_ids(&brokers, &input, 1..N + 1))
            .await
            .expect("join")
            .expect("inputs");
    }
    let state = tempfile::tempdir().expect("temp dir");
    let config = Config::builder()
        .brokers(&brokers)
        .application_id(&app)
        .state_dir(state.path())
        .topic_partitions(4)
        .startup_timeout(Duration::from_secs(30))
        // Batches of good outputs stay under the topic's limit.
        .kafka_property("batch.size", "50000")
        .build()
        .expect("config");
    let product = RejectedOutputs {
        inner: Relay::new(&input, &output),
        every: EVERY,
        size: 200_000,
    };
    run::run_until_committed(product, config, N, Duration::from_secs(300)).await;

    let view = committed_view(&brokers, &output).await.expect("oracle");
    let expected = (1..=N)
        .filter(|i| i % EVERY != 0)
        .map(|i| Relay::output_value(&input_id(i)));
    let verdict = exactly_once(&view, expected);
    assert!(verdict.is_exactly_once(), "outputs: {verdict:?}");
    let dlq = committed_view(&brokers, &format!("{app}.dlq"))
        .await
        .expect("oracle on the dead-letter topic");
    let refused = (1..=N).filter(|i| i % EVERY == 0).map(input_id);
    let verdict = exactly_once(&dlq, refused);
    assert!(verdict.is_exactly_once(), "dead letters: {verdict:?}");
}
