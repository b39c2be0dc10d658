//! `meshkit catalog publish` and `meshkit catalog remove`: writing to the
//! catalog by hand.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use meshkit::catalog::{
    CatalogRecord, CatalogWriteError, CatalogWriter, DescriptorInput, PortInput, ProductKey, ProductStatus,
    SchemaInput, Timestamp,
};
use meshkit::schema::registry::{EmbeddedRegistry, HttpRegistry, RegistryError, SchemaRegistry, VersionRef};

use crate::args::{Cli, PublishArgs, SloKind};
use crate::run::{self, Failure};

/// A schema found in the registry for the stream.
struct Found {
    subject: String,
    id: u32,
    version: u32,
    text: String,
    format: &'static str,
}

/// Publishes the stream `args` names as a data product.
pub(crate) fn publish(cli: &Cli, args: &PublishArgs) -> Result<(), Failure> {
    let key = ProductKey::new(&args.domain, &args.name);
    let config = run::config(cli)?;
    let snapshot = run::read(cli)?;
    let previous = snapshot.catalog().get(&key);
    if let Some(previous) = previous.filter(|p| !p.is_published_stream()) {
        return Err(Failure::Usage(format!(
            "`{key}` is a product meshkit runs (status {}); its runtime publishes its record. \
             Publish the stream under another name",
            previous.status
        )));
    }
    let version = version(args, previous)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(anyhow::Error::new(e).context("cannot start the async runtime")))?;
    let registry = runtime.block_on(registry(cli, args, &config))?;
    let value_subject = args
        .value_subject
        .clone()
        .unwrap_or_else(|| format!("{}-value", args.topic));
    let value = runtime
        .block_on(latest(&*registry, &value_subject))?
        .ok_or_else(|| {
            Failure::NotFound(format!(
                "no schema under subject `{value_subject}` in {}: register the stream's value schema \
                 first, or name its subject with --value-subject",
                registry_name(args)
            ))
        })?;
    // A key schema is optional: many streams have plain or no keys.
    let key_schema = runtime.block_on(latest(&*registry, &format!("{}-key", args.topic)))?;

    let mut port = PortInput::new(args.port.as_deref().unwrap_or(&args.name), &args.topic)
        .with_value(schema_input(&value));
    if let Some(k) = &key_schema {
        port = port.with_key(schema_input(k));
    }
    let mut d = DescriptorInput::new(&args.domain, &args.name, version.to_string(), &args.owner).output(port);
    d.description.clone_from(&args.description);
    d.tags.clone_from(&args.tags);
    for (kind, duration) in &args.slos {
        match kind {
            SloKind::Freshness => d.freshness_slo = Some(*duration),
            SloKind::Latency => d.latency_slo = Some(*duration),
        }
    }
    let mut record =
        CatalogRecord::published(previous, &d, Timestamp::now()).with_bootstrap_servers(snapshot.brokers());
    if let Some(port) = record.outputs.first_mut() {
        if let Some(schema) = &mut port.value {
            schema.format = value.format.to_string();
        }
        if let (Some(schema), Some(k)) = (&mut port.key, &key_schema) {
            schema.format = k.format.to_string();
        }
    }
    let writer = CatalogWriter::new(&config).map_err(write_failure)?;
    runtime.block_on(writer.publish(&record)).map_err(write_failure)?;
    println!(
        "published {key} {version} (stream `{}`, schema `{}` version {} id {})",
        args.topic, value.subject, value.version, value.id
    );
    Ok(())
}

/// Removes `key` from the catalog, after confirmation.
pub(crate) fn remove(cli: &Cli, key: &ProductKey, yes: bool, force: bool) -> Result<(), Failure> {
    let config = run::config(cli)?;
    let snapshot = run::read(cli)?;
    let record = run::find(&snapshot, key)?;
    if record.status == ProductStatus::Running && !force {
        return Err(Failure::Usage(format!(
            "`{key}` is running ({} instance(s)); it would register again at its next heartbeat: \
             stop it first, or pass --force",
            record.instances.len()
        )));
    }
    if !yes && !confirmed(key)? {
        return Err(Failure::Usage(format!("not removed: `{key}` was not confirmed")));
    }
    let writer = CatalogWriter::new(&config).map_err(write_failure)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(anyhow::Error::new(e).context("cannot start the async runtime")))?;
    runtime.block_on(writer.remove(key)).map_err(write_failure)?;
    println!("removed {key} from catalog topic `{}`", snapshot.topic());
    Ok(())
}

