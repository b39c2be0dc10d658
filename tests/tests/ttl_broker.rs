//! Stores whose entries expire, on the real broker: an entry past its time
//! to live reads as absent, its changelog gets a tombstone in the
//! transaction that found it expired (judged on the committed view), and a
//! restore from scratch does not bring it back (judged on the restored
//! RocksDB files themselves).
//!
//! The product lets a user's click through once per minute of stream time:
//! store `seen` (TTL 1 min on stream time) holds each user's last click.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use meshkit::{
    Clock, Config, Context, DataProduct, DescriptorError, ProductDescriptor, Record, TransformError, Ttl,
};
use meshkit_tests::broker::{create_topic, produce_placed, test_brokers, unique_name};
use meshkit_tests::oracle::committed_view;
use meshkit_tests::run;

const PARTITIONS: i32 = 2;
const MINUTE: i64 = 60_000;

/// Event time of the first clicks: a day ago (a broker refuses records
/// from more than an hour ahead).
fn t0() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    i64::try_from(now.as_millis()).expect("ms") - 24 * 60 * MINUTE
}

struct FirstClicks {
    input: String,
    output: String,
    ttl: Ttl,
}

impl DataProduct for FirstClicks {
    fn descriptor(&self) -> Result<ProductDescriptor, DescriptorError> {
        ProductDescriptor::builder("tests", "first-clicks")
            .version("0.1.0")
            .owner("meshkit-tests")
            .input("clicks", &self.input)
            .output("firsts", &self.output)
            .store_with_ttl("seen", self.ttl)
            .build()
    }

    async fn process(&mut self, record: &Record<'_>, ctx: &mut Context) -> Result<(), TransformError> {
        let user = String::from_utf8_lossy(record.key().unwrap_or_default()).into_owned();
        let at = record.timestamp().unwrap_or_default();
        let mut seen = ctx.store::<String, i64>("seen")?;
        let first = seen.get(&user)?.is_none();
        seen.put(&user, &at)?;
        if first {
            ctx.emit("firsts", Some(user.into_bytes()), at.to_string().into_bytes())?;
        }
        Ok(())
    }
}

fn user(i: usize) -> String {
    format!("user-{i:04}")
}

/// Produces `(user, partition, event time)` clicks, in order, each
/// acknowledged.
async fn produce(brokers: &str, topic: &str, clicks: &[(String, i32, i64)]) {
    let records = (clicks.iter()).map(|(user, partition, at)| {
        (
            *partition,
            user.clone().into_bytes(),
            b"click".to_vec(),
            Some(*at),
        )
    });
    produce_placed(brokers, topic, records).await;
}

/// Users `range`, each on partition `i % PARTITIONS`, clicking at `at`.
fn clicks(range: std::ops::Range<usize>, at: i64) -> Vec<(String, i32, i64)> {
    range.map(|i| (user(i), i as i32 % PARTITIONS, at)).collect()
}

/// The users whose latest changelog record is a value (`true`) or a
/// tombstone (`false`), by the committed view of the changelog.
async fn changelog_state(brokers: &str, changelog: &str) -> BTreeMap<String, bool> {
    let view = committed_view(brokers, changelog).await.expect("oracle");
    let mut last = BTreeMap::new();
    for record in &view.committed {
        let key = record.key_str().expect("a keyed changelog");
        last.insert(user_in(&key), record.value.is_some());
    }
    last
}

/// The user name a store key holds (store keys are an order-preserving
/// encoding of the `String`: its text, then a terminator).
fn user_in(key: &str) -> String {
    let start = key
        .find("user-")
        .unwrap_or_else(|| panic!("no user in key {key:?}"));
    key[start..].chars().take(user(0).len()).collect()
}

/// The users present in store `seen` (index 0) of the database at `dir`,
/// read from RocksDB's files: the first two bytes of a data key are its
/// keyspace (1) and store index.
fn users_on_disk(dir: &std::path::Path) -> BTreeSet<String> {
    let mut users = BTreeSet::new();
    for partition in 0..PARTITIONS {
        let path = dir.join(format!("partition-{partition}"));
        if !path.exists() {
            // Never opened: nothing in it, restored or not.
            continue;
        }
        let db = rocksdb::DB::open_for_read_only(&rocksdb::Options::default(), &path, false)
            .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        for item in db.prefix_iterator([1u8, 0u8]) {
            let (key, _) = item.expect("read");
            if !key.starts_with(&[1, 0]) {
                break;
            }
            users.insert(user_in(&String::from_utf8_lossy(&key[2..])));
        }
    }
    users
}

/// The product's settings: on `brokers`, as application `app`, its
/// state under `state`.
fn config(brokers: &str, app: &str, state: &std::path::Path) -> Config {
    Config::builder()
        .brokers(brokers)
        .application_id(app)
        .state_dir(state)
        .topic_partitions(PARTITIONS)
        .kafka_property("session.timeout.ms", "6000")
        .build()
        .expect("config")
}

/// Starts the product, gives it `clicks` and stops it once they are
/// committed.
async fn run_over(product: FirstClicks, config: Config, clicks: &[(String, i32, i64)]) {
    let running = start_over(product, config, clicks).await;
    running.stop().await.expect("join").expect("clean stop");
}

