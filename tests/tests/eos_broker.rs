//! Exactly-once on the real broker, judged by the committed-view oracle
//! (the raw log with the transaction markers applied), never by the broker's
//! own read_committed filtering, which this broker does not do.

use std::time::Duration;

use meshkit::{Config, Error};
use meshkit_tests::broker::{
    committed_offsets, create_topic, end_offsets, input_id, produce_ids_off_thread, test_brokers, unique_name,
};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::product::{id_number, Relay};
use meshkit_tests::run;
use meshkit_tests::verify::exactly_once;

const PARTITIONS: i32 = 4;

struct Setup {
    brokers: String,
    input: String,
    output: String,
    app: String,
    dlq: String,
    state: tempfile::TempDir,
}

async fn setup(test: &str) -> Option<Setup> {
    let brokers = test_brokers(test)?;
    let input = unique_name("in");
    create_topic(&brokers, &input, PARTITIONS)
        .await
        .expect("input topic");
    let app = unique_name("app");
    Some(Setup {
        brokers,
        output: unique_name("out"),
        dlq: format!("{app}.dlq"),
        input,
        app,
        state: tempfile::tempdir().expect("temp dir"),
    })
}

impl Setup {
    fn config(&self) -> meshkit::ConfigBuilder {
        Config::builder()
            .brokers(&self.brokers)
            .application_id(&self.app)
            .state_dir(self.state.path())
            .topic_partitions(PARTITIONS)
            .startup_timeout(Duration::from_secs(30))
            .kafka_property("session.timeout.ms", "6000")
    }

    async fn produce(&self, ids: std::ops::Range<usize>) {
        produce_ids_off_thread(&self.brokers, &self.input, ids).await;
    }

