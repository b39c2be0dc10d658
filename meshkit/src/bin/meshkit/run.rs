//! Running a parsed command: read the catalog, pick the products, print.

use std::fmt;
use std::io::Write as _;

use anyhow::Context as _;
use meshkit::catalog::{
    export_contract, CatalogReadError, CatalogReader, CatalogRecord, CatalogSnapshot, ContractError,
    ContractOptions, ProductKey,
};
use meshkit::Config;

use crate::args::{CatalogCommand, Cli, Command, ContractCommand, NewArgs};
use crate::new::{self, NewError, NewProduct};
use crate::{publish, render, serve};

/// How a command failed, which decides the exit code.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Exit 1: an unknown product or port (the message lists the known ones).
    NotFound(String),
    /// Exit 2: the command line or the environment is wrong.
    Usage(String),
    /// Exit 75 (EX_TEMPFAIL): the brokers did not answer or the read timed
    /// out; the same command may work later.
    Unavailable(String),
    /// Exit 1: anything else (a file that cannot be written, a broker refusal).
    Other(anyhow::Error),
}

impl Failure {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::NotFound(_) | Self::Other(_) => 1,
            Self::Usage(_) => 2,
            Self::Unavailable(_) => 75,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(m) | Self::Usage(m) | Self::Unavailable(m) => f.write_str(m),
            // `{:#}` puts the whole cause chain on one line.
            Self::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl From<CatalogReadError> for Failure {
    fn from(err: CatalogReadError) -> Self {
        match err {
            CatalogReadError::NoBrokers => Self::Usage(NO_BROKERS.to_string()),
            CatalogReadError::Client { .. } => Self::Usage(meshkit::ErrorChain(&err).to_string()),
            err if err.is_retriable() => Self::Unavailable(meshkit::ErrorChain(&err).to_string()),
            err => Self::Other(err.into()),
        }
    }
}

const NO_BROKERS: &str = "no Kafka brokers given: pass --brokers HOST:PORT or set MESHKIT_BROKERS \
     (a product on the embedded local cluster runs that cluster inside its own process; \
     its address is in the product's log at start and in `brokers` of its /healthz)";

/// Runs `cli`, printing results to standard output and warnings to
/// standard error.
pub(crate) fn run(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::New(args) => new_product(args),
        Command::Dlq(command) => crate::dlq::run(&cli, command),
        Command::Catalog(CatalogCommand::List(output)) => {
            let snapshot = read(&cli)?;
            let records: Vec<&CatalogRecord> = snapshot.catalog().list().collect();
            if records.is_empty() && !output.json {
                eprintln!("{}", empty_note(&snapshot));
            }
            print_records(&records, output.json)
        }
        Command::Catalog(CatalogCommand::Search { text, output }) => {
            let snapshot = read(&cli)?;
            let records = snapshot.catalog().search(text);
            if records.is_empty() && !output.json {
                match snapshot.note() {
                    Some(note) => eprintln!("{note}"),
                    None => eprintln!("no product matches `{text}`"),
                }
            }
            print_records(&records, output.json)
        }
        Command::Catalog(CatalogCommand::Show { product, output }) => {
            let snapshot = read(&cli)?;
            let record = find(&snapshot, product)?;
            let text = if output.json {
                json(record)?
            } else {
                render::product_details(record, snapshot.catalog())
            };
            print(&text)
        }
        Command::Catalog(CatalogCommand::Publish(args)) => publish::publish(&cli, args),
        Command::Catalog(CatalogCommand::Remove { product, yes, force }) => {
            publish::remove(&cli, product, *yes, *force)
        }
        Command::Catalog(CatalogCommand::Serve { listen }) => serve::serve(&cli, *listen),
        Command::Catalog(CatalogCommand::Graph(args)) => crate::graph::graph(&cli, args),
        Command::Contract(ContractCommand::Export {
            product,
            port,
            output,
        }) => {
            let snapshot = read(&cli)?;
            let record = find(&snapshot, product)?;
            // The data lives on the product's own brokers; without that in
            // the record, the catalog's brokers are the best guess.
            let host = record
                .bootstrap_servers
                .clone()
                .unwrap_or_else(|| snapshot.brokers().to_string());
            let options = ContractOptions::default().with_kafka_host(host);
            let contract = export_contract(record, port, &options).map_err(|err| match err {
                ContractError::UnknownPort { .. } | ContractError::NoSchema { .. } => {
                    Failure::NotFound(err.to_string())
                }
                err => Failure::Other(err.into()),
            })?;
            let yaml = contract.to_yaml().map_err(|e| Failure::Other(e.into()))?;
            match output {
                None => print(&yaml),
                Some(path) => {
                    std::fs::write(path, yaml)
                        .with_context(|| format!("cannot write the contract to {}", path.display()))
                        .map_err(Failure::Other)?;
                    eprintln!("wrote contract {} to {}", contract.id, path.display());
                    Ok(())
                }
            }
        }
    }
}

