//! State on the real broker: stores that commit exactly once with the
//! outputs, survive SIGKILL, rebuild from their changelog, and move between
//! instances. Judged by the committed view of the `totals` product's output:
//! each key's running counts must be 1, 2, 3… with no gap or repeat, and the
//! last sum the total computed independently from the input.

use std::time::Duration;

use meshkit::Config;
use meshkit_tests::broker::{input_key, produce_keyed, unique_name};
use meshkit_tests::crash::{kill_mid_stream, progress, run_to_end, TopUp};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::process;
use meshkit_tests::product::TotalsTopics;
use meshkit_tests::run;
use meshkit_tests::verify::totals_exact;

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
    TotalsTopics::create(test, "state", PARTITIONS, KEYS)
        .await
        .map(Setup)
}

impl Setup {
    fn config(&self, state: &std::path::Path) -> Config {
        self.config_builder(state).build().expect("config")
    }

    fn config_builder(&self, state: &std::path::Path) -> meshkit::ConfigBuilder {
        Config::builder()
            .brokers(&self.brokers)
            .application_id(&self.app)
            .state_dir(state)
            .topic_partitions(PARTITIONS)
            .kafka_property("session.timeout.ms", "6000")
    }

    fn envs(&self, state: &std::path::Path, instance: &str) -> Vec<(&'static str, String)> {
        vec![
            ("MESHKIT_BROKERS", self.brokers.clone()),
            ("MESHKIT_APPLICATION_ID", self.app.clone()),
            ("MESHKIT_INSTANCE_ID", instance.to_string()),
            ("MESHKIT_STATE_DIR", state.display().to_string()),
            ("MESHKIT_TOPIC_PARTITIONS", PARTITIONS.to_string()),
            ("MESHKIT_KAFKA_SESSION_TIMEOUT_MS", "6000".to_string()),
            ("RELAY_PRODUCT", "totals".to_string()),
            ("RELAY_INPUT", self.input.clone()),
            ("RELAY_OUTPUT", self.output.clone()),
        ]
    }

    async fn check_totals(&self, n: usize) {
        let view = committed_view(&self.brokers, &self.output).await.expect("oracle");
        let problems = totals_exact(&view, (0..n).map(|i| (input_key(i, KEYS), i)));
        assert!(problems.is_empty(), "state is not exact: {problems:#?}");
    }

    /// A state directory whose product processed inputs `0..n` and then lost
    /// its local state: the next start restores the whole changelog.
    async fn state_then_lost(&self, n: usize) -> tempfile::TempDir {
        let state = tempfile::tempdir().expect("state");
        self.run_in_process(state.path(), 0..n).await;
        std::fs::remove_dir_all(state.path().join(&self.app)).expect("delete the state directory");
        state
    }

    /// The configuration, serving the HTTP endpoint on `addr`.
    fn config_serving(&self, state: &std::path::Path, addr: std::net::SocketAddr) -> Config {
        self.config_builder(state)
            .metrics_addr(addr)
            .build()
            .expect("config")
    }

