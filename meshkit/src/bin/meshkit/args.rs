//! The command line, as clap types: everything `--help` shows lives here.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use meshkit::catalog::ProductKey;

/// What `--help` prints after the options: exit codes and where brokers
/// come from, since those are what scripts and new users trip on.
const AFTER_HELP: &str = "\
Brokers: --brokers, else MESHKIT_BROKERS. TLS/SASL and other librdkafka
properties come from MESHKIT_KAFKA_* variables (e.g. MESHKIT_KAFKA_SECURITY_PROTOCOL=ssl),
as for a product. A product running on the embedded local cluster logs that
cluster's address at start (and reports it as `brokers` in /healthz).

Exit codes: 0 ok; 1 not found (unknown product or port) or another failure;
2 usage (including no brokers given); 75 brokers unreachable or the read
timed out (a retry may help).";

/// Inspect the meshkit data product catalog and export data contracts.
///
/// Reads the compacted catalog topic every meshkit product registers itself
/// in, without joining a consumer group or committing anything.
#[derive(Debug, Parser)]
#[command(name = "meshkit", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// Kafka bootstrap servers, host:port[,host:port...].
    #[arg(long, global = true, env = "MESHKIT_BROKERS", value_name = "HOST:PORT")]
    pub(crate) brokers: Option<String>,

    /// The catalog topic.
    #[arg(
        long,
        global = true,
        env = "MESHKIT_CATALOG_TOPIC",
        default_value = meshkit::catalog::CATALOG_TOPIC,
        value_name = "TOPIC"
    )]
    pub(crate) catalog_topic: String,

    /// How long reading the catalog may take: e.g. 10s, 500ms, 1m (a bare
    /// number is seconds).
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub(crate) timeout: Duration,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List, show and search the data products in the catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Export data contracts (ODCS v3) of output ports.
    #[command(subcommand)]
    Contract(ContractCommand),
    /// Start a new data product crate from a template: a product with its
    /// test-driver tests, and a `main` that runs it on an embedded cluster.
    New(NewArgs),
}

/// `meshkit new NAME --template stateless|stateful|windowed`.
#[derive(Debug, Args)]
pub(crate) struct NewArgs {
    /// The product's name, e.g. `order-totals` (lowercase words joined by
    /// hyphens); also the crate's and the directory's.
    pub(crate) name: String,
    /// The template: `stateless` (JSON in and out), `stateful` (a store) or
    /// `windowed` (counts per minute).
    #[arg(long, short, default_value = "stateless", value_name = "TEMPLATE")]
    pub(crate) template: String,
    /// The product's domain.
    #[arg(long, default_value = "example", value_name = "DOMAIN")]
    pub(crate) domain: String,
    /// The accountable owner.
    #[arg(long, default_value = "team@example.com", value_name = "OWNER")]
    pub(crate) owner: String,
    /// Where to create the crate (default: ./NAME); must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// Depend on the meshkit crate at this path (a checkout's `meshkit/`)
    /// instead of this tool's version.
    #[arg(long, value_name = "PATH")]
    pub(crate) meshkit_path: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CatalogCommand {
    /// Every product: version, status, owner, ports and instances.
    List(Output),
    /// One product in full: ports and schemas, SLOs, stores, lineage, instances.
    Show {
        /// The product, DOMAIN/NAME.
        product: ProductKey,
        #[command(flatten)]
        output: Output,
    },
    /// Products whose name, description, owner, tags, ports, topics or
    /// schemas contain TEXT (case-insensitive).
    Search {
        /// The text to look for.
        text: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ContractCommand {
    /// An output port's data contract as Open Data Contract Standard v3 YAML.
    Export {
        /// The product, DOMAIN/NAME.
        product: ProductKey,
        /// The output port.
        port: String,
        /// Write the contract to FILE instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct Output {
    /// Print the products' Open Data Product Standard documents as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `10s`, `500ms`, `2m` or a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 10s, 500ms or 1m"))?;
    let duration = match unit.trim() {
        "" | "s" => Duration::from_secs(number),
        "ms" => Duration::from_millis(number),
        "m" | "min" => Duration::from_secs(number.saturating_mul(60)),
        other => return Err(format!("unknown unit `{other}` in `{text}`; use ms, s or m")),
    };
    if duration.is_zero() {
        return Err("the timeout must be more than zero".into());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("3h").is_err());
    }
}
