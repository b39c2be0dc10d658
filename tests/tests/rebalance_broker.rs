//! Exactly-once across the group's hard cases on the real broker, judged by
//! the committed-view oracle: partitions lost while a transaction is open.

use std::collections::HashMap;
use std::time::Duration;

use meshkit::{Config, ConfigBuilder};
use meshkit_tests::broker::{
    committed_offsets, create_topic, produce_ids_off_thread, test_brokers, unique_name,
};
use meshkit_tests::broker::{end_offsets, input_id};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::product::{Pause, Relay};
use meshkit_tests::run::{self, Running};
use meshkit_tests::verify::exactly_once;

struct Setup {
    brokers: String,
    input: String,
    output: String,
    app: String,
    state: tempfile::TempDir,
}

impl Setup {
    async fn new(test: &str, partitions: i32) -> Option<Self> {
        let brokers = test_brokers(test)?;
        let input = unique_name("in");
        create_topic(&brokers, &input, partitions)
            .await
            .expect("input topic");
        Some(Self {
            brokers,
            input,
            output: unique_name("out"),
            app: unique_name("app"),
            state: tempfile::tempdir().expect("temp dir"),
        })
    }

    fn config(&self, instance: &str) -> ConfigBuilder {
        Config::builder()
            .brokers(&self.brokers)
            .application_id(&self.app)
            .instance_id(instance)
            .state_dir(self.state.path().join(instance))
            .startup_timeout(Duration::from_secs(30))
            // A member that does not poll for 7 s loses its partitions; its
            // transaction outlives that, so the loss, not a timeout, ends it.
            .kafka_property("session.timeout.ms", "6000")
            .kafka_property("max.poll.interval.ms", "7000")
            .transaction_timeout(Duration::from_secs(60))
    }

    async fn produce(&self, ids: std::ops::Range<usize>) {
        produce_ids_off_thread(&self.brokers, &self.input, ids).await;
    }

    /// Waits until the group's committed offsets reach the input's ends.
    async fn until_group_at_end(&self, timeout: Duration) -> HashMap<i32, i64> {
        let ends = end_offsets(&self.brokers, &self.input).expect("end offsets");
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let committed = committed_offsets(&self.brokers, &self.app, &self.input).expect("committed");
            if ends.iter().all(|(p, end)| committed.get(p) == Some(end)) {
                return committed;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "group offsets {committed:?} did not reach {ends:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn until(what: &str, timeout: Duration, holds: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !holds() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Issue 12, finding 1. Instance `a` holds the only input partition and
/// stalls mid-transaction past `max.poll.interval.ms`: it loses the
/// partition, `b` takes it over and commits to the end. When `a` wakes, its
/// transaction cannot commit and aborts; it rejoins, `b` leaves, and `a` owns
/// the partition again. It must go on from the group's committed offset,
/// never from where its aborted transaction began (which would process and
/// commit `b`'s records a second time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_lost_its_partitions_resumes_from_the_committed_offsets() {
    let Some(s) = Setup::new(
        "a_member_that_lost_its_partitions_resumes_from_the_committed_offsets",
        1,
    )
    .await
    else {
        return;
    };
    const N: usize = 2_000;
    const MORE: usize = 500;
    s.produce(0..N).await;
    let pause = Pause::new(N / 2, Duration::from_secs(15));
    let relay = || {
        let mut relay = Relay::new(&s.input, &s.output);
        relay.pause = Some(pause.clone());
        relay
    };

    // `a` commits every 500 records, and not by time: its transaction is not
    // yet due when it wakes, so the revocation of its partition, not its own
    // commit, ends it.
    let config = s
        .config("a")
        .commit_records(MORE)
        .commit_interval(Duration::from_secs(600))
        .build()
        .expect("config");
    let mut a = run::spawn(relay(), config).expect("a");
    a.until_running(Duration::from_secs(60)).await.expect("a running");
    until("a to stall", Duration::from_secs(120), || pause.is_taken()).await;

    let mut b = run::spawn(relay(), s.config("b").build().expect("config")).expect("b");
    b.until_running(Duration::from_secs(60)).await.expect("b running");
    // `b` gets the partition once `a` is dropped from the group, and
    // commits all of it while `a` still sleeps.
    s.until_group_at_end(Duration::from_secs(60)).await;
    assert!(
        b.handle.health().records_committed > 0,
        "b took over: {:?}",
        b.handle.health()
    );

    // `a` wakes, rejoins; `b` leaves, so the partition is `a`'s again.
    until("a to rejoin", Duration::from_secs(60), || {
        let h = a.handle.health();
        h.transactions_aborted > 0 || h.last_error.is_some()
    })
    .await;
    stop(b).await;
    until("a to own the partition", Duration::from_secs(60), || {
        a.handle.health().assigned_partitions == 1
    })
    .await;
    s.produce(N..N + MORE).await;
    s.until_group_at_end(Duration::from_secs(60)).await;
    let health = a.handle.health();
    stop(a).await;

    let view = committed_view(&s.brokers, &s.output).await.expect("oracle");
    let verdict = exactly_once(&view, (0..N + MORE).map(|i| Relay::output_value(&input_id(i))));
    assert!(verdict.is_exactly_once(), "{verdict:?}; a: {health:?}");
}

async fn stop(running: Running) {
    running.stop().await.expect("join").expect("clean stop");
}
