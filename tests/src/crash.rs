//! Killing a product with SIGKILL at random points of a run.

use std::path::Path;
use std::time::Duration;

use rand::Rng;

use crate::broker::committed_offsets;
use crate::process::{self, ChildProduct};

/// Input offsets group `group` has committed on `topic`, summed over partitions.
pub fn progress(brokers: &str, group: &str, topic: &str) -> i64 {
    committed_offsets(brokers, group, topic)
        .map(|c| c.values().sum())
        .unwrap_or(0)
}

/// Starts `binary` `kills` times; each incarnation is killed with SIGKILL a
/// random while (up to 800 ms) after it first commits. Returns the committed
/// input offsets at each kill.
pub async fn kill_at_random_points(
    binary: &Path,
    envs: &[(&str, String)],
    logs: &Path,
    (brokers, group, topic): (&str, &str, &str),
    kills: usize,
) -> anyhow::Result<Vec<i64>> {
    let mut rng = rand::rng();
    let mut points = Vec::new();
    for kill in 0..kills {
        let log = logs.join(format!("run-{kill}.log"));
        let mut child = process::spawn(binary, envs, &log)?;
        let before = progress(brokers, group, topic);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while progress(brokers, group, topic) <= before {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "run {kill} made no progress; log:\n{}",
                child.log_text()
            );
            anyhow::ensure!(
                child.child.try_wait()?.is_none(),
                "run {kill} exited; log:\n{}",
                child.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..800))).await;
        child.kill9()?;
        let at = progress(brokers, group, topic);
        eprintln!("kill {kill}: SIGKILL with {at} input offsets committed");
        points.push(at);
    }
    Ok(points)
}

/// Starts `binary` and waits until group `group` has committed `total` input
/// offsets on `topic`; returns the running child.
pub async fn run_to_end(
    binary: &Path,
    envs: &[(&str, String)],
    log: &Path,
    (brokers, group, topic): (&str, &str, &str),
    total: i64,
    timeout: Duration,
) -> anyhow::Result<ChildProduct> {
    let child = process::spawn(binary, envs, log)?;
    let deadline = std::time::Instant::now() + timeout;
    while progress(brokers, group, topic) < total {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the run did not finish; log:\n{}",
            child.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(child)
}
