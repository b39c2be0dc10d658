//! A stand-in OpenLineage endpoint: an HTTP server on loopback that keeps
//! every event posted to it, in arrival order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::bail;
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
