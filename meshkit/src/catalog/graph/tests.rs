use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::catalog::{DescriptorInput, PortInput, Timestamp};

/// A product `domain/name` reading `inputs` and writing `outputs`.
fn product(key: &str, inputs: &[&str], outputs: &[&str], status: ProductStatus) -> CatalogRecord {
    let key: ProductKey = key.parse().expect("key");
    let mut d = DescriptorInput::new(&key.domain, &key.name, "1.0.0", "team");
    for (i, topic) in inputs.iter().enumerate() {
        d = d.input(PortInput::new(format!("in{i}"), *topic));
    }
    for (i, topic) in outputs.iter().enumerate() {
        d = d.output(PortInput::new(format!("out{i}"), *topic));
    }
    let mut record = CatalogRecord::from_descriptor(&d, Timestamp::from_millis(0));
    record.status = status;
    record
}

fn catalog(records: &[CatalogRecord]) -> Catalog {
    let mut catalog = Catalog::new();
    for r in records {
        catalog
            .apply(&r.key().to_bytes(), Some(&r.encode().expect("encode")))
            .expect("apply");
    }
    catalog
}

/// raw.orders → sales/orders → sales.orders → {sales/enriched, finance/ledger};
/// sales/enriched → sales.enriched → finance/ledger and marketing/campaigns;
/// finance/ledger → finance.ledger (read by nobody); ops/audit reads
/// audit.in (external) and is unrelated to the rest.
fn mesh() -> Catalog {
    catalog(&[
        product(
            "sales/orders",
            &["raw.orders"],
            &["sales.orders"],
            ProductStatus::Running,
        ),
        product(
            "sales/enriched",
            &["sales.orders"],
            &["sales.enriched"],
            ProductStatus::Failed,
        ),
        product(
            "finance/ledger",
            &["sales.orders", "sales.enriched"],
            &["finance.ledger"],
            ProductStatus::Stopped,
        ),
        product(
            "marketing/campaigns",
            &["sales.enriched"],
            &[],
            ProductStatus::Running,
        ),
        product("ops/audit", &["audit.in"], &[], ProductStatus::Running),
    ])
}

fn p(key: &str) -> NodeId {
    NodeId::Product(key.parse().expect("key"))
}

fn t(topic: &str) -> NodeId {
    NodeId::Topic(topic.to_string())
}

fn edge(from: NodeId, to: NodeId, topic: &str) -> GraphEdge {
    GraphEdge {
        from,
        to,
        topic: topic.to_string(),
    }
}

fn ids(graph: &LineageGraph) -> Vec<NodeId> {
    graph.nodes().iter().map(GraphNode::id).collect()
}