    /// Runs the product in this process over inputs `more`, then stops it cleanly.
    async fn run_in_process(&self, state: &std::path::Path, more: std::ops::Range<usize>) -> meshkit::Health {
        let mut running = run::spawn(self.totals(), self.config(state)).expect("runtime");
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stateful_product_under_sigkills_keeps_exact_totals() {
    let Some(s) = setup("stateful_product_under_sigkills_keeps_exact_totals").await else {
        return;
    };
    const N: usize = 200_000;
    // Input is topped up before each incarnation so that none can reach the
    // end however fast the machine: a kill after the last record tests no
    // crash (one CI run saw its fifth kill land at the end).
    const AHEAD: usize = 60_000;
    s.produce(0..N).await;
    let state = tempfile::tempdir().expect("state");
    let logs = tempfile::tempdir().expect("logs");
    let envs = s.envs(state.path(), "crashy");
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relay-product"));
    let group = (s.brokers.as_str(), s.app.as_str(), s.input.as_str());
    let top_up = TopUp {
        keys: KEYS,
        produced: N,
        ahead: AHEAD,
    };
    let n = kill_mid_stream(&binary, &envs, logs.path(), group, 5, top_up)
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
    s.check_totals(n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_restart_replays_nothing_and_lost_state_is_rebuilt_from_the_changelog() {
    let Some(s) = setup("clean_restart_replays_nothing_and_lost_state_is_rebuilt_from_the_changelog").await
    else {
        return;
    };
    const STEP: usize = 10_000;
    let state = tempfile::tempdir().expect("state");

    let first = s.run_in_process(state.path(), 0..STEP).await;
    assert_eq!(
        first.records_restored, 0,
        "a fresh product has nothing to restore"
    );

    let second = s.run_in_process(state.path(), STEP..2 * STEP).await;
    assert_eq!(
        second.records_restored, 0,
        "a restart after a clean stop replays nothing already checkpointed"
    );

    // Lose the local state: the changelog rebuilds it.
    std::fs::remove_dir_all(state.path().join(&s.app)).expect("delete the state directory");
    let changelog = meshkit::changelog_topic(&s.app, "totals");
    let committed_changes = committed_view(&s.brokers, &changelog)
        .await
        .expect("oracle")
        .committed
        .len() as u64;
    assert_eq!(
        committed_changes,
        2 * STEP as u64,
        "one committed changelog record per input"
    );
    let third = s.run_in_process(state.path(), 2 * STEP..3 * STEP).await;
    assert_eq!(
        third.records_restored, committed_changes,
        "the whole changelog is replayed into the empty store"
    );
    s.check_totals(3 * STEP).await;
}

/// Issue 12, finding 9. A transaction left open on a changelog partition
/// (a previous owner fenced mid-transaction, here a producer of the test's
/// own) holds read-committed readers at its first offset, though the
/// partition's owner committed more after it. A store restored from that
/// changelog must wait until the transaction ends, not stop there: the
/// restore of a fresh instance is started while the transaction is open,
/// which the test aborts two seconds after the instance got its partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_waits_for_a_transaction_left_open_on_the_changelog() {
    use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
    let Some(s) = setup("a_restore_waits_for_a_transaction_left_open_on_the_changelog").await else {
        return;
    };
    const STEP: usize = 4_000;
    let first_state = tempfile::tempdir().expect("state");
    s.run_in_process(first_state.path(), 0..STEP).await;

    let changelog = meshkit::changelog_topic(&s.app, "totals");
    let zombie: ThreadedProducer<rdkafka::producer::DefaultProducerContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &s.brokers)
        .set("transactional.id", unique_name("zombie"))
        .set("transaction.timeout.ms", "60000")
        .create()
        .expect("zombie producer");
    let zombie = std::sync::Arc::new(zombie);
    {
        let (zombie, changelog) = (zombie.clone(), changelog.clone());
        tokio::task::spawn_blocking(move || {
            zombie.init_transactions(Duration::from_secs(30))?;
            zombie.begin_transaction()?;
            for partition in 0..PARTITIONS {
                zombie
                    .send(
                        BaseRecord::<str, str>::to(&changelog)
                            .partition(partition)
                            .key("zombie")
                            .payload("left open"),
                    )
                    .map_err(|(e, _)| e)?;
            }
            zombie.flush(Duration::from_secs(30))
        })
        .await
        .expect("join")
        .expect("a transaction left open on every changelog partition");
    }
    // The owner commits more after the open transaction began.
    s.run_in_process(first_state.path(), STEP..2 * STEP).await;

    // A fresh instance restores from the changelog while it is still open.
    let second_state = tempfile::tempdir().expect("state");
    let running = run::spawn(s.totals(), s.config(second_state.path())).expect("runtime");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while running.handle.health().assigned_partitions == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no assignment");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::task::spawn_blocking(move || zombie.abort_transaction(Duration::from_secs(30)))
        .await
        .expect("join")
        .expect("abort the open transaction");
    s.produce(2 * STEP..3 * STEP).await;
    running
        .until_committed(STEP as u64, Duration::from_secs(300))
        .await
        .expect("all committed");
    running.stop().await.expect("join").expect("clean stop");
    s.check_totals(3 * STEP).await;
}

/// `/readyz` answers 503 until the group is joined and every assigned
/// partition's store is restored, then 200: polled from the start of a
/// product whose local state was deleted, so its start must restore the
/// whole changelog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_unavailable_until_lost_state_is_restored() {
    use meshkit_tests::scrape::{free_addr, http_get, Scrape};
    let Some(s) = setup("readyz_is_unavailable_until_lost_state_is_restored").await else {
        return;
    };
    const N: usize = 20_000;
    let state = s.state_then_lost(N).await;
    let addr = free_addr().expect("free port");
    let running = run::spawn(s.totals(), s.config_serving(state.path(), addr)).expect("runtime");
    let handle = running.handle.clone();
    // Polls /readyz as fast as it answers until it says ready; notes what
    // each 503 said, and the restored count the first 200 came with.
    let poll = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let (mut before_join, mut while_restoring) = (0u32, 0u32);
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "not ready after 120 s: {:?}",
                handle.health()
            );
            let Ok((code, body)) = http_get(addr, "/readyz") else {
                // The endpoint is not bound yet.
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let health: serde_json::Value = serde_json::from_str(&body).expect("health JSON");
            if code == 503 {
                // Often enough to catch a restore of a few hundred ms, without spinning.
                std::thread::sleep(Duration::from_millis(2));
            }
            match code {
                503 if health["joined"] == false => before_join += 1,
                503 if health["restoring"] == true => while_restoring += 1,
                503 => {}
                200 => {
                    assert_eq!(health["restoring"], false, "{body}");
                    assert_eq!(health["joined"], true, "{body}");
                    return (
                        before_join,
                        while_restoring,
                        health["records_restored"].as_u64(),
                        handle,
                    );
                }
                other => panic!("/readyz answered {other}: {body}"),
            }
        }
    });
    let (before_join, while_restoring, restored_when_ready, handle) = poll.await.expect("poll");
    eprintln!(
        "/readyz: {before_join} × 503 before joining, {while_restoring} × 503 while restoring, then 200"
    );
    assert!(before_join > 0, "/readyz said 503 before the group was joined");
    assert!(
        while_restoring > 0,
        "/readyz said 503 while the stores were restored"
    );
    assert_eq!(
        restored_when_ready,
        Some(N as u64),
        "ready only once the whole changelog is replayed"
    );
    assert_eq!(handle.health().records_restored, N as u64);
    let metrics = tokio::task::spawn_blocking(move || Scrape::get(addr))
        .await
        .expect("join")
        .expect("scrape");
    assert_eq!(
        metrics
            .value("meshkit_restored_records_total", &[])
            .expect("restored"),
        N as f64
    );
    assert_eq!(
        metrics.value("meshkit_restoring_partitions", &[]).expect("gauge"),
        0.0
    );
    assert_eq!(
        metrics
            .value("meshkit_restore_remaining_records", &[])
            .expect("gauge"),
        0.0
    );
    running.stop().await.expect("join").expect("clean stop");
    s.check_totals(N).await;
}

