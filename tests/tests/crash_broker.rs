//! Crash and restart: the relay product runs as a child process and is killed
//! with SIGKILL at random points of a 500,000-record run, then restarted with
//! the same state directory (so the same transactional identity). The
//! committed view of its output must hold every input exactly once, and
//! Confluent's Python consumer at `read_committed` (the client the product's
//! downstream users run) must read exactly that view: each record once, none
//! of the killed incarnations' aborted ones.

use std::time::Duration;

use meshkit_tests::broker::{create_topic, end_offsets, input_id, produce_ids, test_brokers, unique_name};
use meshkit_tests::crash::{kill_at_random_points_with, progress, run_to_end};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::process;
use meshkit_tests::product::Relay;
use meshkit_tests::python::{run_script, venv_python};
use meshkit_tests::verify::exactly_once;

// Inputs to start with; more are added before an incarnation starts
// whenever fewer than `AHEAD` are left, so that every kill lands before the
// end however fast the machine (one incarnation reached 155,000 records
// before its kill in a CI run, the progress reads being slow).
const N: usize = 500_000;
const AHEAD: usize = 250_000;
const KILLS: usize = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_loses_and_duplicates_nothing() {
    let test = "sigkill_at_random_points_loses_and_duplicates_nothing";
    let Some(brokers) = test_brokers(test) else {
        return;
    };
    let Some(python) = venv_python(test) else { return };
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
    let produced: i64 = end_offsets(&brokers, &input).expect("ends").values().sum();
    assert_eq!(produced, N as i64);

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
    let group = (brokers.as_str(), app.as_str(), input.as_str());
    let mut total = N;
    let top_up = |committed: i64| -> anyhow::Result<()> {
        if total - usize::try_from(committed)? < AHEAD {
            produce_ids(&brokers, &input, total..total + AHEAD)?;
            total += AHEAD;
        }
        Ok(())
    };
    let points = kill_at_random_points_with(&binary, &envs, logs.path(), group, KILLS, top_up)
        .await
        .expect("kills");
    let inputs = total;
    let total = total as i64;
    assert!(
        points.iter().all(|at| *at < total),
        "every kill must land before the end: {points:?} of {total}"
    );

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
        "clean stop after SIGTERM: {status:?}; log:\n{}",
        last.log_text()
    );

    let view = committed_view(&brokers, &output).await.expect("oracle");
    let verdict = exactly_once(&view, (0..inputs).map(|i| Relay::output_value(&input_id(i))));
    eprintln!(
        "committed {} outputs; raw log also holds {} aborted and {} never-committed records of killed transactions",
        verdict.committed,
        view.aborted.len(),
        view.pending.len()
    );
    assert!(verdict.is_exactly_once(), "{verdict:?}");

    assert!(
        !view.aborted.is_empty(),
        "the kills left no aborted output records, so nothing tests a reader's filtering"
    );

    let lines = run_script(
        &python,
        "read_committed.py",
        vec![
            "--brokers".into(),
            brokers.clone(),
            "--topic".into(),
            output.clone(),
        ],
    )
    .await;
    let mut python_read: Vec<(i32, i64, String)> = lines
        .lines()
        .map(|line| {
            let r: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            (
                r["partition"].as_i64().expect("partition") as i32,
                r["offset"].as_i64().expect("offset"),
                r["value"].as_str().expect("value").to_string(),
            )
        })
        .collect();
    python_read.sort();
    let mut oracle: Vec<(i32, i64, String)> = view
        .committed
        .iter()
        .map(|r| (r.partition, r.offset, r.value_str().expect("value")))
        .collect();
    oracle.sort();
    assert_eq!(
        python_read.len(),
        inputs,
        "Confluent's read_committed consumer read {} records for {inputs} inputs",
        python_read.len()
    );
    assert!(
        python_read == oracle,
        "Confluent's read_committed consumer and the committed view disagree"
    );
}

