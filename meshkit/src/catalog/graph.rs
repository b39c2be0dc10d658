//! The lineage graph of the data mesh: which product feeds which, drawn as
//! Graphviz DOT, Mermaid or a self-contained SVG.
//!
//! An edge goes from product A to product B for every topic that one of A's
//! output ports writes and one of B's input ports reads (the rule of
//! [`CatalogRecord::resolve_upstreams`], except that a topic written by
//! several products gives an edge from each of them: they all feed B). A
//! product's own output read back by itself gives no edge, as there. An
//! input topic that no product in the catalog writes is an *external
//! source*: it is a node of its own ([`GraphNode::Topic`]), drawn in another
//! shape. Output topics that no product reads get no node (the product's
//! page lists its ports; the graph is about dependencies).
//!
//! Everything is sorted (nodes by id, edges by endpoints then topic), so
//! the same catalog always renders to the same text.
//!
//! The SVG is drawn here, without Graphviz or a browser script: a layered
//! layout (a column per longest path from the sources, cycles broken so they
//! cannot hang it), rounded boxes with the product's name, domain and status
//! (a colour per status *and* the word), arrows defined once in `<defs>`,
//! a `<title>` and `aria-label` for screen readers.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::{self, Write as _};
use std::str::FromStr;

use super::record::{Catalog, CatalogRecord, ProductKey, ProductStatus};

mod svg;

/// A node's identity: a product, or an external topic no product writes.
///
/// Products sort before topics, so both renderings list products first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum NodeId {
    /// A product in the catalog.
    Product(ProductKey),
    /// An input topic no product in the catalog writes.
    Topic(String),
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Product(key) => write!(f, "{key}"),
            Self::Topic(topic) => write!(f, "topic {topic}"),
        }
    }
}

/// How a product node relates to what the graph was built around.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeRole {
    /// An ordinary member of the graph.
    Member,
    /// In a [domain graph](LineageGraph::domain): a product of another
    /// domain, shown because it feeds or reads the domain's products.
    Foreign,
    /// In a [product graph](LineageGraph::around): the product itself.
    Focus,
}

/// A product node: its key, status and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductNode {
    /// The product.
    pub key: ProductKey,
    /// Its status in the catalog.
    pub status: ProductStatus,
    /// Foreign, focused or neither.
    pub role: NodeRole,
}

/// One node of a [`LineageGraph`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphNode {
    /// A product in the catalog.
    Product(ProductNode),
    /// An external source: an input topic no product in the catalog writes.
    Topic(String),
}

impl GraphNode {
    /// The node's identity.
    pub fn id(&self) -> NodeId {
        match self {
            Self::Product(p) => NodeId::Product(p.key.clone()),
            Self::Topic(t) => NodeId::Topic(t.clone()),
        }
    }

    /// The product's key, for a product node.
    pub fn product_key(&self) -> Option<&ProductKey> {
        match self {
            Self::Product(p) => Some(&p.key),
            Self::Topic(_) => None,
        }
    }
}

/// One edge: `from` writes `topic`, which `to` reads.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GraphEdge {
    /// The writer: a product, or an external topic.
    pub from: NodeId,
    /// The reading product.
    pub to: NodeId,
    /// The topic that connects them.
    pub topic: String,
}

/// What a graph was built around, which titles its drawings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphScope {
    /// The whole mesh ([`LineageGraph::of`]).
    Mesh,
    /// One domain ([`LineageGraph::domain`]).
    Domain(String),
    /// One product ([`LineageGraph::around`]).
    Product(ProductKey),
}

