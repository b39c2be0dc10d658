//! Metrics on the embedded local cluster (librdkafka's mock cluster), as a
//! Prometheus server sees them: scraped over HTTP from the runtime's
//! endpoint after known traffic, and checked with `promtool check metrics`.

use std::time::{Duration, SystemTime};

use meshkit::Config;
use meshkit_tests::broker::{produce_ids, produce_keyed};
use meshkit_tests::product::{Relay, Totals};
use meshkit_tests::run;
use meshkit_tests::scrape::{free_addr, http_get, promtool_check, Scrape};

const IN: &str = "metrics.in";
const OUT: &str = "metrics.out";

fn config(state: &tempfile::TempDir, addr: std::net::SocketAddr) -> meshkit::ConfigBuilder {
    Config::builder()
        .embedded_cluster()
        .state_dir(state.path())
        .commit_interval(Duration::from_millis(50))
        .topic_partitions(3)
        .metrics_addr(addr)
        // Lag comes from the client's statistics: often, for the test.
        .kafka_property("statistics.interval.ms", "200")
}

async fn scrape(addr: std::net::SocketAddr) -> Scrape {
    tokio::task::spawn_blocking(move || Scrape::get(addr))
        .await
        .expect("join")
        .expect("scrape")
}

/// Scrapes until `done` holds for a scrape, or fails after `timeout`.
async fn scrape_until(
    addr: std::net::SocketAddr,
    timeout: Duration,
    what: &str,
    done: impl Fn(&Scrape) -> bool,
) -> Scrape {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let scrape = scrape(addr).await;
        if done(&scrape) {
            return scrape;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} not seen after {timeout:?}:\n{}",
            scrape.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// 200 ids; every 10th fails its transform (20 dead letters, reason
/// `transform-error`), which aborts its transaction. One record per
/// transaction, so each failure aborts only itself and every count is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraped_metrics_count_exactly_the_traffic() {
    const TOTAL: u64 = 200;
    const FAILING: u64 = 20;
    let state = tempfile::tempdir().expect("temp dir");
    let addr = free_addr().expect("free port");
    let mut relay = Relay::new(IN, OUT);
    relay.fail_every = Some(10);
    let config = config(&state, addr).commit_records(1).build().expect("config");
    let mut running = run::spawn(relay, config).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    let before = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    produce_ids(&brokers, IN, 1..TOTAL as usize + 1).expect("inputs");
    running
        .until_committed(TOTAL, Duration::from_secs(60))
        .await
        .expect("all committed");

    // Lag: every assigned partition reported, all consumed.
    let s = scrape_until(addr, Duration::from_secs(20), "zero lag on 3 partitions", |s| {
        let lag = s.find("meshkit_consumer_lag_records", &[("topic", IN)]);
        lag.len() == 3 && lag.iter().all(|(_, v)| *v == 0.0)
    })
    .await;
    let health = running.handle.health();
    let port_in = [("port", "in")];
    let port_out = [("port", "out")];
    let value = |name: &str, labels: &[(&str, &str)]| s.value(name, labels).expect("one sample");

    assert_eq!(
        value("meshkit_records_consumed_total", &port_in),
        (TOTAL - FAILING) as f64
    );
    assert_eq!(
        value("meshkit_records_produced_total", &port_out),
        (TOTAL - FAILING) as f64
    );
    assert_eq!(
        value("meshkit_dead_letters_total", &[("reason", "transform-error")]),
        FAILING as f64
    );
    // Each failure aborts its own transaction once; every record then commits in one.
    assert_eq!(
        value("meshkit_transactions_total", &[("outcome", "aborted")]),
        FAILING as f64
    );
    assert_eq!(
        value("meshkit_transactions_total", &[("outcome", "committed")]),
        TOTAL as f64
    );
    assert_eq!(health.transactions_committed, TOTAL);
    assert_eq!(value("meshkit_commit_duration_seconds_count", &[]), TOTAL as f64);
    // The transform ran once per record: the failing ones failed once and
    // were dead-lettered on their second pass without running it again.
    assert_eq!(
        value("meshkit_transform_duration_seconds_count", &port_in),
        TOTAL as f64
    );
    assert_eq!(
        value(
            "meshkit_transform_duration_seconds_bucket",
            &[("port", "in"), ("le", "+Inf")]
        ),
        TOTAL as f64
    );
    assert!(value("meshkit_transform_duration_seconds_sum", &port_in) > 0.0);
    // One output per passing record, each timed from its input's timestamp.
    assert_eq!(
        value("meshkit_end_to_end_latency_seconds_count", &port_out),
        (TOTAL - FAILING) as f64
    );
    let e2e = value("meshkit_end_to_end_latency_seconds_sum", &port_out) / (TOTAL - FAILING) as f64;
    assert!((0.0..60.0).contains(&e2e), "mean end-to-end latency {e2e} s");
    // Freshness: the newest input's timestamp, set by the producer just now.
    let newest = value("meshkit_last_record_timestamp_seconds", &port_in);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!(
        newest >= before - 1.0 && newest <= now + 1.0,
        "{before} <= {newest} <= {now}"
    );
    assert_eq!(value("meshkit_assigned_partitions", &[]), 3.0);
    // The identity once, as an info series; on no other series.
    assert_eq!(
        value(
            "meshkit_product_info",
            &[("product", "relay"), ("domain", "tests"), ("version", "0.1.0")]
        ),
        1.0
    );
    assert!(s
        .samples
        .keys()
        .filter(|(name, _)| name != "meshkit_product_info")
        .all(|(_, labels)| !labels.contains_key("product")));

    let (code, _) = tokio::task::spawn_blocking(move || http_get(addr, "/readyz"))
        .await
        .expect("join")
        .expect("readyz");
    assert_eq!(code, 200, "joined, no state to restore: ready");
    running.stop().await.expect("join").expect("clean stop");
}

