//! Runs the `tests/relay` product as a process, for crash, fencing, rebalance
//! and configuration tests. Settings come from `MESHKIT_*` variables, plus
//! `RELAY_INPUT`, `RELAY_OUTPUT`, `RELAY_FAIL_EVERY`, and `RELAY_PRODUCT=totals`
//! for the stateful `totals` product, `RELAY_PRODUCT=soak` for the soak
//! product (inputs `RELAY_INPUT.left` and `.right`, outputs `RELAY_OUTPUT.totals`
//! and `.windows`, stalled by `SOAK_STALL_FILE` for `SOAK_STALL_MS`), or
//! `RELAY_PRODUCT=batcher` for the timer-flushed `batcher` (period
//! `RELAY_FLUSH_MS`, default 1000), or `RELAY_PRODUCT=orders` for the Avro
//! `orders-enricher` (topics `RELAY_INPUT.orders`, `.payments`, `.enriched`, `.paid`),
//! or `RELAY_PRODUCT=ops` for the stream-operator `page-views` product
//! (outputs `RELAY_OUTPUT.<port>`).
//!
//! Exit codes: 0 after a clean stop (SIGTERM / Ctrl-C), 2 for a bad product
//! or configuration, 3 when fenced, 1 for any other error.

use meshkit::{Config, DataProduct, Error, Runtime};
use meshkit_tests::ops::PageViews;
use meshkit_tests::product::{Batcher, Relay, Soak, Totals};
use meshkit_tests::typed::OrdersEnricher;

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
            eprintln!("relay-product: error: {}", meshkit::ErrorChain(&err));
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
    if var("RELAY_PRODUCT") == "orders" {
        return run_product(OrdersEnricher::new(&var("RELAY_INPUT")), config).await;
    }
    if var("RELAY_PRODUCT") == "ops" {
        return run_product(PageViews::new(&var("RELAY_INPUT"), &var("RELAY_OUTPUT")), config).await;
    }
    if var("RELAY_PRODUCT") == "soak" {
        let input = var("RELAY_INPUT");
        let output = var("RELAY_OUTPUT");
        let mut soak = Soak::new(
            [format!("{input}.left"), format!("{input}.right")],
            format!("{output}.totals"),
            format!("{output}.windows"),
        );
        soak.stall_file = std::env::var_os("SOAK_STALL_FILE").map(Into::into);
        soak.stall = std::time::Duration::from_millis(var("SOAK_STALL_MS").parse().unwrap_or(0));
        return run_product(soak, config).await;
    }
    if var("RELAY_PRODUCT") == "batcher" {
        let flush_ms = var("RELAY_FLUSH_MS").parse().unwrap_or(1_000);
        return run_product(
            Batcher {
                input: var("RELAY_INPUT"),
                output: var("RELAY_OUTPUT"),
                flush_every: std::time::Duration::from_millis(flush_ms),
            },
            config,
        )
        .await;
    }
    if var("RELAY_PRODUCT") == "totals" {
        return run_product(
            Totals {
                input: var("RELAY_INPUT"),
                output: var("RELAY_OUTPUT"),
            },
            config,
        )
        .await;
    }
    let mut relay = Relay::new(var("RELAY_INPUT"), var("RELAY_OUTPUT"));
    relay.fail_every = var("RELAY_FAIL_EVERY").parse().ok();
    run_product(relay, config).await
}

async fn run_product(product: impl DataProduct, config: Config) -> Result<(), Error> {
    let runtime = Runtime::new(product, config)?;
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
