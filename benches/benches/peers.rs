//! The peer benchmark: meshkit beside Kafka Streams, on the same broker, the
//! same pre-generated input and the same machine, each contender a process
//! of its own, alternating, several repeats, medians.
//!
//! Run: `eval "$(bash scripts/start-broker.sh)"; cargo bench -p meshkit-benches --bench peers`
//! (Java 17 and Maven build the Kafka Streams peer, `benches/peers/kafka-streams`,
//! into `$MESHKIT_CACHE/peers`). Settings: `MESHKIT_PEERS_RECORDS` (default
//! 1,000,000), `MESHKIT_PEERS_KEYS` (10,000), `MESHKIT_PEERS_REPEATS` (3),
//! `MESHKIT_PEERS_CONTENDERS` (`meshkit,kafka-streams`), `MESHKIT_PEERS_THREADS`
//! (1: the processing threads of each contender).
//!
//! Workload w2: a running sum per key in a RocksDB store, every update
//! emitted, at exactly-once (Kafka Streams' `exactly_once_v2`, its record
//! cache off), commits every 100 ms and only then (meshkit's default cap of
//! 10,000 records per transaction is lifted to match), one processing
//! thread (`MESHKIT_PEERS_THREADS`), 4 input partitions.
//!
//! Measured per run, over the same window for every contender (from 10% to
//! 100% of the input committed, read from the group's committed offsets, so
//! JVM and group start-up stay out): records/s, CPU seconds of the
//! contender's process per million records (from /proc), and its peak RSS.
//! Then the **cross-check**: the committed view of the run's output (read
//! from the raw log by the tests' oracle) must end, for every key, on the sum
//! computed here from the input; a contender whose output differs is
//! reported, not timed.

mod common;

use common::{env_or, median};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use meshkit_tests::broker::{create_topic, end_offsets, send_with_backpressure, unique_name};
use meshkit_tests::oracle::committed_view_with_timeout;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const PARTITIONS: i32 = 4;
/// The meshkit peer's topics, as its declaration names them.
const INPUT: &str = "bench.w2.numbers";
const MESHKIT_OUTPUT: &str = "bench.w2.sums";
const KSTREAMS_OUTPUT: &str = "bench.w2.sums.kstreams";
const COMMIT_MS: u64 = 100;

/// One contender's figures from one run.
#[derive(Debug, Clone, Copy)]
struct Run {
    records_per_second: f64,
    cpu_seconds_per_million: f64,
    peak_rss_mb: f64,
}

/// The settings of a harness run.
struct Settings {
    brokers: String,
    records: u64,
    keys: u64,
    repeats: usize,
    contenders: Vec<String>,
    /// Processing threads of each contender.
    threads: usize,
    cache: PathBuf,
}

/// The input: `records` keys drawn from `keys` by a fixed sequence, values
/// from 1 to 100; returns the sum each key must end on.
fn produce_input(brokers: &str, records: u64, keys: u64) -> anyhow::Result<HashMap<String, i64>> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("batch.size", "262144")
        .create()?;
    let mut expected = HashMap::new();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..records {
        // xorshift64*: the same input on every run and machine.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let draw = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let key = format!("k{}", draw % keys);
        let value = (draw >> 32) % 100 + 1;
        let value = i64::try_from(value)?;
        *expected.entry(key.clone()).or_insert(0) += value;
        send_with_backpressure(
            &producer,
            BaseRecord::to(INPUT)
                .key(key.as_bytes())
                .payload(&value.to_be_bytes()),
        )?;
    }
    producer.flush(Duration::from_secs(120))?;
    Ok(expected)
}

