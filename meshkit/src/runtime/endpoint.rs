//! The HTTP endpoint: `/metrics` (Prometheus text format), `/healthz`,
//! `/readyz` and `/product` (the catalog record as JSON), GET only, served
//! with axum.
//!
//! Every handler reads state the processing loop shares ([`Shared`],
//! [`Metrics`]) and never waits on the loop, so the endpoint answers while
//! the loop is in a blocking librdkafka call or a restore.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::Error;
use super::{Health, Shared, Status};
use crate::metrics::Metrics;

/// Prometheus' text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4";

/// What the handlers read: the runtime's shared state and its metrics.
#[derive(Clone)]
struct Endpoint {
    shared: Arc<Shared>,
    metrics: Metrics,
}

/// Binds `addr` and serves [`router`] on the runtime entered by the caller
/// until the returned task is aborted.
///
/// The socket is bound and registered with the entered runtime's reactor
/// here, synchronously, so that a taken port is the caller's error rather
/// than a log line; the task is spawned on that same runtime, which need
/// not be the one the processing loop runs on.
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
    let listener = tokio::net::TcpListener::from_std(listener).map_err(io)?;
    // Layered here rather than in `router` so that it covers whatever is
    // merged into the router too.
    let app = router(shared, metrics).layer(middleware::map_response(close_connection));
    tracing::info!(%addr, "serving /metrics, /healthz, /readyz and /product");
    Ok(tokio::spawn(async move {
        // `axum::serve` retries failed accepts itself; it returns only if
        // the listener cannot be used at all.
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!(error = %crate::ErrorChain(&err), %addr, "the metrics endpoint stopped serving");
        }
    }))
}

/// The endpoint's routes, for [`serve`] (or to merge other routes into).
///
/// Methods other than GET (and the HEAD axum derives from it) answer 405,
/// other paths 404.
pub(crate) fn router(shared: Arc<Shared>, metrics: Metrics) -> Router {
    let router = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    #[cfg(feature = "catalog")]
    let router = router.route("/product", get(product));
    router.with_state(Endpoint { shared, metrics })
}

/// One request per connection: a probe or a scrape needs no more, clients
/// that read the answer to the end of the stream (as the project's own test
/// client does) get it, and no idle connection outlives its request
/// (`axum::serve` sets no idle timeout).
async fn close_connection(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn metrics_text(State(endpoint): State<Endpoint>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, PROMETHEUS_TEXT)],
        endpoint.metrics.render(),
    )
}

/// Alive unless it stopped on an error: a restart is what helps then.
async fn healthz(State(endpoint): State<Endpoint>) -> Response {
    let health = health(&endpoint.shared);
    health_answer(!matches!(health.status, Status::Failed), health)
}

/// Ready once in the group with its state restored (see `Health::is_ready`).
async fn readyz(State(endpoint): State<Endpoint>) -> Response {
    let health = health(&endpoint.shared);
    health_answer(health.is_ready(), health)
}

/// The product's catalog record (an ODPS document), as published.
#[cfg(feature = "catalog")]
async fn product(State(endpoint): State<Endpoint>) -> Response {
    match endpoint.shared.product().encode() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/plain")],
            format!("cannot encode the product's record: {err}\n"),
        )
            .into_response(),
    }
}

fn health(shared: &Shared) -> Health {
    shared.health()
}

