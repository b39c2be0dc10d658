//! The peer benchmark's hand-written contender (`benches/peers/README.md`):
//! workloads w1, w2 and w3 as one loop over rdkafka and RocksDB, with
//! meshkit's exactly-once settings and nothing of meshkit on the hot path,
//! as the limit of what this client library allows.
//!
//! ```text
//! peer-hand <workload> <brokers> <input-topic> <output-topic> <application-id> \
//!           <guarantee> <commit-ms> <threads> <state-dir> <registry-url>
//! ```
//!
//! One thread runs one loop: a consumer in group `<application-id>`
//! (`read_committed`, no auto commit, from the earliest offset) and a
//! producer. At `exactly_once` the producer is transactional
//! (`transactional.id` `<application-id>-hand-0`): a transaction begins at
//! the first record after a commit; `commit-ms` later the input offsets go
//! in with `send_offsets_to_transaction` and it commits. At `at_least_once`
//! the producer is idempotent only: at each commit it is flushed, then the
//! consumer's offsets are committed synchronously.
//!
//! State (w2, w3) is one RocksDB per input partition under `<state-dir>`;
//! every write is also produced, in the same transaction, to the compacted
//! changelog `<application-id>-<store>-changelog` (4 partitions, the
//! changelog partition is the input partition). As meshkit does, the writes
//! of the open transaction are kept in an overlay per partition and reach
//! RocksDB in one write batch once Kafka has committed; RocksDB's write-ahead
//! log is off, since the changelog is what makes the state durable. The
//! stores are `sums` (w2) and `counts` (w3). Each output record carries the
//! timestamp of its input record (a window's count: the window's end).
//!
//! w1 reaches the registry with meshkit's registry client (`HttpRegistry`),
//! at start (to register `EnrichedOrder`) and once per writer schema id it
//! meets; nothing of meshkit runs per record.
//!
//! What this loop does *not* do, and says so: it does not restore its
//! stores from their changelogs at start (the benchmark gives it an empty
//! state directory each run); it assumes its assignment is stable (one
//! process per group, one thread: `threads` other than 1 is refused), so it
//! has no rebalance handling; and any failed transaction, delivery or
//! record it cannot read ends the process with an error instead of being
//! aborted and replayed. SIGTERM (or Ctrl-C) commits the open transaction
//! and exits 0.
//!
//! Producer: rdkafka's `BaseProducer`, served from the loop itself
//! (`poll(0)` every few hundred sends, and the flush inside each commit):
//! a `ThreadedProducer` would add a thread that wakes to poll, on a machine
//! where the broker and the harness already share the cores. Its
//! `linger.ms` is meshkit's (5).

mod kafka;
mod store;
mod w1;
mod w2;
mod w3;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};

/// The delivery guarantee asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guarantee {
    /// Transactions: outputs, changelogs and input offsets commit together.
    ExactlyOnce,
    /// Flush, then commit the consumer's offsets.
    AtLeastOnce,
}

/// The command line, in the contract's order.
#[derive(Debug)]
struct Args {
    workload: String,
    brokers: String,
    input: String,
    output: String,
    application_id: String,
    guarantee: Guarantee,
    commit_interval: Duration,
    state_dir: PathBuf,
    registry_url: Option<String>,
}

impl Args {
    /// Reads the ten positional arguments.
    fn parse(args: &[String]) -> anyhow::Result<Self> {
        let [workload, brokers, input, output, app, guarantee, commit_ms, threads, state_dir, registry] =
            args
        else {
            bail!(
                "usage: peer-hand <workload> <brokers> <input-topic> <output-topic> <application-id> \
                 <guarantee> <commit-ms> <threads> <state-dir> <registry-url> (got {} arguments)",
                args.len()
            );
        };
        let guarantee = match guarantee.as_str() {
            "exactly_once" => Guarantee::ExactlyOnce,
            "at_least_once" => Guarantee::AtLeastOnce,
            other => bail!("unknown guarantee `{other}` (exactly_once or at_least_once)"),
        };
        let threads: u32 = threads.parse().context("threads")?;
        if threads != 1 {
            bail!("peer-hand runs one processing thread (asked for {threads}): it has no rebalance handling");
        }
        Ok(Self {
            workload: workload.clone(),
            brokers: brokers.clone(),
            input: input.clone(),
            output: output.clone(),
            application_id: app.clone(),
            guarantee,
            commit_interval: Duration::from_millis(commit_ms.parse().context("commit-ms")?),
            state_dir: PathBuf::from(state_dir),
            registry_url: (registry != "-").then(|| registry.clone()),
        })
    }
}

fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = Args::parse(&argv)?;
    // One worker for the signal and the set-up calls (admin, registry):
    // none of it runs while records flow.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut term = {
        let _entered = runtime.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?
    };
    let flag = stop.clone();
    runtime.spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        flag.store(true, Ordering::Release);
    });
    match args.workload.as_str() {
        "w1" => {
            let url = args.registry_url.as_deref().context("w1 needs a registry URL")?;
            let mut workload = w1::Enrich::start(url, &args.output, runtime.handle())?;
            kafka::run(&args, &mut workload, None, &stop)
        }
        "w2" => {
            let changelog = kafka::ensure_changelog(&args, "sums", runtime.handle())?;
            let mut workload = w2::RunningSum::new(&args.state_dir);
            kafka::run(&args, &mut workload, Some(&changelog), &stop)
        }
        "w3" => {
            let changelog = kafka::ensure_changelog(&args, "counts", runtime.handle())?;
            let mut workload = w3::WindowCount::new(&args.state_dir);
            kafka::run(&args, &mut workload, Some(&changelog), &stop)
        }
        other => bail!("unknown workload `{other}` (w1, w2 or w3)"),
    }
}
