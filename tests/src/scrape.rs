//! Reading a runtime's HTTP endpoint: `/metrics` parsed into samples, and
//! the status of `/healthz` and `/readyz`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;

/// A free loopback address for a runtime's `metrics_addr` (the endpoint
/// does not report the address it bound, so a port is picked here).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// `GET path` on `addr`: the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nhost: x\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").context("a head and a body")?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("a status line: {head}"))?;
    Ok((code, body.to_string()))
}

/// One sample of a scrape: a metric name and its labels.
pub type Series = (String, BTreeMap<String, String>);

/// The samples of a Prometheus text page, by name and labels.
pub fn parse(text: &str) -> anyhow::Result<BTreeMap<Series, f64>> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (series, value) = line
            .rsplit_once(' ')
            .with_context(|| format!("a sample: {line}"))?;
        let value: f64 = value.parse().with_context(|| format!("a value: {line}"))?;
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let rest = rest
                    .strip_suffix('}')
                    .with_context(|| format!("labels: {line}"))?;
                let mut labels = BTreeMap::new();
                // meshkit's label values hold no `",`, so a plain split does.
                for pair in rest.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair
                        .split_once("=\"")
                        .with_context(|| format!("a label: {line}"))?;
                    labels.insert(k.to_string(), v.trim_end_matches('"').to_string());
                }
                (name.to_string(), labels)
            }
        };
        samples.insert((name, labels), value);
    }
    Ok(samples)
}

/// A parsed scrape.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The page as served.
    pub text: String,
    /// Its samples.
    pub samples: BTreeMap<Series, f64>,
}

impl Scrape {
    /// Scrapes `/metrics` on `addr`.
    pub fn get(addr: SocketAddr) -> anyhow::Result<Self> {
        let (code, text) = http_get(addr, "/metrics")?;
        anyhow::ensure!(code == 200, "/metrics answered {code}: {text}");
        let samples = parse(&text)?;
        Ok(Self { text, samples })
    }

    /// The samples named `name` whose labels include `labels`.
    pub fn find(&self, name: &str, labels: &[(&str, &str)]) -> Vec<(&BTreeMap<String, String>, f64)> {
        self.samples
            .iter()
            .filter(|((n, l), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|((_, l), v)| (l, *v))
            .collect()
    }

    /// The one sample named `name` with `labels` among its labels.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> anyhow::Result<f64> {
        match self.find(name, labels).as_slice() {
            [(_, v)] => Ok(*v),
            found => anyhow::bail!(
                "expected one sample {name}{labels:?}, found {}:\n{}",
                found.len(),
                self.text
            ),
        }
    }
}

/// Checks `text` with `promtool check metrics` (its default lint). `Ok(None)`
/// when promtool is not installed and `MESHKIT_TEST_REQUIRE_PROMTOOL` is not
/// set (the caller says it skipped); an error when it is set.
pub fn promtool_check(text: &str) -> anyhow::Result<Option<String>> {
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            anyhow::ensure!(
                std::env::var_os("MESHKIT_TEST_REQUIRE_PROMTOOL").is_none(),
                "promtool is not installed although MESHKIT_TEST_REQUIRE_PROMTOOL is set \
                 (scripts/install-deps.sh installs the Debian package prometheus)"
            );
            return Ok(None);
        }
        Err(err) => return Err(err.into()),
    };
    child
        .stdin
        .take()
        .context("promtool's stdin")?
        .write_all(text.as_bytes())?;
    let output = child.wait_with_output()?;
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    anyhow::ensure!(
        output.status.success(),
        "promtool check metrics failed ({}):\n{report}\non:\n{text}",
        output.status
    );
    Ok(Some(report))
}
