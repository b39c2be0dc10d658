//! Runs the `tests/relay` product as a process, for crash, fencing, rebalance
//! and configuration tests. Settings come from `MESHKIT_*` variables, plus
//! `RELAY_INPUT`, `RELAY_OUTPUT` and `RELAY_FAIL_EVERY`.
//!
//! Exit codes: 0 after a clean stop (SIGTERM / Ctrl-C), 2 for a bad product
//! or configuration, 3 when fenced, 1 for any other error.

use meshkit::{Config, Error, Runtime};
use meshkit_tests::product::Relay;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rdkafka=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let code = match run().await {
        Ok(()) => 0,
        Err(err) => {
            eprintln!("relay-product: error: {err}");
            match err {
                Error::Config(_) | Error::Descriptor(_) | Error::UnknownTopic { .. } => 2,
                Error::Fenced { .. } => 3,
                _ => 1,
            }
        }
    };
    std::process::exit(code);
}

async fn run() -> Result<(), Error> {
    let config = Config::from_env()?;
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let mut relay = Relay::new(var("RELAY_INPUT"), var("RELAY_OUTPUT"));
    relay.fail_every = var("RELAY_FAIL_EVERY").parse().ok();
    let runtime = Runtime::new(relay, config)?;
    let handle = runtime.handle();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .unwrap_or_else(|e| panic!("cannot listen for SIGTERM: {e}"));
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        handle.stop();
    });
    runtime.await
}