/// A restore that takes longer than `max.poll.interval.ms` runs in slices
/// between the consumer's polls, so the instance keeps its partitions.
/// Before, the restore ran in one go without polling: the member overran
/// the interval, lost its partitions as soon as it polled again, and had
/// to rejoin (the lost assignment was counted once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_longer_than_the_poll_interval_keeps_the_partitions() {
    let Some(s) = setup("a_restore_longer_than_the_poll_interval_keeps_the_partitions").await else {
        return;
    };
    const N: usize = 800_000;
    // librdkafka wants the poll interval no shorter than the session timeout.
    const POLL_INTERVAL_MS: u64 = 3_000;
    let state = s.state_then_lost(N).await;
    let config = s
        .config_builder(state.path())
        .kafka_property("max.poll.interval.ms", POLL_INTERVAL_MS.to_string())
        .kafka_property("session.timeout.ms", POLL_INTERVAL_MS.to_string())
        .kafka_property("heartbeat.interval.ms", "500")
        .build()
        .expect("config");
    let mut running = run::spawn(s.totals(), config).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let mut started = None;
    loop {
        let health = running.handle.health();
        if health.joined && health.restoring {
            started.get_or_insert_with(std::time::Instant::now);
        }
        if health.joined && !health.restoring && health.records_restored == N as u64 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline && !running.task.is_finished(),
            "not restored: {health:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let restore = started.expect("a restore was seen").elapsed();
    eprintln!("restored {N} changelog records in {restore:?} (poll interval {POLL_INTERVAL_MS} ms)");
    assert!(
        restore > Duration::from_millis(POLL_INTERVAL_MS),
        "the restore ({restore:?}) was shorter than the poll interval: nothing was tested"
    );
    s.produce(N..N + 1_000).await;
    running
        .until_committed(1_000, Duration::from_secs(120))
        .await
        .expect("inputs after the restore committed");
    let health = running.handle.health();
    assert_eq!(health.assignments_lost, 0, "{health:?}");
    running.stop().await.expect("join").expect("clean stop");
    s.check_totals(N + 1_000).await;
}

