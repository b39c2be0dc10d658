//! The SVG drawing of a [`LineageGraph`]: a simple layered layout, drawn
//! with presentation attributes only (a `<style>` element in an SVG inlined
//! in a page would style the whole page).
//!
//! Layout: each node's column is its longest path from a source. Nodes are
//! taken in topological order; when only nodes on a cycle are left, the one
//! with the fewest unplaced predecessors (then the smallest id) is placed
//! anyway and the edges closing the cycle are drawn as back edges, so a
//! cycle cannot stall the layout. Within a column, nodes are ordered by the
//! mean row of their predecessors (fewer crossings), then by id.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;

use super::{GraphNode, GraphScope, LineageGraph, NodeId, NodeRole, ProductKey, StatusColours};

const MARGIN: i64 = 20;
const NODE_HEIGHT: i64 = 62;
const ROW_GAP: i64 = 22;
const COLUMN_GAP: i64 = 110;
const MIN_WIDTH: i64 = 150;
const MAX_WIDTH: i64 = 300;
/// A rough width of one character at the name's font size; the text is cut
/// to fit rather than measured (no font metrics here).
const CHAR_WIDTH: i64 = 7;
/// Room below the rows for back edges, which loop under the boxes.
const BACK_EDGE_DROP: i64 = 46;
const ID_PREFIX: &str = "meshkit-lineage";

/// Where a node is drawn.
#[derive(Debug, Clone, Copy)]
struct Place {
    column: usize,
    x: i64,
    y: i64,
    width: i64,
}

pub(super) fn render(graph: &LineageGraph, links: &dyn Fn(&ProductKey) -> Option<String>) -> String {
    let title = graph.title();
    if graph.nodes.is_empty() {
        return empty(graph, &title);
    }
    let index: BTreeMap<NodeId, usize> = graph.nodes.iter().enumerate().map(|(i, n)| (n.id(), i)).collect();
    // Edges between the same two nodes share one arrow, labelled with every
    // topic.
    let mut arrows: BTreeMap<(usize, usize), Vec<&str>> = BTreeMap::new();
    for edge in &graph.edges {
        if let (Some(&from), Some(&to)) = (index.get(&edge.from), index.get(&edge.to)) {
            arrows.entry((from, to)).or_default().push(&edge.topic);
        }
    }
    let places = layout(graph, arrows.keys().copied());
    let back_edges = arrows.keys().any(|&(f, t)| places[t].column <= places[f].column);
    let width = places.iter().map(|p| p.x + p.width).max().unwrap_or(0) + MARGIN;
    let height = places.iter().map(|p| p.y + NODE_HEIGHT).max().unwrap_or(0)
        + MARGIN
        + if back_edges { BACK_EDGE_DROP } else { 0 };

    let products = graph.nodes.iter().filter(|n| n.product_key().is_some()).count();
    let topics = graph.nodes.len() - products;
    let label = format!(
        "{title}: {products} product{}, {topics} external topic{}, {} dependenc{}",
        plural(products),
        plural(topics),
        graph.edges.len(),
        if graph.edges.len() == 1 { "y" } else { "ies" },
    );
    let mut out = open_svg(width, height, &label, &title);
    let _ = writeln!(
        out,
        "<defs><marker id=\"{ID_PREFIX}-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" \
         markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#546e7a\"/></marker></defs>"
    );
    out.push_str("<g class=\"edges\" fill=\"none\">\n");
    for (&(from, to), topics) in &arrows {
        draw_edge(&mut out, graph, &places, from, to, &topics.join(", "));
    }
    out.push_str("</g>\n<g class=\"nodes\">\n");
    for (i, node) in graph.nodes.iter().enumerate() {
        draw_node(&mut out, i, node, places[i], links);
    }
    out.push_str("</g>\n</svg>\n");
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn open_svg(width: i64, height: i64, label: &str, title: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"{}\" \
         font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\" font-size=\"12\">\n\
         <title>{}</title>\n",
        xml_escape(label),
        xml_escape(title),
    );
    out
}

fn empty(graph: &LineageGraph, title: &str) -> String {
    let message = match graph.scope() {
        GraphScope::Product(key) => format!("The catalog holds no product {key}."),
        GraphScope::Domain(domain) => format!("The catalog holds no product in domain {domain}."),
        GraphScope::Mesh => "The catalog holds no product.".to_string(),
    };
    let width = (message.chars().count() as i64 * CHAR_WIDTH + 2 * MARGIN).max(320);
    let mut out = open_svg(width, 60, &format!("{title}: {message}"), title);
    let _ = writeln!(
        out,
        "<text x=\"{MARGIN}\" y=\"35\" fill=\"#37474f\">{}</text>\n</svg>",
        xml_escape(&message)
    );
    out
}

