//! Every window kind, run by the test driver through a product written
//! against the traits, judged against the independent computation in
//! `meshkit_tests::windows`: per-window sums equal, late records
//! dead-lettered (and only they), out-of-order input with session merges.

use std::collections::BTreeMap;
use std::time::Duration;

use meshkit::state::{Window, Windows};
use meshkit::testing::TestDriver;
use meshkit_tests::windowed::{event_value, parse_result, Windowed, LATE};
use meshkit_tests::windows::{events, expected, Event};

fn keys() -> Vec<String> {
    (0..3).map(|k| format!("user-{k}")).collect()
}

/// Runs `events` through the product with `windows`, then one far later
/// event of another key that closes every window; returns what it
/// published and the offsets it dead-lettered.
async fn run(windows: Windows, events: &[Event]) -> (BTreeMap<(String, Window), u64>, Vec<i64>) {
    let product = Windowed {
        windows,
        input: "tests.events".into(),
        close_on_wall_clock: None,
        output: "tests.closed".into(),
    };
    let mut driver = TestDriver::start(product).await.expect("driver");
    let last = events.iter().map(|e| e.1).max().unwrap_or_default();
    let flush = ("flush".to_string(), last + 3_600_000, 0);
    for (key, at, value) in events.iter().chain([&flush]) {
        let value = event_value(*at, *value).into_bytes();
        driver
            .pipe_raw("events", Some(key.as_bytes()), Some(&value))
            .await
            .expect("processed");
    }
    let mut published = BTreeMap::new();
    for record in driver.read_raw("closed").expect("outputs") {
        let key = String::from_utf8(record.key.expect("keyed")).expect("utf-8");
        let (start, end, sum) = parse_result(&record.value.expect("a value")).expect("a result");
        let window = Window { start, end };
        assert!(
            published.insert((key, window), sum).is_none(),
            "{window:?} published twice"
        );
    }
    let late = (driver.dead_letters().into_iter())
        .inspect(|d| assert_eq!(d.reason, LATE, "{d:?}"))
        .map(|d| d.offset)
        .collect();
    (published, late)
}

async fn check(windows: Windows, events: &[Event]) {
    let want = expected(windows, events);
    let (published, late) = run(windows, events).await;
    let want_late: Vec<i64> = (want.late.iter().enumerate())
        .filter(|(_, l)| **l)
        .map(|(i, _)| i as i64)
        .collect();
    assert!(
        want_late.len() >= 10,
        "the input has late records: {}",
        want_late.len()
    );
    assert_eq!(late, want_late, "dead-lettered offsets");
    assert_eq!(published.len(), want.finals.len(), "how many windows");
    assert_eq!(published, want.finals, "per-window sums");
}

fn input() -> Vec<Event> {
    events(17, 1_500, &keys(), 400, 5_000, 61, 40_000)
}

#[tokio::test]
async fn tumbling_windows_equal_the_independent_computation() {
    check(
        Windows::tumbling(Duration::from_secs(10)).grace(Duration::from_secs(3)),
        &input(),
    )
    .await;
}

#[tokio::test]
async fn hopping_windows_equal_the_independent_computation() {
    let windows =
        Windows::hopping(Duration::from_secs(10), Duration::from_secs(4)).grace(Duration::from_secs(3));
    check(windows, &input()).await;
}

#[tokio::test]
async fn sliding_windows_equal_the_independent_computation() {
    check(
        Windows::sliding(Duration::from_secs(5)).grace(Duration::from_secs(2)),
        &input(),
    )
    .await;
}

#[tokio::test]
async fn session_windows_equal_the_independent_computation_merges_included() {
    let events = input();
    // Gaps: steps of 400 ms, pauses of 2.4 s: a 2 s gap splits sessions at
    // pauses, and out-of-order events bridge some of them.
    let windows = Windows::session(Duration::from_secs(2)).grace(Duration::from_secs(3));
    let want = expected(windows, &events);
    let sessions_per_key = want.finals.len() / keys().len();
    assert!(sessions_per_key >= 20, "sessions per key: {sessions_per_key}");
    assert!(want.merges >= 10, "events that merge sessions: {}", want.merges);
    check(windows, &events).await;
}
