//! The HTTP endpoint: `/metrics` (Prometheus text format), `/healthz`,
//! `/readyz` and `/product` (the catalog record as JSON). Deliberately small: one request per connection, GET only.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Error;
use super::{Health, Shared, Status};
use crate::metrics::Metrics;

/// Binds `addr` and serves on the runtime entered by the caller until the
/// returned task is aborted.
///
/// The socket is bound here, synchronously, and registered with the
/// reactor inside the task: the endpoint belongs wholly to the runtime it is
/// spawned on, which need not be the one the processing loop runs on.
pub(crate) fn serve(
    addr: SocketAddr,
    shared: Arc<Shared>,
    metrics: Metrics,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let io = |source| Error::Io {
        operation: format!(
            "binding the metrics endpoint on {addr} (setting `metrics_addr`, env MESHKIT_METRICS_ADDR)"
        ),
        source,
    };
    let listener = std::net::TcpListener::bind(addr).map_err(io)?;
    listener.set_nonblocking(true).map_err(io)?;
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    Ok(tokio::spawn(async move {
        let listener = match TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(err) => {
                tracing::error!(error = %err, %addr, "the metrics endpoint cannot serve");
                return;
            }
        };
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (shared, metrics) = (shared.clone(), metrics.clone());
            tokio::spawn(async move {
                if let Err(err) = answer(stream, &shared, &metrics).await {
                    tracing::debug!(error = %err, "metrics endpoint connection failed");
                }
            });
        }
    }))
}

async fn answer(mut stream: TcpStream, shared: &Shared, metrics: &Metrics) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    // Read the request head; the body, if any, is ignored.
    while len < buf.len() {
        let n = stream.read(&mut buf[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let mut parts = head.split_whitespace();
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let Reply {
        status,
        content_type,
        body,
    } = route(method, path, shared, metrics);
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// One answer of the endpoint.
struct Reply {
    status: &'static str,
    content_type: &'static str,
    body: String,
}

impl Reply {
    fn ok(content_type: &'static str, body: String) -> Self {
        Self {
            status: "200 OK",
            content_type,
            body,
        }
    }

    /// Health as JSON, with 200 or 503 as `ok` says.
    fn health(ok: bool, health: &Health) -> Self {
        Self {
            status: if ok { "200 OK" } else { "503 Service Unavailable" },
            content_type: "application/json",
            body: serde_json::to_string(health).unwrap_or_default(),
        }
    }
}

/// The routes: one arm each. A new route is one more arm (and its name in
/// the 404 text).
fn route(method: &str, path: &str, shared: &Shared, metrics: &Metrics) -> Reply {
    if method != "GET" {
        return Reply {
            status: "405 Method Not Allowed",
            content_type: "text/plain",
            body: "GET only\n".to_string(),
        };
    }
    let health = || {
        shared
            .health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    };
    match path {
        "/metrics" => Reply::ok("text/plain; version=0.0.4", metrics.render()),
        // Alive unless it stopped on an error: a restart is what helps then.
        "/healthz" => {
            let health = health();
            Reply::health(!matches!(health.status, Status::Failed), &health)
        }
        // Ready once in the group with its state restored (see `Health::is_ready`).
        "/readyz" => {
            let health = health();
            Reply::health(health.is_ready(), &health)
        }
        // The product's catalog record (an ODPS document), as published.
        "/product" => match shared.product().encode() {
            Ok(json) => Reply::ok("application/json", String::from_utf8(json).unwrap_or_default()),
            Err(err) => Reply {
                status: "500 Internal Server Error",
                content_type: "text/plain",
                body: format!("cannot encode the product's record: {err}\n"),
            },
        },
        _ => Reply {
            status: "404 Not Found",
            content_type: "text/plain",
            body: "try /metrics, /healthz, /readyz or /product\n".to_string(),
        },
    }
}
