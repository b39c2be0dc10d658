//! Killing a product with SIGKILL at random points of a run.

use std::path::Path;
use std::time::Duration;

use rand::Rng;

use crate::broker::committed_offsets;
use crate::process::{self, ChildProduct};

/// Input offsets group `group` has committed on `topic`, summed over
/// partitions. A read that fails (the coordinator moving, an offset commit
/// not yet stable, a broker slow to answer while a product starts beside
/// it on a small machine) is tried again for up to 2 min, then panics:
/// reading it as 0 would let a caller take a failed read for no progress.
pub fn progress(brokers: &str, group: &str, topic: &str) -> i64 {
    let started = std::time::Instant::now();
    let deadline = started + Duration::from_secs(120);
    loop {
        match committed_offsets(brokers, group, topic) {
            Ok(committed) => return committed.values().sum(),
            Err(err) if std::time::Instant::now() < deadline => {
                eprintln!("reading the group's committed offsets: {err:#}; trying again");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(err) => panic!(
                "cannot read group {group}'s committed offsets (tried for {:?}): {err:#}",
                started.elapsed()
            ),
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

/// How the input of a crash test is kept ahead of the product: `produced`
/// keyed ids (over `keys` keys) are in it at the start, and `ahead` more are
/// added before an incarnation whenever fewer than that are left, so that
/// no kill can land at the end of the input (a kill there tests no crash).
#[derive(Debug, Clone, Copy)]
pub struct TopUp {
    /// Keys the ids are spread over.
    pub keys: usize,
    /// Ids in the input at the start.
    pub produced: usize,
    /// How many to keep ahead of the product.
    pub ahead: usize,
}

/// SIGKILLs `binary` `kills` times at random points (as
/// [`kill_at_random_points_with`]), topping the input up as `top_up` says,
/// and checks that every kill landed before the end of the input. Returns
/// how many ids the input holds (`0..n`).
pub async fn kill_mid_stream(
    binary: &Path,
    envs: &[(&str, String)],
    logs: &Path,
    (brokers, group, topic): (&str, &str, &str),
    kills: usize,
    top_up: TopUp,
) -> anyhow::Result<usize> {
    let mut n = top_up.produced;
    let before_each = |committed: i64| -> anyhow::Result<()> {
        if n - usize::try_from(committed)? < top_up.ahead {
            crate::broker::produce_keyed(brokers, topic, n..n + top_up.ahead, top_up.keys)?;
            n += top_up.ahead;
        }
        Ok(())
    };
    let points =
        kill_at_random_points_with(binary, envs, logs, (brokers, group, topic), kills, before_each).await?;
    let total: i64 = crate::broker::end_offsets(brokers, topic)?.values().sum();
    anyhow::ensure!(
        total == n as i64,
        "the input holds {total} records; {n} were produced"
    );
    anyhow::ensure!(
        points.iter().all(|at| *at < total),
        "every kill lands before the end: {points:?} of {total}"
    );
    Ok(n)
}
