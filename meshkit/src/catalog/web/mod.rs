//! The web catalog: a read-only site of every product in a [`Catalog`], as
//! an axum [`Router`] (what `meshkit catalog serve` serves).
//!
//! | route | page |
//! |---|---|
//! | `GET /` | the products, with search (`q`) and filters (`domain`, `owner`, `status`, `tag`) |
//! | `GET /products/{domain}/{name}` | one product: identity, instances, lineage, ports with their fields |
//! | `GET /products/{domain}/{name}/contracts/{port}` | an output port's ODCS contract (YAML, as a download) |
//! | `GET /domains/{domain}` | a domain's products and its dependencies on other domains |
//! | `GET /healthz` | `ok` |
//!
//! Pages are plain server-rendered HTML with a little inline CSS (no
//! script, nothing loaded from elsewhere). A request whose `Accept` header
//! prefers `application/json` gets the same page as JSON: the list is an
//! array of the matching records and a product page its record, each
//! exactly as [`CatalogRecord`] serializes (the ODPS document of the
//! catalog topic); a domain is `{"domain", "products", "dependsOn",
//! "usedBy"}`. Unknown products, domains and ports answer 404 (JSON
//! `{"error": ...}`).
//!
//! Every request reads a fresh [`CatalogSource::snapshot`] and marks the
//! instances that missed their heartbeats as failed
//! ([`Catalog::expire_stale`]) on a copy, so a crashed product shows as
//! failed without anyone writing to the catalog topic.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::contract::{export_contract, ContractError, ContractOptions};
use super::record::{Catalog, ProductKey};
use super::Timestamp;

mod html;
mod pages;

use pages::ListQuery;

/// Where the web catalog reads the catalog from: each request takes one
/// snapshot.
///
/// Implemented for `Arc<Catalog>` (a fixed catalog); a source that follows
/// the catalog topic returns its latest fold.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use meshkit::catalog::web::CatalogSource;
/// use meshkit::catalog::Catalog;
///
/// let source = Arc::new(Catalog::new());
/// assert!(source.snapshot().is_empty());
/// ```
pub trait CatalogSource: Send + Sync + 'static {
    /// The catalog as it is now.
    fn snapshot(&self) -> Arc<Catalog>;
}

impl CatalogSource for Arc<Catalog> {
    fn snapshot(&self) -> Arc<Catalog> {
        Arc::clone(self)
    }
}

/// The web catalog's routes over `source` (see the [module docs](self)),
/// with instance expiry judged at [`Timestamp::now`].
///
/// # Examples
///
/// ```no_run
/// use std::sync::Arc;
/// use meshkit::catalog::{web, Catalog};
///
/// # async fn serve() -> std::io::Result<()> {
/// let app = web::router(Arc::new(Catalog::new()));
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
pub fn router(source: impl CatalogSource) -> Router {
    router_with_clock(source, Timestamp::now)
}

/// [`router`], with `clock` telling the time instances' heartbeats are
/// judged at (tests pin it).
pub fn router_with_clock(
    source: impl CatalogSource,
    clock: impl Fn() -> Timestamp + Send + Sync + 'static,
) -> Router {
    let site = Site {
        source: Box::new(source),
        clock: Box::new(clock),
    };
    Router::new()
        .route("/", get(list))
        .route("/products/{domain}/{name}", get(product))
        .route("/products/{domain}/{name}/contracts/{port}", get(contract))
        .route("/domains/{domain}", get(domain))
        .route("/healthz", get(|| async { "ok\n" }))
        .fallback(not_found)
        .with_state(Arc::new(site))
}

type Shared = Arc<Site>;

struct Site {
    source: Box<dyn CatalogSource>,
    clock: Box<dyn Fn() -> Timestamp + Send + Sync>,
}

impl Site {
    /// The snapshot with silent instances expired; a copy, as the snapshot
    /// is shared with other requests and the source.
    fn current(&self) -> Catalog {
        let mut catalog = Catalog::clone(&self.source.snapshot());
        catalog.expire_stale((self.clock)());
        catalog
    }
}