/// The lineage graph of a [`Catalog`], or of part of it.
///
/// # Examples
///
/// ```
/// use meshkit::catalog::{
///     Catalog, CatalogRecord, DescriptorInput, GraphEdge, GraphFormat, LineageGraph, NodeId,
///     PortInput, ProductKey, Timestamp,
/// };
///
/// let mut catalog = Catalog::new();
/// for d in [
///     DescriptorInput::new("sales", "orders", "1.0.0", "team-sales")
///         .input(PortInput::new("raw", "raw.orders"))
///         .output(PortInput::new("clean", "sales.orders")),
///     DescriptorInput::new("finance", "ledger", "1.0.0", "team-finance")
///         .input(PortInput::new("orders", "sales.orders")),
/// ] {
///     let record = CatalogRecord::from_descriptor(&d, Timestamp::from_millis(0));
///     catalog.apply(&record.key().to_bytes(), Some(&record.encode()?))?;
/// }
///
/// let graph = LineageGraph::of(&catalog);
/// let orders = NodeId::Product(ProductKey::new("sales", "orders"));
/// assert!(graph.edges().contains(&GraphEdge {
///     from: orders.clone(),
///     to: NodeId::Product(ProductKey::new("finance", "ledger")),
///     topic: "sales.orders".into(),
/// }));
/// // `raw.orders` has no writer in the catalog: an external source.
/// assert!(graph.edges().iter().any(|e| e.from == NodeId::Topic("raw.orders".into()) && e.to == orders));
///
/// let dot = graph.render(GraphFormat::Dot);
/// assert!(dot.starts_with("digraph lineage {"));
/// assert!(dot.contains(r#""product:sales/orders" -> "product:finance/ledger" [label="sales.orders"]"#));
/// let svg = graph.to_svg(&|key: &ProductKey| Some(format!("/products/{key}")));
/// assert!(svg.contains(r#"<a href="/products/sales/orders""#));
/// # Ok::<(), meshkit::catalog::CatalogError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageGraph {
    scope: GraphScope,
    nodes: Vec<GraphNode>,
    edges: Vec<GraphEdge>,
}

impl LineageGraph {
    /// The whole mesh: every product, every external source, every edge.
    pub fn of(catalog: &Catalog) -> Self {
        let all = Mesh::of(catalog);
        let keep: BTreeSet<NodeId> = all.nodes.keys().cloned().collect();
        all.subgraph(GraphScope::Mesh, &keep, |_| NodeRole::Member, |_| true)
    }

    /// Domain `domain`'s products, the external topics they read, and the
    /// products of other domains they read from or that read from them
    /// (marked [`NodeRole::Foreign`]). Only edges that touch the domain's
    /// own products are kept. An unknown domain gives an empty graph.
    pub fn domain(catalog: &Catalog, domain: &str) -> Self {
        let all = Mesh::of(catalog);
        let ours = |id: &NodeId| matches!(id, NodeId::Product(k) if k.domain == domain);
        let mut keep = BTreeSet::new();
        for edge in &all.edges {
            if ours(&edge.from) || ours(&edge.to) {
                keep.insert(edge.from.clone());
                keep.insert(edge.to.clone());
            }
        }
        keep.extend(all.nodes.keys().filter(|id| ours(id)).cloned());
        all.subgraph(
            GraphScope::Domain(domain.to_string()),
            &keep,
            |id| {
                if ours(id) {
                    NodeRole::Member
                } else {
                    NodeRole::Foreign
                }
            },
            |edge| ours(&edge.from) || ours(&edge.to),
        )
    }

    /// Product `key` with everything upstream of it (transitively, up to the
    /// external sources) and everything downstream of it, and the edges
    /// between them; the product itself is [`NodeRole::Focus`]. A key the
    /// catalog does not hold gives an empty graph.
    pub fn around(catalog: &Catalog, key: &ProductKey) -> Self {
        let all = Mesh::of(catalog);
        let focus = NodeId::Product(key.clone());
        let mut keep = BTreeSet::new();
        if all.nodes.contains_key(&focus) {
            keep.insert(focus.clone());
            let mut upstream: BTreeMap<&NodeId, Vec<&NodeId>> = BTreeMap::new();
            let mut downstream: BTreeMap<&NodeId, Vec<&NodeId>> = BTreeMap::new();
            for edge in &all.edges {
                upstream.entry(&edge.to).or_default().push(&edge.from);
                downstream.entry(&edge.from).or_default().push(&edge.to);
            }
            // The visited set makes a cycle end the walk.
            for links in [&upstream, &downstream] {
                let mut seen = BTreeSet::from([&focus]);
                let mut queue = VecDeque::from([&focus]);
                while let Some(id) = queue.pop_front() {
                    for next in links.get(id).into_iter().flatten() {
                        if seen.insert(*next) {
                            keep.insert((*next).clone());
                            queue.push_back(*next);
                        }
                    }
                }
            }
        }
        all.subgraph(
            GraphScope::Product(key.clone()),
            &keep,
            |id| {
                if *id == focus {
                    NodeRole::Focus
                } else {
                    NodeRole::Member
                }
            },
            |_| true,
        )
    }

    /// What the graph was built around.
    pub fn scope(&self) -> &GraphScope {
        &self.scope
    }

    /// The nodes, sorted by [`NodeId`] (products first).
    pub fn nodes(&self) -> &[GraphNode] {
        &self.nodes
    }

