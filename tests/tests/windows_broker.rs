//! Every window kind on the real broker: four products (tumbling, hopping,
//! sliding, session windows) read the same out-of-order input on two
//! partitions, event time taken from the values. Halfway they stop and
//! lose their local state, so the second half runs on stores restored from
//! the changelogs. At the end a far later event per partition closes every
//! window. Judged on the committed view of each output and dead-letter
//! topic against the independent computation of `meshkit_tests::windows`,
//! per partition (each is a task with its own stream time): every window's
//! final sum once, every late record dead-lettered once, nothing else.

use std::collections::BTreeMap;
use std::time::Duration;

use meshkit::state::{Window, Windows};
use meshkit::Config;
use meshkit_tests::broker::{create_topic, produce_placed, test_brokers, unique_name};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::run;
use meshkit_tests::windowed::{event_value, parse_result, Windowed};
use meshkit_tests::windows::{events, expected, Event, Expected};

const PARTITIONS: i32 = 2;
const PER_PARTITION: usize = 600;

/// A day ago: event times sit there (the Kafka timestamps are now).
fn t0() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(now.as_millis()).expect("ms") - 24 * 3_600_000
}

/// Each partition's events: its own keys, event times from `t0`, the last
/// one far later (a key of its own) to close every other window.
fn input(t0: i64) -> Vec<Vec<Event>> {
    (0..PARTITIONS)
        .map(|p| {
            let keys: Vec<String> = (0..3).map(|k| format!("p{p}-user-{k}")).collect();
            let mut list: Vec<Event> = events(100 + p as u64, PER_PARTITION, &keys, 400, 5_000, 47, 40_000)
                .into_iter()
                .map(|(k, at, v)| (k, t0 + at, v))
                .collect();
            let last = list.iter().map(|e| e.1).max().unwrap_or(t0);
            list.push((format!("p{p}-flush"), last + 3_600_000, 0));
            list
        })
        .collect()
}

async fn produce(brokers: &str, topic: &str, events: &[(i32, &Event)]) {
    let records = (events.iter()).map(|(p, (key, at, value))| {
        (
            *p,
            key.clone().into_bytes(),
            event_value(*at, *value).into_bytes(),
            None,
        )
    });
    produce_placed(brokers, topic, records).await;
}

/// The events of every partition in `range` of its list, with their partitions.
fn slice(input: &[Vec<Event>], range: impl Fn(usize) -> std::ops::Range<usize>) -> Vec<(i32, &Event)> {
    (input.iter().enumerate())
        .flat_map(|(p, list)| list[range(list.len())].iter().map(move |e| (p as i32, e)))
        .collect()
}

struct Kind {
    name: &'static str,
    product: Windowed,
    app: String,
    state: tempfile::TempDir,
}

impl Kind {
    fn config(&self, brokers: &str) -> Config {
        Config::builder()
            .brokers(brokers)
            .application_id(&self.app)
            .state_dir(self.state.path())
            .topic_partitions(PARTITIONS)
            .kafka_property("session.timeout.ms", "6000")
            .build()
            .expect("config")
    }
}