fn role(graph: &LineageGraph, key: &str) -> NodeRole {
    graph
        .nodes()
        .iter()
        .find_map(|n| match n {
            GraphNode::Product(pn) if pn.key.to_string() == key => Some(pn.role),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no node {key}"))
}

#[test]
fn edges_follow_output_topics_to_input_topics_and_external_sources_are_topic_nodes() {
    let graph = LineageGraph::of(&mesh());
    assert_eq!(
        graph.edges(),
        [
            edge(p("sales/enriched"), p("finance/ledger"), "sales.enriched"),
            edge(p("sales/enriched"), p("marketing/campaigns"), "sales.enriched"),
            edge(p("sales/orders"), p("finance/ledger"), "sales.orders"),
            edge(p("sales/orders"), p("sales/enriched"), "sales.orders"),
            edge(t("audit.in"), p("ops/audit"), "audit.in"),
            edge(t("raw.orders"), p("sales/orders"), "raw.orders"),
        ]
    );
    assert_eq!(
        ids(&graph),
        [
            p("finance/ledger"),
            p("marketing/campaigns"),
            p("ops/audit"),
            p("sales/enriched"),
            p("sales/orders"),
            t("audit.in"),
            t("raw.orders"),
        ],
        "sorted, products first; finance.ledger has no reader and no node"
    );
    assert_eq!(*graph.scope(), GraphScope::Mesh);
    assert!(graph
        .nodes()
        .iter()
        .all(|n| !matches!(n, GraphNode::Product(pn) if pn.role != NodeRole::Member)));
}

#[test]
fn every_writer_of_a_topic_is_upstream_and_a_product_reading_itself_is_not() {
    let graph = LineageGraph::of(&catalog(&[
        product("a/one", &[], &["shared"], ProductStatus::Running),
        product("b/two", &[], &["shared"], ProductStatus::Running),
        product("c/loop", &["shared", "loop"], &["loop"], ProductStatus::Running),
    ]));
    assert_eq!(
        graph.edges(),
        [
            edge(p("a/one"), p("c/loop"), "shared"),
            edge(p("b/two"), p("c/loop"), "shared"),
        ]
    );
    assert!(!ids(&graph).contains(&t("loop")), "its own topic is not external");
}

#[test]
fn a_domain_graph_has_its_products_and_their_neighbours_marked_foreign() {
    let graph = LineageGraph::domain(&mesh(), "finance");
    assert_eq!(
        ids(&graph),
        [p("finance/ledger"), p("sales/enriched"), p("sales/orders")]
    );
    assert_eq!(role(&graph, "finance/ledger"), NodeRole::Member);
    assert_eq!(role(&graph, "sales/orders"), NodeRole::Foreign);
    // The sales → sales edge does not touch finance: left out.
    assert_eq!(
        graph.edges(),
        [
            edge(p("sales/enriched"), p("finance/ledger"), "sales.enriched"),
            edge(p("sales/orders"), p("finance/ledger"), "sales.orders"),
        ]
    );

    let sales = LineageGraph::domain(&mesh(), "sales");
    assert_eq!(
        ids(&sales),
        [
            p("finance/ledger"),
            p("marketing/campaigns"),
            p("sales/enriched"),
            p("sales/orders"),
            t("raw.orders"),
        ]
    );
    assert_eq!(role(&sales, "marketing/campaigns"), NodeRole::Foreign);
    assert_eq!(sales.edges().len(), 5);

    let nothing = LineageGraph::domain(&mesh(), "nope");
    assert!(nothing.is_empty());
    assert!(nothing.edges().is_empty());
}

#[test]
fn a_product_graph_has_everything_upstream_and_downstream_of_it() {
    let key: ProductKey = "sales/enriched".parse().expect("key");
    let graph = LineageGraph::around(&mesh(), &key);
    assert_eq!(
        ids(&graph),
        [
            p("finance/ledger"),
            p("marketing/campaigns"),
            p("sales/enriched"),
            p("sales/orders"),
            t("raw.orders"),
        ],
        "ops/audit and audit.in are unrelated"
    );
    assert_eq!(role(&graph, "sales/enriched"), NodeRole::Focus);
    assert_eq!(role(&graph, "sales/orders"), NodeRole::Member);
    // Edges among them, including sales/orders → finance/ledger, which
    // bypasses the product but is lineage all the same.
    assert_eq!(graph.edges().len(), 5);

    let leaf = LineageGraph::around(&mesh(), &"marketing/campaigns".parse().expect("key"));
    assert_eq!(
        ids(&leaf),
        [
            p("marketing/campaigns"),
            p("sales/enriched"),
            p("sales/orders"),
            t("raw.orders"),
        ],
        "finance/ledger is a sibling, not up- or downstream"
    );

    let missing = LineageGraph::around(&mesh(), &"sales/none".parse().expect("key"));
    assert!(missing.is_empty());
    assert!(missing.to_svg(&|_| None).contains("no product sales/none"));
}

fn cycle() -> Catalog {
    catalog(&[
        product("x/a", &["src", "c.out"], &["a.out"], ProductStatus::Running),
        product("x/b", &["a.out"], &["b.out"], ProductStatus::Running),
        product("x/c", &["b.out"], &["c.out"], ProductStatus::Running),
        product("x/d", &["c.out"], &[], ProductStatus::Running),
    ])
}

#[test]
fn a_cycle_terminates_every_walk_and_the_layout() {
    let looped = cycle();
    let around = LineageGraph::around(&looped, &"x/b".parse().expect("key"));
    assert_eq!(ids(&around), [p("x/a"), p("x/b"), p("x/c"), p("x/d"), t("src")]);
    let graph = LineageGraph::of(&looped);
    assert_eq!(graph.edges().len(), 5);
    for format in GraphFormat::ALL {
        assert!(!graph.render(format).is_empty());
    }
    let svg = graph.to_svg(&|_| None);
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    // Every node drawn once, every edge once.
    let count = |class: &str| {
        doc.descendants()
            .filter(|n| {
                n.attribute("class")
                    .is_some_and(|c| c.split(' ').any(|w| w == class))
            })
            .count()
    };
    assert_eq!(count("node"), 5);
    assert_eq!(count("edge"), 5);

    // A cycle with no way in at all: no node is ever "ready".
    let closed = LineageGraph::of(&catalog(&[
        product("y/a", &["b.out"], &["a.out"], ProductStatus::Running),
        product("y/b", &["a.out"], &["b.out"], ProductStatus::Running),
    ]));
    let doc_text = closed.to_svg(&|_| None);
    roxmltree::Document::parse(&doc_text).expect("well-formed SVG");
}

/// The DOT subset `to_dot` writes: statements `ID = ID;`, `node|edge [..];`,
/// `ID [attrs];`, `ID -> ID [attrs];`, `subgraph ID { ... }`, with IDs
/// quoted (`\"` and `\\` escapes) or bare words.
mod dot {
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq)]
    enum Token {
        Id(String),
        Punct(&'static str),
    }

    fn tokens(text: &str) -> Vec<Token> {
        let mut out = Vec::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                c if c.is_whitespace() => {}
                '"' => {
                    let mut s = String::new();
                    loop {
                        match chars.next().expect("unterminated string") {
                            '"' => break,
                            '\\' => match chars.next().expect("escape") {
                                '"' => s.push('"'),
                                '\\' => s.push('\\'),
                                'n' => s.push('\n'),
                                other => panic!("unexpected escape \\{other}"),
                            },
                            '\n' => panic!("raw line break in a string"),
                            c => s.push(c),
                        }
                    }
                    out.push(Token::Id(s));
                }
                '-' => {
                    assert_eq!(chars.next(), Some('>'), "only `->` starts with -");
                    out.push(Token::Punct("->"));
                }
                '{' => out.push(Token::Punct("{")),
                '}' => out.push(Token::Punct("}")),
                '[' => out.push(Token::Punct("[")),
                ']' => out.push(Token::Punct("]")),
                '=' => out.push(Token::Punct("=")),
                ';' => out.push(Token::Punct(";")),
                ',' => out.push(Token::Punct(",")),
                c if c.is_alphanumeric() || c == '_' => {
                    let mut s = c.to_string();
                    while let Some(&c) = chars.peek().filter(|c| c.is_alphanumeric() || **c == '_') {
                        s.push(c);
                        chars.next();
                    }
                    out.push(Token::Id(s));
                }
                c => panic!("unexpected character {c:?}"),
            }
        }
        out
    }

    /// Nodes (id → attributes and cluster) and edges (from, to, label).
    #[derive(Debug, Default)]
    pub(super) struct Dot {
        pub(super) nodes: BTreeMap<String, (BTreeMap<String, String>, Option<String>)>,
        pub(super) edges: Vec<(String, String, String)>,
    }

    pub(super) fn parse(text: &str) -> Dot {
        let toks = tokens(text);
        let mut at = 0;
        let id = |at: &mut usize| match toks.get(*at) {
            Some(Token::Id(s)) => {
                *at += 1;
                s.clone()
            }
            other => panic!("expected an id at token {at}, got {other:?}"),
        };
        let punct = |at: &mut usize, p: &str| {
            assert_eq!(
                toks.get(*at),
                Some(&Token::Punct(match p {
                    "{" => "{",
                    "}" => "}",
                    "[" => "[",
                    "]" => "]",
                    "=" => "=",
                    ";" => ";",
                    _ => "->",
                })),
                "expected {p} at token {at}"
            );
            *at += 1;
        };
        let attrs = |at: &mut usize| {
            let mut map = BTreeMap::new();
            punct(at, "[");
            while toks.get(*at) != Some(&Token::Punct("]")) {
                let k = id(at);
                punct(at, "=");
                map.insert(k, id(at));
                if toks.get(*at) == Some(&Token::Punct(",")) {
                    *at += 1;
                }
            }
            punct(at, "]");
            map
        };
        assert_eq!(id(&mut at), "digraph");
        assert_eq!(id(&mut at), "lineage");
        punct(&mut at, "{");
        let mut dot = Dot::default();
        let mut cluster: Option<String> = None;
        loop {
            match toks.get(at) {
                Some(Token::Punct("}")) => {
                    at += 1;
                    if cluster.take().is_none() {
                        break;
                    }
                }
                Some(Token::Id(word)) if word == "subgraph" => {
                    at += 1;
                    assert!(cluster.is_none(), "nested subgraph");
                    cluster = Some(id(&mut at));
                    punct(&mut at, "{");
                }
                Some(Token::Id(_)) => {
                    let first = id(&mut at);
                    match toks.get(at) {
                        Some(Token::Punct("=")) => {
                            at += 1;
                            id(&mut at);
                        }
                        Some(Token::Punct("->")) => {
                            at += 1;
                            let to = id(&mut at);
                            let a = attrs(&mut at);
                            dot.edges
                                .push((first, to, a.get("label").cloned().unwrap_or_default()));
                        }
                        Some(Token::Punct("[")) => {
                            let a = attrs(&mut at);
                            if first != "node" && first != "edge" && first != "graph" {
                                let previous = dot.nodes.insert(first.clone(), (a, cluster.clone()));
                                assert!(previous.is_none(), "node {first} declared twice");
                            }
                        }
                        other => panic!("unexpected {other:?} after {first}"),
                    }
                    punct(&mut at, ";");
                }
                other => panic!("unexpected {other:?} at token {at}"),
            }
        }
        assert_eq!(at, toks.len(), "text after the graph");
        dot
    }
}