    /// The edges, sorted.
    pub fn edges(&self) -> &[GraphEdge] {
        &self.edges
    }

    /// Whether it has no node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The graph in `format`; an SVG without links (see
    /// [`to_svg`](Self::to_svg) for links).
    pub fn render(&self, format: GraphFormat) -> String {
        match format {
            GraphFormat::Dot => self.to_dot(),
            GraphFormat::Mermaid => self.to_mermaid(),
            GraphFormat::Svg => self.to_svg(&|_| None),
        }
    }

    /// A one-line description, the drawings' title.
    pub fn title(&self) -> String {
        match &self.scope {
            GraphScope::Mesh => "Lineage of the data mesh".to_string(),
            GraphScope::Domain(d) => format!("Lineage of domain {d}"),
            GraphScope::Product(k) => format!("Lineage of {k}"),
        }
    }

    /// Graphviz DOT: `digraph lineage { ... }`, products as rounded boxes in
    /// a `cluster_<domain>` subgraph per domain, external topics as notes,
    /// edges labelled with their topic. Every id and label is quoted.
    ///
    /// Node ids are `product:<domain>/<name>` and `topic:<topic>`, so a
    /// product and a topic never share one.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph lineage {\n");
        let _ = writeln!(out, "  label={};", dot_quote(&self.title()));
        out.push_str("  labelloc=t;\n  rankdir=LR;\n");
        out.push_str("  node [fontname=\"Helvetica\", fontsize=11];\n");
        out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
        let mut by_domain: BTreeMap<&str, Vec<&ProductNode>> = BTreeMap::new();
        for node in &self.nodes {
            if let GraphNode::Product(p) = node {
                by_domain.entry(p.key.domain.as_str()).or_default().push(p);
            }
        }
        for (domain, products) in by_domain {
            let _ = writeln!(out, "  subgraph {} {{", dot_quote(&format!("cluster_{domain}")));
            let _ = writeln!(out, "    label={};", dot_quote(domain));
            for p in products {
                let colours = StatusColours::of(p.status);
                let mut style = String::from("rounded,filled");
                match p.role {
                    NodeRole::Foreign => style.push_str(",dashed"),
                    NodeRole::Focus => style.push_str(",bold"),
                    NodeRole::Member => {}
                }
                let _ = writeln!(
                    out,
                    "    {} [shape=box, style={}, fillcolor={}, color={}, label={}];",
                    dot_quote(&dot_id(&NodeId::Product(p.key.clone()))),
                    dot_quote(&style),
                    dot_quote(colours.fill),
                    dot_quote(colours.stroke),
                    dot_quote(&format!("{}\n{}", p.key.name, p.status)),
                );
            }
            out.push_str("  }\n");
        }
        for node in &self.nodes {
            if let GraphNode::Topic(topic) = node {
                let _ = writeln!(
                    out,
                    "  {} [shape=note, style=filled, fillcolor=\"#fff8e1\", label={}];",
                    dot_quote(&dot_id(&node.id())),
                    dot_quote(topic),
                );
            }
        }
        for edge in &self.edges {
            let _ = writeln!(
                out,
                "  {} -> {} [label={}];",
                dot_quote(&dot_id(&edge.from)),
                dot_quote(&dot_id(&edge.to)),
                dot_quote(&edge.topic),
            );
        }
        out.push_str("}\n");
        out
    }

    /// A Mermaid flowchart (`flowchart LR`): a subgraph per domain, external
    /// topics as stadiums, edges labelled with their topic. Node ids are
    /// made of letters, digits and `_` only (`p0_sales_orders`), labels are
    /// quoted with Mermaid's entity codes for `"`, `#`, `<`, `>` and `&`.
    pub fn to_mermaid(&self) -> String {
        let ids = self.short_ids();
        let mut out = String::from("flowchart LR\n");
        let mut by_domain: BTreeMap<&str, Vec<(usize, &ProductNode)>> = BTreeMap::new();
        for (i, node) in self.nodes.iter().enumerate() {
            if let GraphNode::Product(p) = node {
                by_domain.entry(p.key.domain.as_str()).or_default().push((i, p));
            }
        }
        for (d, (domain, products)) in by_domain.into_iter().enumerate() {
            let _ = writeln!(
                out,
                "  subgraph d{d}_{}[\"{}\"]",
                sanitize(domain),
                mermaid_escape(domain)
            );
            for (i, p) in products {
                let _ = writeln!(
                    out,
                    "    {}[\"{}<br/>{}\"]:::{}",
                    ids[i],
                    mermaid_escape(&p.key.name),
                    mermaid_escape(&p.status.to_string()),
                    mermaid_class(p),
                );
            }
            out.push_str("  end\n");
        }
        for (i, node) in self.nodes.iter().enumerate() {
            if let GraphNode::Topic(topic) = node {
                let _ = writeln!(out, "  {}([\"{}\"]):::topic", ids[i], mermaid_escape(topic));
            }
        }
        let index: BTreeMap<NodeId, usize> =
            self.nodes.iter().enumerate().map(|(i, n)| (n.id(), i)).collect();
        for edge in &self.edges {
            if let (Some(&from), Some(&to)) = (index.get(&edge.from), index.get(&edge.to)) {
                let _ = writeln!(
                    out,
                    "  {} -->|\"{}\"| {}",
                    ids[from],
                    mermaid_escape(&edge.topic),
                    ids[to]
                );
            }
        }
        for status in MERMAID_CLASSES {
            let _ = writeln!(out, "  classDef {} {}", status.0, status.1);
        }
        out
    }

    /// A self-contained SVG document (no script, no external reference):
    /// a column per longest path from the sources, rounded boxes with each
    /// product's name, domain and status, external topics as ellipses.
    /// Each product whose `links` gives a URL is wrapped in `<a href>`.
    ///
    /// Ids inside the document start with `meshkit-lineage-`.
    pub fn to_svg(&self, links: &dyn Fn(&ProductKey) -> Option<String>) -> String {
        svg::render(self, links)
    }

    /// Mermaid ids: `p<index>_<sanitized>` / `t<index>_<sanitized>`; the
    /// index keeps two names that sanitize alike apart.
    fn short_ids(&self) -> Vec<String> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, node)| match node {
                GraphNode::Product(p) => {
                    format!("p{i}_{}_{}", sanitize(&p.key.domain), sanitize(&p.key.name))
                }
                GraphNode::Topic(t) => format!("t{i}_{}", sanitize(t)),
            })
            .collect()
    }
}

