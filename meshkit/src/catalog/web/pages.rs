//! The pages: the product list, a product, a domain, and "not found".
//!
//! Markup hooks that stay stable for scripts and browser tests: each product
//! row is `<tr data-product="domain/name">` with `<td class="status"
//! data-status="running">running</td>`; a port is `<section class="port"
//! data-port="P" data-direction="output">` holding `<table class="fields"
//! aria-label="value fields of port P">` (rows `<tr data-field="name">`);
//! the owner is `<dd class="owner">`; the lineage graph is `<figure
//! class="lineage">` around the inline `<svg>`; upstream and downstream
//! products are `<ul class="upstream">` / `<ul class="downstream">` items
//! with `data-product`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::html::{layout, query_value, segment, Escaped};
use crate::catalog::graph::{LineageGraph, NodeId};
use crate::catalog::record::{
    Catalog, CatalogRecord, InstanceStatus, PortRecord, ProductKey, ProductStatus, SchemaRecord,
};
use crate::catalog::Timestamp;

/// The statuses a product can show, in the filter's order.
const STATUSES: [ProductStatus; 4] = [
    ProductStatus::Running,
    ProductStatus::Stopped,
    ProductStatus::Failed,
    ProductStatus::Published,
];

/// The list's search and filters, from the query string; an empty value
/// (a form's "all") filters nothing.
#[derive(Debug, Default, Clone, Deserialize)]
pub(super) struct ListQuery {
    q: Option<String>,
    domain: Option<String>,
    owner: Option<String>,
    status: Option<String>,
    tag: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl ListQuery {
    /// The records that match every given criterion, by key.
    pub(super) fn select<'a>(&self, catalog: &'a Catalog) -> Vec<&'a CatalogRecord> {
        catalog
            .list()
            .filter(|r| given(&self.q).is_none_or(|q| r.matches(q)))
            .filter(|r| given(&self.domain).is_none_or(|d| r.domain == d))
            .filter(|r| given(&self.owner).is_none_or(|o| r.owner == o))
            .filter(|r| given(&self.status).is_none_or(|s| r.status.to_string() == s))
            .filter(|r| given(&self.tag).is_none_or(|t| r.tags.iter().any(|x| x == t)))
            .collect()
    }

    fn is_filtered(&self) -> bool {
        [&self.q, &self.domain, &self.owner, &self.status, &self.tag]
            .into_iter()
            .any(|v| given(v).is_some())
    }
}

/// The catalog's distinct domains, sorted (the nav and the filter).
fn domains(catalog: &Catalog) -> Vec<&str> {
    let set: BTreeSet<&str> = catalog.list().map(|r| r.domain.as_str()).collect();
    set.into_iter().collect()
}

fn page(catalog: &Catalog, title: &str, body: &str) -> String {
    layout(title, &domains(catalog), body)
}

fn product_href(key: &ProductKey) -> String {
    format!("/products/{}/{}", segment(&key.domain), segment(&key.name))
}

fn domain_href(domain: &str) -> String {
    format!("/domains/{}", segment(domain))
}

fn contract_href(record: &CatalogRecord, port: &str) -> String {
    format!("{}/contracts/{}", product_href(&record.key()), segment(port))
}

