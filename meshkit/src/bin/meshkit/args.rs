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
    /// Inspect a product's dead letters, and replay them after a fix.
    #[command(subcommand)]
    Dlq(DlqCommand),
}

/// `meshkit dlq inspect|replay DOMAIN/NAME`.
#[derive(Debug, Subcommand)]
pub(crate) enum DlqCommand {
    /// The dead letters by reason (count, first and last seen), then samples
    /// with their headers, decoded when the catalog knows their schema.
    Inspect {
        /// The product, DOMAIN/NAME.
        product: ProductKey,
        /// The dead-letter topic (default: the one the product's catalog
        /// record names, else DOMAIN.NAME.dlq).
        #[arg(long, value_name = "TOPIC")]
        topic: Option<String>,
        /// How many samples to show per reason.
        #[arg(long, default_value_t = meshkit::dlq::DEFAULT_SAMPLES, value_name = "N")]
        samples: usize,
        /// Print the inspection as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-publish dead letters to their source topics (original key, value,
    /// timestamp and headers, plus `meshkit.dlq.replayed`), in transactions;
    /// a dead letter replayed once is never replayed again.
    Replay {
        /// The product, DOMAIN/NAME.
        product: ProductKey,
        /// Only dead letters with exactly this reason.
        #[arg(long, value_name = "REASON")]
        reason: Option<String>,
        /// Only dead letters whose record time is at or after TIME: RFC 3339
        /// (2024-05-01T12:00:00Z) or milliseconds since the Unix epoch.
        #[arg(long, value_name = "TIME", value_parser = crate::dlq::parse_since)]
        since: Option<meshkit::catalog::Timestamp>,
        /// The dead-letter topic (default: the one the product's catalog
        /// record names, else DOMAIN.NAME.dlq).
        #[arg(long, value_name = "TOPIC")]
        topic: Option<String>,
        /// Show what would be replayed; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation (needed when not on a terminal).
        #[arg(long, short)]
        yes: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
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
    /// Publish an existing stream as a data product (one meshkit does not
    /// run), with its schema from the registry subject of its topic.
    /// Publishing it again updates it (with a higher --version).
    Publish(PublishArgs),
    /// Remove a product from the catalog (a tombstone): readers drop it.
    Remove {
        /// The product, DOMAIN/NAME.
        product: ProductKey,
        /// Do not ask for confirmation (needed when not on a terminal).
        #[arg(long, short)]
        yes: bool,
        /// Remove it even while instances of it run (they register it again
        /// at their next heartbeat).
        #[arg(long)]
        force: bool,
    },
    /// Serve the catalog as web pages (and JSON), kept current by following
    /// the catalog topic.
    Serve {
        /// The address to listen on (a port of 0 picks a free one; the
        /// address served is printed).
        #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
        listen: std::net::SocketAddr,
    },
    /// The lineage graph: which product feeds which, through which topic,
    /// with the external topics they read, as Graphviz DOT, Mermaid or SVG.
    Graph(GraphArgs),
}

/// `meshkit catalog graph [--domain D | --product P] --format dot|mermaid|svg`.
#[derive(Debug, Args)]
pub(crate) struct GraphArgs {
    /// Only domain DOMAIN's products and the products of other domains they
    /// read from or that read from them.
    #[arg(long, value_name = "DOMAIN", conflicts_with = "product")]
    pub(crate) domain: Option<String>,
    /// Only product DOMAIN/NAME and everything up- and downstream of it.
    #[arg(long, value_name = "DOMAIN/NAME")]
    pub(crate) product: Option<ProductKey>,
    /// The format: `dot` (Graphviz), `mermaid` (a flowchart) or `svg` (a
    /// self-contained picture).
    #[arg(long, short, default_value = "dot", value_name = "FORMAT")]
    pub(crate) format: meshkit::catalog::GraphFormat,
    /// Write the graph to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// `meshkit catalog publish`: the stream and the product it is published as.
#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// The stream's topic.
    #[arg(long, value_name = "TOPIC")]
    pub(crate) topic: String,
    /// The owning domain.
    #[arg(long, value_name = "DOMAIN")]
    pub(crate) domain: String,
    /// The product's name.
    #[arg(long, value_name = "NAME")]
    pub(crate) name: String,
    /// The accountable owner.
    #[arg(long, value_name = "OWNER")]
    pub(crate) owner: String,
    /// What the stream offers its consumers.
    #[arg(long, value_name = "TEXT")]
    pub(crate) description: String,
    /// A catalog tag (repeatable).
    #[arg(long = "tag", value_name = "TAG")]
    pub(crate) tags: Vec<String>,
    /// A service level objective, `freshness=DURATION` or `latency=DURATION`
    /// (repeatable), e.g. `--slo freshness=5m`.
    #[arg(long = "slo", value_name = "KIND=DURATION", value_parser = parse_slo)]
    pub(crate) slos: Vec<(SloKind, Duration)>,
    /// The product's semantic version (default: 1.0.0, or the published
    /// version with its patch bumped); must exceed the published one.
    #[arg(long, value_name = "VERSION")]
    pub(crate) version: Option<semver::Version>,
    /// The output port's name (default: the product's name).
    #[arg(long, value_name = "PORT")]
    pub(crate) port: Option<String>,
    /// The value schema's registry subject (default: TOPIC-value).
    #[arg(long, value_name = "SUBJECT")]
    pub(crate) value_subject: Option<String>,
    /// A schema registry's URL; without it, the registry kept in the
    /// brokers' --schema-topic (meshkit's embedded registry).
    #[arg(long, env = "MESHKIT_SCHEMA_REGISTRY_URL", value_name = "URL")]
    pub(crate) schema_registry: Option<String>,
    /// The embedded registry's topic.
    #[arg(
        long,
        env = "MESHKIT_SCHEMA_TOPIC",
        default_value = "_schemas",
        value_name = "TOPIC"
    )]
    pub(crate) schema_topic: String,
}

/// Which objective an `--slo` sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SloKind {
    Freshness,
    Latency,
}

/// `freshness=5m` or `latency=250ms`.
pub(crate) fn parse_slo(text: &str) -> Result<(SloKind, Duration), String> {
    let (kind, duration) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not KIND=DURATION, e.g. freshness=5m"))?;
    let kind = match kind.trim() {
        "freshness" => SloKind::Freshness,
        "latency" => SloKind::Latency,
        other => return Err(format!("unknown objective `{other}`; use freshness or latency")),
    };
    Ok((kind, parse_duration(duration)?))
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

    #[test]
    fn objectives_name_their_kind() {
        assert_eq!(
            parse_slo("freshness=5m"),
            Ok((SloKind::Freshness, Duration::from_secs(300)))
        );
        assert_eq!(
            parse_slo("latency=250ms"),
            Ok((SloKind::Latency, Duration::from_millis(250)))
        );
        assert!(parse_slo("uptime=1s")
            .unwrap_err()
            .contains("freshness or latency"));
        assert!(parse_slo("5m").is_err());
    }
}
