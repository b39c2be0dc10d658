//! Several processing threads in one instance, on the real broker: each
//! thread owns the tasks the group assigns to its consumer, and a stateful
//! product keeps exact totals, judged by the committed view of its output,
//! across the threads and across a restart of the instance; a thread that
//! fails stops the others.

use std::time::Duration;

use meshkit::{Config, ErrorPolicy};
use meshkit_tests::broker::{input_id, input_key, produce_ids};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::product::{Relay, TotalsTopics};
use meshkit_tests::run;
use meshkit_tests::verify::totals_exact;

const PARTITIONS: i32 = 4;
const KEYS: usize = 500;
const THREADS: usize = 2;

/// The test's topics and group (the shared setup), with its own settings.
struct Setup(TotalsTopics);

impl std::ops::Deref for Setup {
    type Target = TotalsTopics;
    fn deref(&self) -> &TotalsTopics {
        &self.0
    }
}

async fn setup(test: &str) -> Option<Setup> {
    TotalsTopics::create(test, "threads", PARTITIONS, KEYS)
        .await
        .map(Setup)
}

impl Setup {
    fn config(&self, state: &std::path::Path) -> Config {
        Config::builder()
            .brokers(&self.brokers)
            .application_id(&self.app)
            .state_dir(state)
            .topic_partitions(PARTITIONS)
            .processing_threads(THREADS)
            .kafka_property("session.timeout.ms", "6000")
            .build()
            .expect("config")
    }

    /// Runs the product with [`THREADS`] threads over inputs `more`, once
    /// every thread has its share of the tasks, then stops it cleanly; the
    /// threads share one product, or each has a clone (`per_thread`).
    /// Returns its health when all was committed, and the metrics' count of
    /// assigned partitions then.
    async fn run_in_process(
        &self,
        state: &std::path::Path,
        more: std::ops::Range<usize>,
        per_thread: bool,
    ) -> (meshkit::Health, f64) {
        let runtime = meshkit::Runtime::new(self.totals(), self.config(state)).expect("runtime");
        let runtime = if per_thread {
            runtime.product_per_thread()
        } else {
            runtime
        };
        let mut running = run::spawn_runtime(runtime).expect("runtime");
        running
            .until_running(Duration::from_secs(60))
            .await
            .expect("running");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let health = running.handle.health();
            if health.thread_partitions.len() == THREADS && health.thread_partitions.iter().all(|n| *n > 0) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the threads did not share the tasks: {health:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let n = more.len() as u64;
        self.produce(more).await;
        running
            .until_committed(n, Duration::from_secs(300))
            .await
            .expect("all committed");
        let health = running.handle.health();
        let assigned = running
            .handle
            .metrics()
            .value("meshkit_assigned_partitions", &[])
            .expect("the gauge");
        running.stop().await.expect("join").expect("clean stop");
        (health, assigned)
    }

    async fn check_totals(&self, n: usize) {
        let view = committed_view(&self.brokers, &self.output).await.expect("oracle");
        let problems = totals_exact(&view, (0..n).map(|i| (input_key(i, KEYS), i)));
        assert!(
            problems.is_empty(),
            "not exactly once with exact totals: {problems:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_threads_share_the_tasks_exactly_once_with_exact_totals() {
    let Some(s) = setup("two_threads_share_the_tasks_exactly_once_with_exact_totals").await else {
        return;
    };
    const N: usize = 20_000;
    let state = tempfile::tempdir().expect("state");
    let (health, assigned) = s.run_in_process(state.path(), 0..N, false).await;
    assert_eq!(
        health.thread_partitions,
        [2, 2],
        "the range assignor gives each thread's consumer two of the four tasks: {health:?}"
    );
    assert_eq!(health.assigned_partitions, 4, "{health:?}");
    assert_eq!(assigned, 4.0, "the threads' gauges add up");
    assert_eq!(health.records_committed, N as u64, "{health:?}");
    s.check_totals(N).await;
}

/// Each thread with a clone of the product, this time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_two_threads_goes_on_exactly_once_from_its_state() {
    let Some(s) = setup("a_restart_with_two_threads_goes_on_exactly_once_from_its_state").await else {
        return;
    };
    const STEP: usize = 10_000;
    let state = tempfile::tempdir().expect("state");
    let (first, _) = s.run_in_process(state.path(), 0..STEP, true).await;
    assert_eq!(
        first.records_restored, 0,
        "a fresh product has nothing to restore"
    );
    // Each thread may own other tasks than before: their stores are under
    // the instance's one directory, checkpointed at the clean stop.
    let (second, _) = s.run_in_process(state.path(), STEP..2 * STEP, true).await;
    assert_eq!(
        second.records_restored, 0,
        "a restart after a clean stop replays nothing already checkpointed: {second:?}"
    );
    s.check_totals(2 * STEP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_that_fails_stops_the_others_and_its_error_is_the_runtimes() {
    let Some(s) = setup("a_thread_that_fails_stops_the_others_and_its_error_is_the_runtimes").await else {
        return;
    };
    let state = tempfile::tempdir().expect("state");
    let mut relay = Relay::new(&s.input, &s.output);
    relay.fail_every = Some(1000);
    let config = Config::builder()
        .brokers(&s.brokers)
        .application_id(&s.app)
        .state_dir(state.path())
        .processing_threads(THREADS)
        .error_policy(ErrorPolicy::Stop)
        .build()
        .expect("config");
    let mut running = run::spawn(relay, config).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");
    let (brokers, input) = (s.brokers.clone(), s.input.clone());
    tokio::task::spawn_blocking(move || produce_ids(&brokers, &input, 1..2000))
        .await
        .expect("join")
        .expect("inputs");
    // Ends only once every thread has: the others were stopped.
    let outcome = tokio::time::timeout(Duration::from_secs(120), &mut running.task)
        .await
        .expect("the runtime stops")
        .expect("join");
    match outcome {
        Err(meshkit::Error::Transform { offset, .. }) => assert!(offset >= 0),
        other => panic!("the failing thread's error: {other:?}"),
    }
    let health = running.handle.health();
    assert_eq!(health.status, meshkit::Status::Failed, "{health:?}");
    assert!(
        health
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains(&input_id(1000))),
        "{health:?}"
    );
    let view = committed_view(&s.brokers, &s.output).await.expect("oracle");
    assert!(
        !view
            .committed
            .iter()
            .any(|r| r.value.as_deref() == Some(Relay::output_value(&input_id(1000)).as_bytes())),
        "the failed record's output never commits"
    );
}