/// Every product and external topic of a catalog, and every edge.
struct Mesh {
    nodes: BTreeMap<NodeId, GraphNode>,
    edges: BTreeSet<GraphEdge>,
}

impl Mesh {
    fn of(catalog: &Catalog) -> Self {
        let mut writers: BTreeMap<&str, BTreeSet<ProductKey>> = BTreeMap::new();
        for record in catalog.list() {
            for port in &record.outputs {
                writers
                    .entry(port.topic.as_str())
                    .or_default()
                    .insert(record.key());
            }
        }
        let mut nodes = BTreeMap::new();
        let mut edges = BTreeSet::new();
        for record in catalog.list() {
            let me = record.key();
            nodes.insert(NodeId::Product(me.clone()), product_node(record));
            for input in &record.inputs {
                match writers.get(input.topic.as_str()) {
                    Some(keys) => {
                        for writer in keys.iter().filter(|k| **k != me) {
                            edges.insert(GraphEdge {
                                from: NodeId::Product(writer.clone()),
                                to: NodeId::Product(me.clone()),
                                topic: input.topic.clone(),
                            });
                        }
                    }
                    None => {
                        let topic = NodeId::Topic(input.topic.clone());
                        nodes
                            .entry(topic.clone())
                            .or_insert_with(|| GraphNode::Topic(input.topic.clone()));
                        edges.insert(GraphEdge {
                            from: topic,
                            to: NodeId::Product(me.clone()),
                            topic: input.topic.clone(),
                        });
                    }
                }
            }
        }
        Self { nodes, edges }
    }

    /// The nodes in `keep` with their roles, and the edges between them
    /// that `edge_filter` accepts.
    fn subgraph(
        self,
        scope: GraphScope,
        keep: &BTreeSet<NodeId>,
        role: impl Fn(&NodeId) -> NodeRole,
        edge_filter: impl Fn(&GraphEdge) -> bool,
    ) -> LineageGraph {
        let nodes = self
            .nodes
            .into_iter()
            .filter(|(id, _)| keep.contains(id))
            .map(|(id, node)| match node {
                GraphNode::Product(p) => GraphNode::Product(ProductNode { role: role(&id), ..p }),
                topic => topic,
            })
            .collect();
        let edges = self
            .edges
            .into_iter()
            .filter(|e| keep.contains(&e.from) && keep.contains(&e.to) && edge_filter(e))
            .collect();
        LineageGraph { scope, nodes, edges }
    }
}