#[test]
fn the_dot_parses_to_the_expected_nodes_clusters_and_edges() {
    let graph = LineageGraph::of(&mesh());
    let text = graph.to_dot();
    let dot = dot::parse(&text);
    let edges: BTreeSet<(String, String, String)> = dot.edges.iter().cloned().collect();
    let expected: BTreeSet<(String, String, String)> = [
        (
            "product:sales/enriched",
            "product:finance/ledger",
            "sales.enriched",
        ),
        (
            "product:sales/enriched",
            "product:marketing/campaigns",
            "sales.enriched",
        ),
        ("product:sales/orders", "product:finance/ledger", "sales.orders"),
        ("product:sales/orders", "product:sales/enriched", "sales.orders"),
        ("topic:audit.in", "product:ops/audit", "audit.in"),
        ("topic:raw.orders", "product:sales/orders", "raw.orders"),
    ]
    .into_iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(edges, expected);
    assert_eq!(dot.edges.len(), expected.len(), "no duplicate edge");
    // Every endpoint is a declared node.
    for (from, to, _) in &dot.edges {
        assert!(
            dot.nodes.contains_key(from) && dot.nodes.contains_key(to),
            "{from} -> {to}"
        );
    }
    let (attrs, cluster) = &dot.nodes["product:sales/enriched"];
    assert_eq!(cluster.as_deref(), Some("cluster_sales"));
    assert_eq!(attrs["shape"], "box");
    assert_eq!(attrs["label"], "enriched\nfailed");
    let (attrs, cluster) = &dot.nodes["topic:raw.orders"];
    assert_eq!(*cluster, None, "external topics belong to no domain");
    assert_eq!(attrs["shape"], "note");
    assert_eq!(text, LineageGraph::of(&mesh()).to_dot(), "deterministic");
}