/// Deletes `topics` and waits until the brokers no longer list them.
async fn delete_topics(brokers: &str, topics: &[&str]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", brokers).create()?;
    // Topics that do not exist answer an error per topic: nothing to delete.
    let _ = admin.delete_topics(topics, &AdminOptions::new()).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let metadata = admin.inner().fetch_metadata(None, Duration::from_secs(10))?;
        if !metadata.topics().iter().any(|t| topics.contains(&t.name())) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("topics {topics:?} still listed a minute after their deletion");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Builds the Kafka Streams peer; returns its class path.
fn build_kafka_streams(cache: &Path) -> anyhow::Result<String> {
    let pom = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/kafka-streams/pom.xml");
    let build = cache.join("peers/kafka-streams");
    let status = Command::new("mvn")
        .args(["-q", "-B", "-f"])
        .arg(&pom)
        .arg(format!("-Dpeer.build={}", build.display()))
        .arg("package")
        .status()
        .context("running Maven (the Kafka Streams peer needs Java 17 and Maven)")?;
    if !status.success() {
        bail!("building the Kafka Streams peer failed: {status}");
    }
    Ok(format!("{}/peer.jar:{}/lib/*", build.display(), build.display()))
}

/// Input records group `group` has committed (0 while it cannot be read).
fn committed_count(group: &BaseConsumer, partitions: &TopicPartitionList) -> u64 {
    let Ok(committed) = group.committed_offsets(partitions.clone(), Duration::from_secs(10)) else {
        return 0;
    };
    (committed.elements().iter())
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => u64::try_from(o).ok(),
            _ => None,
        })
        .sum()
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which may hold spaces, closed by ')'.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("a /proc stat line")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 =
        fields.get(11).context("utime")?.parse::<u64>()? + fields.get(12).context("stime")?.parse::<u64>()?;
    // USER_HZ is 100 on Linux.
    Ok(ticks as f64 / 100.0)
}

/// The process's peak resident set, in MB.
fn peak_rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("VmHWM")?;
    let kb: f64 = line.split_whitespace().nth(1).context("VmHWM value")?.parse()?;
    Ok(kb / 1024.0)
}

/// Stops `child` as an operator would (SIGTERM), killing it if it lingers.
fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts `contender` as application `app`, writing to its output topic.
fn spawn(
    settings: &Settings,
    contender: &str,
    app: &str,
    class_path: &str,
    state: &Path,
) -> anyhow::Result<Child> {
    let mut command = match contender {
        "meshkit" => {
            let mut command = Command::new(env!("CARGO_BIN_EXE_peer-meshkit"));
            // The product refuses MESHKIT_* settings it does not know (the
            // harness's own and the tests'): it gets only its own.
            for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("MESHKIT_")) {
                command.env_remove(name);
            }
            command
                .env("MESHKIT_BROKERS", &settings.brokers)
                .env("MESHKIT_APPLICATION_ID", app)
                .env("MESHKIT_STATE_DIR", state)
                .env("MESHKIT_COMMIT_INTERVAL_MS", COMMIT_MS.to_string())
                // Commits on the interval alone, as Kafka Streams does (meshkit
                // also commits every 10,000 records by default).
                .env("MESHKIT_COMMIT_RECORDS", "100000000")
                .env("MESHKIT_PROCESSING_THREADS", settings.threads.to_string())
                .env("MESHKIT_METRICS", "false")
                .env("MESHKIT_CATALOG", "false")
                .env("RUST_LOG", "warn");
            command
        }
        "kafka-streams" => {
            let mut command = Command::new("java");
            command
                .args(["-cp", class_path, "meshkit.peers.RunningSum"])
                .args([&settings.brokers, INPUT, KSTREAMS_OUTPUT, app, "exactly_once_v2"])
                .arg(COMMIT_MS.to_string())
                .arg(settings.threads.to_string())
                .arg(state);
            command
        }
        other => bail!("unknown contender `{other}`"),
    };
    command
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {contender}"))
}