/// Whether the `Accept` header prefers JSON to HTML: `application/json`
/// with a higher quality than `text/html` (absent counts as 0). Browsers
/// list `text/html` first; `*/*` alone gets HTML.
fn wants_json(headers: &HeaderMap) -> bool {
    let mut json = 0.0_f32;
    let mut html = 0.0_f32;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/json" => json = json.max(quality),
                "text/html" => html = html.max(quality),
                _ => {}
            }
        }
    }
    json > 0.0 && json > html
}

/// A negotiated answer: `Vary: Accept` tells caches the two forms apart.
fn negotiated(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

fn html_page(status: StatusCode, page: String) -> Response {
    negotiated((status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response())
}

fn json_page(value: impl serde::Serialize) -> Response {
    negotiated(Json(value).into_response())
}

/// A 404 in the form asked for: the page with the ways back, or
/// `{"error": message}`.
fn missing(catalog: &Catalog, headers: &HeaderMap, message: &str) -> Response {
    if wants_json(headers) {
        negotiated(
            (
                StatusCode::NOT_FOUND,
                Json(serde_json::json!({ "error": message })),
            )
                .into_response(),
        )
    } else {
        html_page(StatusCode::NOT_FOUND, pages::not_found(catalog, message))
    }
}

async fn list(State(site): State<Shared>, headers: HeaderMap, Query(query): Query<ListQuery>) -> Response {
    let catalog = site.current();
    let found = query.select(&catalog);
    if wants_json(&headers) {
        json_page(found)
    } else {
        html_page(StatusCode::OK, pages::list(&catalog, &query, &found))
    }
}

async fn product(
    State(site): State<Shared>,
    headers: HeaderMap,
    Path((domain, name)): Path<(String, String)>,
) -> Response {
    let catalog = site.current();
    let key = ProductKey::new(domain, name);
    match catalog.get(&key) {
        None => missing(&catalog, &headers, &format!("no product `{key}` in the catalog")),
        Some(record) if wants_json(&headers) => json_page(record),
        Some(record) => html_page(StatusCode::OK, pages::product(&catalog, record)),
    }
}

async fn contract(
    State(site): State<Shared>,
    headers: HeaderMap,
    Path((domain, name, port)): Path<(String, String, String)>,
) -> Response {
    let catalog = site.current();
    let key = ProductKey::new(domain, name);
    let Some(record) = catalog.get(&key) else {
        return missing(&catalog, &headers, &format!("no product `{key}` in the catalog"));
    };
    let yaml = export_contract(record, &port, &ContractOptions::default()).and_then(|c| c.to_yaml());
    match yaml {
        Ok(yaml) => {
            let file = format!("{}-{}-{}.odcs.yaml", key.domain, key.name, port);
            let disposition = format!("attachment; filename=\"{}\"", file.replace(['"', '\\'], "_"));
            let mut response = ([(header::CONTENT_TYPE, "application/yaml")], yaml).into_response();
            // A name that cannot be a header value (control characters)
            // still downloads, under the browser's own name.
            if let Ok(value) = HeaderValue::from_str(&disposition) {
                response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Err(err @ (ContractError::UnknownPort { .. } | ContractError::NoSchema { .. })) => {
            missing(&catalog, &headers, &err.to_string())
        }
        Err(err) => {
            let message = format!(
                "cannot build the contract of `{key}` port `{port}`: {}",
                crate::ErrorChain(&err)
            );
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                message,
            )
                .into_response()
        }
    }
}

async fn domain(State(site): State<Shared>, headers: HeaderMap, Path(domain): Path<String>) -> Response {
    let catalog = site.current();
    let view = pages::DomainView::of(&catalog, &domain);
    if view.products.is_empty() {
        return missing(
            &catalog,
            &headers,
            &format!("no product of domain `{domain}` in the catalog"),
        );
    }
    if wants_json(&headers) {
        json_page(view)
    } else {
        html_page(StatusCode::OK, pages::domain(&catalog, &view))
    }
}

async fn not_found(State(site): State<Shared>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let catalog = site.current();
    missing(&catalog, &headers, &format!("no page at `{}`", uri.path()))
}

#[cfg(test)]
mod tests;