/// Reads the catalog with the brokers from the command line (or
/// MESHKIT_BROKERS) and the Kafka properties from MESHKIT_KAFKA_*.
pub(crate) fn read(cli: &Cli) -> Result<CatalogSnapshot, Failure> {
    let snapshot = reader(cli)?.timeout(cli.timeout).read()?;
    if snapshot.skipped_count() > 0 {
        let first = snapshot
            .skipped()
            .first()
            .map(|s| {
                format!(
                    " (first: partition {} offset {}: {})",
                    s.partition, s.offset, s.reason
                )
            })
            .unwrap_or_default();
        eprintln!(
            "warning: skipped {} record(s) of catalog topic `{}` that are not meshkit catalog records{first}",
            snapshot.skipped_count(),
            snapshot.topic()
        );
    }
    Ok(snapshot)
}

/// A reader of the catalog topic the command line names.
pub(crate) fn reader(cli: &Cli) -> Result<CatalogReader, Failure> {
    Ok(CatalogReader::new(&config(cli)?)?.topic(&cli.catalog_topic))
}

/// The settings of the brokers from the command line (or MESHKIT_BROKERS),
/// with the Kafka properties from MESHKIT_KAFKA_* and the catalog topic.
pub(crate) fn config(cli: &Cli) -> Result<Config, Failure> {
    let brokers = cli
        .brokers
        .as_deref()
        .filter(|b| !b.trim().is_empty())
        .ok_or_else(|| Failure::Usage(NO_BROKERS.to_string()))?;
    // Only the Kafka connection settings: a product's other MESHKIT_*
    // variables in the same shell are none of this tool's business, and a
    // bad one must not stop it.
    let kafka_vars = std::env::vars().filter(|(k, _)| k.starts_with("MESHKIT_KAFKA_"));
    Config::builder()
        .env_iter(kafka_vars)
        .brokers(brokers)
        .catalog_topic(&cli.catalog_topic)
        .build()
        .map_err(|e| Failure::Usage(e.to_string()))
}

pub(crate) fn find<'a>(
    snapshot: &'a CatalogSnapshot,
    key: &ProductKey,
) -> Result<&'a CatalogRecord, Failure> {
    snapshot.catalog().get(key).ok_or_else(|| {
        let known: Vec<String> = snapshot.catalog().list().map(|r| r.key().to_string()).collect();
        let known = if known.is_empty() {
            empty_note(snapshot)
        } else {
            format!("known products: {}", known.join(", "))
        };
        Failure::NotFound(format!(
            "no product `{key}` in catalog topic `{}` on {}; {known}",
            snapshot.topic(),
            snapshot.brokers()
        ))
    })
}

fn empty_note(snapshot: &CatalogSnapshot) -> String {
    snapshot.note().unwrap_or_else(|| {
        format!(
            "the catalog is empty: catalog topic `{}` on {} holds no product",
            snapshot.topic(),
            snapshot.brokers()
        )
    })
}

fn print_records(records: &[&CatalogRecord], as_json: bool) -> Result<(), Failure> {
    if as_json {
        return print(&json(&records)?);
    }
    if records.is_empty() {
        return Ok(());
    }
    print(&render::product_table(records.iter().copied()))
}

/// The ODPS documents, as the catalog topic holds them.
fn json(value: &impl serde::Serialize) -> Result<String, Failure> {
    let mut text = serde_json::to_string_pretty(value)
        .context("cannot write the catalog as JSON")
        .map_err(Failure::Other)?;
    text.push('\n');
    Ok(text)
}

/// Writes to standard output; a closed pipe (`meshkit catalog list | head`)
/// is not an error.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::Other(
            anyhow::Error::new(e).context("cannot write to standard output"),
        )),
        _ => Ok(()),
    }
}

/// `meshkit new`: writes the crate and says what to run next.
fn new_product(args: &NewArgs) -> Result<(), Failure> {
    let request = NewProduct {
        name: args.name.clone(),
        template: args.template.clone(),
        domain: args.domain.clone(),
        owner: args.owner.clone(),
        dir: args.dir.clone(),
        meshkit_path: args.meshkit_path.clone(),
    };
    let dir = new::create(&request).map_err(|err| match err {
        NewError::Write { .. } => Failure::Other(err.into()),
        err => Failure::Usage(err.to_string()),
    })?;
    let template = new::TEMPLATES
        .iter()
        .find(|t| t.name == args.template)
        .map_or("", |t| t.summary);
    println!(
        "created {} from the `{}` template ({template})",
        dir.display(),
        args.template
    );
    println!("  cd {}", dir.display());
    println!("  cargo run    # end to end on an embedded Kafka cluster");
    println!("  cargo test   # its tests, in the test driver");
    Ok(())
}