/// A name with every character the three formats must escape.
const NASTY: &str = "q\"<b>&amp;'\\n#|x";

fn nasty_catalog() -> Catalog {
    let mut r = product("d&o\"m/n", &[NASTY], &["out"], ProductStatus::Running);
    r.name = NASTY.to_string();
    let reader = product("e/reader", &["out"], &[], ProductStatus::Published);
    catalog(&[r, reader])
}

#[test]
fn quotes_angle_brackets_and_ampersands_are_escaped_in_every_format() {
    let catalog = nasty_catalog();
    let graph = LineageGraph::of(&catalog);
    let key = ProductKey::new("d&o\"m", NASTY);
    assert_eq!(graph.edges().len(), 2);

    let dot = dot::parse(&graph.to_dot());
    let product_id = format!("product:{key}");
    let (attrs, cluster) = &dot.nodes[&product_id];
    assert_eq!(attrs["label"], format!("{NASTY}\nrunning"), "round-trips exactly");
    assert_eq!(cluster.as_deref(), Some("cluster_d&o\"m"));
    assert!(dot.nodes.contains_key(&format!("topic:{NASTY}")));
    assert!(dot
        .edges
        .contains(&(format!("topic:{NASTY}"), product_id.clone(), NASTY.to_string())));

    let mermaid = graph.to_mermaid();
    for line in mermaid
        .lines()
        .skip(1)
        .filter(|l| !l.trim_start().starts_with("classDef"))
    {
        // Ids are plain words; the only quotes are the label delimiters.
        let inside: Vec<&str> = line.split('"').collect();
        assert!(inside.len() == 1 || inside.len() == 3, "{line}");
        for outside in [inside[0], inside[inside.len() - 1]] {
            assert!(!outside.contains(['<', '&', '#']), "{line}");
        }
    }
    assert!(
        mermaid.contains("q#quot;#lt;b#gt;#amp;amp;'\\n#35;#124;x"),
        "{mermaid}"
    );

    let svg = graph.to_svg(&|k: &ProductKey| Some(format!("/p?k={k}&x=\"1\"")));
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let titles: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("title"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        titles.contains(&format!("{key} (running)").as_str()),
        "{titles:?}"
    );
    let hrefs: Vec<&str> = doc.descendants().filter_map(|n| n.attribute("href")).collect();
    assert!(
        hrefs.contains(&format!("/p?k={key}&x=\"1\"").as_str()),
        "{hrefs:?}"
    );
    // The added `published` status is drawn with its word.
    assert!(doc
        .descendants()
        .any(|n| n.has_tag_name("text") && n.text() == Some("published")));
}