/// A product per window spec, all on `input`, named after `prefix`.
fn kinds(specs: Vec<(&'static str, Windows)>, input: &str, prefix: &str, close: Option<i64>) -> Vec<Kind> {
    specs
        .into_iter()
        .map(|(name, windows)| Kind {
            name,
            product: Windowed {
                windows,
                input: input.to_string(),
                output: unique_name(&format!("{prefix}-{name}-out")),
                close_on_wall_clock: close,
            },
            app: unique_name(&format!("{prefix}-{name}")),
            state: tempfile::tempdir().expect("state dir"),
        })
        .collect()
}

/// Starts every kind's product; returns them once they run.
async fn start_all(kinds: &[Kind], brokers: &str) -> Vec<run::Running> {
    let mut running = Vec::new();
    for kind in kinds {
        let mut r = run::spawn(kind.product.clone(), kind.config(brokers)).expect("runtime");
        r.until_running(Duration::from_secs(60)).await.expect("running");
        running.push(r);
    }
    running
}

/// Runs every kind's product over `events`, until each committed them all.
async fn run_all(kinds: &[Kind], brokers: &str, input_topic: &str, events: &[(i32, &Event)]) {
    let running = start_all(kinds, brokers).await;
    produce(brokers, input_topic, events).await;
    for (kind, r) in kinds.iter().zip(running) {
        r.until_committed(events.len() as u64, Duration::from_secs(180))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", kind.name));
        r.stop().await.expect("join").expect("clean stop");
    }
}

/// What the committed view of `kind`'s output holds: sums by key and
/// window, each published once.
async fn published(brokers: &str, kind: &Kind) -> BTreeMap<(String, Window), u64> {
    let view = committed_view(brokers, &kind.product.output)
        .await
        .expect("oracle");
    let mut out = BTreeMap::new();
    for record in &view.committed {
        let key = record.key_str().expect("keyed");
        let (start, end, sum) = parse_result(record.value.as_deref().expect("a value")).expect("a result");
        let window = Window { start, end };
        let before = out.insert((key.clone(), window), sum);
        assert!(
            before.is_none(),
            "{}: {key} {window:?} published twice",
            kind.name
        );
    }
    out
}

/// The dead letters in the committed view of `kind`'s dead-letter topic,
/// as `(key, event value)`.
async fn dead_letters(brokers: &str, kind: &Kind) -> Vec<(String, String)> {
    let view = committed_view(brokers, &format!("{}.dlq", kind.app))
        .await
        .expect("oracle");
    let mut out: Vec<(String, String)> = (view.committed.iter())
        .map(|r| (r.key_str().expect("keyed"), r.value_str().expect("a value")))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_window_kind_equals_the_independent_computation_across_a_restore() {
    let test = "every_window_kind_equals_the_independent_computation_across_a_restore";
    let Some(brokers) = test_brokers(test) else {
        return;
    };
    let input_topic = unique_name("windows-in");
    create_topic(&brokers, &input_topic, PARTITIONS)
        .await
        .expect("input topic");
    let grace = Duration::from_secs(3);
    let specs = [
        (
            "tumbling",
            Windows::tumbling(Duration::from_secs(10)).grace(grace),
        ),
        (
            "hopping",
            Windows::hopping(Duration::from_secs(10), Duration::from_secs(4)).grace(grace),
        ),
        ("sliding", Windows::sliding(Duration::from_secs(5)).grace(grace)),
        ("session", Windows::session(Duration::from_secs(2)).grace(grace)),
    ];
    let kinds = kinds(specs.to_vec(), &input_topic, "windows", None);
    let input = input(t0());

    // First half; then every product loses its local state.
    run_all(&kinds, &brokers, &input_topic, &slice(&input, |n| 0..n / 2)).await;
    for kind in &kinds {
        for entry in std::fs::read_dir(kind.state.path()).expect("state dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).expect("wiped");
            } else {
                std::fs::remove_file(&path).expect("wiped");
            }
        }
    }
    // Second half, on stores restored from the changelogs.
    run_all(&kinds, &brokers, &input_topic, &slice(&input, |n| n / 2..n)).await;

    for kind in &kinds {
        let mut want = Expected::default();
        let mut want_late = Vec::new();
        for events in &input {
            let part = expected(kind.product.windows, events);
            let flush = events.last().expect("a flush event").0.clone();
            want.finals
                .extend(part.finals.into_iter().filter(|((k, _), _)| *k != flush));
            for ((key, at, value), late) in events.iter().zip(part.late) {
                if late {
                    want_late.push((key.clone(), event_value(*at, *value)));
                }
            }
        }
        want_late.sort();
        assert!(
            want_late.len() >= 10,
            "{}: late events in the input: {}",
            kind.name,
            want_late.len()
        );
        let got = published(&brokers, kind).await;
        assert_eq!(got.len(), want.finals.len(), "{}: how many windows", kind.name);
        assert_eq!(got, want.finals, "{}: per-window sums", kind.name);
        assert_eq!(
            dead_letters(&brokers, kind).await,
            want_late,
            "{}: dead letters",
            kind.name
        );
    }
}

/// Idle partitions: a burst of events on both partitions, event times a
/// little behind the clock, then nothing. The product asks for its windows
/// to close on the wall clock (a wall-clock timer moves each task's stream
/// time on to the clock less 30 s), so every window of both partitions is
/// published, once, with the independent computation's sums, though no
/// later record ever comes to close them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_windows_of_idle_partitions_close_on_the_wall_clock() {
    let test = "the_last_windows_of_idle_partitions_close_on_the_wall_clock";
    let Some(brokers) = test_brokers(test) else {
        return;
    };
    let input_topic = unique_name("idle-windows-in");
    create_topic(&brokers, &input_topic, PARTITIONS)
        .await
        .expect("input topic");
    const LAG: i64 = 30_000;
    // Events come up to 300 ms out of order: a grace of 1 s (tumbling) and a
    // gap of 2 s (sessions) keep every one in time, wherever the clock puts
    // the window bounds.
    let specs = [
        (
            "tumbling",
            Windows::tumbling(Duration::from_secs(10)).grace(Duration::from_secs(1)),
        ),
        ("session", Windows::session(Duration::from_secs(2))),
    ];
    let kinds = kinds(specs.to_vec(), &input_topic, "idle", Some(LAG));
    let running = start_all(&kinds, &brokers).await;
    // Event times from 15 s behind the clock: the first window closes on
    // the wall clock 15 s or more from now, after every event is processed.
    let now = t0() + 24 * 3_600_000;
    let input: Vec<Vec<Event>> = (0..PARTITIONS)
        .map(|p| {
            let keys: Vec<String> = (0..3).map(|k| format!("p{p}-user-{k}")).collect();
            (events(200 + p as u64, 200, &keys, 25, 300, 0, 0).into_iter())
                .map(|(k, at, v)| (k, now - 15_000 + at, v))
                .collect()
        })
        .collect();
    produce(&brokers, &input_topic, &slice(&input, |n| 0..n)).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    for (kind, r) in kinds.iter().zip(running) {
        let mut want = BTreeMap::new();
        for events in &input {
            let part = expected(kind.product.windows, events);
            assert!(part.late.iter().all(|l| !l), "{}: no event is late", kind.name);
            want.extend(part.finals);
        }
        let got = loop {
            let got = published(&brokers, kind).await;
            if got.len() >= want.len() || tokio::time::Instant::now() > deadline {
                break got;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        assert_eq!(got.len(), want.len(), "{}: how many windows", kind.name);
        assert_eq!(got, want, "{}: per-window sums", kind.name);
        r.stop().await.expect("join").expect("clean stop");
    }
}
