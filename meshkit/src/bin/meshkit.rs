//! `meshkit`: the data product catalog from the command line.
//!
//! ```text
//! meshkit --brokers 127.0.0.1:9092 catalog list
//! meshkit catalog show sales/orders-enriched
//! meshkit catalog search tier-1 --json
//! meshkit contract export sales/orders-enriched enriched -o enriched.odcs.yaml
//! meshkit new order-totals --template stateful --domain sales
//! ```
//!
//! Thin on purpose: the command line is in `args`, running it in `run`, the
//! text output in `render`; reading the catalog topic is the library's
//! [`meshkit::catalog::CatalogReader`].

// The modules live in `src/bin/meshkit/` (a file directly in `src/bin/` would
// be taken for a binary of its own); a crate root looks for them beside
// itself, hence the paths.
#[path = "meshkit/args.rs"]
mod args;
#[path = "meshkit/dlq.rs"]
mod dlq;
#[path = "meshkit/graph.rs"]
mod graph;
#[path = "meshkit/new.rs"]
mod new;
#[path = "meshkit/publish.rs"]
mod publish;
#[path = "meshkit/render.rs"]
mod render;
#[path = "meshkit/run.rs"]
mod run;
#[path = "meshkit/serve.rs"]
mod serve;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits 2 (and 0 for --help).
    let cli = args::Cli::parse();
    match run::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("meshkit: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
