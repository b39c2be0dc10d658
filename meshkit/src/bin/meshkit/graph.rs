//! `meshkit catalog graph`: the lineage graph of the catalog, or of one
//! domain or product, as DOT, Mermaid or SVG.

use std::collections::BTreeSet;

use anyhow::Context as _;
use meshkit::catalog::LineageGraph;

use crate::args::{Cli, GraphArgs};
use crate::run::{find, print, read, Failure};

/// Reads the catalog, builds the graph `args` asks for and prints it or
/// writes it to `--output`.
pub(crate) fn graph(cli: &Cli, args: &GraphArgs) -> Result<(), Failure> {
    let snapshot = read(cli)?;
    let catalog = snapshot.catalog();
    let graph = match (&args.domain, &args.product) {
        (Some(domain), _) => {
            let known: BTreeSet<&str> = catalog.list().map(|r| r.domain.as_str()).collect();
            if !known.contains(domain.as_str()) {
                let known = if known.is_empty() {
                    "the catalog holds no product".to_string()
                } else {
                    format!(
                        "known domains: {}",
                        known.into_iter().collect::<Vec<_>>().join(", ")
                    )
                };
                return Err(Failure::NotFound(format!(
                    "no domain `{domain}` in catalog topic `{}` on {}; {known}",
                    snapshot.topic(),
                    snapshot.brokers()
                )));
            }
            LineageGraph::domain(catalog, domain)
        }
        (None, Some(product)) => {
            find(&snapshot, product)?;
            LineageGraph::around(catalog, product)
        }
        (None, None) => LineageGraph::of(catalog),
    };
    if graph.is_empty() {
        if let Some(note) = snapshot.note() {
            eprintln!("{note}");
        }
    }
    let text = graph.render(args.format);
    match &args.output {
        None => print(&text),
        Some(path) => {
            std::fs::write(path, text)
                .with_context(|| format!("cannot write the graph to {}", path.display()))
                .map_err(Failure::Other)?;
            eprintln!(
                "wrote the {} graph ({} nodes, {} edges) to {}",
                args.format,
                graph.nodes().len(),
                graph.edges().len(),
                path.display()
            );
            Ok(())
        }
    }
}