/// Starts the product and gives it `clicks`; returns it once they are
/// committed.
async fn start_over(product: FirstClicks, config: Config, clicks: &[(String, i32, i64)]) -> run::Running {
    let brokers = config.brokers().expect("brokers").to_string();
    let input = product.input.clone();
    let mut running = run::spawn(product, config).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");
    produce(&brokers, &input, clicks).await;
    running
        .until_committed(clicks.len() as u64, Duration::from_secs(120))
        .await
        .expect("committed");
    running
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_entries_are_tombstoned_and_a_restore_does_not_bring_them_back() {
    let test = "expired_entries_are_tombstoned_and_a_restore_does_not_bring_them_back";
    let Some(brokers) = test_brokers(test) else {
        return;
    };
    let input = unique_name("ttl-in");
    create_topic(&brokers, &input, PARTITIONS)
        .await
        .expect("input topic");
    let output = unique_name("ttl-out");
    let app = unique_name("ttl-app");
    let changelog = meshkit::changelog_topic(&app, "seen");
    let t0 = t0();
    let product = || FirstClicks {
        input: input.clone(),
        output: output.clone(),
        ttl: Ttl::new(Clock::Stream, Duration::from_secs(60)),
    };
    let state = tempfile::tempdir().expect("state");
    let config = || config(&brokers, &app, state.path());

    // Users 0..200 click at t0; users 0..100 again 30 s later (their entries
    // now expire at t0 + 90 s); then one click per partition at t0 + 75 s,
    // stream time passing the expiry of users 100..200 only.
    let mut first = clicks(0..200, t0);
    first.extend(clicks(0..100, t0 + MINUTE / 2));
    first.extend(clicks(1_000..1_002, t0 + MINUTE + MINUTE / 4));
    run_over(product(), config(), &first).await;

    let logged = changelog_state(&brokers, &changelog).await;
    let tombstoned: BTreeSet<&String> = logged
        .iter()
        .filter(|(_, live)| !**live)
        .map(|(u, _)| u)
        .collect();
    let expected: BTreeSet<String> = (100..200).map(user).collect();
    assert_eq!(
        tombstoned,
        expected.iter().collect(),
        "the changelog's last word on each expired user is a tombstone, and only on them"
    );
    for i in (0..100).chain(1_000..1_002) {
        assert_eq!(
            logged.get(&user(i)),
            Some(&true),
            "user {i} is alive in the changelog"
        );
    }
    let on_disk = users_on_disk(&state.path().join(&app));
    assert!(
        on_disk.intersection(&expected).next().is_none(),
        "expired entries removed from the local store"
    );

    // Local state lost: the next start restores from the changelog alone.
    std::fs::remove_dir_all(state.path().join(&app)).expect("delete the state");
    // At t0 + 80 s: user 100 expired (clicks through again), user 0 not.
    let second = vec![
        (user(100), 0, t0 + MINUTE + MINUTE / 3),
        (user(0), 0, t0 + MINUTE + MINUTE / 3),
    ];
    run_over(product(), config(), &second).await;
    let restored = users_on_disk(&state.path().join(&app));
    let brought_back: Vec<&String> = restored
        .iter()
        .filter(|u| expected.contains(*u) && u.as_str() != user(100))
        .collect();
    assert!(
        brought_back.is_empty(),
        "a restore brought expired entries back: {brought_back:?}"
    );
    // Partition 0 processed the new clicks, so its restore had finished.
    assert!(
        restored.contains(&user(0)) && restored.contains(&user(98)),
        "live entries restored"
    );

    let view = committed_view(&brokers, &output).await.expect("oracle");
    let firsts: Vec<(String, String)> = view
        .committed
        .iter()
        .map(|r| (r.key_str().unwrap_or_default(), r.value_str().unwrap_or_default()))
        .collect();
    let count = |u: &str| firsts.iter().filter(|(k, _)| k == u).count();
    assert_eq!(
        count(&user(0)),
        1,
        "user 0's second and third clicks were within the minute"
    );
    assert_eq!(count(&user(150)), 1, "user 150 clicked once");
    assert_eq!(
        count(&user(100)),
        2,
        "user 100's entry expired: the click after restore went through again"
    );
    assert_eq!(firsts.len(), 200 + 2 + 1, "{firsts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wall_clock_expiry_reaches_an_idle_task() {
    let test = "wall_clock_expiry_reaches_an_idle_task";
    let Some(brokers) = test_brokers(test) else {
        return;
    };
    let input = unique_name("ttl-wall-in");
    create_topic(&brokers, &input, PARTITIONS)
        .await
        .expect("input topic");
    let app = unique_name("ttl-wall-app");
    let state = tempfile::tempdir().expect("state");
    let config = config(&brokers, &app, state.path());
    let product = FirstClicks {
        input,
        output: unique_name("ttl-wall-out"),
        ttl: Ttl::new(Clock::Wall, Duration::from_secs(2)),
    };
    // Record time is irrelevant on the wall clock.
    let running = start_over(product, config, &clicks(0..20, t0())).await;
    // No record arrives any more: only the runtime's own look at its idle
    // tasks can remove the entries, and write their tombstones.
    let changelog = meshkit::changelog_topic(&app, "seen");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut logged = changelog_state(&brokers, &changelog).await;
    while logged.values().any(|live| *live) && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        logged = changelog_state(&brokers, &changelog).await;
    }
    running.stop().await.expect("join").expect("clean stop");
    let expected: BTreeMap<String, bool> = (0..20).map(|i| (user(i), false)).collect();
    assert_eq!(
        logged, expected,
        "every entry expired, each with a committed tombstone"
    );
}