fn status_cell(tag: &str, status: ProductStatus) -> String {
    format!(r#"<{tag} class="status" data-status="{status}">{status}</{tag}>"#)
}

fn time(at: Timestamp) -> String {
    format!(r#"<time datetime="{at}">{at}</time>"#)
}

fn millis(ms: u64) -> String {
    if ms.is_multiple_of(1_000) {
        format!("{} s", ms / 1_000)
    } else {
        format!("{ms} ms")
    }
}

/// The inline lineage drawing, products linked to their pages.
fn lineage_figure(graph: &LineageGraph, caption: &str) -> String {
    let svg = graph.to_svg(&|key: &ProductKey| Some(product_href(key)));
    format!(
        r#"<figure class="lineage">{svg}<figcaption>{}</figcaption></figure>"#,
        Escaped(caption)
    )
}

// ---- The list ----

fn select(name: &str, label: &str, values: &[String], chosen: Option<&str>) -> String {
    let mut out = format!(
        r#"<div><label for="f-{name}">{label}</label><select id="f-{name}" name="{name}"><option value="">All</option>"#
    );
    for value in values {
        let selected = if chosen == Some(value.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<option value="{0}"{selected}>{0}</option>"#,
            Escaped(value)
        );
    }
    out.push_str("</select></div>");
    out
}

/// The product rows of a table (the list's and the domain page's).
fn product_rows(records: &[&CatalogRecord]) -> String {
    let mut out = String::new();
    for r in records {
        let key = r.key();
        let tags: String = r
            .tags
            .iter()
            .map(|t| {
                format!(
                    r#"<li><a class="tag" href="/?tag={}">{}</a></li>"#,
                    query_value(t),
                    Escaped(t)
                )
            })
            .collect();
        let _ = write!(
            out,
            r#"<tr data-product="{key}"><th scope="row" class="name"><a href="{href}">{name}</a></th><td class="domain"><a href="{dhref}">{domain}</a></td><td class="owner">{owner}</td>{status}<td class="version">{version}</td><td class="tags"><ul class="inline">{tags}</ul></td><td class="description">{description}</td></tr>"#,
            key = Escaped(&key.to_string()),
            href = Escaped(&product_href(&key)),
            name = Escaped(&r.name),
            dhref = Escaped(&domain_href(&r.domain)),
            domain = Escaped(&r.domain),
            owner = Escaped(&r.owner),
            status = status_cell("td", r.status),
            version = Escaped(&r.version),
            description = Escaped(&r.description),
        );
    }
    out
}

fn products_table(caption: &str, records: &[&CatalogRecord]) -> String {
    format!(
        r#"<table class="products"><caption>{}</caption><thead><tr><th scope="col">Product</th><th scope="col">Domain</th><th scope="col">Owner</th><th scope="col">Status</th><th scope="col">Version</th><th scope="col">Tags</th><th scope="col">Description</th></tr></thead><tbody>{}</tbody></table>"#,
        Escaped(caption),
        product_rows(records)
    )
}

/// The distinct values, sorted (a filter's options).
fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    let set: BTreeSet<&str> = values.collect();
    set.into_iter().map(str::to_string).collect()
}

/// `GET /`: the search form, the filters and the matching products.
pub(super) fn list(catalog: &Catalog, query: &ListQuery, found: &[&CatalogRecord]) -> String {
    let domains = distinct(catalog.list().map(|r| r.domain.as_str()));
    let owners = distinct(catalog.list().map(|r| r.owner.as_str()));
    let tags = distinct(catalog.list().flat_map(|r| r.tags.iter().map(String::as_str)));
    let statuses: Vec<String> = STATUSES.iter().map(ToString::to_string).collect();
    let mut body = String::from("<h1>Data products</h1>");
    let _ = write!(
        body,
        r#"<form role="search" method="get" action="/" aria-label="Search and filter products"><div><label for="q">Search</label><input type="search" id="q" name="q" value="{q}" placeholder="name, owner, topic, field…"></div>{domain}{owner}{status}{tag}<div><button type="submit">Search</button></div>{clear}</form>"#,
        q = Escaped(given(&query.q).unwrap_or("")),
        domain = select("domain", "Domain", &domains, given(&query.domain)),
        owner = select("owner", "Owner", &owners, given(&query.owner)),
        status = select("status", "Status", &statuses, given(&query.status)),
        tag = select("tag", "Tag", &tags, given(&query.tag)),
        clear = if query.is_filtered() {
            r#"<div><a href="/">Clear the search</a></div>"#
        } else {
            ""
        },
    );
    let _ = write!(
        body,
        r#"<p class="count" role="status">{} of {} product{}</p>"#,
        found.len(),
        catalog.len(),
        if catalog.len() == 1 { "" } else { "s" }
    );
    if found.is_empty() {
        body.push_str(if catalog.is_empty() {
            r#"<p class="empty">The catalog holds no product yet.</p>"#
        } else {
            r#"<p class="empty">No product matches.</p>"#
        });
    } else {
        body.push_str(&products_table("Data products, by key", found));
    }
    page(catalog, "Data products", &body)
}

// ---- A product ----

fn fields_table(port: &PortRecord, part: &str, schema: &SchemaRecord) -> String {
    let mut rows = String::new();
    for field in schema.fields() {
        let _ = write!(
            rows,
            r#"<tr data-field="{name}"><th scope="row" class="name"><code>{name}</code></th><td class="type"><code>{ty}</code></td><td class="optional">{optional}</td><td class="doc">{doc}</td></tr>"#,
            name = Escaped(&field.name),
            ty = Escaped(&field.type_name),
            optional = if field.optional { "yes" } else { "no" },
            doc = Escaped(field.doc.as_deref().unwrap_or("")),
        );
    }
    let mut facts = vec![format!("format {}", Escaped(&schema.format))];
    if let Some(subject) = &schema.subject {
        facts.push(format!("subject <code>{}</code>", Escaped(subject)));
    }
    if let Some(id) = schema.id {
        facts.push(format!("id {id}"));
    }
    if let Some(version) = schema.version {
        facts.push(format!("version {version}"));
    }
    format!(
        r#"<h4>{title} <code>{ty}</code></h4><p class="schema-facts muted">{facts}</p><table class="fields" data-port="{port}" data-part="{part}" aria-label="{part} fields of port {port}"><thead><tr><th scope="col">Field</th><th scope="col">Type</th><th scope="col">Optional</th><th scope="col">Description</th></tr></thead><tbody>{rows}</tbody></table><details><summary>{title} schema text</summary><pre><code>{text}</code></pre></details>"#,
        title = if part == "key" { "Key" } else { "Value" },
        ty = Escaped(&schema.type_name),
        facts = facts.join(", "),
        port = Escaped(&port.name),
        text = Escaped(&schema.schema),
    )
}

fn port_section(record: &CatalogRecord, port: &PortRecord, direction: &str) -> String {
    let mut out = format!(
        r#"<section class="port" data-port="{name}" data-direction="{direction}" aria-labelledby="port-{direction}-{id}"><h3 id="port-{direction}-{id}">{name}</h3><dl><dt>Topic</dt><dd class="topic"><code>{topic}</code></dd>"#,
        name = Escaped(&port.name),
        id = Escaped(&segment(&port.name)),
        topic = Escaped(&port.topic),
    );
    if let Some(upstream) = &port.upstream {
        let _ = write!(
            out,
            r#"<dt>Written by</dt><dd class="upstream"><a href="{}">{}</a>, port {}</dd>"#,
            Escaped(&product_href(&upstream.product)),
            Escaped(&upstream.product.to_string()),
            Escaped(&upstream.port),
        );
    }
    if direction == "output" && port.value.is_some() {
        let _ = write!(
            out,
            r#"<dt>Data contract</dt><dd><a class="contract" href="{}" download>ODCS contract (YAML)</a></dd>"#,
            Escaped(&contract_href(record, &port.name)),
        );
    }
    out.push_str("</dl>");
    if let Some(key) = &port.key {
        out.push_str(&fields_table(port, "key", key));
    }
    match &port.value {
        Some(value) => out.push_str(&fields_table(port, "value", value)),
        None => out.push_str(r#"<p class="raw muted">Values are raw bytes, with no schema.</p>"#),
    }
    out.push_str("</section>");
    out
}

fn instances_section(record: &CatalogRecord) -> String {
    let mut out = String::from(r#"<section aria-labelledby="instances"><h2 id="instances">Instances</h2>"#);
    if record.instances.is_empty() {
        out.push_str(if record.status == ProductStatus::Published {
            r#"<p class="muted">A published stream: meshkit does not run it, so it has no instances.</p>"#
        } else {
            r#"<p class="muted">No instance has run yet.</p>"#
        });
    } else {
        out.push_str(r#"<table class="instances"><caption>Instances and their last heartbeat</caption><thead><tr><th scope="col">Instance</th><th scope="col">Host</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Last heartbeat</th><th scope="col">Ended</th><th scope="col">Error</th></tr></thead><tbody>"#);
        for i in &record.instances {
            let status = match i.status {
                InstanceStatus::Running => "running",
                InstanceStatus::Stopped => "stopped",
                InstanceStatus::Failed => "failed",
            };
            let _ = write!(
                out,
                r#"<tr data-instance="{id}"><th scope="row"><code>{id}</code></th><td class="host">{host}</td><td class="status" data-status="{status}">{status}</td><td>{started}</td><td class="last-seen">{seen}</td><td>{ended}</td><td class="error">{error}</td></tr>"#,
                id = Escaped(&i.instance_id),
                host = Escaped(&i.host),
                started = time(i.started_at),
                seen = time(i.last_seen),
                ended = i.ended_at.map(time).unwrap_or_default(),
                error = Escaped(i.error.as_deref().unwrap_or("")),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
    out
}

/// A neighbour in the lineage graph, with the topic that links it.
type Neighbour = (NodeId, String);

/// The direct neighbours of `key` in `graph`: (upstream, downstream), each
/// with the topic that links them.
fn neighbours(graph: &LineageGraph, key: &ProductKey) -> (Vec<Neighbour>, Vec<Neighbour>) {
    let me = NodeId::Product(key.clone());
    let mut up = Vec::new();
    let mut down = Vec::new();
    for edge in graph.edges() {
        if edge.to == me {
            up.push((edge.from.clone(), edge.topic.clone()));
        }
        if edge.from == me {
            down.push((edge.to.clone(), edge.topic.clone()));
        }
    }
    (up, down)
}

fn neighbour_list(class: &str, items: &[(NodeId, String)], none: &str) -> String {
    if items.is_empty() {
        return format!(r#"<p class="{class} muted">{none}</p>"#);
    }
    let mut out = format!(r#"<ul class="{class}">"#);
    for (node, topic) in items {
        match node {
            NodeId::Product(key) => {
                let _ = write!(
                    out,
                    r#"<li data-product="{k}"><a href="{href}">{k}</a> via <code>{topic}</code></li>"#,
                    k = Escaped(&key.to_string()),
                    href = Escaped(&product_href(key)),
                    topic = Escaped(topic),
                );
            }
            NodeId::Topic(source) => {
                let _ = write!(
                    out,
                    r#"<li data-topic="{t}">external topic <code>{t}</code></li>"#,
                    t = Escaped(source)
                );
            }
        }
    }
    out.push_str("</ul>");
    out
}

/// `GET /products/{domain}/{name}`.
pub(super) fn product(catalog: &Catalog, record: &CatalogRecord) -> String {
    let key = record.key();
    let mut body = format!(
        r#"<nav aria-label="Breadcrumb"><ol class="inline breadcrumb"><li><a href="/">Products</a> /</li><li><a href="{}">{}</a> /</li><li aria-current="page">{}</li></ol></nav><h1>{}</h1>"#,
        Escaped(&domain_href(&record.domain)),
        Escaped(&record.domain),
        Escaped(&record.name),
        Escaped(&key.to_string()),
    );
    if !record.description.is_empty() {
        let _ = write!(
            body,
            r#"<p class="description">{}</p>"#,
            Escaped(&record.description)
        );
    }
    let _ = write!(
        body,
        r#"<section aria-labelledby="identity"><h2 id="identity">Identity</h2><dl class="identity"><dt>Key</dt><dd class="key"><code>{key}</code></dd><dt>Domain</dt><dd class="domain"><a href="{dhref}">{domain}</a></dd><dt>Name</dt><dd class="name">{name}</dd><dt>Version</dt><dd class="version">{version}</dd><dt>Owner</dt><dd class="owner">{owner}</dd><dt>Status</dt>{status}<dt>Lifecycle</dt><dd class="lifecycle">{lifecycle}</dd>"#,
        key = Escaped(&key.to_string()),
        dhref = Escaped(&domain_href(&record.domain)),
        domain = Escaped(&record.domain),
        name = Escaped(&record.name),
        version = Escaped(&record.version),
        owner = Escaped(&record.owner),
        status = status_cell("dd", record.status),
        lifecycle = Escaped(&record.lifecycle),
    );
    if !record.tags.is_empty() {
        let tags: String = record
            .tags
            .iter()
            .map(|t| {
                format!(
                    r#"<li><a class="tag" href="/?tag={}">{}</a></li>"#,
                    query_value(t),
                    Escaped(t)
                )
            })
            .collect();
        let _ = write!(
            body,
            r#"<dt>Tags</dt><dd class="tags"><ul class="inline">{tags}</ul></dd>"#
        );
    }
    if let Some(ms) = record.slo.freshness_ms {
        let _ = write!(
            body,
            r#"<dt>Freshness SLO</dt><dd class="slo-freshness">{}</dd>"#,
            millis(ms)
        );
    }
    if let Some(ms) = record.slo.latency_ms {
        let _ = write!(
            body,
            r#"<dt>Latency SLO</dt><dd class="slo-latency">{}</dd>"#,
            millis(ms)
        );
    }
    if let Some(servers) = &record.bootstrap_servers {
        let _ = write!(
            body,
            r#"<dt>Bootstrap servers</dt><dd class="bootstrap"><code>{}</code></dd>"#,
            Escaped(servers)
        );
    }
    if let Some(topic) = &record.dead_letter_topic {
        let _ = write!(
            body,
            r#"<dt>Dead-letter topic</dt><dd class="dead-letter"><code>{}</code></dd>"#,
            Escaped(topic)
        );
    }
    let _ = write!(
        body,
        r#"<dt>Created</dt><dd class="created">{}</dd><dt>Updated</dt><dd class="updated">{}</dd></dl></section>"#,
        time(record.created_at),
        time(record.updated_at)
    );
    body.push_str(&instances_section(record));

    let graph = LineageGraph::around(catalog, &key);
    let (up, down) = neighbours(&graph, &key);
    let _ = write!(
        body,
        r#"<section aria-labelledby="lineage"><h2 id="lineage">Lineage</h2>{}<h3>Upstream</h3>{}<h3>Downstream</h3>{}</section>"#,
        lineage_figure(&graph, &format!("Products upstream and downstream of {key}")),
        neighbour_list(
            "upstream",
            &up,
            "No upstream product: it reads no topic another product writes."
        ),
        neighbour_list("downstream", &down, "No product reads its outputs."),
    );

    body.push_str(r#"<section aria-labelledby="outputs"><h2 id="outputs">Output ports</h2>"#);
    if record.outputs.is_empty() {
        body.push_str(r#"<p class="muted">None.</p>"#);
    }
    for port in &record.outputs {
        body.push_str(&port_section(record, port, "output"));
    }
    body.push_str(r#"</section><section aria-labelledby="inputs"><h2 id="inputs">Input ports</h2>"#);
    if record.inputs.is_empty() {
        body.push_str(r#"<p class="muted">None.</p>"#);
    }
    for port in &record.inputs {
        body.push_str(&port_section(record, port, "input"));
    }
    body.push_str("</section>");
    if !record.stores.is_empty() {
        body.push_str(
            r#"<section aria-labelledby="stores"><h2 id="stores">State stores</h2><ul class="stores">"#,
        );
        for store in &record.stores {
            let _ = write!(
                body,
                "<li><code>{}</code>{}</li>",
                Escaped(&store.name),
                if store.windowed { " (windowed)" } else { "" }
            );
        }
        body.push_str("</ul></section>");
    }
    page(catalog, &key.to_string(), &body)
}

// ---- A domain ----

/// A dependency across domains: `product` reads `topic`, which `upstream`
/// writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct Dependency {
    product: ProductKey,
    upstream: ProductKey,
    topic: String,
}

/// A topic no product writes, read by one of the domain's products.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct ExternalSource {
    product: ProductKey,
    topic: String,
}

/// A domain page's content, and its JSON form.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct DomainView<'a> {
    domain: String,
    /// Its products' records, by key.
    pub(super) products: Vec<&'a CatalogRecord>,
    /// Its products' inputs written by other domains' products.
    depends_on: Vec<Dependency>,
    /// Other domains' products reading its products' outputs.
    used_by: Vec<Dependency>,
    /// Topics no product writes that its products read.
    external_sources: Vec<ExternalSource>,
    #[serde(skip)]
    graph: LineageGraph,
}

impl<'a> DomainView<'a> {
    pub(super) fn of(catalog: &'a Catalog, domain: &str) -> Self {
        let graph = LineageGraph::domain(catalog, domain);
        let ours = |key: &ProductKey| key.domain == domain;
        let mut depends_on = Vec::new();
        let mut used_by = Vec::new();
        let mut external_sources = Vec::new();
        for edge in graph.edges() {
            match (&edge.from, &edge.to) {
                (NodeId::Product(from), NodeId::Product(to)) if ours(to) && !ours(from) => {
                    depends_on.push(Dependency {
                        product: to.clone(),
                        upstream: from.clone(),
                        topic: edge.topic.clone(),
                    });
                }
                (NodeId::Product(from), NodeId::Product(to)) if ours(from) && !ours(to) => {
                    used_by.push(Dependency {
                        product: to.clone(),
                        upstream: from.clone(),
                        topic: edge.topic.clone(),
                    });
                }
                (NodeId::Topic(topic), NodeId::Product(to)) if ours(to) => {
                    external_sources.push(ExternalSource {
                        product: to.clone(),
                        topic: topic.clone(),
                    });
                }
                _ => {}
            }
        }
        Self {
            domain: domain.to_string(),
            products: catalog.list().filter(|r| r.domain == domain).collect(),
            depends_on,
            used_by,
            external_sources,
            graph,
        }
    }
}

fn dependency_table(class: &str, caption: &str, rows: &[Dependency]) -> String {
    let mut out = format!(
        r#"<table class="{class}"><caption>{}</caption><thead><tr><th scope="col">Product</th><th scope="col">Reads topic</th><th scope="col">Written by</th></tr></thead><tbody>"#,
        Escaped(caption)
    );
    for d in rows {
        let _ = write!(
            out,
            r#"<tr data-product="{p}" data-upstream="{u}"><td><a href="{ph}">{p}</a></td><td><code>{t}</code></td><td><a href="{uh}">{u}</a></td></tr>"#,
            p = Escaped(&d.product.to_string()),
            ph = Escaped(&product_href(&d.product)),
            t = Escaped(&d.topic),
            u = Escaped(&d.upstream.to_string()),
            uh = Escaped(&product_href(&d.upstream)),
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// `GET /domains/{domain}`.
pub(super) fn domain(catalog: &Catalog, view: &DomainView<'_>) -> String {
    let mut body = format!(
        r#"<nav aria-label="Breadcrumb"><ol class="inline breadcrumb"><li><a href="/">Products</a> /</li><li aria-current="page">{0}</li></ol></nav><h1>Domain {0}</h1>"#,
        Escaped(&view.domain)
    );
    let _ = write!(
        body,
        r#"<section aria-labelledby="products"><h2 id="products">Products</h2>{}</section>"#,
        products_table(&format!("Products of domain {}", view.domain), &view.products)
    );
    body.push_str(
        r#"<section aria-labelledby="depends-on"><h2 id="depends-on">Dependencies on other domains</h2>"#,
    );
    if view.depends_on.is_empty() {
        body.push_str(r#"<p class="depends-on muted">Its products read no other domain's products.</p>"#);
    } else {
        body.push_str(&dependency_table(
            "depends-on",
            "Inputs written by other domains",
            &view.depends_on,
        ));
    }
    body.push_str(
        r#"</section><section aria-labelledby="used-by"><h2 id="used-by">Used by other domains</h2>"#,
    );
    if view.used_by.is_empty() {
        body.push_str(r#"<p class="used-by muted">No other domain reads its products.</p>"#);
    } else {
        body.push_str(&dependency_table(
            "used-by",
            "Outputs read by other domains",
            &view.used_by,
        ));
    }
    body.push_str("</section>");
    if !view.external_sources.is_empty() {
        body.push_str(r#"<section aria-labelledby="external"><h2 id="external">External sources</h2><ul class="external">"#);
        for source in &view.external_sources {
            let _ = write!(
                body,
                r#"<li data-topic="{t}"><code>{t}</code>, read by <a href="{h}">{p}</a></li>"#,
                t = Escaped(&source.topic),
                h = Escaped(&product_href(&source.product)),
                p = Escaped(&source.product.to_string()),
            );
        }
        body.push_str("</ul></section>");
    }
    let _ = write!(
        body,
        r#"<section aria-labelledby="lineage"><h2 id="lineage">Lineage</h2>{}</section>"#,
        lineage_figure(
            &view.graph,
            &format!("Products of domain {} and their dependencies", view.domain)
        )
    );
    page(catalog, &format!("Domain {}", view.domain), &body)
}

// ---- Not found ----

/// The 404 page: what was not found, and the ways back.
pub(super) fn not_found(catalog: &Catalog, message: &str) -> String {
    let mut body = format!(
        r#"<h1>Not found</h1><p class="error">{}</p><p>From here:</p><ul class="ways-back"><li><a href="/">All products</a></li>"#,
        Escaped(message)
    );
    for domain in domains(catalog) {
        let _ = write!(
            body,
            r#"<li><a href="{}">Domain {}</a></li>"#,
            Escaped(&domain_href(domain)),
            Escaped(domain)
        );
    }
    body.push_str("</ul>");
    page(catalog, "Not found", &body)
}