/// Starts the relay with `envs` and returns how long it took from the start
/// of its process until the group's committed offsets passed `from`.
async fn restart_to_first_commit(
    binary: &std::path::Path,
    envs: &[(&str, String)],
    log: &std::path::Path,
    group: (&str, &str, &str),
    from: i64,
    timeout: Duration,
) -> (process::ChildProduct, Duration) {
    let started = std::time::Instant::now();
    let child = process::spawn(binary, envs, log).expect("relay");
    loop {
        if committed_now(group).await > from {
            return (child, started.elapsed());
        }
        assert!(
            started.elapsed() < timeout,
            "no commit within {timeout:?} of the restart; log:\n{}",
            child.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The instance keeps a stable id in its state directory and joins as a
/// static group member with it (KIP-345): restarted after SIGKILL, it takes
/// its own partitions back at once instead of waiting for the killed
/// member's session to time out. The session timeout is librdkafka's
/// default, 45 s; before static membership, the first commit after the
/// restart came only once it had expired (29 s after a restart with a 30 s
/// session). Judged on the committed view; the times from a start to its
/// first commit (after SIGKILL and after a clean stop) are printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_after_sigkill_takes_its_partitions_back_without_waiting_for_the_session() {
    let test = "a_restart_after_sigkill_takes_its_partitions_back_without_waiting_for_the_session";
    let Some(brokers) = test_brokers(test) else {
        return;
    };
    const SESSION: Duration = Duration::from_secs(45);
    const BATCH: usize = 2_000;
    let input = unique_name("static-in");
    let output = unique_name("static-out");
    let app = unique_name("static-app");
    create_topic(&brokers, &input, 4).await.expect("input topic");
    let state = tempfile::tempdir().expect("state dir");
    let logs = tempfile::tempdir().expect("log dir");
    let envs = vec![
        ("MESHKIT_BROKERS", brokers.clone()),
        ("MESHKIT_APPLICATION_ID", app.clone()),
        ("MESHKIT_STATE_DIR", state.path().display().to_string()),
        ("MESHKIT_TOPIC_PARTITIONS", "4".to_string()),
        (
            "MESHKIT_KAFKA_SESSION_TIMEOUT_MS",
            SESSION.as_millis().to_string(),
        ),
        ("RELAY_INPUT", input.clone()),
        ("RELAY_OUTPUT", output.clone()),
    ];
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relay-product"));
    let group = (brokers.as_str(), app.as_str(), input.as_str());
    let produce = |range: std::ops::Range<usize>| {
        let (brokers, input) = (brokers.clone(), input.clone());
        async move {
            tokio::task::spawn_blocking(move || produce_ids(&brokers, &input, range))
                .await
                .expect("join")
                .expect("inputs")
        }
    };

    produce(0..BATCH).await;
    let (mut first, first_start) = restart_to_first_commit(
        &binary,
        &envs,
        &logs.path().join("first.log"),
        group,
        0,
        SESSION * 3,
    )
    .await;
    run_to_end_of(group, BATCH as i64).await;
    first.kill9().expect("SIGKILL");
    produce(BATCH..2 * BATCH).await;
    let (mut second, after_kill) = restart_to_first_commit(
        &binary,
        &envs,
        &logs.path().join("after-kill.log"),
        group,
        BATCH as i64,
        SESSION * 3,
    )
    .await;
    run_to_end_of(group, 2 * BATCH as i64).await;
    let status = second.terminate(Duration::from_secs(60)).expect("stops");
    assert!(status.success(), "clean stop: {status:?}");
    produce(2 * BATCH..3 * BATCH).await;
    let (mut third, after_stop) = restart_to_first_commit(
        &binary,
        &envs,
        &logs.path().join("after-stop.log"),
        group,
        2 * BATCH as i64,
        SESSION * 3,
    )
    .await;
    run_to_end_of(group, 3 * BATCH as i64).await;
    let status = third.terminate(Duration::from_secs(60)).expect("stops");
    assert!(status.success(), "clean stop: {status:?}");
    eprintln!(
        "start to first commit: first start {first_start:?}, after SIGKILL {after_kill:?}, after a clean stop {after_stop:?} \
         (session timeout {SESSION:?})"
    );
    // Half the session: a dynamic member waits for the killed one's session
    // to expire, counted from its last heartbeat (3 s at most before the
    // kill, itself a second or so before the restart).
    assert!(
        after_kill < SESSION / 2,
        "the restart after SIGKILL waited {after_kill:?}, as long as the killed member's session; log:\n{}",
        std::fs::read_to_string(logs.path().join("after-kill.log")).unwrap_or_default()
    );

    let view = committed_view(&brokers, &output).await.expect("oracle");
    let verdict = exactly_once(&view, (0..3 * BATCH).map(|i| Relay::output_value(&input_id(i))));
    assert!(verdict.is_exactly_once(), "{verdict:?}");
}

/// Waits until the group has committed `n` input offsets.
async fn run_to_end_of(group: (&str, &str, &str), n: i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let now = committed_now(group).await;
        if now >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{now} of {n} committed after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`progress`] of `(brokers, group, topic)`, read on a blocking thread.
async fn committed_now(group: (&str, &str, &str)) -> i64 {
    let (brokers, app, input) = (group.0.to_string(), group.1.to_string(), group.2.to_string());
    tokio::task::spawn_blocking(move || progress(&brokers, &app, &input))
        .await
        .expect("join")
}