/// One run of `contender`: timed from 10% to 100% of the input committed.
fn run_once(
    settings: &Settings,
    contender: &str,
    class_path: &str,
) -> anyhow::Result<(Run, String, HashMap<i32, i64>)> {
    let app = unique_name(&format!("peers-{contender}"));
    let output = if contender == "meshkit" {
        MESHKIT_OUTPUT
    } else {
        KSTREAMS_OUTPUT
    };
    let before = end_offsets(&settings.brokers, output)?;
    let state = tempfile::tempdir()?;
    let mut child = spawn(settings, contender, &app, class_path, state.path())?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(120 + settings.records / 1_000);
    // One client reads the group's offsets for the whole run: a client a
    // poll would put its own start-up on the machine being measured.
    let group: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &settings.brokers)
        .set("group.id", &app)
        .create()?;
    let mut partitions = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        partitions.add_partition(INPUT, partition);
    }
    let mut window: Option<(Instant, u64, f64)> = None;
    let result = loop {
        if let Some(status) = child.try_wait()? {
            bail!("{contender} stopped before committing all the input: {status}");
        }
        if Instant::now() > deadline {
            stop(child);
            bail!(
                "{contender} did not commit all {} records in time",
                settings.records
            );
        }
        std::thread::sleep(Duration::from_millis(50));
        let committed = committed_count(&group, &partitions);
        if window.is_none() && committed >= settings.records / 10 {
            window = Some((Instant::now(), committed, cpu_seconds(pid)?));
        }
        if committed >= settings.records {
            let (start, start_count, start_cpu) = window.context("the window's start")?;
            let records = (committed - start_count).max(1) as f64;
            let seconds = start.elapsed().as_secs_f64().max(1e-9);
            break Run {
                records_per_second: records / seconds,
                cpu_seconds_per_million: (cpu_seconds(pid)? - start_cpu) / records * 1e6,
                peak_rss_mb: peak_rss_mb(pid)?,
            };
        }
    };
    stop(child);
    Ok((result, output.to_string(), before))
}