#[test]
fn control_characters_cannot_break_the_svg() {
    let mut r = product("d/n", &["bad\u{1}topic"], &[], ProductStatus::Running);
    r.name = "bell\u{7}".to_string();
    let svg = LineageGraph::of(&catalog(&[r])).to_svg(&|_| None);
    roxmltree::Document::parse(&svg).expect("well-formed SVG");
}

#[test]
fn the_svg_is_accessible_self_contained_and_links_products() {
    let graph = LineageGraph::around(&mesh(), &"sales/enriched".parse().expect("key"));
    let svg = graph.to_svg(&|k: &ProductKey| (k.domain == "sales").then(|| format!("/products/{k}")));
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    assert_eq!(root.attribute("role"), Some("img"));
    assert!(root
        .attribute("aria-label")
        .is_some_and(|l| l.starts_with("Lineage of sales/enriched: 4 products, 1 external topic")));
    let first = root.first_element_child().expect("a child");
    assert_eq!(first.tag_name().name(), "title");
    assert_eq!(first.text(), Some("Lineage of sales/enriched"));
    // The arrow marker is defined once and used by every edge.
    let marker = doc
        .descendants()
        .find(|n| n.has_tag_name("marker"))
        .expect("a marker");
    assert_eq!(marker.parent().map(|p| p.tag_name().name()), Some("defs"));
    let marker_ref = format!("url(#{})", marker.attribute("id").expect("id"));
    let paths: Vec<_> = doc
        .descendants()
        .filter(|n| n.attribute("marker-end").is_some())
        .collect();
    assert_eq!(paths.len(), 5);
    assert!(paths
        .iter()
        .all(|n| n.attribute("marker-end") == Some(marker_ref.as_str())));
    // No reference to anything outside the document.
    assert_eq!(svg.matches("http").count(), 1, "only the namespace");
    assert!(!svg.contains("<script") && !svg.contains("<style"));
    // Links: exactly the sales products.
    let links: BTreeMap<&str, &str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("a"))
        .map(|a| {
            let title = a
                .descendants()
                .find(|n| n.has_tag_name("title"))
                .and_then(|n| n.text())
                .unwrap_or_default();
            (a.attribute("href").unwrap_or_default(), title)
        })
        .collect();
    assert_eq!(
        links.keys().copied().collect::<Vec<_>>(),
        ["/products/sales/enriched", "/products/sales/orders"]
    );
    // The status is said in words, not colour alone, and the focus is drawn heavier.
    for word in ["running", "failed", "stopped"] {
        assert!(
            doc.descendants()
                .any(|n| n.has_tag_name("text") && n.text() == Some(word)),
            "{word}"
        );
    }
    let focus_rect = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .find(|n| n.attribute("stroke-width") == Some("3.5"))
        .expect("a heavier focus box");
    let focus_title = focus_rect
        .parent()
        .and_then(|g| g.first_element_child())
        .and_then(|t| t.text());
    assert_eq!(focus_title, Some("sales/enriched (failed)"));
    // Columns follow the longest path: raw.orders, sales/orders,
    // sales/enriched, then its readers (finance/ledger after sales/enriched
    // although sales/orders feeds it directly).
    let x_of = |title: &str| -> i64 {
        let g = doc
            .descendants()
            .find(|n| {
                n.has_tag_name("g")
                    && n.first_element_child()
                        .is_some_and(|t| t.has_tag_name("title") && t.text() == Some(title))
            })
            .unwrap_or_else(|| panic!("no node titled {title}"));
        let shape = g
            .children()
            .find(|n| n.has_tag_name("rect") || n.has_tag_name("ellipse"))
            .expect("shape");
        let x = shape.attribute("x").or(shape.attribute("cx")).expect("x");
        x.parse().expect("number")
    };
    let topic = x_of("external topic raw.orders");
    let orders = x_of("sales/orders (running)");
    let enriched = x_of("sales/enriched (failed)");
    let ledger = x_of("finance/ledger (stopped)");
    assert!(
        topic < orders && orders < enriched && enriched < ledger,
        "{topic} {orders} {enriched} {ledger}"
    );
    assert_eq!(ledger, x_of("marketing/campaigns (running)"));
}