/// A stateful product with a dead letter, scraped after traffic: state
/// gauges are there, and the whole page passes promtool's lint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_scrape_passes_promtool_check_metrics() {
    let state = tempfile::tempdir().expect("temp dir");
    let addr = free_addr().expect("free port");
    let totals = Totals {
        input: "metrics.keyed".into(),
        output: "metrics.totals".into(),
    };
    let mut running = run::spawn(totals, config(&state, addr).build().expect("config")).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    produce_keyed(&brokers, "metrics.keyed", 0..300, 30).expect("inputs");
    // Not an id: a transform error, dead-lettered.
    {
        use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
        let producer: BaseProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .create()
            .expect("producer");
        producer
            .send(BaseRecord::to("metrics.keyed").key("k").payload("garbage"))
            .map_err(|(e, _)| e)
            .expect("send");
        producer.flush(Duration::from_secs(10)).expect("flush");
    }
    running
        .until_committed(301, Duration::from_secs(60))
        .await
        .expect("all committed");

    let s = scrape_until(addr, Duration::from_secs(20), "state and lag gauges", |s| {
        let keys: f64 = s.find("meshkit_state_keys", &[]).iter().map(|(_, v)| v).sum();
        keys > 0.0 && !s.find("meshkit_consumer_lag_records", &[]).is_empty()
    })
    .await;
    assert_eq!(
        s.value("meshkit_dead_letters_total", &[("reason", "transform-error")])
            .expect("dead letters"),
        1.0
    );
    assert_eq!(s.find("meshkit_state_bytes", &[]).len(), 3, "{}", s.text);
    assert_eq!(s.value("meshkit_restoring_partitions", &[]).expect("gauge"), 0.0);
    assert_eq!(
        s.value("meshkit_restore_remaining_records", &[]).expect("gauge"),
        0.0
    );
    for name in [
        "meshkit_transform_duration_seconds",
        "meshkit_end_to_end_latency_seconds",
        "meshkit_consumer_lag_records",
        "meshkit_state_keys",
        "meshkit_records_consumed_total",
    ] {
        assert!(s.text.contains(&format!("# HELP {name} ")), "{name}:\n{}", s.text);
    }
    match promtool_check(&s.text).expect("promtool check metrics") {
        Some(report) => eprintln!("promtool check metrics: passed {report}"),
        None => eprintln!(
            "skipped the promtool check: promtool is not installed (set MESHKIT_TEST_REQUIRE_PROMTOOL=1 to fail instead)"
        ),
    }
    running.stop().await.expect("join").expect("clean stop");
}

/// `metrics(false)`: the endpoint serves an empty page, health still counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_switched_off_record_nothing() {
    let state = tempfile::tempdir().expect("temp dir");
    let addr = free_addr().expect("free port");
    let config = config(&state, addr).metrics(false).build().expect("config");
    let mut running = run::spawn(Relay::new(IN, OUT), config).expect("runtime");
    let brokers = running
        .until_running(Duration::from_secs(30))
        .await
        .expect("running");
    produce_ids(&brokers, IN, 0..100).expect("inputs");
    running
        .until_committed(100, Duration::from_secs(60))
        .await
        .expect("all committed");
    let s = scrape(addr).await;
    assert!(s.samples.is_empty(), "{}", s.text);
    let metrics = running.handle.metrics();
    assert!(!metrics.is_enabled());
    assert_eq!(
        metrics
            .value("meshkit_records_consumed_total", &[("port", "in")])
            .unwrap_or_default() as u64,
        0
    );
    assert_eq!(
        metrics
            .value("meshkit_transactions_total", &[("outcome", "committed")])
            .unwrap_or_default() as u64,
        0
    );
    assert!(running.handle.health().transactions_committed > 0);
    running.stop().await.expect("join").expect("clean stop");
}
