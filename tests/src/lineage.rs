//! A stand-in OpenLineage endpoint: an HTTP server on loopback that keeps
//! every event posted to it, in arrival order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context as _};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

type Events = Arc<Mutex<Vec<Value>>>;

/// The server; stops when dropped.
pub struct LineageSink {
    url: String,
    events: Events,
    task: tokio::task::JoinHandle<()>,
}

impl LineageSink {
    /// Serves `POST /api/v1/lineage` on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/api/v1/lineage", listener.local_addr()?);
        let events = Events::default();
        let app = Router::new()
            .route("/api/v1/lineage", post(receive))
            .with_state(events.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, events, task })
    }

    /// The endpoint's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The events received so far.
    pub fn events(&self) -> Vec<Value> {
        self.events
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The `eventType`s received so far, in order.
    pub fn event_types(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|e| e["eventType"].as_str().unwrap_or("?").to_string())
            .collect()
    }

    /// Waits until `done` holds for the event types received.
    pub async fn until(
        &self,
        timeout: Duration,
        done: impl Fn(&[String]) -> bool,
    ) -> anyhow::Result<Vec<Value>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if done(&self.event_types()) {
                return Ok(self.events());
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "after {timeout:?} the endpoint had received {:?}",
                    self.event_types()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for LineageSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(events): State<Events>, Json(event): Json<Value>) -> StatusCode {
    events
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(event);
    StatusCode::CREATED
}

/// `GET http://{addr}{path}`'s status and body, over a plain TCP connection.
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").context("no HTTP head")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    Ok((status, body.to_string()))
}

/// A loopback address with a port free at the time of the call.
pub fn free_addr() -> anyhow::Result<std::net::SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}
