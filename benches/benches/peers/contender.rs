//! The contenders: how each is built and started (the command line of
//! `benches/peers/README.md`), and one timed run of one of them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::workload::{Workload, PARTITIONS};

/// The name `contender`'s output topic is derived from: a baseline build of
/// meshkit writes where meshkit does (its topics are its declarations').
pub(crate) fn output_name(contender: &str) -> &str {
    if contender == "meshkit-before" {
        "meshkit"
    } else {
        contender
    }
}

/// Every contender the harness knows (`meshkit-before` too, with
/// `MESHKIT_PEERS_BASELINE`).
pub(crate) const ALL: [&str; 4] = ["meshkit", "hand", "kafka-streams", "quix"];

/// How a contender runs: the settings of one run.
#[derive(Debug, Clone)]
pub(crate) struct Setup<'a> {
    /// Bootstrap servers.
    pub(crate) brokers: &'a str,
    /// The workload.
    pub(crate) workload: Workload,
    /// `exactly_once` or `at_least_once`.
    pub(crate) guarantee: &'a str,
    /// Processing threads.
    pub(crate) threads: u32,
    /// Commit interval.
    pub(crate) commit_ms: u64,
    /// The schema registry's URL.
    pub(crate) registry: &'a str,
    /// Where contenders that need a build are built, and the venvs are.
    pub(crate) cache: &'a Path,
}

/// Whether `contender` can run `setup` at all (say why not).
pub(crate) fn supports(contender: &str, setup: &Setup<'_>) -> Result<(), &'static str> {
    match contender {
        "quix" if setup.threads != 1 => Err("Quix Streams runs one processing thread"),
        _ => Ok(()),
    }
}

/// Builds what `contenders` need before any run (the Kafka Streams peer's
/// jar); returns its class path.
pub(crate) fn build(contenders: &[String], cache: &Path) -> anyhow::Result<String> {
    if contenders.iter().any(|c| c == "quix") && !quix_python(cache).exists() {
        bail!("the Quix Streams peer needs its venv: bash scripts/install-quix.sh");
    }
    if !contenders.iter().any(|c| c == "kafka-streams") {
        return Ok(String::new());
    }
    let pom = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/kafka-streams/pom.xml");
    let build = cache.join("peers/kafka-streams");
    let status = Command::new("mvn")
        .args(["-q", "-B", "-f"])
        .arg(&pom)
        .arg(format!("-Dpeer.build={}", build.display()))
        .arg("package")
        .status()
        .context("running Maven (the Kafka Streams peer needs a JDK 17 and Maven)")?;
    if !status.success() {
        bail!("building the Kafka Streams peer failed: {status}");
    }
    Ok(format!("{}/peer.jar:{}/lib/*", build.display(), build.display()))
}

fn quix_python(cache: &Path) -> PathBuf {
    cache.join("venv-quix/bin/python")
}

/// Starts `contender` as application `app`, reading `setup.workload`'s
/// input and writing its output topic for that contender.
pub(crate) fn spawn(
    setup: &Setup<'_>,
    contender: &str,
    app: &str,
    class_path: &str,
    state: &Path,
) -> anyhow::Result<Child> {
    let workload = setup.workload;
    let output = workload.output(output_name(contender));
    let registry = if workload == Workload::W1 {
        setup.registry
    } else {
        "-"
    };
    let args = [
        workload.name().to_string(),
        setup.brokers.to_string(),
        workload.input().to_string(),
        output,
        app.to_string(),
        setup.guarantee.to_string(),
        setup.commit_ms.to_string(),
        setup.threads.to_string(),
        state.display().to_string(),
        registry.to_string(),
    ];
    let mut command = match contender {
        "meshkit" => meshkit_command(setup, app, state, Path::new(env!("CARGO_BIN_EXE_peer-meshkit"))),
        "meshkit-before" => {
            let baseline = std::env::var_os(BASELINE)
                .with_context(|| format!("contender meshkit-before needs {BASELINE}"))?;
            meshkit_command(setup, app, state, Path::new(&baseline))
        }
        "hand" => {
            let mut command = Command::new(env!("CARGO_BIN_EXE_peer-hand"));
            command.args(&args);
            command
        }
        "kafka-streams" => {
            let mut command = Command::new("java");
            command
                .args(["-cp", class_path, "meshkit.peers.Peer"])
                .args(&args);
            command
        }
        "quix" => {
            let mut command = Command::new(quix_python(setup.cache));
            command
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/quix/peer.py"))
                .args(&args);
            command
        }
        other => bail!("unknown contender `{other}` (known: {ALL:?})"),
    };
    command
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {contender}"))
}

/// The `peer-meshkit` binary of another build (e.g. of the commit before a
/// change), run as contender `meshkit-before`: a change's before and after
/// measured in one run.
pub(crate) const BASELINE: &str = "MESHKIT_PEERS_BASELINE";

/// meshkit takes its settings from `MESHKIT_*`; its topics are its
/// declarations'.
fn meshkit_command(setup: &Setup<'_>, app: &str, state: &Path, program: &Path) -> Command {
    let mut command = Command::new(program);
    // The product refuses MESHKIT_* settings it does not know (the
    // harness's own and the tests'): it gets only its own.
    for (name, _) in std::env::vars().filter(|(name, _)| name.starts_with("MESHKIT_")) {
        command.env_remove(name);
    }
    command
        .arg(setup.workload.name())
        .env("MESHKIT_BROKERS", setup.brokers)
        .env("MESHKIT_APPLICATION_ID", app)
        .env("MESHKIT_STATE_DIR", state)
        .env("MESHKIT_COMMIT_INTERVAL_MS", setup.commit_ms.to_string())
        // Commits on the interval alone, as the others do (meshkit also
        // commits every 10,000 records by default).
        .env("MESHKIT_COMMIT_RECORDS", "100000000")
        .env("MESHKIT_METRICS", "false")
        .env("MESHKIT_CATALOG", "false")
        .env("RUST_LOG", "warn");
    // Named only when not the defaults (exactly-once, one thread).
    if setup.guarantee != "exactly_once" {
        command.env("MESHKIT_PROCESSING_GUARANTEE", setup.guarantee);
    }
    if setup.threads != 1 {
        command.env("MESHKIT_PROCESSING_THREADS", setup.threads.to_string());
    }
    if setup.workload == Workload::W1 {
        command.env("MESHKIT_SCHEMA_REGISTRY_URL", setup.registry);
    }
    command
}

/// One contender's figures from one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    /// Input records committed per second.
    pub(crate) records_per_second: f64,
    /// CPU seconds of its process per million input records.
    pub(crate) cpu_seconds_per_million: f64,
    /// Its process's peak resident set.
    pub(crate) peak_rss_mb: f64,
}

