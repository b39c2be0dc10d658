//! `meshkit catalog serve`: the web catalog, kept current by following the
//! catalog topic.

use std::net::SocketAddr;

use meshkit::catalog::{web, CatalogFollower};

use crate::args::Cli;
use crate::run::{self, Failure};

/// Follows the catalog topic and serves its pages on `listen` until the
/// process is interrupted (Ctrl-C or SIGTERM).
pub(crate) fn serve(cli: &Cli, listen: SocketAddr) -> Result<(), Failure> {
    let reader = run::reader(cli)?;
    let follower = CatalogFollower::start(&reader)?;
    if !follower.wait_caught_up(cli.timeout) {
        // Not fatal: the pages fill in as the follower reads on.
        let error = follower.status().last_error.unwrap_or_default();
        eprintln!(
            "warning: catalog topic `{}` on {} was not read to its end within {:?}; serving what is read so far {error}",
            follower.topic(),
            follower.brokers(),
            cli.timeout
        );
    }
    let brokers = follower.brokers().to_string();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(anyhow::Error::new(e).context("cannot start the async runtime")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Failure::Usage(format!("cannot listen on {listen}: {e}")))?;
        let address = listener
            .local_addr()
            .map_err(|e| Failure::Other(anyhow::Error::new(e).context("cannot read the bound address")))?;
        // The one line scripts wait for (and read the port from).
        println!("serving the catalog of {brokers} at http://{address}/");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        axum::serve(listener, web::router(follower))
            .with_graceful_shutdown(interrupted())
            .await
            .map_err(|e| Failure::Other(anyhow::Error::new(e).context("the web server failed")))
    })
}

/// Resolves on Ctrl-C or SIGTERM: a binary may install signal handlers (the
/// library never does).
async fn interrupted() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
