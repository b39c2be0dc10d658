//! Killing a product with SIGKILL at random points of a run.

use std::path::Path;
use std::time::Duration;

use rand::Rng;

use crate::broker::committed_offsets;
use crate::process::{self, ChildProduct};

/// Input offsets group `group` has committed on `topic`, summed over
/// partitions. A read that fails (the coordinator moving, an offset commit
/// not yet stable) is tried again for up to 30 s, then panics: reading it as
/// 0 would let a caller take a failed read for no progress.
pub fn progress(brokers: &str, group: &str, topic: &str) -> i64 {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match committed_offsets(brokers, group, topic) {
            Ok(committed) => return committed.values().sum(),
            Err(err) if std::time::Instant::now() < deadline => {
                eprintln!("reading the group's committed offsets: {err:#}; trying again");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(err) => panic!("cannot read group {group}'s committed offsets: {err:#}"),
        }
    }
}

/// Starts `binary` `kills` times; each incarnation is killed with SIGKILL a
/// random while (up to 800 ms) after it first commits. Returns the committed
/// input offsets at each kill.
pub async fn kill_at_random_points(
    binary: &Path,
    envs: &[(&str, String)],
    logs: &Path,
    group: (&str, &str, &str),
    kills: usize,
) -> anyhow::Result<Vec<i64>> {
    kill_at_random_points_with(binary, envs, logs, group, kills, |_| Ok(())).await
}

/// [`kill_at_random_points`], calling `before_each` with the committed input
/// offsets before each incarnation starts (to add input, so that no
/// incarnation can reach the end however fast the machine).
pub async fn kill_at_random_points_with(
    binary: &Path,
    envs: &[(&str, String)],
    logs: &Path,
    (brokers, group, topic): (&str, &str, &str),
    kills: usize,
    mut before_each: impl FnMut(i64) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<i64>> {
    let mut rng = rand::rng();
    let mut points = Vec::new();
    for kill in 0..kills {
        before_each(progress(brokers, group, topic))?;
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
