//! Faults of the broker itself, on brokers of the tests' own (started by
//! `scripts/start-broker.sh`, so that crashing them disturbs no other test):
//! the single broker SIGKILLed and restarted mid-run; the leader of the
//! input, output and changelog partitions SIGKILLed on a three-node cluster;
//! the broker away for longer than the transaction timeout. Each run is
//! judged on the committed view of the `totals` product's output (every
//! input exactly once, each key's running totals exact) and on what the
//! product's own health said during the outage and after it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use meshkit::{Config, Health, Status};
use meshkit_tests::broker::{create_replicated_topic, input_key, produce_keyed, test_brokers, unique_name};
use meshkit_tests::cluster::OwnBroker;
use meshkit_tests::oracle::committed_view;
use meshkit_tests::product::Totals;
use meshkit_tests::run::{self, Running};
use meshkit_tests::verify::{ids_without_output, input_ranges, log_shape, totals_exact};

const PARTITIONS: i32 = 4;
const KEYS: usize = 300;

/// One fault test at a time: each starts brokers of its own (up to three
/// JVMs), and two at once on a 2-core machine starve each other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Run {
    broker: OwnBroker,
    input: String,
    output: String,
    app: String,
    state: tempfile::TempDir,
    /// Last, so that the broker has stopped before the next test starts.
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Run {
    /// A broker of `nodes` nodes with an input topic replicated on all of them.
    async fn start(test: &str, nodes: usize) -> Option<Self> {
        // Skipped (or failed, in CI) like every broker test without a broker:
        // the scripts need the installed broker that comes with one.
        test_brokers(test)?;
        let serial = SERIAL.lock().await;
        let broker = OwnBroker::start(test, nodes).await.expect("own broker");
        let input = unique_name("faults-in");
        create_replicated_topic(&broker.brokers, &input, PARTITIONS, nodes as i32)
            .await
            .expect("input topic");
        Some(Self {
            broker,
            input,
            output: unique_name("faults-out"),
            app: unique_name("faults-app"),
            state: tempfile::tempdir().expect("state dir"),
            _serial: serial,
        })
    }

    async fn produce(&self, ids: std::ops::Range<usize>) {
        let (brokers, input) = (self.broker.brokers.clone(), self.input.clone());
        tokio::task::spawn_blocking(move || produce_keyed(&brokers, &input, ids, KEYS))
            .await
            .expect("join")
            .expect("inputs");
    }

    fn spawn(&self, replication: i32, transaction_timeout: Duration) -> Running {
        let config = Config::builder()
            .brokers(&self.broker.brokers)
            .application_id(&self.app)
            .state_dir(self.state.path())
            .topic_partitions(PARTITIONS)
            .replication_factor(replication)
            .transaction_timeout(transaction_timeout)
            // Small transactions, so that a crash finds one open.
            .commit_records(500)
            .catalog(false)
            .build()
            .expect("config");
        run::spawn(
            Totals {
                input: self.input.clone(),
                output: self.output.clone(),
            },
            config,
        )
        .expect("runtime")
    }

    /// Produces `n` inputs, starts the product on them, and waits until a
    /// quarter are committed: the fault comes mid-run.
    async fn run_until_a_quarter(
        &self,
        n: usize,
        replication: i32,
        transaction_timeout: Duration,
    ) -> Running {
        self.produce(0..n).await;
        let mut running = self.spawn(replication, transaction_timeout);
        running
            .until_running(Duration::from_secs(60))
            .await
            .expect("running");
        self.until(&running, Duration::from_secs(120), "progress", |h| {
            h.records_committed >= (n / 4) as u64
        })
        .await;
        running
    }

    /// Waits until all `n` inputs are committed, checks the product is
    /// healthy again (running, no error, brokers not down), stops it
    /// cleanly and judges the output; returns its last health.
    async fn finish(&self, running: Running, n: usize) -> Health {
        running
            .until_committed(n as u64, Duration::from_secs(300))
            .await
            .unwrap_or_else(|e| panic!("{e:#} (broker logs: {})", self.broker.logs()));
        let end = running.handle.health();
        assert_eq!(end.status, Status::Running, "{end:?}");
        assert!(end.last_error.is_none() && !end.brokers_down, "{end:?}");
        running.stop().await.expect("join").expect("clean stop");
        self.check_totals(n).await;
        end
    }

    async fn check_totals(&self, n: usize) {
        let view = committed_view(&self.broker.brokers, &self.output)
            .await
            .expect("oracle");
        let problems = totals_exact(&view, (0..n).map(|i| (input_key(i, KEYS), i)));
        if !problems.is_empty() {
            // Where the lost inputs were read from, and what the output log
            // holds around them: which transaction lost them, and how.
            let input = committed_view(&self.broker.brokers, &self.input)
                .await
                .expect("oracle of the input");
            let missing = ids_without_output(&view, n);
            panic!(
                "not exactly once: {problems:#?}\n{} input(s) without output, at {}\noutput log:\n{}",
                missing.len(),
                input_ranges(&input, &missing),
                log_shape(&view)
            );
        }
    }

    /// Polls the product's health until `what` holds, or panics after
    /// `timeout` (a liveness bound, not a measurement), pointing at the
    /// broker's logs; returns that health.
    async fn until(
        &self,
        running: &Running,
        timeout: Duration,
        what: &str,
        holds: impl Fn(&Health) -> bool,
    ) -> Health {
        let deadline = Instant::now() + timeout;
        loop {
            let health = running.handle.health();
            if holds(&health) {
                return health;
            }
            assert!(
                !running.task.is_finished(),
                "the product stopped while waiting for {what}: {health:?} (broker logs: {})",
                self.broker.logs()
            );
            assert!(
                Instant::now() < deadline,
                "no {what} within {timeout:?}: {health:?} (broker logs: {})",
                self.broker.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The single broker is SIGKILLed mid-run and restarted on the same data
/// directory and port: the product keeps running (no crash, no restart of
/// its own), its health says the brokers are down meanwhile, and it resumes
/// and finishes exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_rides_through_a_broker_crash_and_restart() {
    let Some(r) = Run::start("broker-crash", 1).await else {
        return;
    };
    const N: usize = 40_000;
    let running = r.run_until_a_quarter(N, 1, Duration::from_secs(10)).await;

    r.broker.kill(1).await.expect("kill the broker");
    let killed = Instant::now();
    let down = r
        .until(
            &running,
            Duration::from_secs(30),
            "the outage in the health",
            |h| h.brokers_down,
        )
        .await;
    let during = down.records_committed;
    assert_eq!(down.status, Status::Running, "{down:?}");
    assert!(
        down.broker_errors > 0 && down.last_broker_error.is_some(),
        "{down:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let still = running.handle.health();
    assert_eq!(
        still.records_committed, during,
        "nothing commits with the broker down: {still:?}"
    );

    r.broker.restart(1).await.expect("restart the broker");
    let restarted = Instant::now();
    let back = r
        .until(
            &running,
            Duration::from_secs(120),
            "a commit after the restart",
            |h| h.records_committed > during && !h.brokers_down,
        )
        .await;
    eprintln!(
        "broker down for {:.1} s; first commit {:.1} s after its restart; health then: {back:?}",
        (restarted - killed).as_secs_f64(),
        restarted.elapsed().as_secs_f64()
    );
    r.finish(running, N).await;
}

/// On a three-node cluster (every topic replicated three times,
/// `min.insync.replicas=2`), the node leading input partition 0 (and, as
/// leaders spread over the nodes, partitions of the output and changelog
/// too) is SIGKILLed mid-run and stays down: the product goes on with the
/// two others, exactly once, its state exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_continues_when_a_partition_leader_dies() {
    let Some(r) = Run::start("leader-crash", 3).await else {
        return;
    };
    const N: usize = 40_000;
    let running = r.run_until_a_quarter(N, 3, Duration::from_secs(10)).await;

    let input_leaders = r.broker.leaders(&r.input).expect("input leaders");
    let victim = input_leaders[0].1;
    let changelog = meshkit::changelog_topic(&r.app, "totals");
    let mut led = BTreeSet::new();
    for topic in [&r.input, &r.output, &changelog] {
        let leaders = r.broker.leaders(topic).expect("leaders");
        if leaders.iter().any(|(_, leader)| *leader == victim) {
            led.insert(topic.clone());
        }
    }
    eprintln!("killing node {victim}, which leads partitions of {led:?}");
    assert_eq!(
        led.len(),
        3,
        "node {victim} leads partitions of the input, output and changelog"
    );

    let before = running.handle.health();
    r.broker.kill(victim).await.expect("kill the leader");
    let killed = Instant::now();
    // Several transactions past the kill: more than was in flight then.
    let resumed = r
        .until(
            &running,
            Duration::from_secs(120),
            "commits after the leader died",
            |h| h.records_committed >= before.records_committed + 2_000,
        )
        .await;
    eprintln!(
        "2,000 more records committed {:.1} s after node {victim} died; health then: {resumed:?}",
        killed.elapsed().as_secs_f64()
    );
    let end = r.finish(running, N).await;
    assert!(
        end.broker_errors > before.broker_errors,
        "the health recorded the lost broker: {end:?}"
    );
    assert!(
        r.broker
            .leaders(&r.input)
            .expect("leaders")
            .iter()
            .all(|(_, l)| *l != victim),
        "new leaders were elected"
    );
}

/// The broker is stopped for longer than the product's transaction timeout
/// (its open transaction cannot complete in time), then comes back: the
/// product resumes by itself and finishes exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_product_resumes_after_an_outage_longer_than_the_transaction_timeout() {
    let Some(r) = Run::start("long-outage", 1).await else {
        return;
    };
    const N: usize = 30_000;
    const TIMEOUT: Duration = Duration::from_secs(5);
    let running = r.run_until_a_quarter(N, 1, TIMEOUT).await;

    r.broker.stop_node(1).await.expect("stop the broker");
    let down = r
        .until(
            &running,
            Duration::from_secs(30),
            "the outage in the health",
            |h| h.brokers_down,
        )
        .await;
    tokio::time::sleep(TIMEOUT * 3).await;
    let still = running.handle.health();
    assert_eq!(still.status, Status::Running, "{still:?}");
    assert_eq!(still.records_committed, down.records_committed, "{still:?}");

    r.broker.restart(1).await.expect("restart the broker");
    let end = r.finish(running, N).await;
    // Which way it resumed depends on a race the test does not control:
    // whether the coordinator's periodic check aborted the open transaction
    // (outlived its timeout) before the producer's commit reached it.
    eprintln!(
        "resumed after the outage with {} transaction(s) aborted: {end:?}",
        end.transactions_aborted - down.transactions_aborted
    );
}

/// A service on a current-thread tokio runtime keeps answering `/healthz`
/// while its product waits in a transaction commit: the broker is frozen
/// (SIGSTOP) for 4 s mid-run, so the commit blocks until it thaws. Answers
/// that came back while it was frozen are counted; before the processing
/// loop ran on a thread of its own, the blocked commit held the service's
/// only thread and none came back until the broker thawed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_during_a_blocked_commit_on_a_current_thread_runtime() {
    use meshkit_tests::scrape::{free_addr, http_get};
    const N: usize = 200_000;
    let Some(r) = Run::start(
        "healthz_answers_during_a_blocked_commit_on_a_current_thread_runtime",
        1,
    )
    .await
    else {
        return;
    };
    r.produce(0..N).await;
    let addr = free_addr().expect("free port");
    let config = Config::builder()
        .brokers(&r.broker.brokers)
        .application_id(&r.app)
        .state_dir(r.state.path())
        .topic_partitions(PARTITIONS)
        .metrics_addr(addr)
        .catalog(false)
        .build()
        .expect("config");
    let product = Totals {
        input: r.input.clone(),
        output: r.output.clone(),
    };
    let (handle, thread) = run::spawn_on_current_thread(product, config).expect("runtime");
    let deadline = Instant::now() + Duration::from_secs(120);
    while handle.health().records_committed < 10_000 {
        assert!(Instant::now() < deadline, "no progress: {:?}", handle.health());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r.broker.freeze(1).expect("freeze the broker");
    let frozen = Instant::now();
    // Requests from 1 s into the freeze (the loop is in its commit by then)
    // until the thaw; each answer is timed.
    let watcher = handle.clone();
    let (answers, committed_while_frozen) = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_secs(1));
        let committed_then = watcher.health().records_committed;
        let mut during = 0u32;
        while frozen.elapsed() < Duration::from_secs(4) {
            if let Ok((200, _)) = http_get(addr, "/healthz") {
                if frozen.elapsed() < Duration::from_secs(4) {
                    during += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (during, watcher.health().records_committed - committed_then)
    })
    .await
    .expect("join");
    r.broker.thaw(1).expect("thaw the broker");
    eprintln!(
        "/healthz answered {answers} times while the broker was frozen; {committed_while_frozen} records committed meanwhile"
    );
    assert_eq!(committed_while_frozen, 0, "the broker was not frozen");
    assert!(
        answers >= 10,
        "/healthz answered {answers} times while the commit was blocked"
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    while handle.health().records_committed < N as u64 {
        assert!(
            Instant::now() < deadline,
            "not all committed: {:?}",
            handle.health()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    handle.stop();
    tokio::task::spawn_blocking(move || thread.join().expect("runtime thread"))
        .await
        .expect("join")
        .expect("clean stop");
    r.check_totals(N).await;
}