/// A service on a current-thread tokio runtime keeps answering `/healthz`
/// while its product restores lost state (blocking librdkafka and RocksDB
/// work): answers come between one partition's restore and the next, with
/// part of the changelog applied. Before the loop ran on a thread of its
/// own, the restore held the only thread and no answer came until it ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_during_a_restore_on_a_current_thread_runtime() {
    use meshkit_tests::scrape::{free_addr, http_get};
    let Some(s) = setup("healthz_answers_during_a_restore_on_a_current_thread_runtime").await else {
        return;
    };
    const N: usize = 40_000;
    let state = s.state_then_lost(N).await;
    let addr = free_addr().expect("free port");
    let (handle, thread) =
        run::spawn_on_current_thread(s.totals(), s.config_serving(state.path(), addr)).expect("runtime");
    let poll = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        let mut mid_restore = Vec::new();
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "not restored after 120 s: {:?}",
                handle.health()
            );
            let Ok((code, body)) = http_get(addr, "/healthz") else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            assert_eq!(code, 200, "{body}");
            let health: serde_json::Value = serde_json::from_str(&body).expect("health JSON");
            let restored = health["records_restored"].as_u64().expect("records_restored");
            if health["restoring"] == true && restored > 0 {
                mid_restore.push(restored);
            }
            if health["restoring"] == false && restored == N as u64 {
                return (mid_restore, handle);
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    let (mid_restore, handle) = poll.await.expect("poll");
    let distinct: std::collections::BTreeSet<u64> = mid_restore.iter().copied().collect();
    eprintln!(
        "/healthz answered {} times with part of the changelog applied (records restored: {distinct:?} of {N})",
        mid_restore.len()
    );
    assert!(
        distinct.iter().any(|&r| r < N as u64),
        "/healthz answered only after the restore: {distinct:?}"
    );
    handle.stop();
    let stopped = tokio::task::spawn_blocking(move || thread.join().expect("runtime thread"))
        .await
        .expect("join");
    stopped.expect("clean stop");
    s.check_totals(N).await;
}