/// Health as JSON, with 200 or 503 as `ok` says.
fn health_answer(ok: bool, health: Health) -> Response {
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(health)).into_response()
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::sync::Mutex;
    use std::time::Duration;

    use axum::body::Body;
    use axum::http::{Method, Request};
    use tower::ServiceExt;

    use super::*;
    use crate::product::ProductDescriptor;
    #[cfg(feature = "catalog")]
    use crate::runtime::registration;

    fn endpoint() -> (Arc<Shared>, Metrics) {
        let descriptor = ProductDescriptor::builder("tests", "endpoint")
            .version("0.1.0")
            .owner("tests")
            .input("in", "in")
            .output("out", "out")
            .build()
            .expect("descriptor");
        let shared = Arc::new(Shared {
            health: Mutex::new(Health::default()),
            stop: tokio::sync::watch::channel(false).0,
            #[cfg(feature = "catalog")]
            product: Mutex::new(registration::initial_record(&descriptor)),
            threads: Mutex::default(),
        });
        (shared, Metrics::new(&descriptor.identity))
    }

    /// The status, content type and body of `method path`.
    async fn call(router: &Router, method: Method, path: &str) -> (StatusCode, String, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().expect("ASCII").to_string())
            .unwrap_or_default();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).expect("UTF-8"),
        )
    }

    #[tokio::test]
    async fn routes_answer_as_the_health_says() {
        let (shared, metrics) = endpoint();
        let router = router(shared.clone(), metrics);

        let (status, content_type, body) = call(&router, Method::GET, "/metrics").await;
        assert_eq!((status, content_type.as_str()), (StatusCode::OK, PROMETHEUS_TEXT));
        assert!(body.contains("meshkit_"), "{body}");

        // Starting: alive, not ready.
        let (status, content_type, body) = call(&router, Method::GET, "/healthz").await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "application/json")
        );
        assert!(body.contains("\"starting\""), "{body}");
        let (status, _, body) = call(&router, Method::GET, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");

        shared.update_health(|h| {
            h.status = Status::Running;
            h.joined = true;
        });
        let (status, content_type, body) = call(&router, Method::GET, "/readyz").await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "application/json")
        );
        assert!(body.contains("\"running\""), "{body}");

        // Restoring: alive, not ready.
        shared.update_health(|h| h.restoring = true);
        assert_eq!(call(&router, Method::GET, "/healthz").await.0, StatusCode::OK);
        assert_eq!(
            call(&router, Method::GET, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );

        // Failed: neither.
        shared.update_health(|h| {
            h.status = Status::Failed;
            h.last_error = Some("boom".to_string());
        });
        let (status, content_type, body) = call(&router, Method::GET, "/healthz").await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "application/json")
        );
        assert!(body.contains("\"failed\"") && body.contains("boom"), "{body}");
        assert_eq!(
            call(&router, Method::GET, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[cfg(feature = "catalog")]
    #[tokio::test]
    async fn product_is_the_catalog_record() {
        let (shared, metrics) = endpoint();
        let router = router(shared.clone(), metrics);
        let (status, content_type, body) = call(&router, Method::GET, "/product").await;
        assert_eq!(
            (status, content_type.as_str()),
            (StatusCode::OK, "application/json")
        );
        let expected = shared.product().encode().expect("encodes");
        assert_eq!(body.as_bytes(), expected.as_slice());
    }

    #[tokio::test]
    async fn unknown_paths_are_404_and_other_methods_405() {
        let (shared, metrics) = endpoint();
        let router = router(shared, metrics);
        assert_eq!(call(&router, Method::GET, "/nope").await.0, StatusCode::NOT_FOUND);
        assert_eq!(call(&router, Method::GET, "/").await.0, StatusCode::NOT_FOUND);
        for path in ["/metrics", "/healthz", "/readyz", "/product"] {
            if path == "/product" && !cfg!(feature = "catalog") {
                continue;
            }
            assert_eq!(
                call(&router, Method::POST, path).await.0,
                StatusCode::METHOD_NOT_ALLOWED,
                "{path}"
            );
        }
    }

    /// `GET path` over a new connection, read to the end of the stream: the
    /// raw answer.
    fn get(addr: SocketAddr, path: &str) -> std::io::Result<String> {
        let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(stream, "GET {path} HTTP/1.1\r\nhost: x\r\n\r\n")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn serve_closes_each_connection_and_stops_when_aborted() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port");
        let (shared, metrics) = endpoint();
        let task = serve(addr, shared.clone(), metrics.clone()).expect("serves");

        // A port taken is the caller's error, naming the setting.
        let err = serve(addr, shared, metrics).expect_err("port taken");
        assert!(
            matches!(&err, Error::Io { operation, .. } if operation.contains("metrics_addr")),
            "{err}"
        );

        // A client reading to the end gets the whole answer: the server closes.
        for path in ["/healthz", "/nope"] {
            let answer = tokio::task::spawn_blocking(move || get(addr, path))
                .await
                .expect("join")
                .expect("answered and closed");
            let (head, _) = answer.split_once("\r\n\r\n").expect("a head");
            assert!(head.to_ascii_lowercase().contains("connection: close"), "{head}");
        }

        task.abort();
        assert!(task.await.expect_err("aborted").is_cancelled());
        let refused = tokio::task::spawn_blocking(move || get(addr, "/healthz"))
            .await
            .expect("join");
        assert!(refused.is_err(), "still serving: {refused:?}");
    }
}
