//! Tasks on the real broker: a stateful product's inputs are co-partitioned
//! into its stores (partition n of every input, store partition n and its
//! changelog partition n are one task, owned by one instance). Inputs of
//! unequal widths and assignors that can split a task are refused at start;
//! two instances sharing two inputs keep every key's totals exact, judged
//! on the committed view.

use std::time::Duration;

use meshkit::{Config, ConfigError, Error};
use meshkit_tests::broker::{create_topic, input_key, produce_keyed, test_brokers, unique_name};
use meshkit_tests::crash::progress;
use meshkit_tests::oracle::committed_view;
use meshkit_tests::product::CoTotals;
use meshkit_tests::run;
use meshkit_tests::verify::totals_exact;

const KEYS: usize = 200;

struct Setup {
    brokers: String,
    product: CoTotals,
    app: String,
    state: tempfile::TempDir,
}

async fn setup(test: &str, widths: [i32; 2]) -> Option<Setup> {
    let brokers = test_brokers(test)?;
    let inputs = [unique_name("tasks-left"), unique_name("tasks-right")];
    for (topic, width) in inputs.iter().zip(widths) {
        create_topic(&brokers, topic, width).await.expect("input topic");
    }
    Some(Setup {
        brokers,
        product: CoTotals {
            inputs,
            output: unique_name("tasks-out"),
        },
        app: unique_name("tasks-app"),
        state: tempfile::tempdir().expect("state"),
    })
}

impl Setup {
    fn config(&self, instance: &str) -> meshkit::ConfigBuilder {
        Config::builder()
            .brokers(&self.brokers)
            .application_id(&self.app)
            .instance_id(instance)
            .state_dir(self.state.path().join(instance))
            .topic_partitions(4)
            .kafka_property("session.timeout.ms", "6000")
    }

    async fn produce(&self, input: usize, ids: std::ops::Range<usize>) {
        let (brokers, topic) = (self.brokers.clone(), self.product.inputs[input].clone());
        tokio::task::spawn_blocking(move || produce_keyed(&brokers, &topic, ids, KEYS))
            .await
            .expect("join")
            .expect("inputs");
    }

    /// Input offsets the group has committed, over both inputs.
    async fn committed(&self) -> i64 {
        let (brokers, app, inputs) = (
            self.brokers.clone(),
            self.app.clone(),
            self.product.inputs.clone(),
        );
        tokio::task::spawn_blocking(move || inputs.iter().map(|topic| progress(&brokers, &app, topic)).sum())
            .await
            .expect("join")
    }
}

/// Before: the product started, with a changelog as wide as the widest
/// input, and partition 1 of the narrow input shared store partition 1 with
/// whichever member got partition 1 of the wide one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_of_unequal_widths_are_refused_at_start() {
    let Some(s) = setup("inputs_of_unequal_widths_are_refused_at_start", [4, 2]).await else {
        return;
    };
    let running = run::spawn(s.product.clone(), s.config("a").build().expect("config")).expect("runtime");
    let stopped = tokio::time::timeout(Duration::from_secs(60), running.task)
        .await
        .expect("refused at start, not running")
        .expect("join");
    match stopped {
        Err(Error::InputsNotCoPartitioned { counts }) => {
            let widths: Vec<i32> = counts.iter().map(|(_, n)| *n).collect();
            assert_eq!(widths, [4, 2], "{counts:?}");
            assert_eq!(counts[0].0, s.product.inputs[0]);
        }
        other => panic!("expected InputsNotCoPartitioned, got {other:?}"),
    }
}

/// Before: `roundrobin` was passed to the consumer, which can hand partition
/// n of one input to one member and partition n of the other to another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignor_that_can_split_a_task_is_refused_at_start() {
    let Some(s) = setup("an_assignor_that_can_split_a_task_is_refused_at_start", [4, 4]).await else {
        return;
    };
    let config = s
        .config("a")
        .kafka_property("partition.assignment.strategy", "roundrobin")
        .build()
        .expect("config");
    let running = run::spawn(s.product.clone(), config).expect("runtime");
    let stopped = tokio::time::timeout(Duration::from_secs(60), running.task)
        .await
        .expect("refused at start, not running")
        .expect("join");
    match stopped {
        Err(Error::Config(ConfigError::InvalidKafkaProperty { property, value, .. })) => {
            assert_eq!(property, "partition.assignment.strategy");
            assert_eq!(value, "roundrobin");
        }
        other => panic!("expected the assignor refused, got {other:?}"),
    }
}

/// Two instances share two co-partitioned inputs (a key's records in both go
/// to the same partition number); the second joins mid-run, so tasks move.
/// Every key's running totals over both inputs stay exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_keep_each_task_whole_and_totals_exact() {
    const N: usize = 20_000;
    let Some(s) = setup("two_instances_keep_each_task_whole_and_totals_exact", [4, 4]).await else {
        return;
    };
    let mut a = run::spawn(s.product.clone(), s.config("a").build().expect("config")).expect("a");
    a.until_running(Duration::from_secs(60)).await.expect("a running");
    s.produce(0, 0..N / 4).await;
    s.produce(1, N / 4..N / 2).await;
    a.until_committed((N / 2) as u64, Duration::from_secs(120))
        .await
        .expect("a committed the first half");
    let mut b = run::spawn(s.product.clone(), s.config("b").build().expect("config")).expect("b");
    b.until_running(Duration::from_secs(60)).await.expect("b running");
    // Running is not joined: the second half must come after the rebalance
    // (a fast `a` took all of it before `b` had joined, in CI).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while a.handle.health().assigned_partitions == 0 || b.handle.health().assigned_partitions == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no split: a {:?}, b {:?}",
            a.handle.health(),
            b.handle.health()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.produce(0, N / 2..3 * N / 4).await;
    s.produce(1, 3 * N / 4..N).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while s.committed().await < N as i64 {
        assert!(
            std::time::Instant::now() < deadline,
            "not all committed: a {:?}, b {:?}",
            a.handle.health(),
            b.handle.health()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (ha, hb) = (a.handle.health(), b.handle.health());
    assert!(
        ha.assigned_partitions > 0 && hb.assigned_partitions > 0,
        "both instances own tasks: {ha:?} {hb:?}"
    );
    // Whole tasks: each owns both inputs' partitions of its numbers.
    assert_eq!(ha.assigned_partitions % 2, 0, "{ha:?}");
    assert_eq!(hb.assigned_partitions % 2, 0, "{hb:?}");
    a.stop().await.expect("join").expect("a clean stop");
    b.stop().await.expect("join").expect("b clean stop");

    let view = committed_view(&s.brokers, &s.product.output)
        .await
        .expect("oracle");
    let problems = totals_exact(&view, (0..N).map(|i| (input_key(i, KEYS), i)));
    assert!(problems.is_empty(), "state is not exact: {problems:#?}");
}
