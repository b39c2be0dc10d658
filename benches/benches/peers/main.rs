//! The peer benchmark: meshkit beside a hand-written rdkafka loop, Kafka
//! Streams and Quix Streams, on the same broker, the same pre-generated
//! input and the same machine; each contender a process of its own,
//! alternating, several repeats, medians. The workloads and the contenders'
//! command line: `benches/peers/README.md`.
//!
//! Run: `eval "$(bash scripts/start-broker.sh)"; cargo bench -p meshkit-benches --bench peers`
//! (Kafka Streams needs a JDK 17 and Maven, Quix Streams its venv from
//! `scripts/install-quix.sh`). Settings (environment):
//!
//! | variable | default |
//! |---|---|
//! | `MESHKIT_PEERS_RECORDS` | 1,000,000 input records per workload |
//! | `MESHKIT_PEERS_KEYS` | 10,000 |
//! | `MESHKIT_PEERS_REPEATS` | 3 |
//! | `MESHKIT_PEERS_WORKLOADS` | `w1,w2,w3` |
//! | `MESHKIT_PEERS_CONTENDERS` | `meshkit,hand,kafka-streams,quix` |
//! | `MESHKIT_PEERS_GUARANTEES` | `exactly_once,at_least_once` |
//! | `MESHKIT_PEERS_THREADS` | `1,2` (threads other than 1: w2 at exactly-once, meshkit and Kafka Streams) |
//! | `MESHKIT_PEERS_LATENCY_RATE` | 10,000 records/s offered for the latency runs (0: none) |
//! | `MESHKIT_PEERS_LATENCY_SECONDS` | 10 |
//! | `MESHKIT_PEERS_BASELINE` | none: a `peer-meshkit` of another build, run as contender `meshkit-before` |
//!
//! Measured per run, over the same window for every contender (from 10% to
//! 100% of the input committed, read from the group's committed offsets, so
//! start-up stays out): records/s, CPU seconds of the contender's process
//! per million records (from /proc), its peak RSS; then, per contender, the
//! end-to-end latency at exactly-once at a fixed offered load (`latency.rs`;
//! w1 and w2, whose every input has its output at once). Every run is
//! **cross-checked**: the committed view of its output (read from the raw
//! log by the tests' oracle) must be what the harness computed from the
//! input; a run whose output differs is reported, not timed, and fails the
//! harness. Results: printed, and written to
//! `$CARGO_TARGET_DIR/peers/results.md` and `chart.png`.
//!
//! Under `cargo test` (no `--bench` argument) it is the smoke run: 20,000
//! records, one repeat, every contender, no latency runs; only the
//! cross-check decides whether it passes, never a timing.

#[path = "../common/mod.rs"]
mod common;
mod contender;
mod latency;
mod report;
mod workload;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use common::{env_or, median};
use meshkit::schema::registry::{EmbeddedRegistry, RegistryServer};
use meshkit::schema::SchemaRegistry;
use meshkit_tests::broker::{create_topic, end_offsets, unique_name};
use meshkit_tests::oracle::committed_view_with_timeout;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::ClientConfig;

use contender::{Run, Setup};
use report::Row;
use workload::{Input, Workload, PARTITIONS};

/// The settings of a harness run.
struct Settings {
    brokers: String,
    records: u64,
    keys: u64,
    repeats: usize,
    workloads: Vec<Workload>,
    contenders: Vec<String>,
    guarantees: Vec<String>,
    threads: Vec<u32>,
    latency: latency::Load,
    cache: PathBuf,
    /// The smoke run: only the cross-check counts.
    smoke: bool,
}

