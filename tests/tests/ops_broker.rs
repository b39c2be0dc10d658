//! The stream operators on the real broker: the page-views topology (three
//! repartition topics, plain and windowed aggregations, a dead-letter rule)
//! over 4 input partitions, SIGKILLed at random points and restarted on the
//! state it left, then run to the end. Judged on the committed view of every
//! output, the dead-letter topic and the repartition topics against the
//! independent computation of `meshkit_tests::ops::expected`: every count
//! per page and per tag counted whole (one task per key, whatever partition
//! its views came from) and published 1, 2, … n exactly once; each user's
//! totals in order; each closed window's final count once; every record
//! written to a repartition topic once.

use std::collections::BTreeMap;
use std::time::Duration;

use meshkit_tests::broker::{create_topic, end_offsets, produce_placed, test_brokers, unique_name, Placed};
use meshkit_tests::crash::{kill_at_random_points_with, progress, run_to_end};
use meshkit_tests::ops::{expected, flush_view, view, View, NO_PAGE, PAGES, REPARTITIONED};
use meshkit_tests::oracle::committed_view;

const PARTITIONS: i32 = 4;
const USERS: u64 = 40;
const FIRST: u64 = 20_000;
const AHEAD: u64 = 10_000;
/// The input left ahead of the committed offsets when an incarnation starts.
const MARGIN: u64 = 50_000;

/// A day ago: event times sit there (the Kafka timestamps are now).
fn t0() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(now.as_millis()).expect("ms") - 24 * 3_600_000
}

/// Each user's views go to one partition (the user's number modulo 4), as
/// a keyed producer would send them.
fn placed(views: &[(String, View)]) -> Vec<Placed> {
    (views.iter())
        .map(|(user, v)| {
            let n: i32 = user.trim_start_matches("u-").parse().expect("user number");
            let value = serde_json::to_vec(v).expect("json");
            (n % PARTITIONS, user.clone().into_bytes(), value, None)
        })
        .collect()
}

fn produce_blocking(brokers: &str, topic: &str, views: &[(String, View)]) {
    let records = placed(views);
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(produce_placed(brokers, topic, records));
    });
}

/// Each key's values in the committed view of `topic`, in offset order.
async fn by_key(brokers: &str, topic: &str) -> BTreeMap<String, Vec<i64>> {
    let view = committed_view(brokers, topic).await.expect("committed view");
    assert!(view.pending.is_empty(), "{topic}: no transaction left open");
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &view.committed {
        let key = r.key_str().expect("key");
        let value: i64 = r.value_str().and_then(|v| v.parse().ok()).expect("a JSON number");
        out.entry(key).or_default().push(value);
    }
    out
}

