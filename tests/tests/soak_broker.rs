//! The exactly-once soak on the real broker: two instances of a product
//! with two inputs co-partitioned into one store and a windowed store run
//! as child processes under SIGKILLs of either instance at random moments,
//! an instance leaving and joining again, and one whose transform stalls
//! past `max.poll.interval.ms`. Judged on the committed views: every key's
//! running totals exact (no duplicate, no loss, state exact), every key's
//! window counts running 1, 2, 3… up to the count computed from the input's
//! timestamps, and no dead letter.
//!
//! The default run is CI-sized; `soak_full` (ignored) is the full one:
//! `cargo test -p meshkit-tests --test soak_broker -- --ignored --nocapture`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use meshkit_tests::broker::{
    create_topic, input_id, input_key, send_with_backpressure, test_brokers, unique_name,
};
use meshkit_tests::crash::progress;
use meshkit_tests::oracle::{committed_view_with_timeout, CommittedView};
use meshkit_tests::process::{self, ChildProduct};
use meshkit_tests::verify::totals_exact;
use rand::Rng;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

const KEYS: usize = 200;
/// Event time advances this much per input record.
const STEP_MS: i64 = 1;
const PARTITIONS: i32 = 4;
const POLL_INTERVAL_MS: u64 = 3_000;
/// A stall outlasts the poll interval by this much.
const STALL_MS: u64 = POLL_INTERVAL_MS + 1_500;

#[derive(Debug, Clone, Copy)]
enum Event {
    Kill,
    LeaveAndJoin,
    Stall,
}

struct Instance {
    name: &'static str,
    envs: Vec<(&'static str, String)>,
    logs: PathBuf,
    stall_file: PathBuf,
    child: Option<ChildProduct>,
    starts: usize,
}

impl Instance {
    fn start(&mut self, binary: &Path) {
        let log = self.logs.join(format!("{}-{}.log", self.name, self.starts));
        self.starts += 1;
        self.child = Some(process::spawn(binary, &self.envs, &log).expect("start"));
    }

    /// Stops it with SIGTERM; it must exit cleanly.
    fn stop_cleanly(&mut self) {
        let child = self.child.as_mut().expect("running");
        let status = child.terminate(Duration::from_secs(60)).expect("stops");
        assert!(status.success(), "{} did not stop cleanly: {status:?}", self.name);
    }

    fn log_text(&self) -> String {
        self.child
            .as_ref()
            .map(ChildProduct::log_text)
            .unwrap_or_default()
    }
}

struct Soak {
    brokers: String,
    app: String,
    inputs: [String; 2],
    base_ts: i64,
}

impl Soak {
    /// Input offsets the group has committed, over both inputs.
    async fn progress(&self) -> i64 {
        let (brokers, app, inputs) = (self.brokers.clone(), self.app.clone(), self.inputs.clone());
        tokio::task::spawn_blocking(move || inputs.iter().map(|topic| progress(&brokers, &app, topic)).sum())
            .await
            .expect("join")
    }

