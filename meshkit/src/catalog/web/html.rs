//! HTML text: escaping and the page layout every page shares.
//!
//! Pages are built as strings; every piece of catalog data goes through
//! [`Escaped`] on its way in, so a description holding
//! `<script>` shows as text.

use std::fmt::{self, Write as _};

/// Text escaped for HTML element content and double-quoted attribute
/// values, written without an intermediate string.
pub(super) struct Escaped<'a>(pub(super) &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// A URL path segment: everything but unreserved characters percent-encoded,
/// so a product named `a b/c` links to a path axum decodes back to it.
pub(super) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A query string value: as [`segment`] (spaces as `%20`).
pub(super) fn query_value(text: &str) -> String {
    segment(text)
}

/// The stylesheet: readable tables, a colour per status with the word
/// always shown beside it, and a focus outline that is always visible.
const STYLE: &str = r#"
:root { color-scheme: light; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0550ae; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: #fff; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible, [tabindex]:focus-visible {
  outline: 3px solid #bf8700; outline-offset: 2px; }
.skip { position: absolute; left: -10000px; top: 0; background: #fff; padding: .5rem 1rem; }
.skip:focus { left: 1rem; z-index: 1; }
header { display: flex; flex-wrap: wrap; gap: 1rem 2rem; align-items: center; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); background: #f6f8fa; }
header .site { margin: 0; font-weight: 700; font-size: 1.15rem; }
header .site a { color: var(--fg); text-decoration: none; }
header nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
main { padding: 1rem 1.5rem 3rem; max-width: 80rem; }
h1 { font-size: 1.6rem; margin: .5rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; min-width: 50%; }
caption { text-align: left; color: var(--muted); padding: .25rem 0; }
th, td { text-align: left; vertical-align: top; padding: .35rem .75rem; border-bottom: 1px solid var(--line); }
thead th { background: #f6f8fa; }
tbody tr:nth-child(even) { background: #fafbfc; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .9em; }
pre { background: #f6f8fa; padding: .75rem; overflow-x: auto; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1.5rem; }
dt { font-weight: 600; }
dd { margin: 0; }
ul.inline { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; gap: .25rem; }
.tag { display: inline-block; padding: 0 .5rem; border: 1px solid var(--line); border-radius: 1rem; font-size: .85rem; }
form[role=search] { display: flex; flex-wrap: wrap; gap: .75rem 1rem; align-items: end; margin-bottom: 1rem; }
form[role=search] div { display: flex; flex-direction: column; }
label { font-weight: 600; font-size: .9rem; }
input, select, button { font: inherit; padding: .3rem .5rem; }
.status { font-weight: 600; white-space: nowrap; }
.status::before { content: "\25CF\00A0"; }
[data-status=running] { color: #116329; }
[data-status=stopped] { color: #57606a; }
[data-status=failed] { color: #a40e26; }
[data-status=published] { color: #0550ae; }
figure.lineage { margin: 1rem 0; overflow-x: auto; }
figure.lineage figcaption { color: var(--muted); }
.muted { color: var(--muted); }
"#;

/// A whole page: `title` in `<title>` (and as the page's name to assistive
/// technology through the `<h1>` the body holds), the header with the site
/// name and a nav of `domains`, and `body` inside `<main id="main">`.
pub(super) fn layout(title: &str, domains: &[&str], body: &str) -> String {
    let mut nav = String::new();
    for domain in domains {
        let _ = write!(
            nav,
            r#"<li><a href="/domains/{}">{}</a></li>"#,
            segment(domain),
            Escaped(domain)
        );
    }
    format!(
        r##"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · meshkit catalog</title>
<style>{STYLE}</style>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
<p class="site"><a href="/">meshkit catalog</a></p>
<nav aria-label="Main"><ul><li><a href="/">All products</a></li>{nav}</ul></nav>
</header>
<main id="main" tabindex="-1">
{body}
</main>
</body>
</html>
"##,
        title = Escaped(title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            Escaped(r#"<script>alert("x") & 'y'</script>"#).to_string(),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(Escaped("plain").to_string(), "plain");
    }

    #[test]
    fn segments_percent_encode_what_a_path_cannot_hold() {
        assert_eq!(segment("orders-v1.2_x~"), "orders-v1.2_x~");
        assert_eq!(segment("a b/c?é"), "a%20b%2Fc%3F%C3%A9");
    }

    #[test]
    fn the_layout_has_a_skip_link_main_and_no_external_resource() {
        let page = layout("A <b>", &["sales"], "<h1>x</h1>");
        assert!(page.contains("<title>A &lt;b&gt; · meshkit catalog</title>"));
        assert!(page.contains(r##"<a class="skip" href="#main">"##));
        assert!(page.contains(r#"<main id="main""#));
        assert!(page.contains(r#"<a href="/domains/sales">sales</a>"#));
        assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("<script"));
    }
}
