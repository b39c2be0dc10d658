//! Running a product in-process and waiting for it.

use std::time::Duration;

use anyhow::bail;
use meshkit::{Config, DataProduct, Error, Health, Runtime, RuntimeHandle, Status};
use tokio::task::JoinHandle;

/// A product running in this process.
pub struct Running {
    /// Its handle.
    pub handle: RuntimeHandle,
    /// Its task; resolves to how it stopped.
    pub task: JoinHandle<Result<(), Error>>,
}

/// Starts `product` with `config` on the current tokio runtime.
pub fn spawn<P: DataProduct>(product: P, config: Config) -> Result<Running, Error> {
    spawn_runtime(Runtime::new(product, config)?)
}

/// Starts `product` with `config`, its schemas checked against `registry`.
pub fn spawn_with_registry<P: DataProduct>(
    product: P,
    config: Config,
    registry: std::sync::Arc<dyn meshkit::schema::SchemaRegistry>,
) -> Result<Running, Error> {
    spawn_runtime(Runtime::new(product, config)?.with_registry(registry))
}

/// Starts `product` with `config`, waits until it runs and has committed
/// `records` inputs (at most `timeout`), and stops it cleanly; returns its
/// health just before the stop. Panics, saying which step failed, otherwise.
pub async fn run_until_committed<P: DataProduct>(
    product: P,
    config: Config,
    records: usize,
    timeout: Duration,
) -> Health {
    let mut running = spawn(product, config).expect("runtime");
    running
        .until_running(Duration::from_secs(60))
        .await
        .expect("running");
    running
        .until_committed(records as u64, timeout)
        .await
        .expect("all committed");
    let health = running.handle.health();
    running.stop().await.expect("join").expect("clean stop");
    health
}

/// Starts `product` with `config` on a current-thread tokio runtime of its
/// own, in a thread of its own: what a service under
/// `#[tokio::main(flavor = "current_thread")]` does. The thread's result is
/// how the product stopped.
pub fn spawn_on_current_thread<P: DataProduct>(
    product: P,
    config: Config,
) -> Result<(RuntimeHandle, std::thread::JoinHandle<Result<(), Error>>), Error> {
    let runtime = Runtime::new(product, config)?;
    let handle = runtime.handle();
    let thread = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("current-thread runtime")
            .block_on(runtime.run())
    });
    Ok((handle, thread))
}

/// Starts `runtime`, built by the caller, on the current tokio runtime.
pub fn spawn_runtime<P: DataProduct>(runtime: Runtime<P>) -> Result<Running, Error> {
    logs_on_request();
    let handle = runtime.handle();
    Ok(Running {
        handle,
        task: tokio::spawn(runtime.run()),
    })
}

/// Shows the in-process products' logs when `RUST_LOG` is set (the tests
/// install no subscriber otherwise): how a flaky run is read after the fact,
/// with `--nocapture`.
fn logs_on_request() {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        // Another test of this binary may have installed it already.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
}

impl Running {
    /// Waits until it is running; returns the brokers it uses.
    pub async fn until_running(&mut self, timeout: Duration) -> anyhow::Result<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let health = self.handle.health();
            if let (Status::Running, Some(brokers)) = (health.status, health.brokers) {
                return Ok(brokers);
            }
            if self.task.is_finished() || tokio::time::Instant::now() > deadline {
                bail!("not running after {timeout:?}: {:?}", self.handle.health());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until at least `records` inputs are committed.
    pub async fn until_committed(&self, records: u64, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let health = self.handle.health();
            if health.records_committed >= records {
                return Ok(());
            }
            if self.task.is_finished() || tokio::time::Instant::now() > deadline {
                bail!("{records} records not committed after {timeout:?}: {health:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops it and returns how it stopped.
    pub async fn stop(self) -> anyhow::Result<Result<(), Error>> {
        self.handle.stop();
        Ok(self.task.await?)
    }
}