    /// Produces inputs `ids`: even ids to the left input, odd to the right,
    /// keyed `k-<i % KEYS>`, input `i` at event time `base + i * STEP_MS`.
    async fn produce(&self, ids: std::ops::Range<usize>) {
        let (brokers, inputs, base) = (self.brokers.clone(), self.inputs.clone(), self.base_ts);
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let producer: BaseProducer = ClientConfig::new()
                .set("bootstrap.servers", &brokers)
                .set("linger.ms", "5")
                .set("enable.idempotence", "true")
                .create()?;
            for i in ids {
                let (key, id) = (input_key(i, KEYS), input_id(i));
                let record = BaseRecord::to(&inputs[i % 2])
                    .key(&key)
                    .payload(&id)
                    .timestamp(base + i as i64 * STEP_MS);
                send_with_backpressure(&producer, record)?;
                producer.poll(Duration::ZERO);
            }
            producer.flush(Duration::from_secs(60))?;
            Ok(())
        })
        .await
        .expect("join")
        .expect("inputs");
    }

    /// Waits until the group has committed more than `than` input offsets.
    async fn until_progress(&self, than: i64, instances: &[Instance]) -> i64 {
        let deadline = std::time::Instant::now() + Duration::from_secs(180);
        loop {
            let now = self.progress().await;
            if now > than {
                return now;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no progress past {than} within 180 s; logs:\n{}",
                logs(instances)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The current logs of `instances`, for a failure to show.
fn logs(instances: &[Instance]) -> String {
    instances
        .iter()
        .map(|i| format!("== {}\n{}", i.name, i.log_text()))
        .collect()
}

/// Checks the window counts on the committed view: for every key and
/// window, the counts published run 1, 2, 3… up to the number of inputs of
/// that key whose timestamps fall in it. Returns the problems (at most 20).
fn windows_exact(view: &CommittedView, n: usize, base_ts: i64) -> Vec<String> {
    let size = meshkit_tests::product::Soak::WINDOW.as_millis() as i64;
    let mut expected: HashMap<(String, i64), u64> = HashMap::new();
    for i in 0..n {
        let ts = base_ts + i as i64 * STEP_MS;
        *expected
            .entry((input_key(i, KEYS), ts - ts.rem_euclid(size)))
            .or_insert(0) += 1;
    }
    let mut seen: BTreeMap<(String, i64), Vec<u64>> = BTreeMap::new();
    let mut problems = Vec::new();
    for record in &view.committed {
        let value = record.value_str().unwrap_or_default();
        let parts: Vec<&str> = value.split('|').collect();
        match parts.as_slice() {
            [key, start, count] => match (start.parse::<i64>(), count.parse::<u64>()) {
                (Ok(start), Ok(count)) => seen.entry((key.to_string(), start)).or_default().push(count),
                _ => problems.push(format!("unreadable window output `{value}`")),
            },
            _ => problems.push(format!("unreadable window output `{value}`")),
        }
    }
    for (window, count) in &expected {
        let mut counts = seen.remove(window).unwrap_or_default();
        counts.sort_unstable();
        if counts != (1..=*count).collect::<Vec<_>>() {
            problems.push(format!(
                "window {window:?}: counts are not 1..={count}: {:?}",
                counts.iter().take(10).collect::<Vec<_>>()
            ));
        }
    }
    for window in seen.keys() {
        problems.push(format!("window {window:?} has no input"));
    }
    problems.truncate(20);
    problems
}

async fn soak(test: &str, n: usize, kills: usize) {
    let Some(brokers) = test_brokers(test) else {
        return;
    };
    let prefix = unique_name("soak");
    let app = unique_name("soak-app");
    let inputs = [format!("{prefix}.left"), format!("{prefix}.right")];
    for topic in &inputs {
        create_topic(&brokers, topic, PARTITIONS)
            .await
            .expect("input topic");
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    // In the past, so no input is ahead of the broker's clock; on a window edge.
    let base_ts = now_ms - 2 * 3_600_000 - now_ms.rem_euclid(1_000);
    let s = Soak {
        brokers: brokers.clone(),
        app: app.clone(),
        inputs,
        base_ts,
    };
    let dirs = tempfile::tempdir().expect("dirs");
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_relay-product"));
    let mut instances: Vec<Instance> = ["a", "b"]
        .into_iter()
        .map(|name| {
            let stall_file = dirs.path().join(format!("stall-{name}"));
            Instance {
                name,
                envs: vec![
                    ("MESHKIT_BROKERS", brokers.clone()),
                    ("MESHKIT_APPLICATION_ID", app.clone()),
                    ("MESHKIT_INSTANCE_ID", name.to_string()),
                    ("MESHKIT_STATE_DIR", dirs.path().join(name).display().to_string()),
                    ("MESHKIT_TOPIC_PARTITIONS", PARTITIONS.to_string()),
                    ("MESHKIT_KAFKA_SESSION_TIMEOUT_MS", POLL_INTERVAL_MS.to_string()),
                    ("MESHKIT_KAFKA_HEARTBEAT_INTERVAL_MS", "500".to_string()),
                    ("MESHKIT_KAFKA_MAX_POLL_INTERVAL_MS", POLL_INTERVAL_MS.to_string()),
                    ("RELAY_PRODUCT", "soak".to_string()),
                    ("RELAY_INPUT", prefix.clone()),
                    ("RELAY_OUTPUT", format!("{prefix}-out")),
                    ("SOAK_STALL_FILE", stall_file.display().to_string()),
                    ("SOAK_STALL_MS", STALL_MS.to_string()),
                ],
                logs: dirs.path().to_path_buf(),
                stall_file,
                child: None,
                starts: 0,
            }
        })
        .collect();

    let mut events = vec![Event::Kill; kills];
    events.insert(kills / 3, Event::LeaveAndJoin);
    events.insert(2 * kills / 3 + 1, Event::Stall);
    let chunk = n / (events.len() + 1);
    let started = std::time::Instant::now();
    s.produce(0..chunk).await;
    let mut produced = chunk;
    for instance in &mut instances {
        instance.start(&binary);
    }
    let mut rng = rand::rng();
    let mut counts = (0, 0, 0);
    let mut last = 0;
    for (i, event) in events.iter().enumerate() {
        last = s.until_progress(last, &instances).await;
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..800))).await;
        let victim = rng.random_range(0..instances.len());
        let instance = &mut instances[victim];
        match event {
            Event::Kill => {
                instance
                    .child
                    .as_mut()
                    .expect("running")
                    .kill9()
                    .expect("SIGKILL");
                counts.0 += 1;
                eprintln!("event {i}: SIGKILL of {} ({last} committed)", instance.name);
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..1_000))).await;
                instance.start(&binary);
            }
            Event::LeaveAndJoin => {
                instance.stop_cleanly();
                counts.1 += 1;
                eprintln!("event {i}: {} left the group ({last} committed)", instance.name);
                s.produce(produced..produced + chunk / 2).await;
                produced += chunk / 2;
                last = s.until_progress(last, &instances).await;
                let instance = &mut instances[victim];
                instance.start(&binary);
                eprintln!("event {i}: {} joined again", instance.name);
            }
            Event::Stall => {
                std::fs::write(&instance.stall_file, b"").expect("stall file");
                // Records for it to meet the stall on.
                let more = chunk.min(n - produced);
                s.produce(produced..produced + more).await;
                produced += more;
                let instance = &mut instances[victim];
                counts.2 += 1;
                eprintln!(
                    "event {i}: {} stalls its transform past max.poll.interval.ms",
                    instance.name
                );
                let deadline = std::time::Instant::now() + Duration::from_secs(120);
                while instance.stall_file.exists() {
                    assert!(std::time::Instant::now() < deadline, "the stall was never taken");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                // Let the stall run its course (no kill of the stalled
                // instance before it polls again and finds its loss).
                tokio::time::sleep(Duration::from_millis(STALL_MS + 2_000)).await;
            }
        }
        let more = if i + 1 == events.len() {
            n - produced
        } else {
            chunk.min(n - produced)
        };
        s.produce(produced..produced + more).await;
        produced += more;
    }
    assert_eq!(produced, n);
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    while s.progress().await < n as i64 {
        assert!(
            std::time::Instant::now() < deadline,
            "not all committed within 600 s; logs:\n{}",
            logs(&instances)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    for instance in &mut instances {
        instance.stop_cleanly();
    }
    eprintln!(
        "soak: {n} inputs over two instances in {elapsed:?}: {} SIGKILLs, {} leave-and-join, {} stall past max.poll.interval.ms",
        counts.0, counts.1, counts.2
    );

    // The stall must have cost the stalled instance its assignment (the
    // scenario it stands for), as the instances' own logs say.
    let lost = std::fs::read_dir(dirs.path())
        .expect("logs")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .map(|log| log.matches("lost=true").count())
        .sum::<usize>();
    eprintln!("soak: {lost} assignment(s) lost without a handover");
    assert!(
        lost >= 1,
        "no instance lost its assignment: the stall did not overrun the poll interval"
    );

    let timeout = Duration::from_secs(600);
    let totals = committed_view_with_timeout(&brokers, &format!("{prefix}-out.totals"), timeout)
        .await
        .expect("oracle");
    let problems = totals_exact(&totals, (0..n).map(|i| (input_key(i, KEYS), i)));
    assert!(problems.is_empty(), "totals are not exact: {problems:#?}");
    let windows = committed_view_with_timeout(&brokers, &format!("{prefix}-out.windows"), timeout)
        .await
        .expect("oracle");
    let problems = windows_exact(&windows, n, base_ts);
    assert!(problems.is_empty(), "window counts are not exact: {problems:#?}");
    let dlq = committed_view_with_timeout(&brokers, &format!("{app}.dlq"), timeout)
        .await
        .expect("oracle");
    assert!(dlq.committed.is_empty(), "{} dead letters", dlq.committed.len());
    eprintln!(
        "soak: judged {} totals and {} window outputs on the committed view ({} aborted records in the raw logs)",
        totals.committed.len(),
        windows.committed.len(),
        totals.aborted.len() + windows.aborted.len()
    );
}

/// The CI-sized soak: 200,000 inputs, 8 SIGKILLs, a leave-and-join and a stall.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_ci_sized() {
    soak("soak_ci_sized", 200_000, 8).await;
}

/// The full soak: 1,000,000 inputs, 20 SIGKILLs, a leave-and-join and a stall.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the full soak takes minutes; CI runs soak_ci_sized"]
async fn soak_full() {
    soak("soak_full", 1_000_000, 20).await;
}
