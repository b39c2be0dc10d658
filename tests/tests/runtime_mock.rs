//! The runtime on the embedded local cluster (librdkafka's mock cluster).
//!
//! The mock cluster is not transactional (it shows aborted records to
//! read_committed readers and does not fence), so these tests check the
//! plumbing: routing, dead letters, policies, errors, health and metrics.
//! Exactly-once itself is tested on the real broker.

use std::collections::BTreeSet;
use std::time::Duration;

use meshkit::{dlq_headers, Config, Error, ErrorPolicy, Status};
use meshkit_tests::broker::{input_id, produce_ids, read_topic};
use meshkit_tests::product::{id_number, Relay};
use meshkit_tests::run;
use meshkit_tests::scrape::{free_addr, http_get};

const IN: &str = "mock.in";
const OUT: &str = "mock.out";

fn config(state: &tempfile::TempDir) -> meshkit::ConfigBuilder {
    Config::builder()
        .embedded_cluster()
        .state_dir(state.path())
        .commit_interval(Duration::from_millis(50))
        .topic_partitions(3)
}

/// With no brokers configured the runtime refuses to start, naming the
/// variable; before, it ran on the in-process mock cluster, silently in
/// production.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_brokers_is_an_error_naming_the_variable_unless_the_embedded_cluster_is_asked_for() {
    let state = tempfile::tempdir().expect("temp dir");
    let config = Config::builder().state_dir(state.path()).build().expect("config");
    let running = run::spawn(Relay::new(IN, OUT), config).expect("runtime");
    let stopped = tokio::time::timeout(Duration::from_secs(30), running.task)
        .await
        .expect("refused at once")
        .expect("join");
    let err = stopped.expect_err("no brokers");
    assert!(matches!(err, Error::NoBrokers), "{err:?}");
    assert!(err.to_string().contains("MESHKIT_BROKERS=embedded"), "{err}");
    assert!(!err.is_retriable());
    let from_env = Config::from_env_iter([("MESHKIT_BROKERS", "embedded")]).expect("config");
    assert!(from_env.embedded_cluster());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_record_is_relayed_once_and_counted() {
    let state = tempfile::tempdir().expect("temp dir");
    let mut running =
        run::spawn(Relay::new(IN, OUT), config(&state).build().expect("config")).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    produce_ids(&brokers, IN, 0..2_000).expect("inputs");
    running
        .until_committed(2_000, Duration::from_secs(60))
        .await
        .expect("all committed");

    let out = read_topic(&brokers, OUT, "read_committed", 2_000, Duration::from_secs(30)).expect("read");
    let values: Vec<String> = out
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    let distinct: BTreeSet<&String> = values.iter().collect();
    assert_eq!(values.len(), 2_000, "one output per input, no failure happened");
    assert_eq!(distinct.len(), 2_000, "no duplicate output");
    assert!(distinct.contains(&Relay::output_value(&input_id(1234))));

    let health = running.handle.health();
    assert_eq!(health.records_committed, 2_000);
    assert_eq!(health.transactions_aborted, 0);
    assert_eq!(health.assigned_partitions, 3);
    let metrics = running.handle.metrics().clone();
    assert_eq!(
        metrics
            .value("meshkit_records_consumed_total", &[("port", "in")])
            .unwrap_or_default() as u64,
        2_000
    );
    assert_eq!(
        metrics
            .value("meshkit_records_produced_total", &[("port", "out")])
            .unwrap_or_default() as u64,
        2_000
    );
    assert!(metrics
        .render()
        .contains("meshkit_transactions_total{outcome=\"committed\"}"));

    running.stop().await.expect("join").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_records_are_dead_lettered_with_their_reason() {
    let state = tempfile::tempdir().expect("temp dir");
    let mut relay = Relay::new(IN, OUT);
    relay.fail_every = Some(100);
    let mut running = run::spawn(relay, config(&state).build().expect("config")).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    produce_ids(&brokers, IN, 1..1_001).expect("inputs");
    running
        .until_committed(1_000, Duration::from_secs(60))
        .await
        .expect("all committed");

    let dlq = read_topic(
        &brokers,
        "tests.relay.dlq",
        "read_committed",
        10,
        Duration::from_secs(30),
    )
    .expect("read");
    let ids: BTreeSet<usize> = dlq
        .iter()
        .filter_map(|r| id_number(&String::from_utf8_lossy(r.value.as_deref().unwrap_or_default())))
        .collect();
    assert_eq!(
        ids,
        (1..=10).map(|i| i * 100).collect::<BTreeSet<_>>(),
        "exactly the chosen ids"
    );
    let first = &dlq[0];
    assert_eq!(
        first.header(dlq_headers::REASON).as_deref(),
        Some("transform-error")
    );
    assert!(first
        .header(dlq_headers::ERROR)
        .unwrap_or_default()
        .contains("is a chosen failure"));
    assert_eq!(first.header(dlq_headers::SOURCE_TOPIC).as_deref(), Some(IN));
    assert!(first
        .header(dlq_headers::SOURCE_OFFSET)
        .is_some_and(|o| o.parse::<i64>().is_ok()));
    assert_eq!(
        first.header(dlq_headers::PRODUCT).as_deref(),
        Some("tests/relay@0.1.0")
    );

    let health = running.handle.health();
    assert!(
        health.transactions_aborted >= 10,
        "each failure aborts its transaction: {health:?}"
    );
    // Metrics count what committed: each chosen id once, whatever was aborted.
    assert_eq!(
        running
            .handle
            .metrics()
            .value("meshkit_dead_letters_total", &[("reason", "transform-error")])
            .unwrap_or_default() as u64,
        10
    );
    assert_eq!(
        running
            .handle
            .metrics()
            .value("meshkit_records_consumed_total", &[("port", "in")])
            .unwrap_or_default() as u64,
        990
    );
    running.stop().await.expect("join").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_policy_stops_with_the_failing_record() {
    let state = tempfile::tempdir().expect("temp dir");
    let mut relay = Relay::new(IN, OUT);
    relay.fail_every = Some(7);
    let config = config(&state)
        .error_policy(ErrorPolicy::Stop)
        .build()
        .expect("config");
    let mut running = run::spawn(relay, config).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    produce_ids(&brokers, IN, 1..50).expect("inputs");
    let result = tokio::time::timeout(Duration::from_secs(60), &mut running.task)
        .await
        .expect("stops by itself")
        .expect("join");
    match result {
        Err(Error::Transform { topic, source, .. }) => {
            assert_eq!(topic, IN);
            assert!(source.to_string().contains("is a chosen failure"));
        }
        other => panic!("expected a transform error, got {other:?}"),
    }
    assert_eq!(running.handle.health().status, Status::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_topic_with_auto_create_off_is_refused() {
    let state = tempfile::tempdir().expect("temp dir");
    let config = config(&state).auto_create_topics(false).build().expect("config");
    let running = run::spawn(Relay::new(IN, OUT), config).expect("runtime");
    let result = tokio::time::timeout(Duration::from_secs(60), running.task)
        .await
        .expect("fails fast")
        .expect("join");
    match result {
        Err(err @ Error::UnknownTopic { .. }) => {
            let text = err.to_string();
            assert!(
                text.contains(IN) && text.contains("MESHKIT_AUTO_CREATE_TOPICS"),
                "{text}"
            );
            assert!(!err.is_retriable());
        }
        other => panic!("expected UnknownTopic, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_broker_is_a_clear_retriable_error() {
    let state = tempfile::tempdir().expect("temp dir");
    let config = config(&state)
        .brokers("127.0.0.1:1")
        .startup_timeout(Duration::from_secs(2))
        .build()
        .expect("config");
    let running = run::spawn(Relay::new(IN, OUT), config).expect("runtime");
    let result = tokio::time::timeout(Duration::from_secs(60), running.task)
        .await
        .expect("fails fast")
        .expect("join");
    match result {
        Err(err @ Error::BrokerUnreachable { .. }) => {
            let text = err.to_string();
            assert!(
                text.contains("127.0.0.1:1") && text.contains("MESHKIT_BROKERS"),
                "{text}"
            );
            assert!(err.is_retriable());
        }
        other => panic!("expected BrokerUnreachable, got {other:?}"),
    }
}

/// A product whose descriptor was put together by hand, skipping the builder's checks.
struct ReadsItsOwnOutput;

impl meshkit::DataProduct for ReadsItsOwnOutput {
    fn descriptor(&self) -> Result<meshkit::ProductDescriptor, meshkit::DescriptorError> {
        let mut d = Relay::new("a", "b").descriptor()?;
        d.outputs[0].topic = d.inputs[0].topic.clone();
        Ok(d)
    }

    async fn process(
        &mut self,
        _: &meshkit::Record<'_>,
        _: &mut meshkit::Context,
    ) -> Result<(), meshkit::TransformError> {
        Ok(())
    }
}

#[test]
fn a_product_that_reads_its_own_output_is_refused() {
    let err = meshkit::Runtime::new(ReadsItsOwnOutput, Config::default()).expect_err("refused");
    assert!(
        matches!(
            err,
            Error::Descriptor(meshkit::DescriptorError::OutputIsInput { .. })
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_serves_metrics_and_health() {
    let state = tempfile::tempdir().expect("temp dir");
    let addr = free_addr().expect("free port");
    let config = config(&state).metrics_addr(addr).build().expect("config");
    let mut running = run::spawn(Relay::new(IN, OUT), config).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    produce_ids(&brokers, IN, 0..100).expect("inputs");
    running
        .until_committed(100, Duration::from_secs(60))
        .await
        .expect("committed");

    let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, "/metrics"))
        .await
        .expect("join")
        .expect("GET /metrics");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.lines()
            .any(|l| l.starts_with("meshkit_records_consumed_total{")
                && l.contains("port=\"in\"")
                && l.ends_with(" 100")),
        "{body}"
    );
    let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, "/readyz"))
        .await
        .expect("join")
        .expect("GET /readyz");
    assert!(status == 200 && body.contains("\"running\""), "{status} {body}");
    let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, "/nope"))
        .await
        .expect("join")
        .expect("GET /nope");
    assert_eq!(status, 404, "{body}");
    running.stop().await.expect("join").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_policy_retries_retriable_failures_then_passes() {
    let state = tempfile::tempdir().expect("temp dir");
    let mut relay = Relay::new(IN, OUT);
    relay.flaky = Some((50, 2));
    let config = config(&state)
        .error_policy(ErrorPolicy::Retry { attempts: 3 })
        .build()
        .expect("config");
    let mut running = run::spawn(relay, config).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    produce_ids(&brokers, IN, 1..201).expect("inputs");
    running
        .until_committed(200, Duration::from_secs(60))
        .await
        .expect("all committed");
    let metrics = running.handle.metrics().clone();
    // Four flaky ids, each failing twice before passing: nothing dead-lettered.
    assert_eq!(
        metrics
            .value("meshkit_records_consumed_total", &[("port", "in")])
            .unwrap_or_default() as u64,
        200
    );
    assert_eq!(
        metrics
            .value("meshkit_dead_letters_total", &[("reason", "transform-error")])
            .unwrap_or_default() as u64,
        0
    );
    assert!(
        running.handle.health().transactions_aborted >= 8,
        "{:?}",
        running.handle.health()
    );
    running.stop().await.expect("join").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateful_product_keeps_running_totals_per_key() {
    use meshkit_tests::broker::{input_key, produce_keyed};
    use meshkit_tests::product::Totals;
    let state = tempfile::tempdir().expect("temp dir");
    let totals = Totals {
        input: "mock.keyed".into(),
        output: "mock.totals".into(),
    };
    let mut running = run::spawn(totals, config(&state).build().expect("config")).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    produce_keyed(&brokers, "mock.keyed", 0..1_000, 10).expect("inputs");
    running
        .until_committed(1_000, Duration::from_secs(60))
        .await
        .expect("all committed");
    let out = read_topic(
        &brokers,
        "mock.totals",
        "read_committed",
        1_000,
        Duration::from_secs(30),
    )
    .expect("read");
    assert_eq!(out.len(), 1_000);
    let mut last: std::collections::HashMap<String, (u64, u64)> = std::collections::HashMap::new();
    for record in &out {
        let key = String::from_utf8_lossy(record.key.as_deref().unwrap_or_default()).into_owned();
        let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
        let parts: Vec<u64> = value
            .split('|')
            .skip(1)
            .map(|p| p.parse().expect("a number"))
            .collect();
        let previous = last.insert(key.clone(), (parts[0], parts[1])).unwrap_or((0, 0));
        assert_eq!(
            parts[0],
            previous.0 + 1,
            "key {key}: counts run 1, 2, 3… in partition order"
        );
    }
    for k in 0..10 {
        let key = input_key(k, 10);
        let expected_sum: u64 = (0..1_000u64).filter(|i| *i as usize % 10 == k).sum();
        assert_eq!(last[&key], (100, expected_sum), "key {key}");
    }
    // Each write also went to the store's changelog.
    let changelog = read_topic(
        &brokers,
        "tests.totals-totals-changelog",
        "read_committed",
        1_000,
        Duration::from_secs(30),
    )
    .expect("changelog");
    assert_eq!(changelog.len(), 1_000);
    assert!(changelog[0].header("meshkit.source.offset").is_some());
    running.stop().await.expect("join").expect("clean stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windowed_counts_match_an_independent_computation_and_late_records_are_dead_lettered() {
    use meshkit::state::Windows;
    use meshkit_tests::product::WindowCounts;
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use std::collections::BTreeMap;

    let windows = Windows::tumbling(Duration::from_secs(10)).grace(Duration::from_secs(2));
    // Out of order by up to 9 s; every 50th record 40 s behind.
    let base = 1_700_000_000_000i64;
    let events: Vec<i64> = (0..600i64)
        .map(|i| {
            if i % 50 == 7 {
                base + i * 100 - 40_000
            } else {
                base + i * 100 - (i * 7919 % 9_000)
            }
        })
        .collect();
    let mut stream_time = i64::MIN;
    let mut want: BTreeMap<i64, u64> = BTreeMap::new();
    let mut want_late = Vec::new();
    for (i, &ts) in events.iter().enumerate() {
        stream_time = stream_time.max(ts);
        let open: Vec<_> = windows
            .windows_for(ts)
            .into_iter()
            .filter(|w| w.end + 2_000 > stream_time)
            .collect();
        if open.is_empty() {
            want_late.push(input_id(i));
        }
        for w in open {
            *want.entry(w.start).or_insert(0) += 1;
        }
    }
    assert!(want_late.len() >= 10, "the data has late records");

    let state = tempfile::tempdir().expect("temp dir");
    let product = WindowCounts {
        input: "mock.events".into(),
        output: "mock.window-counts".into(),
        windows,
    };
    // One partition: event order is produce order.
    let config = config(&state).topic_partitions(1).build().expect("config");
    let mut running = run::spawn(product, config).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    let producer: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .expect("producer");
    for (i, ts) in events.iter().enumerate() {
        let id = input_id(i);
        producer
            .send(BaseRecord::to("mock.events").key("k").payload(&id).timestamp(*ts))
            .map_err(|(e, _)| e)
            .expect("send");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
    running
        .until_committed(events.len() as u64, Duration::from_secs(60))
        .await
        .expect("all committed");

    let out = read_topic(
        &brokers,
        "mock.window-counts",
        "read_committed",
        1,
        Duration::from_secs(30),
    )
    .expect("read");
    let mut got: BTreeMap<i64, u64> = BTreeMap::new();
    for record in &out {
        let value = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
        let parts: Vec<&str> = value.split('|').collect();
        let (start, count): (i64, u64) = (parts[1].parse().expect("start"), parts[2].parse().expect("count"));
        let entry = got.entry(start).or_insert(0);
        *entry = (*entry).max(count);
    }
    assert_eq!(got, want, "per-window results");

    let dlq = read_topic(
        &brokers,
        "tests.window-counts.dlq",
        "read_committed",
        want_late.len(),
        Duration::from_secs(30),
    )
    .expect("dead letters");
    let late: Vec<String> = dlq
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(
        late, want_late,
        "exactly the late records are dead-lettered, in order"
    );
    assert_eq!(dlq[0].header(dlq_headers::REASON).as_deref(), Some("late-record"));
    running.stop().await.expect("join").expect("clean stop");
}

/// Issue 12, finding 10: two instances started on one state directory
/// would share the instance id kept there (and so the transactional id)
/// and the stores, and fence each other. The second is refused with an
/// error that says what to change; once the first stops, the directory is
/// free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_on_the_same_state_directory_is_refused() {
    let state = tempfile::tempdir().expect("temp dir");
    let mut first = run::spawn(Relay::new(IN, OUT), config(&state).build().expect("config")).expect("first");
    first
        .until_running(Duration::from_secs(30))
        .await
        .expect("first running");

    let second = run::spawn(Relay::new(IN, OUT), config(&state).build().expect("config")).expect("second");
    let result = tokio::time::timeout(Duration::from_secs(60), second.task)
        .await
        .expect("the second fails fast")
        .expect("join");
    match result {
        Err(err @ Error::StateDirInUse { .. }) => {
            let text = err.to_string();
            assert!(text.contains(&state.path().display().to_string()), "{text}");
            assert!(
                text.contains("MESHKIT_STATE_DIR") && text.contains("instance_id"),
                "{text}"
            );
            assert!(!err.is_retriable());
        }
        other => panic!("expected StateDirInUse, got {other:?}"),
    }
    assert_eq!(first.handle.health().status, Status::Running, "the first goes on");
    first.stop().await.expect("join").expect("clean stop");

    let mut third = run::spawn(Relay::new(IN, OUT), config(&state).build().expect("config")).expect("third");
    third
        .until_running(Duration::from_secs(30))
        .await
        .expect("the directory is free once the first stopped");
    third.stop().await.expect("join").expect("clean stop");
}

/// The coordinator refusing to end a transaction as an invalid state is
/// fatal for librdkafka's producer, and leaves the transaction's outcome
/// unknown to it (seen on Apache Kafka when the coordinator's broker was
/// killed during a commit). The runtime settles it with a new producer of
/// the same transactional id, reads the outcome from the group's offsets,
/// and goes on. The refusal is injected here: the mock cluster's own
/// transactions are not faithful, so only the plumbing is judged (the
/// product keeps running and every input gets its output), not
/// exactly-once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_commit_is_settled_and_the_product_goes_on() {
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    const INPUT: &str = "mock.refused.in";
    const OUTPUT: &str = "mock.refused.out";
    let mock = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    let brokers = mock.bootstrap_servers();
    // The mock has no admin API: every topic the runtime uses exists first.
    for topic in [INPUT, OUTPUT, "mock-refused.dlq", "_meshkit.catalog"] {
        mock.create_topic(topic, 3, 1).expect("topic");
    }
    let state = tempfile::tempdir().expect("temp dir");
    let config = config(&state)
        .brokers(&brokers)
        .application_id("mock-refused")
        .auto_create_topics(false)
        .build()
        .expect("config");
    let mut running = run::spawn(Relay::new(INPUT, OUTPUT), config).expect("runtime");
    running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    produce_ids(&brokers, INPUT, 0..1_000).expect("inputs");
    running
        .until_committed(1_000, Duration::from_secs(60))
        .await
        .expect("first inputs committed");
    let before = running.handle.health();

    mock.request_errors(
        RDKafkaApiKey::EndTxn,
        &[RDKafkaRespErr::RD_KAFKA_RESP_ERR_INVALID_TXN_STATE],
    );
    produce_ids(&brokers, INPUT, 1_000..2_000).expect("inputs");
    running
        .until_committed(2_000, Duration::from_secs(60))
        .await
        .expect("the product goes on after the refusal");
    let after = running.handle.health();
    assert_eq!(after.status, Status::Running, "{after:?}");
    assert!(after.last_error.is_none(), "{after:?}");
    assert!(
        after.transactions_committed > before.transactions_committed,
        "{before:?} {after:?}"
    );
    running.stop().await.expect("join").expect("clean stop");

    let out = read_topic(&brokers, OUTPUT, "read_committed", 2_000, Duration::from_secs(30)).expect("read");
    let values: BTreeSet<String> = out
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    for i in 0..2_000 {
        assert!(
            values.contains(&Relay::output_value(&input_id(i))),
            "no output for input {i}"
        );
    }
}

/// A product that publishes only from a wall-clock timer: every id is
/// published once the records stop, from every partition, though none of
/// them sees another record (the timer fires on idle partitions), and each
/// batch carries the tick it was published at as its timestamp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wall_clock_timer_fires_on_idle_partitions() {
    let state = tempfile::tempdir().expect("temp dir");
    let product = meshkit_tests::product::Batcher {
        input: IN.to_string(),
        output: OUT.to_string(),
        flush_every: Duration::from_millis(200),
    };
    let mut running = run::spawn(product, config(&state).build().expect("config")).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    meshkit_tests::broker::produce_keyed(&brokers, IN, 0..300, 30).expect("inputs");
    running
        .until_committed(300, Duration::from_secs(60))
        .await
        .expect("all committed");
    let mut ids = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut partitions = BTreeSet::new();
    while ids.len() < 300 && std::time::Instant::now() < deadline {
        let out = read_topic(&brokers, OUT, "read_committed", 1, Duration::from_secs(2)).expect("read");
        ids.clear();
        partitions.clear();
        for record in &out {
            let text = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
            ids.extend(text.split(',').map(|id| id.parse::<u64>().expect("an id")));
            partitions.insert(record.partition);
            let timestamp = record.timestamp.expect("stamped with the tick");
            assert_eq!(timestamp % 200, 0, "a tick of the timer: {timestamp}");
        }
    }
    ids.sort_unstable();
    assert_eq!(ids, (0..300).collect::<Vec<u64>>(), "every id once");
    assert_eq!(
        partitions.len(),
        3,
        "batches from every partition: {partitions:?}"
    );
    running.stop().await.expect("join").expect("clean stop");
}

/// Logs its hooks and records (`process <partition>`), with a store.
struct Hooked {
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Hooked {
    fn note(&self, what: String) {
        self.log.lock().expect("log").push(what);
    }
}

impl meshkit::DataProduct for Hooked {
    fn descriptor(&self) -> Result<meshkit::ProductDescriptor, meshkit::DescriptorError> {
        meshkit::ProductDescriptor::builder("tests", "hooked")
            .version("0.1.0")
            .owner("meshkit-tests")
            .input("in", IN)
            .output("out", OUT)
            .store("seen")
            .build()
    }

    async fn process(
        &mut self,
        record: &meshkit::Record<'_>,
        _: &mut meshkit::Context,
    ) -> Result<(), meshkit::TransformError> {
        self.note(format!("process {}", record.partition()));
        Ok(())
    }

    async fn on_assigned(
        &mut self,
        partition: i32,
        ctx: &mut meshkit::Context,
    ) -> Result<(), meshkit::TransformError> {
        ctx.store::<String, i32>("seen")?
            .put(&"assigned".into(), &partition)?;
        self.note(format!("assigned {partition}"));
        Ok(())
    }

    async fn on_revoked(&mut self, partition: i32) -> Result<(), meshkit::TransformError> {
        self.note(format!("revoked {partition}"));
        Ok(())
    }

    async fn on_stop(&mut self) -> Result<(), meshkit::TransformError> {
        self.note("stop".to_string());
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_hooks_run_once_per_task_before_its_records_and_at_stop() {
    let state = tempfile::tempdir().expect("temp dir");
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let product = Hooked { log: log.clone() };
    let mut running = run::spawn(product, config(&state).build().expect("config")).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    produce_ids(&brokers, IN, 0..90).expect("inputs");
    running
        .until_committed(90, Duration::from_secs(60))
        .await
        .expect("all committed");
    running.stop().await.expect("join").expect("clean stop");

    let log = log.lock().expect("log").clone();
    let mut assigned = BTreeSet::new();
    for (at, entry) in log.iter().enumerate() {
        let (what, partition) = entry.split_once(' ').unwrap_or((entry, ""));
        match what {
            "assigned" => assert!(assigned.insert(partition.to_string()), "assigned twice: {log:?}"),
            "process" => assert!(
                assigned.contains(partition),
                "a record of partition {partition} before its on_assigned: {log:?}"
            ),
            "revoked" => assert!(
                log[at..].iter().all(|later| !later.starts_with("process")),
                "revoked before the last record: {log:?}"
            ),
            _ => {}
        }
    }
    assert_eq!(assigned.len(), 3, "each task assigned once: {log:?}");
    let revoked: BTreeSet<String> = (log.iter())
        .filter_map(|e| e.strip_prefix("revoked ").map(str::to_string))
        .collect();
    assert_eq!(revoked, assigned, "each task revoked at stop: {log:?}");
    assert_eq!(
        log.last().map(String::as_str),
        Some("stop"),
        "on_stop last: {log:?}"
    );
    assert_eq!(log.iter().filter(|e| e.starts_with("process")).count(), 90);
}