#[test]
fn an_empty_graph_is_a_small_valid_svg_saying_so() {
    let graph = LineageGraph::of(&Catalog::new());
    assert!(graph.is_empty());
    let svg = graph.to_svg(&|_| None);
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert_eq!(doc.root_element().attribute("role"), Some("img"));
    assert!(doc
        .descendants()
        .any(|n| n.has_tag_name("text") && n.text() == Some("The catalog holds no product.")));
    assert_eq!(graph.to_dot().lines().filter(|l| l.contains("->")).count(), 0);
    dot::parse(&graph.to_dot());
    assert_eq!(graph.to_mermaid().lines().next(), Some("flowchart LR"));
}

#[test]
fn the_mermaid_flowchart_has_sanitized_ids_subgraphs_and_labelled_edges() {
    let text = LineageGraph::of(&mesh()).to_mermaid();
    assert!(text.starts_with("flowchart LR\n"), "{text}");
    assert!(text.contains("subgraph d3_sales[\"sales\"]"), "{text}");
    assert!(
        text.contains("p4_sales_orders -->|\"sales.orders\"| p3_sales_enriched"),
        "{text}"
    );
    assert!(text.contains("t6_raw_orders([\"raw.orders\"]):::topic"), "{text}");
    assert!(
        text.contains("p3_sales_enriched[\"enriched<br/>failed\"]:::failed"),
        "{text}"
    );
    // Two names that sanitize alike still get two ids.
    let alike = LineageGraph::of(&catalog(&[
        product("a/x-y", &[], &[], ProductStatus::Running),
        product("a/x_y", &[], &[], ProductStatus::Running),
    ]))
    .to_mermaid();
    assert!(
        alike.contains("p0_a_x_y[") && alike.contains("p1_a_x_y["),
        "{alike}"
    );
}

#[test]
fn formats_parse_and_print() {
    for format in GraphFormat::ALL {
        assert_eq!(format.to_string().parse::<GraphFormat>(), Ok(format));
    }
    assert_eq!(" Mermaid ".parse::<GraphFormat>(), Ok(GraphFormat::Mermaid));
    let err = "png".parse::<GraphFormat>().expect_err("png");
    assert_eq!(
        err.to_string(),
        "unknown graph format `png`; use dot, mermaid or svg"
    );
    let graph = LineageGraph::of(&mesh());
    assert_eq!(graph.render(GraphFormat::Dot), graph.to_dot());
    assert_eq!(graph.render(GraphFormat::Mermaid), graph.to_mermaid());
    assert_eq!(graph.render(GraphFormat::Svg), graph.to_svg(&|_| None));
}