/// Compares the run's committed output with the expected sums; returns what
/// differs (nothing when the contender is right).
async fn cross_check(
    brokers: &str,
    output: &str,
    before: &HashMap<i32, i64>,
    expected: &HashMap<String, i64>,
) -> anyhow::Result<Vec<String>> {
    let view = committed_view_with_timeout(brokers, output, Duration::from_secs(300)).await?;
    let mut last: HashMap<String, i64> = HashMap::new();
    let mut records = 0u64;
    for record in view
        .committed
        .iter()
        .filter(|r| r.offset >= before.get(&r.partition).copied().unwrap_or(0))
    {
        records += 1;
        let key = record.key_str().unwrap_or_default();
        let bytes: [u8; 8] = record
            .value
            .as_deref()
            .unwrap_or_default()
            .try_into()
            .unwrap_or_default();
        last.insert(key, i64::from_be_bytes(bytes));
    }
    let mut wrong = Vec::new();
    for (key, sum) in expected {
        match last.get(key) {
            Some(got) if got == sum => {}
            got => wrong.push(format!("{key}: expected {sum}, got {got:?}")),
        }
    }
    if wrong.is_empty() && last.len() != expected.len() {
        wrong.push(format!(
            "{} keys in the output, {} in the input",
            last.len(),
            expected.len()
        ));
    }
    wrong.sort();
    wrong.truncate(5);
    if !wrong.is_empty() {
        wrong.push(format!("({records} committed output records read)"));
    }
    Ok(wrong)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let Some(brokers) = common::brokers("peer benchmark") else {
        return Ok(());
    };
    let home = std::env::var("HOME").unwrap_or_default();
    let settings = Settings {
        brokers,
        records: env_or("MESHKIT_PEERS_RECORDS", 1_000_000),
        keys: env_or("MESHKIT_PEERS_KEYS", 10_000),
        repeats: env_or("MESHKIT_PEERS_REPEATS", 3),
        contenders: env_or("MESHKIT_PEERS_CONTENDERS", "meshkit,kafka-streams".to_string())
            .split(',')
            .map(str::to_string)
            .collect(),
        threads: env_or("MESHKIT_PEERS_THREADS", 1),
        cache: std::env::var("MESHKIT_CACHE")
            .map_or_else(|_| PathBuf::from(home).join(".cache/meshkit"), PathBuf::from),
    };
    let class_path = if settings.contenders.iter().any(|c| c == "kafka-streams") {
        build_kafka_streams(&settings.cache)?
    } else {
        String::new()
    };
    delete_topics(&settings.brokers, &[INPUT, MESHKIT_OUTPUT, KSTREAMS_OUTPUT]).await?;
    for topic in [INPUT, MESHKIT_OUTPUT, KSTREAMS_OUTPUT] {
        create_topic(&settings.brokers, topic, PARTITIONS).await?;
    }
    let produced = Instant::now();
    let expected = {
        let (brokers, records, keys) = (settings.brokers.clone(), settings.records, settings.keys);
        tokio::task::spawn_blocking(move || produce_input(&brokers, records, keys)).await??
    };
    println!(
        "peer benchmark, w2 (running sum per key, every update emitted), exactly-once, {COMMIT_MS} ms commits: \
         {} records, {} keys, {PARTITIONS} partitions, {} processing thread(s), produced in {:.1} s; broker {}; \
         median of {} alternating runs",
        settings.records,
        expected.len(),
        settings.threads,
        produced.elapsed().as_secs_f64(),
        settings.brokers,
        settings.repeats
    );
    let mut runs: HashMap<String, Vec<Run>> = HashMap::new();
    let mut failures: HashMap<String, Vec<String>> = HashMap::new();
    for repeat in 0..settings.repeats {
        for contender in &settings.contenders {
            let (run, output, before) = run_once(&settings, contender, &class_path)?;
            let wrong = cross_check(&settings.brokers, &output, &before, &expected).await?;
            println!(
                "  run {}: {contender}: {:.0} rec/s, {:.1} CPU s per 1M records, peak RSS {:.0} MB, cross-check {}",
                repeat + 1,
                run.records_per_second,
                run.cpu_seconds_per_million,
                run.peak_rss_mb,
                if wrong.is_empty() { "ok".to_string() } else { format!("FAILED: {}", wrong.join("; ")) }
            );
            if wrong.is_empty() {
                runs.entry(contender.clone()).or_default().push(run);
            } else {
                failures.entry(contender.clone()).or_default().extend(wrong);
            }
        }
    }
    println!();
    println!("| contender | records/s | CPU s per 1M records | peak RSS (MB) | cross-check |");
    println!("|---|---|---|---|---|");
    let mut medians: HashMap<&str, (f64, f64, f64)> = HashMap::new();
    for contender in &settings.contenders {
        let Some(list) = runs.get(contender).filter(|l| !l.is_empty()) else {
            println!("| {contender} | not timed | | | FAILED |");
            continue;
        };
        let pick = |f: fn(&Run) -> f64| median(&mut list.iter().map(f).collect::<Vec<_>>());
        let m = (
            pick(|r| r.records_per_second),
            pick(|r| r.cpu_seconds_per_million),
            pick(|r| r.peak_rss_mb),
        );
        let check = if failures.contains_key(contender) {
            "failed in some runs"
        } else {
            "ok"
        };
        println!("| {contender} | {:.0} | {:.1} | {:.0} | {check} |", m.0, m.1, m.2);
        medians.insert(contender.as_str(), m);
    }
    if let (Some(m), Some(k)) = (medians.get("meshkit"), medians.get("kafka-streams")) {
        println!();
        println!(
            "meshkit / Kafka Streams: {:.2}x records/s, {:.2}x fewer CPU s per 1M records, {:.2}x less peak RSS",
            m.0 / k.0,
            k.1 / m.1,
            k.2 / m.2
        );
    }
    if !failures.is_empty() {
        bail!("cross-check failed: {failures:?}");
    }
    Ok(())
}
