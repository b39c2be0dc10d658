//! A broker of a test's own, started by the repository's scripts, that the
//! test may crash (SIGKILL), stop and bring back without disturbing the
//! broker the other tests share.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use tokio::process::Command;

/// Apache Kafka nodes (one, or a three-node cluster) on loopback, stopped
/// and their data removed on drop. Logs stay in `dir/node-N/broker.log`.
#[derive(Debug)]
pub struct OwnBroker {
    /// Bootstrap servers, `host:port` comma-separated.
    pub brokers: String,
    dir: PathBuf,
}

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts")
}

async fn run_script(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("bash")
        .args(args)
        .current_dir(scripts())
        .output()
        .await
        .with_context(|| format!("running {args:?}"))?;
    if !out.status.success() {
        bail!(
            "{args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl OwnBroker {
    /// Starts `nodes` nodes (1 or 3) with `scripts/start-broker.sh`, in a
    /// run directory named after `test`.
    pub async fn start(test: &str, nodes: usize) -> anyhow::Result<Self> {
        let cache = std::env::var_os("MESHKIT_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/meshkit")))
            .context("neither MESHKIT_CACHE nor HOME is set")?;
        let dir = cache
            .join("run")
            .join(format!("kafka-{test}-{}", uuid::Uuid::new_v4().simple()));
        let nodes = nodes.to_string();
        let dir_arg = dir.display().to_string();
        let out = run_script(&["start-broker.sh", "--nodes", &nodes, "--dir", &dir_arg]).await?;
        let brokers = out
            .lines()
            .find_map(|l| l.strip_prefix("export MESHKIT_TEST_BROKERS="))
            .with_context(|| format!("start-broker.sh printed no brokers: {out}"))?
            .to_string();
        Ok(Self { brokers, dir })
    }

    /// SIGKILLs node `node` (1-based): a crash, its data left as it was.
    pub async fn kill(&self, node: i32) -> anyhow::Result<()> {
        self.node("kill", node).await
    }

    /// Stops node `node` cleanly (SIGTERM).
    pub async fn stop_node(&self, node: i32) -> anyhow::Result<()> {
        self.node("stop", node).await
    }

    /// Starts node `node` again on its data directory and port; returns
    /// once it answers.
    pub async fn restart(&self, node: i32) -> anyhow::Result<()> {
        self.node("start", node).await
    }

    /// Freezes node `node` (SIGSTOP): it keeps its connections but answers
    /// nothing until [`thaw`](Self::thaw), a broker stalled (a long GC pause,
    /// a frozen VM).
    pub fn freeze(&self, node: i32) -> anyhow::Result<()> {
        self.signal(node, "-STOP")
    }

    /// Lets a frozen node go on (SIGCONT).
    pub fn thaw(&self, node: i32) -> anyhow::Result<()> {
        self.signal(node, "-CONT")
    }

    fn signal(&self, node: i32, signal: &str) -> anyhow::Result<()> {
        let pid_file = self.dir.join(format!("node-{node}/pid"));
        let pid =
            std::fs::read_to_string(&pid_file).with_context(|| format!("reading {}", pid_file.display()))?;
        let status = std::process::Command::new("kill")
            .args([signal, pid.trim()])
            .status()
            .context("kill")?;
        anyhow::ensure!(status.success(), "kill {signal} {} failed: {status}", pid.trim());
        Ok(())
    }

    async fn node(&self, action: &str, node: i32) -> anyhow::Result<()> {
        let dir = self.dir.display().to_string();
        run_script(&["broker-node.sh", action, &dir, &node.to_string()]).await?;
        Ok(())
    }

    /// The node id leading each partition of `topic`, by partition.
    pub fn leaders(&self, topic: &str) -> anyhow::Result<Vec<(i32, i32)>> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.brokers)
            .create()?;
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
        let mut leaders: Vec<(i32, i32)> = metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions().iter().map(|p| (p.id(), p.leader())))
            .collect();
        leaders.sort_unstable();
        Ok(leaders)
    }

    /// Where the nodes' logs are (`node-N/broker.log`), for a failing test
    /// to point at; they stay until the next `start-broker.sh`.
    pub fn logs(&self) -> String {
        format!("{}/node-*/broker.log", self.dir.display())
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let status = std::process::Command::new("bash")
            .arg("stop-broker.sh")
            .arg(&self.dir)
            .current_dir(scripts())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("stopping the broker in {} failed: {status:?}", self.dir.display());
        }
    }
}