fn list(name: &str, default: &str) -> Vec<String> {
    (env_or(name, default.to_string()).split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Settings {
    fn from_env(brokers: String, smoke: bool) -> anyhow::Result<Self> {
        let home = std::env::var("HOME").unwrap_or_default();
        let workloads = list("MESHKIT_PEERS_WORKLOADS", "w1,w2,w3");
        let threads = list("MESHKIT_PEERS_THREADS", if smoke { "1" } else { "1,2" });
        Ok(Self {
            brokers,
            records: env_or("MESHKIT_PEERS_RECORDS", if smoke { 20_000 } else { 1_000_000 }),
            keys: env_or("MESHKIT_PEERS_KEYS", 10_000),
            repeats: env_or("MESHKIT_PEERS_REPEATS", if smoke { 1 } else { 3 }),
            workloads: workloads
                .iter()
                .map(|w| Workload::parse(w))
                .collect::<Result<_, _>>()?,
            contenders: list("MESHKIT_PEERS_CONTENDERS", &contender::ALL.join(",")),
            guarantees: list("MESHKIT_PEERS_GUARANTEES", "exactly_once,at_least_once"),
            threads: threads.iter().map(|t| t.parse()).collect::<Result<_, _>>()?,
            latency: latency::Load {
                rate: if smoke {
                    0
                } else {
                    env_or("MESHKIT_PEERS_LATENCY_RATE", 10_000)
                },
                seconds: env_or("MESHKIT_PEERS_LATENCY_SECONDS", 10),
            },
            cache: std::env::var("MESHKIT_CACHE")
                .map_or_else(|_| PathBuf::from(home).join(".cache/meshkit"), PathBuf::from),
            smoke,
        })
    }

    /// The (guarantee, threads) pairs `workload` runs at: every guarantee
    /// with one thread, and more threads at exactly-once on w2 (where the
    /// issue measures them; on every workload the run would last an hour).
    fn modes(&self, workload: Workload) -> Vec<(String, u32)> {
        let mut modes: Vec<(String, u32)> = self.guarantees.iter().map(|g| (g.clone(), 1)).collect();
        if workload == Workload::W2 && self.guarantees.iter().any(|g| g == "exactly_once") {
            modes.extend(
                self.threads
                    .iter()
                    .filter(|t| **t != 1)
                    .map(|t| ("exactly_once".to_string(), *t)),
            );
        }
        modes
    }
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

/// The harness's state across runs.
struct Bench {
    settings: Settings,
    registry: Arc<dyn SchemaRegistry>,
    registry_url: String,
    class_path: String,
    order_schema_id: u32,
    /// The runs whose output was wrong.
    failures: std::cell::RefCell<Vec<String>>,
}

impl Bench {
    fn setup<'a>(&'a self, workload: Workload, guarantee: &'a str, threads: u32) -> Setup<'a> {
        Setup {
            brokers: &self.settings.brokers,
            workload,
            guarantee,
            threads,
            commit_ms: 100,
            registry: &self.registry_url,
            cache: &self.settings.cache,
        }
    }

    /// Fresh topics for `workload` and its input, produced.
    async fn prepare(&self, workload: Workload) -> anyhow::Result<Input> {
        let mut outputs: Vec<String> = (self.settings.contenders.iter())
            .map(|c| workload.output(contender::output_name(c)))
            .collect();
        outputs.sort();
        outputs.dedup();
        let mut topics: Vec<&str> = outputs.iter().map(String::as_str).collect();
        topics.push(workload.input());
        delete_topics(&self.settings.brokers, &topics).await?;
        for topic in &topics {
            create_topic(&self.settings.brokers, topic, PARTITIONS).await?;
        }
        let (brokers, records, keys, id) = (
            self.settings.brokers.clone(),
            self.settings.records,
            self.settings.keys,
            self.order_schema_id,
        );
        let produced = Instant::now();
        let input =
            tokio::task::spawn_blocking(move || workload::produce(&brokers, workload, records, keys, id))
                .await??;
        println!(
            "\n{} ({}): {} input records, {} keys, {PARTITIONS} partitions, produced in {:.1} s",
            workload.name(),
            workload.title(),
            input.records,
            self.settings.keys,
            produced.elapsed().as_secs_f64()
        );
        Ok(input)
    }

    /// One run of `contender`: timed, then cross-checked.
    async fn run(&self, setup: &Setup<'_>, contender: &str, input: &Input) -> anyhow::Result<Option<Run>> {
        let output = setup.workload.output(contender::output_name(contender));
        let before = end_offsets(setup.brokers, &output)?;
        let app = unique_name(&format!("peers-{contender}"));
        let state = tempfile::tempdir()?;
        let child = contender::spawn(setup, contender, &app, &self.class_path, state.path())?;
        let run = match contender::time_run(setup, contender, &app, child, input.records) {
            Ok(run) => run,
            Err(e) => {
                // Stopped early or too slow: reported, not timed; the other
                // runs go on.
                println!(
                    "  {} {} {}t {contender}: {e:#}",
                    setup.workload.name(),
                    setup.guarantee,
                    setup.threads
                );
                (self.failures.borrow_mut()).push(format!("{contender} on {}: {e:#}", setup.workload.name()));
                return Ok(None);
            }
        };
        let view = committed_view_with_timeout(setup.brokers, &output, Duration::from_secs(300)).await?;
        let records: Vec<_> = (view.committed.iter())
            .filter(|r| r.offset >= before.get(&r.partition).copied().unwrap_or(0))
            .collect();
        let wrong = workload::differences(&input.expected, &records, &self.registry).await?;
        let check = if wrong.is_empty() {
            "ok".to_string()
        } else {
            format!("FAILED: {}", wrong.join("; "))
        };
        println!(
            "  {} {} {}t {contender}: {:.0} rec/s, {:.1} CPU s per 1M records, peak RSS {:.0} MB, cross-check {check}",
            setup.workload.name(),
            setup.guarantee,
            setup.threads,
            run.records_per_second,
            run.cpu_seconds_per_million,
            run.peak_rss_mb,
        );
        if wrong.is_empty() {
            Ok(Some(run))
        } else {
            self.failures.borrow_mut().push(format!(
                "{contender} on {} {}: {check}",
                setup.workload.name(),
                setup.guarantee
            ));
            Ok(None)
        }
    }

    /// `contender`'s latency at the offered load.
    fn latency(&self, setup: &Setup<'_>, contender: &str) -> anyhow::Result<latency::Latency> {
        let app = unique_name(&format!("peers-latency-{contender}"));
        let state = tempfile::tempdir()?;
        let input_end: i64 = end_offsets(setup.brokers, setup.workload.input())?.values().sum();
        let child = contender::spawn(setup, contender, &app, &self.class_path, state.path())?;
        let measured = latency::measure(
            setup.brokers,
            setup.workload,
            &app,
            &setup.workload.output(contender::output_name(contender)),
            u64::try_from(input_end)?,
            self.settings.latency,
            self.order_schema_id,
        );
        contender::stop(child);
        measured
    }

    /// Every mode and contender on `workload`: its rows.
    async fn workload(&self, workload: Workload) -> anyhow::Result<Vec<Row>> {
        let input = self.prepare(workload).await?;
        let mut rows = Vec::new();
        for (guarantee, threads) in self.settings.modes(workload) {
            let setup = self.setup(workload, &guarantee, threads);
            let contenders: Vec<String> = (self.settings.contenders.iter())
                .filter(|c| match contender::supports(c, &setup) {
                    Ok(()) => threads == 1 || c.as_str() != "hand",
                    Err(why) => {
                        println!(
                            "  {c}: not run on {} {guarantee} {threads}t: {why}",
                            workload.name()
                        );
                        false
                    }
                })
                .cloned()
                .collect();
            let mut runs: HashMap<&str, Vec<Run>> = HashMap::new();
            for _ in 0..self.settings.repeats {
                for contender in &contenders {
                    if let Some(run) = self.run(&setup, contender, &input).await? {
                        runs.entry(contender.as_str()).or_default().push(run);
                    }
                }
            }
            for contender in &contenders {
                let list = runs.remove(contender.as_str()).unwrap_or_default();
                let median = (!list.is_empty()).then(|| {
                    let pick = |f: fn(&Run) -> f64| median(&mut list.iter().map(f).collect::<Vec<_>>());
                    Run {
                        records_per_second: pick(|r| r.records_per_second),
                        cpu_seconds_per_million: pick(|r| r.cpu_seconds_per_million),
                        peak_rss_mb: pick(|r| r.peak_rss_mb),
                    }
                });
                rows.push(Row {
                    workload,
                    guarantee: guarantee.clone(),
                    threads,
                    contender: contender.clone(),
                    checked: (list.len(), self.settings.repeats),
                    median,
                    latency: None,
                });
            }
        }
        if self.settings.latency.rate > 0 && workload.has_latency() {
            // At exactly-once, the guarantee whose latency the commit
            // interval bounds (at least once, outputs are visible as sent).
            for row in (rows.iter_mut()).filter(|r| r.threads == 1 && r.guarantee == "exactly_once") {
                let setup = self.setup(workload, &row.guarantee, 1);
                match self.latency(&setup, &row.contender) {
                    Ok(l) => {
                        println!(
                            "  {} {} {}: latency p50 {:.0} ms, p99 {:.0} ms at {} records/s",
                            workload.name(),
                            row.guarantee,
                            row.contender,
                            l.p50,
                            l.p99,
                            self.settings.latency.rate
                        );
                        row.latency = Some(l);
                    }
                    Err(e) => println!(
                        "  {} {} {}: latency not measured: {e:#}",
                        workload.name(),
                        row.guarantee,
                        row.contender
                    ),
                }
            }
        }
        Ok(rows)
    }
}

/// Serves an in-memory schema registry on loopback for w1; registers the
/// input schema. Returns the registry, its URL and the input schema's id.
async fn registry() -> anyhow::Result<(Arc<dyn SchemaRegistry>, String, u32, RegistryServer)> {
    let registry: Arc<dyn SchemaRegistry> = Arc::new(EmbeddedRegistry::in_memory());
    let server = RegistryServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)), registry.clone())?;
    let url = format!("http://{}", server.local_addr());
    let id = registry
        .register(&format!("{}-value", Workload::W1.input()), workload::ORDER_SCHEMA)
        .await?
        .id;
    Ok((registry, url, id, server))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; `cargo test` runs the smoke run.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let brokers = if smoke {
        meshkit_tests::broker::test_brokers("the peer benchmark's smoke run")
    } else {
        common::brokers("peer benchmark")
    };
    let Some(brokers) = brokers else {
        return Ok(());
    };
    let settings = Settings::from_env(brokers, smoke)?;
    let class_path = contender::build(&settings.contenders, &settings.cache)?;
    let (registry, registry_url, order_schema_id, server) = registry().await?;
    println!(
        "peer benchmark{}: {} records per workload, {} keys, commits every 100 ms, broker {}, median of {} \
         alternating runs; contenders {}",
        if smoke {
            " (smoke run: only the cross-check counts)"
        } else {
            ""
        },
        settings.records,
        settings.keys,
        settings.brokers,
        settings.repeats,
        settings.contenders.join(", ")
    );
    let bench = Bench {
        settings,
        registry,
        registry_url,
        class_path,
        order_schema_id,
        failures: std::cell::RefCell::new(Vec::new()),
    };
    let mut rows = Vec::new();
    for workload in bench.settings.workloads.clone() {
        rows.extend(bench.workload(workload).await?);
    }
    server.shutdown().await?;
    let table = report::table(&rows);
    let goals = report::goals(&rows);
    println!("\n{table}\n{goals}");
    if !bench.settings.smoke {
        let dir = PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()))
            .join("peers");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("results.md"), format!("{table}\n{goals}"))?;
        report::chart(&rows, &bench.settings.contenders, &dir.join("chart.png"))?;
        println!("written: {} and chart.png", dir.join("results.md").display());
    }
    let failures = bench.failures.take();
    if !failures.is_empty() {
        bail!("cross-check failed:\n{}", failures.join("\n"));
    }
    Ok(())
}
