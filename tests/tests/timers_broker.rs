//! Timers on the real broker: a product that publishes only from a
//! wall-clock timer (`tests/batcher`: each record's id waits in a store, the
//! timer publishes and deletes what waits) loses and repeats nothing across
//! SIGKILLs and restarts, and flushes the last ids of every partition once
//! no record arrives any more (the timer fires on idle partitions), also
//! after a restore of its store from the changelog. Judged
//! on the committed view (the oracle): every input id in exactly one
//! committed batch.

use std::collections::BTreeMap;
use std::time::Duration;

use meshkit_tests::crash::{kill_mid_stream, run_to_end, TopUp};
use meshkit_tests::oracle::{committed_view, CommittedView};
use meshkit_tests::product::TotalsTopics;

const PARTITIONS: i32 = 4;
const KEYS: usize = 200;

/// How many committed batches hold each id.
fn batched_ids(view: &CommittedView) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for record in &view.committed {
        let text = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default()).into_owned();
        for id in text.split(',').filter(|s| !s.is_empty()) {
            let id: u64 = id.parse().unwrap_or_else(|_| panic!("not an id list: {text}"));
            *seen.entry(id).or_default() += 1;
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wall_clock_timer_publishes_every_id_once_across_sigkills() {
    let test = "a_wall_clock_timer_publishes_every_id_once_across_sigkills";
    let Some(s) = TotalsTopics::create(test, "timers", PARTITIONS, KEYS).await else {
        return;
    };
    // Input is topped up before each incarnation so that no kill can land
    // at the end: a kill there would test no crash.
    const N: usize = 100_000;
    const AHEAD: usize = 100_000;
    s.produce(0..N).await;
    let state = tempfile::tempdir().expect("state");
    let logs = tempfile::tempdir().expect("logs");
    let envs = vec![
        ("MESHKIT_BROKERS", s.brokers.clone()),
        ("MESHKIT_APPLICATION_ID", s.app.clone()),
        ("MESHKIT_INSTANCE_ID", "crashy".to_string()),
        ("MESHKIT_STATE_DIR", state.path().display().to_string()),
        ("MESHKIT_TOPIC_PARTITIONS", PARTITIONS.to_string()),
        ("MESHKIT_KAFKA_SESSION_TIMEOUT_MS", "6000".to_string()),
        // Small transactions, so that kills land between timer firings too
        // (and the run is slow enough to be killed mid-way).
        ("MESHKIT_COMMIT_INTERVAL_MS", "200".to_string()),
        ("MESHKIT_COMMIT_RECORDS", "200".to_string()),
        ("RELAY_PRODUCT", "batcher".to_string()),
        ("RELAY_INPUT", s.input.clone()),
        ("RELAY_OUTPUT", s.output.clone()),
        ("RELAY_FLUSH_MS", "300".to_string()),
    ];
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relay-product"));
    let group = (s.brokers.as_str(), s.app.as_str(), s.input.as_str());
    let top_up = TopUp {
        keys: KEYS,
        produced: N,
        ahead: AHEAD,
    };
    let n = kill_mid_stream(&binary, &envs, logs.path(), group, 4, top_up)
        .await
        .expect("kills");
    let total = n as i64;
    // The last incarnation starts with no local state: it restores the
    // store from its changelog, the timer's deletions included (were they
    // dropped, ids already published would be published again).
    let fresh = tempfile::tempdir().expect("state");
    let mut last_envs = envs.clone();
    // Its transactions as large as usual: nothing kills it.
    last_envs.retain(|(name, _)| *name != "MESHKIT_COMMIT_RECORDS");
    for (name, value) in &mut last_envs {
        if *name == "MESHKIT_STATE_DIR" {
            *value = fresh.path().display().to_string();
        }
    }
    let mut last = run_to_end(
        &binary,
        &last_envs,
        &logs.path().join("final.log"),
        group,
        total,
        Duration::from_secs(600),
    )
    .await
    .expect("final run");
    // No record arrives any more: only the timer, on idle partitions, can
    // publish the last ids.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen = BTreeMap::new();
    while std::time::Instant::now() < deadline {
        seen = batched_ids(&committed_view(&s.brokers, &s.output).await.expect("oracle"));
        if seen.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let status = last.terminate(Duration::from_secs(60)).expect("stops");
    assert!(
        status.success(),
        "clean stop: {status:?}; log:\n{}",
        last.log_text()
    );

    let view = committed_view(&s.brokers, &s.output).await.expect("oracle");
    let seen_after = batched_ids(&view);
    assert_eq!(seen_after, seen, "nothing was published after the last id");
    let missing: Vec<usize> = (0..n)
        .filter(|i| !seen.contains_key(&(*i as u64)))
        .take(20)
        .collect();
    let repeated: Vec<(&u64, &usize)> = seen.iter().filter(|(_, c)| **c > 1).take(20).collect();
    assert!(missing.is_empty(), "ids never published: {missing:?}…");
    assert!(repeated.is_empty(), "ids published twice: {repeated:?}…");
    assert_eq!(seen.len(), n);
}
