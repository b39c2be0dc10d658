//! The HTTP endpoint: `/metrics` (Prometheus text format), `/healthz`,
//! `/readyz` and `/product` (the catalog record as JSON). Deliberately small: one request per connection, GET only.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{Shared, Status};
use crate::error::Error;
use crate::metrics::Metrics;

/// Binds `addr` and serves until the returned task is aborted.
pub(crate) async fn serve(
    addr: SocketAddr,
    shared: Arc<Shared>,
    metrics: Metrics,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    let listener = TcpListener::bind(addr).await.map_err(|source| Error::Io {
        operation: format!(
            "binding the metrics endpoint on {addr} (setting `metrics_addr`, env MESHKIT_METRICS_ADDR)"
        ),
        source,
    })?;
    tracing::info!(%addr, "serving /metrics, /healthz and /readyz");
    Ok(tokio::spawn(async move {
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
    let health = shared
        .health
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let (status, content_type, body) = match (method, path) {
        ("GET", "/metrics") => ("200 OK", "text/plain; version=0.0.4", metrics.render()),
        ("GET", "/healthz") => {
            let ok = !matches!(health.status, Status::Failed);
            let json = serde_json::to_string(&health).unwrap_or_default();
            (
                if ok { "200 OK" } else { "503 Service Unavailable" },
                "application/json",
                json,
            )
        }
        ("GET", "/readyz") => {
            let ready = health.status == Status::Running;
            let json = serde_json::to_string(&health).unwrap_or_default();
            (
                if ready {
                    "200 OK"
                } else {
                    "503 Service Unavailable"
                },
                "application/json",
                json,
            )
        }
        ("GET", "/product") => match shared.product().encode() {
            Ok(json) => (
                "200 OK",
                "application/json",
                String::from_utf8(json).unwrap_or_default(),
            ),
            Err(err) => (
                "500 Internal Server Error",
                "text/plain",
                format!("cannot encode the product's record: {err}\n"),
            ),
        },
        ("GET", _) => (
            "404 Not Found",
            "text/plain",
            "try /metrics, /healthz, /readyz or /product\n".to_string(),
        ),
        _ => ("405 Method Not Allowed", "text/plain", "GET only\n".to_string()),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