/// Two instances share the input's partitions; one is SIGKILLed mid-run
/// (its transaction left open), and the survivor takes its partitions over
/// once the group evicts it: the broker aborts the dead instance's open
/// transaction, the survivor restores the moved partitions' stores from
/// their changelogs, and every key's totals stay exact on the committed view.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_survivor_restores_the_partitions_of_a_killed_instance() {
    let Some(s) = setup("a_survivor_restores_the_partitions_of_a_killed_instance").await else {
        return;
    };
    const N: usize = 60_000;
    let (state_a, state_b) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));
    let logs = tempfile::tempdir().expect("logs");
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relay-product"));
    let mut a = process::spawn(&binary, &s.envs(state_a.path(), "a"), &logs.path().join("a.log")).expect("a");
    let mut b = process::spawn(&binary, &s.envs(state_b.path(), "b"), &logs.path().join("b.log")).expect("b");
    // Let both join before the data arrives, so both hold partitions.
    tokio::time::sleep(Duration::from_secs(8)).await;
    s.produce(0..N / 2).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while progress(&s.brokers, &s.app, &s.input) < (N / 4) as i64 {
        assert!(
            std::time::Instant::now() < deadline,
            "no progress; a:\n{}\nb:\n{}",
            a.log_text(),
            b.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    a.kill9().expect("kill a");
    s.produce(N / 2..N).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while progress(&s.brokers, &s.app, &s.input) < N as i64 {
        assert!(
            std::time::Instant::now() < deadline,
            "b did not finish; b:\n{}",
            b.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = b.terminate(Duration::from_secs(60)).expect("b stops");
    assert!(status.success(), "b: {status:?}\n{}", b.log_text());
    let log_a = a.log_text();
    let log_b = b.log_text();
    // What a held when it was killed: its last assignment (it may have
    // held all partitions for a moment, before b joined).
    let held = |log: &str| {
        log.lines()
            .rev()
            .filter(|l| l.contains("partition assignment changed"))
            .find_map(|l| l.rsplit("assigned=").next()?.trim().parse::<usize>().ok())
            .unwrap_or(0)
    };
    assert!(
        held(&log_a) > 0 && held(&log_a) < PARTITIONS as usize,
        "a held some partitions, and b the others, when a was killed:\n{log_a}"
    );
    assert!(
        log_b.contains("partition restored"),
        "b restored a's partitions from their changelogs:\n{log_b}"
    );
    s.check_totals(N).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_handed_over_on_rebalance_arrive_with_exact_state() {
    let Some(s) = setup("partitions_handed_over_on_rebalance_arrive_with_exact_state").await else {
        return;
    };
    const N: usize = 40_000;
    let (state_a, state_b) = (tempfile::tempdir().expect("a"), tempfile::tempdir().expect("b"));
    let logs = tempfile::tempdir().expect("logs");
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relay-product"));
    let mut a = process::spawn(&binary, &s.envs(state_a.path(), "a"), &logs.path().join("a.log")).expect("a");
    let mut b = process::spawn(&binary, &s.envs(state_b.path(), "b"), &logs.path().join("b.log")).expect("b");
    tokio::time::sleep(Duration::from_secs(8)).await;
    s.produce(0..N / 2).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while progress(&s.brokers, &s.app, &s.input) < (N / 2) as i64 {
        assert!(
            std::time::Instant::now() < deadline,
            "no progress; a:\n{}\nb:\n{}",
            a.log_text(),
            b.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A leaves; B takes over A's partitions and must rebuild their stores.
    let status = a.terminate(Duration::from_secs(60)).expect("a stops");
    assert!(status.success(), "a: {status:?}\n{}", a.log_text());
    s.produce(N / 2..N).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while progress(&s.brokers, &s.app, &s.input) < N as i64 {
        assert!(
            std::time::Instant::now() < deadline,
            "b did not finish; b:\n{}",
            b.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = b.terminate(Duration::from_secs(60)).expect("b stops");
    assert!(status.success(), "b: {status:?}\n{}", b.log_text());
    let log_b = b.log_text();
    assert!(
        log_b.contains("partition restored"),
        "b restored a's partitions from their changelogs:\n{log_b}"
    );
    s.check_totals(N).await;
}

/// Runs `n` keyed inputs (one key each) through the totals product, stops it
/// cleanly, deletes its state directory and restarts it with no new input;
/// returns how many changelog records the restart restored and how long it
/// took, start-up and group join included.
async fn rebuild_without_new_input(s: &Setup, n: usize, wait: Duration) -> (u64, Duration) {
    let state = tempfile::tempdir().expect("state");
    {
        let (brokers, input) = (s.brokers.clone(), s.input.clone());
        tokio::task::spawn_blocking(move || produce_keyed(&brokers, &input, 0..n, n))
            .await
            .expect("join")
            .expect("inputs");
    }
    let config = s.config(state.path());
    let mut running = run::spawn(s.totals(), config.clone()).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");
    running
        .until_committed(n as u64, Duration::from_secs(1_200))
        .await
        .expect("processed");
    running.stop().await.expect("join").expect("clean stop");

    std::fs::remove_dir_all(state.path().join(&s.app)).expect("delete the state directory");
    let started = std::time::Instant::now();
    let mut running = run::spawn(s.totals(), config).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");
    let deadline = std::time::Instant::now() + wait;
    while running.handle.health().records_restored < n as u64 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    let restored = running.handle.health().records_restored;
    running.stop().await.expect("join").expect("clean stop");
    (restored, elapsed)
}

/// A partition's stores are rebuilt when it is assigned, not when its first
/// record arrives: after losing its state, a product with no new input still
/// restores every key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_state_is_rebuilt_on_assignment_without_new_input() {
    let Some(s) = setup("lost_state_is_rebuilt_on_assignment_without_new_input").await else {
        return;
    };
    let (restored, _) = rebuild_without_new_input(&s, 5_000, Duration::from_secs(60)).await;
    assert_eq!(
        restored, 5_000,
        "one changelog record per key, restored with no input arriving"
    );
}

/// The restore time for 1,000,000 keys (a measurement, not an assertion on
/// time): how long a restart with no local state takes to replay the
/// changelog, and that every key came back from the changelog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement of several minutes; run by hand"]
async fn restore_of_a_million_keys() {
    let Some(s) = setup("restore_of_a_million_keys").await else {
        return;
    };
    const N: usize = 1_000_000;
    let (restored, elapsed) = rebuild_without_new_input(&s, N, Duration::from_secs(900)).await;
    eprintln!(
        "restored {restored} changelog records ({N} keys) in {:.1} s, including start-up and the group join",
        elapsed.as_secs_f64()
    );
    assert_eq!(restored, N as u64, "every key restored");
}