    fn relay(&self) -> Relay {
        Relay::new(&self.input, &self.output)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_records_exactly_once() {
    let Some(s) = setup("hundred_thousand_records_exactly_once").await else {
        return;
    };
    const N: usize = 100_000;
    s.produce(0..N).await;

    let mut running = run::spawn(s.relay(), s.config().build().expect("config")).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");
    running
        .until_committed(N as u64, Duration::from_secs(300))
        .await
        .expect("all committed");
    running.stop().await.expect("join").expect("clean stop");

    let view = committed_view(&s.brokers, &s.output).await.expect("oracle");
    let verdict = exactly_once(&view, (0..N).map(|i| Relay::output_value(&input_id(i))));
    assert!(verdict.is_exactly_once(), "{verdict:?}");
    assert_eq!(verdict.committed, N);

    let ends = end_offsets(&s.brokers, &s.input).expect("end offsets");
    let committed = committed_offsets(&s.brokers, &s.app, &s.input).expect("committed offsets");
    for (partition, end) in ends {
        assert_eq!(
            committed.get(&partition),
            Some(&end),
            "group offsets reach the end of partition {partition}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_records_abort_their_transaction_and_are_dead_lettered() {
    let Some(s) = setup("failing_records_abort_their_transaction_and_are_dead_lettered").await else {
        return;
    };
    let view = fail_every(&s, 20_000, 1_000, s.config()).await;
    assert!(
        !view.aborted.is_empty(),
        "the aborted transactions' outputs are in the raw log, marked aborted"
    );
    for record in &view.aborted {
        let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
        let id = value
            .strip_prefix("out:")
            .and_then(id_number)
            .expect("an output value");
        assert!(
            !id.is_multiple_of(1_000),
            "a failing record's own output never reaches the log: {value}"
        );
    }
}

/// An abort that follows its transaction's first output within moments can
/// overtake that output's registration with the coordinator, which then
/// rejects the abort as an invalid transaction state, fatally for the
/// producer (librdkafka issue 4849). Every second record fails here, and
/// transactions hold two records, so each abort comes right after a commit
/// and one output, while the coordinator may still be completing that
/// commit; the product must ride through every one of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborts_right_after_the_first_output_keep_the_product_running() {
    let Some(s) = setup("aborts_right_after_the_first_output_keep_the_product_running").await else {
        return;
    };
    fail_every(&s, 1_000, 2, s.config().commit_records(2)).await;
}

/// Relays ids 1..=`n`, of which every multiple of `every` fails: each
/// failure aborts a transaction, every other id's output is committed
/// exactly once and every failing id is dead-lettered exactly once. Returns
/// the output's committed view.
async fn fail_every(
    s: &Setup,
    n: usize,
    every: usize,
    config: meshkit::ConfigBuilder,
) -> meshkit_tests::oracle::CommittedView {
    s.produce(1..n + 1).await;
    let mut relay = s.relay();
    relay.fail_every = Some(every);
    let config = config.build().expect("config");
    let health = run::run_until_committed(relay, config, n, Duration::from_secs(300)).await;
    assert!(
        health.transactions_aborted >= (n / every) as u64,
        "each failure aborted a transaction: {health:?}"
    );

    let view = committed_view(&s.brokers, &s.output).await.expect("oracle");
    let expected = (1..=n)
        .filter(|i| i % every != 0)
        .map(|i| Relay::output_value(&input_id(i)));
    let verdict = exactly_once(&view, expected);
    assert!(verdict.is_exactly_once(), "outputs: {verdict:?}");
    let dlq = committed_view(&s.brokers, &s.dlq)
        .await
        .expect("oracle on the dead-letter topic");
    let failing = (1..=n).filter(|i| i % every == 0).map(input_id);
    let verdict = exactly_once(&dlq, failing);
    assert!(verdict.is_exactly_once(), "dead letters: {verdict:?}");
    view
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_with_the_same_identity_fences_the_first() {
    let Some(s) = setup("a_second_instance_with_the_same_identity_fences_the_first").await else {
        return;
    };
    const N: usize = 40_000;
    const FRESH: usize = 2_000;
    s.produce(0..N / 2).await;

    let config = || s.config().instance_id("same-instance").build().expect("config");
    let mut first = run::spawn(s.relay(), config()).expect("first");
    first
        .until_running(Duration::from_secs(60))
        .await
        .expect("first running");
    first
        .until_committed(1, Duration::from_secs(120))
        .await
        .expect("first is processing");

    let mut second = run::spawn(s.relay(), config()).expect("second");
    second
        .until_running(Duration::from_secs(60))
        .await
        .expect("second running");
    // A fenced producer learns it is fenced from its next transaction: the
    // first may have finished its input before the second started, so give
    // every partition (whoever holds it now) more records.
    s.produce(N / 2..N / 2 + FRESH).await;
    let result = tokio::time::timeout(Duration::from_secs(120), &mut first.task)
        .await
        .expect("the first instance stops by itself")
        .expect("join");
    match result {
        Err(err @ Error::Fenced { .. }) => {
            assert!(err.to_string().contains("same-instance"), "{err}");
            assert!(!err.is_retriable());
        }
        other => panic!("the first instance should be fenced, got {other:?}"),
    }

    s.produce(N / 2 + FRESH..N).await;
    let ends = end_offsets(&s.brokers, &s.input).expect("ends");
    wait_for_group(&s, &ends, Duration::from_secs(300)).await;
    second.stop().await.expect("join").expect("clean stop");

    let view = committed_view(&s.brokers, &s.output).await.expect("oracle");
    let verdict = exactly_once(&view, (0..N).map(|i| Relay::output_value(&input_id(i))));
    assert!(verdict.is_exactly_once(), "{verdict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_split_the_partitions_and_one_takes_over() {
    let Some(s) = setup("two_instances_split_the_partitions_and_one_takes_over").await else {
        return;
    };
    const N: usize = 40_000;
    let mut a = run::spawn(s.relay(), s.config().instance_id("a").build().expect("config")).expect("a");
    a.until_running(Duration::from_secs(60)).await.expect("a running");
    let mut b = run::spawn(s.relay(), s.config().instance_id("b").build().expect("config")).expect("b");
    b.until_running(Duration::from_secs(60)).await.expect("b running");

    // Both in the group: the partitions are split between them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (ha, hb) = (a.handle.health(), b.handle.health());
        if ha.assigned_partitions > 0 && hb.assigned_partitions > 0 {
            assert_eq!(
                ha.assigned_partitions + hb.assigned_partitions,
                PARTITIONS as usize
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no split: a {ha:?} b {hb:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Read before producing: `a` may commit all of its share while the
    // produce call waits for its acknowledgements (it did, in CI).
    let committed_a = a.handle.health().records_committed;
    s.produce(0..N / 2).await;
    a.until_committed(committed_a + 1, Duration::from_secs(120))
        .await
        .expect("a processes");

    a.stop().await.expect("join").expect("a leaves cleanly");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while b.handle.health().assigned_partitions < PARTITIONS as usize {
        assert!(
            tokio::time::Instant::now() < deadline,
            "b did not take over: {:?}",
            b.handle.health()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.produce(N / 2..N).await;
    let ends = end_offsets(&s.brokers, &s.input).expect("ends");
    wait_for_group(&s, &ends, Duration::from_secs(300)).await;
    b.stop().await.expect("join").expect("b stops cleanly");

    let view = committed_view(&s.brokers, &s.output).await.expect("oracle");
    let verdict = exactly_once(&view, (0..N).map(|i| Relay::output_value(&input_id(i))));
    assert!(verdict.is_exactly_once(), "{verdict:?}");
}

async fn wait_for_group(s: &Setup, ends: &std::collections::HashMap<i32, i64>, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let committed = committed_offsets(&s.brokers, &s.app, &s.input).expect("committed offsets");
        if ends
            .iter()
            .all(|(p, end)| committed.get(p).is_some_and(|c| c >= end))
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "group offsets {committed:?} did not reach {ends:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