fn product_node(record: &CatalogRecord) -> GraphNode {
    GraphNode::Product(ProductNode {
        key: record.key(),
        status: record.status,
        role: NodeRole::Member,
    })
}

/// One of the formats [`LineageGraph::render`] writes.
///
/// # Examples
///
/// ```
/// use meshkit::catalog::GraphFormat;
///
/// let format: GraphFormat = "SVG".parse()?;
/// assert_eq!(format, GraphFormat::Svg);
/// assert_eq!(format.to_string(), "svg");
/// assert_eq!(format.media_type(), "image/svg+xml");
/// assert!("png".parse::<GraphFormat>().is_err());
/// # Ok::<(), meshkit::catalog::UnknownGraphFormat>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GraphFormat {
    /// Graphviz DOT.
    Dot,
    /// A Mermaid flowchart.
    Mermaid,
    /// A self-contained SVG document.
    Svg,
}

impl GraphFormat {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [GraphFormat; 3] = [Self::Dot, Self::Mermaid, Self::Svg];

    /// The usual file extension (without the dot).
    pub fn extension(self) -> &'static str {
        match self {
            Self::Dot => "dot",
            Self::Mermaid => "mmd",
            Self::Svg => "svg",
        }
    }

    /// The media type to serve it as.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Dot => "text/vnd.graphviz; charset=utf-8",
            Self::Mermaid => "text/plain; charset=utf-8",
            Self::Svg => "image/svg+xml",
        }
    }
}

impl fmt::Display for GraphFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Dot => "dot",
            Self::Mermaid => "mermaid",
            Self::Svg => "svg",
        })
    }
}

/// A graph format name that is not `dot`, `mermaid` or `svg`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown graph format `{given}`; use dot, mermaid or svg")]
pub struct UnknownGraphFormat {
    /// The name given.
    pub given: String,
}

impl FromStr for GraphFormat {
    type Err = UnknownGraphFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|f| f.to_string().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownGraphFormat { given: s.to_string() })
    }
}

/// A status's fill and stroke colours. The status word is always drawn
/// too: colour alone says nothing to a colour-blind reader.
#[derive(Debug, Clone, Copy)]
struct StatusColours {
    fill: &'static str,
    stroke: &'static str,
}

impl StatusColours {
    fn of(status: ProductStatus) -> Self {
        // Comparisons rather than a match: a status added later falls to
        // the neutral colours instead of breaking the build.
        let (fill, stroke) = if status == ProductStatus::Running {
            ("#e8f5e9", "#2e7d32")
        } else if status == ProductStatus::Failed {
            ("#ffebee", "#c62828")
        } else if status == ProductStatus::Stopped {
            ("#f5f5f5", "#616161")
        } else {
            ("#e3f2fd", "#1565c0")
        };
        Self { fill, stroke }
    }
}

const MERMAID_CLASSES: [(&str, &str); 6] = [
    ("running", "fill:#e8f5e9,stroke:#2e7d32"),
    ("failed", "fill:#ffebee,stroke:#c62828"),
    ("stopped", "fill:#f5f5f5,stroke:#616161"),
    ("other", "fill:#e3f2fd,stroke:#1565c0"),
    ("focus", "stroke-width:3px"),
    ("topic", "fill:#fff8e1,stroke:#8d6e63"),
];

fn mermaid_class(p: &ProductNode) -> &'static str {
    if p.role == NodeRole::Focus {
        return "focus";
    }
    let status = p.status.to_string();
    MERMAID_CLASSES[..3]
        .iter()
        .find(|(name, _)| *name == status)
        .map_or("other", |(name, _)| *name)
}

/// The DOT id of a node (before quoting).
fn dot_id(id: &NodeId) -> String {
    match id {
        NodeId::Product(key) => format!("product:{key}"),
        NodeId::Topic(topic) => format!("topic:{topic}"),
    }
}

/// A DOT double-quoted string. A backslash is doubled (in labels Graphviz
/// reads `\n`, `\l`, `\N` as escapes), a quote escaped, a line break
/// written `\n`.
fn dot_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Letters, digits and `_`; everything else becomes `_`.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Text for inside a quoted Mermaid label: the characters Mermaid or the
/// HTML it generates would read as syntax become entity codes.
fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '|' => out.push_str("#124;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