/// The input records group `group` has committed on `partitions` (0 while
/// they cannot be read).
pub(crate) fn committed_count(group: &BaseConsumer, partitions: &TopicPartitionList) -> u64 {
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

/// A client that reads group `app`'s committed offsets on `topic`.
pub(crate) fn group_reader(
    brokers: &str,
    app: &str,
    topic: &str,
) -> anyhow::Result<(BaseConsumer, TopicPartitionList)> {
    let group: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", app)
        .create()?;
    let mut partitions = TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        partitions.add_partition(topic, partition);
    }
    Ok((group, partitions))
}

/// Runs `child` until its group has committed `records` input records;
/// timed from 10% of them committed to all (so JVM, interpreter and group
/// start-up stay out). One client reads the group's offsets for the whole
/// run: a client a poll would put its own start-up on the machine measured.
pub(crate) fn time_run(
    setup: &Setup<'_>,
    contender: &str,
    app: &str,
    mut child: Child,
    records: u64,
) -> anyhow::Result<Run> {
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(120 + records / 1_000);
    let (group, partitions) = group_reader(setup.brokers, app, setup.workload.input())?;
    let mut window: Option<(Instant, u64, f64)> = None;
    let result = loop {
        if let Some(status) = child.try_wait()? {
            bail!("{contender} stopped before committing all the input: {status}");
        }
        if Instant::now() > deadline {
            stop(child);
            bail!("{contender} did not commit all {records} records in time");
        }
        std::thread::sleep(Duration::from_millis(50));
        let committed = committed_count(&group, &partitions);
        if window.is_none() && committed >= records / 10 {
            window = Some((Instant::now(), committed, cpu_seconds(pid)?));
        }
        if committed >= records {
            let (start, start_count, start_cpu) = window.context("the window's start")?;
            let counted = (committed - start_count).max(1) as f64;
            let seconds = start.elapsed().as_secs_f64().max(1e-9);
            break Run {
                records_per_second: counted / seconds,
                cpu_seconds_per_million: (cpu_seconds(pid)? - start_cpu) / counted * 1e6,
                peak_rss_mb: peak_rss_mb(pid)?,
            };
        }
    };
    stop(child);
    Ok(result)
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
pub(crate) fn stop(mut child: Child) {
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