/// Waits until the group has read every committed record of `topic`.
async fn drained(brokers: &str, group: &str, topic: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    loop {
        let end: i64 = end_offsets(brokers, topic).expect("end offsets").values().sum();
        // The end counts transaction markers, which are never consumed: read
        // what the committed view holds instead.
        let view = committed_view(brokers, topic).await.expect("view");
        let last: i64 = (0..PARTITIONS)
            .filter_map(|p| view.committed_in(p).last().map(|r| r.offset + 1))
            .sum();
        let read = progress(brokers, group, topic);
        if read >= last && end > 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{topic}: {read} of {last} read"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_under_sigkills_publish_exactly_the_independent_computation() {
    let Some(brokers) = test_brokers("operators_under_sigkills_publish_exactly_the_independent_computation")
    else {
        return;
    };
    let (input, output, app) = (
        unique_name("ops-in"),
        unique_name("ops-out"),
        unique_name("ops-app"),
    );
    create_topic(&brokers, &input, PARTITIONS)
        .await
        .expect("input topic");
    let t0 = t0();
    let mut views: Vec<(String, View)> = (0..FIRST).map(|id| view(id, USERS, t0)).collect();
    produce_placed(&brokers, &input, placed(&views)).await;

    let state = tempfile::tempdir().expect("state");
    let logs = tempfile::tempdir().expect("logs");
    let envs = vec![
        ("MESHKIT_BROKERS", brokers.clone()),
        ("MESHKIT_APPLICATION_ID", app.clone()),
        ("MESHKIT_INSTANCE_ID", "ops".to_string()),
        ("MESHKIT_STATE_DIR", state.path().display().to_string()),
        ("MESHKIT_TOPIC_PARTITIONS", PARTITIONS.to_string()),
        ("MESHKIT_KAFKA_SESSION_TIMEOUT_MS", "6000".to_string()),
        ("RELAY_PRODUCT", "ops".to_string()),
        ("RELAY_INPUT", input.clone()),
        ("RELAY_OUTPUT", output.clone()),
    ];
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_relay-product"));
    let group = (brokers.as_str(), app.as_str(), input.as_str());
    // Input is topped up before each incarnation, so that no kill lands
    // after the end of the input: an incarnation has been seen to get
    // through 15,000 records before its kill, so a margin of several times
    // that stays ahead.
    let before_each = |committed: i64| -> anyhow::Result<()> {
        let committed = u64::try_from(committed)?;
        while (views.len() as u64) - committed < MARGIN {
            let n = views.len() as u64;
            let more: Vec<(String, View)> = (n..n + AHEAD).map(|id| view(id, USERS, t0)).collect();
            produce_blocking(&brokers, &input, &more);
            views.extend(more);
        }
        Ok(())
    };
    let points = kill_at_random_points_with(&binary, &envs, logs.path(), group, 3, before_each)
        .await
        .expect("kills");
    let n = views.len() as i64;
    assert!(
        points.iter().all(|at| *at < n),
        "every kill lands before the end: {points:?} of {n}"
    );

    let mut last = run_to_end(
        &binary,
        &envs,
        &logs.path().join("final.log"),
        group,
        n,
        Duration::from_secs(600),
    )
    .await
    .expect("final run");
    // Every view is in; a far later view of each page closes every window.
    let latest = views.iter().map(|(_, v)| v.at).max().unwrap_or(t0);
    let flush: Vec<(String, View)> = (PAGES.iter().enumerate())
        .map(|(i, page)| flush_view(10_000_000 + i as u64, page, latest))
        .collect();
    produce_placed(&brokers, &input, placed(&flush)).await;
    views.extend(flush);
    let total = views.len() as i64;
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while progress(&brokers, &app, &input) < total {
        assert!(
            std::time::Instant::now() < deadline,
            "the flush views were not read; log:\n{}",
            last.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for name in REPARTITIONED {
        drained(&brokers, &app, &meshkit::repartition_topic(&app, name)).await;
    }
    let status = last.terminate(Duration::from_secs(60)).expect("stops");
    assert!(
        status.success(),
        "clean stop: {status:?}; log:\n{}",
        last.log_text()
    );

    let want = expected(&views);
    let topic = |port: &str| format!("{output}.{port}");
    assert_eq!(
        by_key(&brokers, &topic("per-page")).await,
        want.per_page,
        "views per page"
    );
    assert_eq!(
        by_key(&brokers, &topic("per-user")).await,
        want.per_user,
        "view time per user"
    );
    assert_eq!(
        by_key(&brokers, &topic("per-tag")).await,
        want.per_tag,
        "views per tag"
    );
    let windows = by_key(&brokers, &topic("page-windows")).await;
    let once: BTreeMap<String, i64> = (windows.iter())
        .map(|(k, v)| {
            assert_eq!(v.len(), 1, "window {k} published once: {v:?}");
            (k.clone(), v[0])
        })
        .collect();
    assert_eq!(once, want.page_windows, "final count per page and window");

    let dlq = committed_view(&brokers, &format!("{app}.dlq"))
        .await
        .expect("dlq");
    let mut dead: Vec<u64> = (dlq.committed.iter())
        .map(|r| {
            assert_eq!(r.header("meshkit.dlq.reason").as_deref(), Some(NO_PAGE));
            let v: View = serde_json::from_slice(r.value.as_deref().unwrap_or_default()).expect("a view");
            v.id
        })
        .collect();
    dead.sort_unstable();
    assert_eq!(dead, want.dead, "each view without a page dead-lettered once");

    for name in REPARTITIONED {
        let view = committed_view(&brokers, &meshkit::repartition_topic(&app, name))
            .await
            .expect("view");
        assert_eq!(
            view.partitions.len(),
            PARTITIONS as usize,
            "{name}: as wide as the input"
        );
        assert_eq!(
            view.committed.len(),
            want.repartitioned[name],
            "{name}: each record once"
        );
    }
    let per_page = committed_view(&brokers, &meshkit::repartition_topic(&app, "per-page"))
        .await
        .expect("view");
    let mut ids: Vec<u64> = (per_page.committed.iter())
        .map(|r| {
            postcard::from_bytes::<View>(r.value.as_deref().unwrap_or_default())
                .expect("a view")
                .id
        })
        .collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), before, "no view repartitioned twice");
}