/// Columns by longest path from the sources, rows by predecessors' rows.
fn layout(graph: &LineageGraph, arrows: impl Iterator<Item = (usize, usize)>) -> Vec<Place> {
    let n = graph.nodes.len();
    let mut preds: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    let mut succs: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for (from, to) in arrows.filter(|(f, t)| f != t) {
        preds[to].insert(from);
        succs[from].insert(to);
    }

    let mut waiting: Vec<usize> = preds.iter().map(BTreeSet::len).collect();
    let mut placed = vec![false; n];
    let mut column = vec![0_usize; n];
    let mut ready: VecDeque<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    // Each turn places one node (a ready one, or else a forced one): at
    // most n turns.
    loop {
        let next = match ready.pop_front() {
            Some(i) => i,
            // Only cycles left: break one at its most nearly ready node.
            None => match (0..n).filter(|&i| !placed[i]).min_by_key(|&i| (waiting[i], i)) {
                Some(i) => i,
                None => break,
            },
        };
        if placed[next] {
            continue;
        }
        placed[next] = true;
        column[next] = preds[next]
            .iter()
            .filter(|&&p| placed[p] && p != next)
            .map(|&p| column[p] + 1)
            .max()
            .unwrap_or(0);
        for &s in &succs[next] {
            if !placed[s] {
                waiting[s] = waiting[s].saturating_sub(1);
                if waiting[s] == 0 {
                    ready.push_back(s);
                }
            }
        }
    }

    let columns = column.iter().copied().max().unwrap_or(0) + 1;
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); columns];
    for (i, &c) in column.iter().enumerate() {
        members[c].push(i);
    }
    let mut row = vec![0_usize; n];
    for (c, nodes) in members.iter_mut().enumerate() {
        let mut keyed: Vec<(f64, usize)> = nodes
            .iter()
            .map(|&i| {
                let earlier: Vec<usize> = preds[i]
                    .iter()
                    .filter(|&&p| column[p] < c)
                    .map(|&p| row[p])
                    .collect();
                let centre = if earlier.is_empty() {
                    f64::INFINITY
                } else {
                    earlier.iter().sum::<usize>() as f64 / earlier.len() as f64
                };
                (centre, i)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        *nodes = keyed.into_iter().map(|(_, i)| i).collect();
        for (r, &i) in nodes.iter().enumerate() {
            row[i] = r;
        }
    }

    let tallest = members.iter().map(Vec::len).max().unwrap_or(0) as i64;
    let mut places = vec![
        Place {
            column: 0,
            x: 0,
            y: 0,
            width: 0
        };
        n
    ];
    let mut x = MARGIN;
    for (c, nodes) in members.iter().enumerate() {
        let width = nodes
            .iter()
            .map(|&i| longest_text(&graph.nodes[i]) as i64 * CHAR_WIDTH + 28)
            .max()
            .unwrap_or(MIN_WIDTH)
            .clamp(MIN_WIDTH, MAX_WIDTH);
        // Shorter columns are centred against the tallest.
        let offset = (tallest - nodes.len() as i64) * (NODE_HEIGHT + ROW_GAP) / 2;
        for (r, &i) in nodes.iter().enumerate() {
            places[i] = Place {
                column: c,
                x,
                y: MARGIN + offset + r as i64 * (NODE_HEIGHT + ROW_GAP),
                width,
            };
        }
        x += width + COLUMN_GAP;
    }
    places
}

fn longest_text(node: &GraphNode) -> usize {
    match node {
        GraphNode::Product(p) => p.key.name.chars().count().max(p.key.domain.chars().count() + 16),
        GraphNode::Topic(t) => t.chars().count(),
    }
}

fn draw_edge(out: &mut String, graph: &LineageGraph, places: &[Place], from: usize, to: usize, label: &str) {
    let (a, b) = (places[from], places[to]);
    let mid_a = a.y + NODE_HEIGHT / 2;
    let mid_b = b.y + NODE_HEIGHT / 2;
    let (path, lx, ly) = if b.column > a.column {
        let (x1, x2) = (a.x + a.width, b.x - 2);
        let bend = (x2 - x1) / 2;
        (
            format!(
                "M{x1},{mid_a} C{},{mid_a} {},{mid_b} {x2},{mid_b}",
                x1 + bend,
                x2 - bend
            ),
            (x1 + x2) / 2,
            (mid_a + mid_b) / 2 - 4,
        )
    } else {
        // A back edge (a cycle) or one within a column: loop below.
        let (x1, x2) = (a.x + a.width / 2, b.x + b.width / 2);
        let (y1, y2) = (a.y + NODE_HEIGHT, b.y + NODE_HEIGHT + 2);
        let low = y1.max(y2) + BACK_EDGE_DROP;
        (
            format!("M{x1},{y1} C{x1},{low} {x2},{low} {x2},{y2}"),
            (x1 + x2) / 2,
            // The curve's midpoint: (P0 + 3 P1 + 3 P2 + P3) / 8.
            (y1 + 3 * low + 3 * low + y2) / 8 + 12,
        )
    };
    let name = |i: usize| graph.nodes[i].id().to_string();
    let _ = writeln!(
        out,
        "<g class=\"edge\"><title>{} \u{2192} {}: {}</title>\
         <path d=\"{path}\" stroke=\"#546e7a\" stroke-width=\"1.5\" marker-end=\"url(#{ID_PREFIX}-arrow)\"/>\
         <text x=\"{lx}\" y=\"{ly}\" text-anchor=\"middle\" font-size=\"10\" fill=\"#37474f\" \
         stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">{}</text></g>",
        xml_escape(&name(from)),
        xml_escape(&name(to)),
        xml_escape(label),
        xml_escape(&truncate(label, 36)),
    );
}

fn draw_node(
    out: &mut String,
    i: usize,
    node: &GraphNode,
    place: Place,
    links: &dyn Fn(&ProductKey) -> Option<String>,
) {
    let Place { x, y, width, .. } = place;
    let fits = ((width - 20) / CHAR_WIDTH).max(4) as usize;
    let cx = x + width / 2;
    match node {
        GraphNode::Product(p) => {
            let colours = StatusColours::of(p.status);
            let status = p.status.to_string();
            let (dash, stroke_width, domain_note) = match p.role {
                NodeRole::Foreign => (" stroke-dasharray=\"5 3\"", 1.5, " (other domain)"),
                NodeRole::Focus => ("", 3.5, ""),
                _ => ("", 1.5, ""),
            };
            let key = p.key.to_string();
            let link = links(&p.key);
            if let Some(url) = &link {
                let _ = write!(
                    out,
                    "<a href=\"{}\" aria-label=\"{}\">",
                    xml_escape(url),
                    xml_escape(&format!("{key} ({status})"))
                );
            }
            let _ = write!(
                out,
                "<g class=\"node product {}\" id=\"{ID_PREFIX}-n{i}\"><title>{}</title>\
                 <rect x=\"{x}\" y=\"{y}\" width=\"{width}\" height=\"{NODE_HEIGHT}\" rx=\"10\" \
                 fill=\"{}\" stroke=\"{}\" stroke-width=\"{stroke_width}\"{dash}/>\
                 <text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"600\" fill=\"#212121\">{}</text>\
                 <text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#455a64\">{}</text>\
                 <circle cx=\"{}\" cy=\"{}\" r=\"4\" fill=\"{}\"/>\
                 <text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{}\">{}</text></g>",
                xml_escape(&status),
                xml_escape(&format!("{key} ({status}){domain_note}")),
                colours.fill,
                colours.stroke,
                y + 20,
                xml_escape(&truncate(&p.key.name, fits)),
                y + 36,
                xml_escape(&truncate(&format!("{}{domain_note}", p.key.domain), fits)),
                cx - 4 * status.chars().count() as i64,
                y + 48,
                colours.stroke,
                cx + 6 - 4 * status.chars().count() as i64 + 2,
                y + 52,
                colours.stroke,
                xml_escape(&status),
            );
            if link.is_some() {
                out.push_str("</a>");
            }
            out.push('\n');
        }
        GraphNode::Topic(topic) => {
            let _ = writeln!(
                out,
                "<g class=\"node topic\" id=\"{ID_PREFIX}-n{i}\"><title>external topic {}</title>\
                 <ellipse cx=\"{cx}\" cy=\"{}\" rx=\"{}\" ry=\"{}\" fill=\"#fff8e1\" stroke=\"#8d6e63\" stroke-width=\"1.5\"/>\
                 <text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\" font-style=\"italic\" fill=\"#6d4c41\">external topic</text>\
                 <text x=\"{cx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"12\" fill=\"#212121\">{}</text></g>",
                xml_escape(topic),
                y + NODE_HEIGHT / 2,
                width / 2,
                NODE_HEIGHT / 2,
                y + 26,
                y + 42,
                xml_escape(&truncate(topic, fits.saturating_sub(2).max(4))),
            );
        }
    }
}

/// `text` cut to `max` characters, ending in `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('\u{2026}');
    cut
}

/// Text for XML content or a double- or single-quoted attribute. Characters
/// XML 1.0 does not allow at all (most control characters) become U+FFFD,
/// so a hostile product name cannot make the document ill-formed.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}
