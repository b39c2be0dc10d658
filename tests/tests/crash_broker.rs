//! Crash and restart: the relay product runs as a child process and is killed
//! with SIGKILL at random points of a 200,000-record run, then restarted with
//! the same state directory (so the same transactional identity). The
//! committed view of its output must hold every input exactly once.

use std::time::Duration;

use meshkit_tests::broker::{
    committed_offsets, create_topic, end_offsets, input_id, produce_ids, test_brokers, unique_name,
};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::process;
use meshkit_tests::product::Relay;
use meshkit_tests::verify::exactly_once;
use rand::Rng;

const N: usize = 200_000;
const KILLS: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    let Some(brokers) = test_brokers("sigkill_at_random_points_loses_and_duplicates_nothing") else {
        return;
    };
    let input = unique_name("crash-in");
    let output = unique_name("crash-out");
    let app = unique_name("crash-app");
    create_topic(&brokers, &input, 4).await.expect("input topic");
    {
        let (brokers, input) = (brokers.clone(), input.clone());
        tokio::task::spawn_blocking(move || produce_ids(&brokers, &input, 0..N))
            .await
            .expect("join")
            .expect("inputs");
    }
    let ends = end_offsets(&brokers, &input).expect("ends");
    let total: i64 = ends.values().sum();
    assert_eq!(total, N as i64);

    let state = tempfile::tempdir().expect("state dir");
    let logs = tempfile::tempdir().expect("log dir");
    let envs = vec![
        ("MESHKIT_BROKERS", brokers.clone()),
        ("MESHKIT_APPLICATION_ID", app.clone()),
        ("MESHKIT_STATE_DIR", state.path().display().to_string()),
        ("MESHKIT_TOPIC_PARTITIONS", "4".to_string()),
        ("MESHKIT_KAFKA_SESSION_TIMEOUT_MS", "6000".to_string()),
        ("RELAY_INPUT", input.clone()),
        ("RELAY_OUTPUT", output.clone()),
    ];
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relay-product"));
    let progress = |brokers: &str| -> i64 {
        committed_offsets(brokers, &app, &input)
            .map(|c| c.values().sum())
            .unwrap_or(0)
    };

    let mut rng = rand::rng();
    let mut kill_points = Vec::new();
    for kill in 0..KILLS {
        let log = logs.path().join(format!("run-{kill}.log"));
        let mut child = process::spawn(&binary, &envs, &log).expect("start");
        // Wait until this incarnation commits something, then a random while.
        let before = progress(&brokers);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while progress(&brokers) <= before {
            assert!(
                std::time::Instant::now() < deadline,
                "run {kill} made no progress; log:\n{}",
                child.log_text()
            );
            assert!(
                child.child.try_wait().expect("status").is_none(),
                "run {kill} exited; log:\n{}",
                child.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..800))).await;
        child.kill9().expect("kill -9");
        let at = progress(&brokers);
        eprintln!("kill {kill}: SIGKILL with {at} of {total} input offsets committed");
        kill_points.push(at);
    }
    assert!(
        kill_points.iter().all(|at| *at < total),
        "every kill must land before the end of the run: {kill_points:?} of {total}"
    );

    let log = logs.path().join("final.log");
    let mut last = process::spawn(&binary, &envs, &log).expect("start");
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    while progress(&brokers) < total {
        assert!(
            std::time::Instant::now() < deadline,
            "the final run did not finish; log:\n{}",
            last.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = last.terminate(Duration::from_secs(60)).expect("stops");
    assert!(
        status.success(),
        "clean stop after SIGTERM: {status:?}; log:\n{}",
        last.log_text()
    );

    let view = committed_view(&brokers, &output).await.expect("oracle");
    let verdict = exactly_once(&view, (0..N).map(|i| Relay::output_value(&input_id(i))));
    eprintln!(
        "committed {} outputs; raw log also holds {} aborted and {} never-committed records of killed transactions",
        verdict.committed,
        view.aborted.len(),
        view.pending.len()
    );
    assert!(verdict.is_exactly_once(), "{verdict:?}");
}
