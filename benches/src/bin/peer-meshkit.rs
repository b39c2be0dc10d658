//! Workload w2 of the peer benchmark (`benches/benches/peers.rs`) with
//! meshkit, written with the DSL as a user would: a running sum per key in a
//! store, every update emitted. Keys are UTF-8 strings, values 8-byte
//! big-endian integers, on both sides.
//!
//! Configured from `MESHKIT_*` (the harness sets the brokers, application
//! id, state directory and commit interval); runs until SIGTERM or Ctrl-C.

use meshkit::state::StoreRef;
use meshkit::{Config, Context, Record, Runtime, TransformError};

/// The product: it keeps nothing but its store, so each processing thread
/// may have its own.
#[derive(Clone)]
pub struct RunningSum;

#[meshkit::product(
    domain = "bench",
    name = "running-sum",
    version = "1.0.0",
    owner = "bench",
    description = "A running sum per key, every update emitted",
    input(numbers, topic = "bench.w2.numbers"),
    store(sums, key = String, value = i64),
    output(totals, topic = "bench.w2.sums"),
)]
impl RunningSum {
    #[transform(numbers, stores = [sums], record)]
    fn on_number(
        record: &Record<'_>,
        value: Option<&[u8]>,
        sums: StoreRef<String, i64>,
        ctx: &mut Context,
    ) -> Result<(), TransformError> {
        let key = std::str::from_utf8(record.key().unwrap_or_default())
            .map_err(|e| TransformError::new("the key is not UTF-8").with_source(e))?
            .to_string();
        let bytes: [u8; 8] = value
            .unwrap_or_default()
            .try_into()
            .map_err(|_| TransformError::new("the value is not an 8-byte integer"))?;
        let mut store = sums.open(ctx)?;
        let total = store.get(&key)?.unwrap_or(0) + i64::from_be_bytes(bytes);
        store.put(&key, &total)?;
        ctx.emit("totals", Some(key.into_bytes()), total.to_be_bytes().to_vec())?;
        Ok(())
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let runtime = Runtime::new(RunningSum, Config::from_env()?)?.product_per_thread();
    let handle = runtime.handle();
    let task = tokio::spawn(async move { runtime.await });
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    handle.stop();
    task.await??;
    Ok(())
}