/// Asks on the terminal for the product's key to be typed back.
fn confirmed(key: &ProductKey) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure::Usage(format!(
            "removing `{key}` needs confirmation: pass --yes when not on a terminal"
        )));
    }
    eprint!("Remove `{key}` from the catalog? Type `{key}` to confirm: ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::Other(anyhow::Error::new(e).context("cannot read the confirmation")))?;
    Ok(answer.trim() == key.to_string())
}

/// The version to publish: the one given (above the published one), else
/// the published one with its patch bumped, else 1.0.0.
fn version(args: &PublishArgs, previous: Option<&CatalogRecord>) -> Result<semver::Version, Failure> {
    let published = previous.and_then(|p| semver::Version::parse(&p.version).ok());
    match (&args.version, published) {
        (Some(given), Some(published)) if *given <= published => Err(Failure::Usage(format!(
            "version {given} does not exceed the published {published}; pass a higher --version"
        ))),
        (Some(given), _) => Ok(given.clone()),
        (None, Some(published)) => Ok(semver::Version::new(
            published.major,
            published.minor,
            published.patch + 1,
        )),
        (None, None) => Ok(semver::Version::new(1, 0, 0)),
    }
}

async fn registry(
    cli: &Cli,
    args: &PublishArgs,
    config: &meshkit::Config,
) -> Result<Box<dyn SchemaRegistry>, Failure> {
    if let Some(url) = &args.schema_registry {
        let registry = HttpRegistry::builder(url.clone())
            .build()
            .map_err(|e| registry_failure(&e, args))?;
        return Ok(Box::new(registry));
    }
    let brokers = cli.brokers.as_deref().unwrap_or_default();
    let registry = EmbeddedRegistry::connect(brokers, &args.schema_topic, config.kafka_properties())
        .await
        .map_err(|e| registry_failure(&e, args))?;
    Ok(Box::new(registry))
}

/// The subject's latest schema, `None` when the subject does not exist.
async fn latest(registry: &dyn SchemaRegistry, subject: &str) -> Result<Option<Found>, Failure> {
    let registered = match registry.version(subject, VersionRef::Latest).await {
        Ok(registered) => registered,
        Err(RegistryError::SubjectNotFound { .. } | RegistryError::VersionNotFound { .. }) => {
            return Ok(None)
        }
        Err(e) => return Err(Failure::Unavailable(meshkit::ErrorChain(&e).to_string())),
    };
    let format = match registry.schema_definition_by_id(registered.id).await {
        Ok(definition) => match definition.schema_type.as_str() {
            "JSON" => "json",
            "PROTOBUF" => "protobuf",
            _ => "avro",
        },
        Err(_) => "avro",
    };
    Ok(Some(Found {
        subject: registered.subject,
        id: registered.id,
        version: registered.version,
        text: registered.schema,
        format,
    }))
}

fn schema_input(found: &Found) -> SchemaInput {
    SchemaInput::new(&found.text, type_name(found)).registered(&found.subject, found.id, found.version)
}

/// An Avro record's full name, else the subject: what the catalog shows as
/// the type carried.
fn type_name(found: &Found) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(&found.text).ok();
    let name = parsed.as_ref().and_then(|v| v.get("name")?.as_str());
    let namespace = parsed.as_ref().and_then(|v| v.get("namespace")?.as_str());
    match (namespace, name) {
        (Some(ns), Some(name)) => format!("{ns}.{name}"),
        (None, Some(name)) => name.to_string(),
        _ => found.subject.clone(),
    }
}

fn registry_name(args: &PublishArgs) -> String {
    match &args.schema_registry {
        Some(url) => format!("the schema registry at {url}"),
        None => format!("the embedded registry (topic `{}`)", args.schema_topic),
    }
}

fn registry_failure(err: &RegistryError, args: &PublishArgs) -> Failure {
    Failure::Unavailable(format!(
        "cannot read {}: {}",
        registry_name(args),
        meshkit::ErrorChain(err)
    ))
}

fn write_failure(err: CatalogWriteError) -> Failure {
    match err {
        CatalogWriteError::NoBrokers => Failure::Usage(err.to_string()),
        err if err.is_retriable() => Failure::Unavailable(meshkit::ErrorChain(&err).to_string()),
        err => Failure::Other(err.into()),
    }
}
