use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

use super::*;
use crate::catalog::record::CatalogRecord;
use crate::catalog::{DataContract, DescriptorInput, InstanceRecord, PortInput, SchemaInput};

const ORDER: &str = r#"{"type":"record","name":"Order","namespace":"com.acme","fields":[
    {"name":"id","type":"long","doc":"The order id"},
    {"name":"amount_cents","type":["null","long"]}]}"#;
const ENTRY: &str = r#"{"type":"record","name":"Entry","fields":[{"name":"balance","type":"long"}]}"#;
const CUSTOMER: &str = r#"{"type":"record","name":"Customer","fields":[{"name":"email","type":"string"}]}"#;

/// The time every request of these tests is judged at.
const NOW: u64 = 100_000;

fn t(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn running(id: &str, last_seen: u64) -> InstanceRecord {
    InstanceRecord::running(id, "host-a", t(last_seen)).with_heartbeat(Duration::from_secs(1))
}

/// Two running products (orders feeds ledger, across domains), a published
/// stream, a product whose only instance went silent (it shows as failed)
/// and one that stopped.
fn catalog() -> Catalog {
    let mut orders_d = DescriptorInput::new("sales", "orders", "1.2.0", "team-sales@example.com")
        .input(PortInput::new("raw", "raw.orders"))
        .output(
            PortInput::new("orders", "sales.orders")
                .with_value(SchemaInput::new(ORDER, "acme::Order").registered("sales.orders-value", 7, 2))
                .with_key(SchemaInput::new(r#""string""#, "String")),
        );
    orders_d.description = "Orders, <script>alert(1)</script> & more".into();
    orders_d.tags = vec!["tier-1".into()];
    orders_d.freshness_slo = Some(Duration::from_secs(60));
    let orders = CatalogRecord::register(None, &orders_d, running("o-1", NOW - 500), t(NOW - 500));

    let ledger_d = DescriptorInput::new("finance", "ledger", "0.1.0", "team-fin@example.com")
        .input(PortInput::new("orders", "sales.orders").with_value(SchemaInput::new(ORDER, "acme::Order")))
        .output(PortInput::new("ledger", "finance.ledger").with_value(SchemaInput::new(ENTRY, "Entry")));
    let mut ledger = CatalogRecord::register(None, &ledger_d, running("l-1", NOW - 200), t(NOW - 200));
    ledger.resolve_upstreams([&orders]);

    let customers_d = DescriptorInput::new("crm", "customers", "1.0.0", "team-crm@example.com").output(
        PortInput::new("customers", "crm.customers").with_value(SchemaInput::new(CUSTOMER, "Customer")),
    );
    let customers = CatalogRecord::published(None, &customers_d, t(1_000));

    let stale_d = DescriptorInput::new("sales", "stale", "1.0.0", "team-sales@example.com")
        .output(PortInput::new("out", "sales.stale"));
    let stale = CatalogRecord::register(None, &stale_d, running("s-1", 1_000), t(1_000));

    let stopped_d = DescriptorInput::new("finance", "report", "1.0.0", "team-fin@example.com")
        .input(PortInput::new("ledger", "finance.ledger"));
    let mut stopped = CatalogRecord::register(None, &stopped_d, running("r-1", 1_000), t(1_000));
    stopped.mark_stopped("r-1", t(2_000));

    let mut catalog = Catalog::new();
    for r in [orders, ledger, customers, stale, stopped] {
        catalog
            .apply(&r.key().to_bytes(), Some(&r.encode().unwrap()))
            .unwrap();
    }
    catalog
}

/// What the pages must show: the catalog with instances expired at `NOW`.
fn expected() -> Catalog {
    let mut catalog = catalog();
    catalog.expire_stale(t(NOW));
    catalog
}

fn app() -> Router {
    router_with_clock(Arc::new(catalog()), || t(NOW))
}

const JSON: &str = "application/json";
const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

async fn call(router: &Router, path: &str, accept: &str) -> (StatusCode, HeaderMap, String) {
    let request = Request::get(path)
        .header(header::ACCEPT, accept)
        .body(Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

async fn json(router: &Router, path: &str) -> serde_json::Value {
    let (status, headers, body) = call(router, path, JSON).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    serde_json::from_str(&body).unwrap()
}

async fn html(router: &Router, path: &str) -> String {
    let (status, headers, body) = call(router, path, BROWSER).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(headers[header::VARY], "accept");
    assert_well_formed(&body);
    body
}

/// The `data-product` values of the product rows, in order.
fn rows(page: &str) -> Vec<&str> {
    page.split(r#"<tr data-product=""#)
        .skip(1)
        .map(|rest| &rest[..rest.find('"').unwrap()])
        .collect()
}

/// Every element opened is closed, in order (void elements and `/>` aside),
/// and no raw `<` hides in text: enough to catch unescaped data and
/// forgotten closing tags.
#[track_caller]
fn assert_well_formed(page: &str) {
    const VOID: [&str; 6] = ["meta", "input", "br", "img", "link", "hr"];
    let mut open: Vec<&str> = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        let end = rest.find('>').expect("an unclosed `<`");
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let top = open.pop().unwrap_or_else(|| panic!("`</{name}>` closes nothing"));
            assert_eq!(top, name.trim(), "`<{top}>` closed by `</{name}>`");
            continue;
        }
        let name = tag.split([' ', '\n', '/']).next().unwrap();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
            "not a tag: `<{tag}>`"
        );
        if !tag.ends_with('/') && !VOID.contains(&name) {
            open.push(name);
        }
    }
    assert!(open.is_empty(), "left open: {open:?}");
}

#[tokio::test]
async fn the_json_forms_are_the_catalog_records() {
    let app = app();
    let expected = expected();
    let all: Vec<&CatalogRecord> = expected.list().collect();
    assert_eq!(json(&app, "/").await, serde_json::to_value(&all).unwrap());
    let stale = expected.get(&ProductKey::new("sales", "stale")).unwrap();
    assert_eq!(
        stale.status,
        crate::catalog::ProductStatus::Failed,
        "expired at NOW"
    );

    for record in expected.list() {
        let key = record.key();
        let got = json(&app, &format!("/products/{}/{}", key.domain, key.name)).await;
        assert_eq!(got, serde_json::to_value(record).unwrap(), "{key}");
        // And the document decodes back into the very record.
        let back = CatalogRecord::decode(&key.to_bytes(), got.to_string().as_bytes()).unwrap();
        assert_eq!(&back, record);
    }

    let filtered = json(&app, "/?status=running").await;
    let running: Vec<&CatalogRecord> = expected
        .list()
        .filter(|r| r.status == crate::catalog::ProductStatus::Running)
        .collect();
    assert_eq!(running.len(), 2);
    assert_eq!(filtered, serde_json::to_value(&running).unwrap());

    let finance = json(&app, "/domains/finance").await;
    let records: Vec<&CatalogRecord> = expected.list().filter(|r| r.domain == "finance").collect();
    assert_eq!(finance["domain"], "finance");
    assert_eq!(finance["products"], serde_json::to_value(&records).unwrap());
    assert_eq!(
        finance["dependsOn"],
        serde_json::json!([{"product": "finance/ledger", "upstream": "sales/orders", "topic": "sales.orders"}])
    );
    assert_eq!(finance["usedBy"], serde_json::json!([]));
    let sales = json(&app, "/domains/sales").await;
    assert_eq!(
        sales["usedBy"],
        serde_json::json!([{"product": "finance/ledger", "upstream": "sales/orders", "topic": "sales.orders"}])
    );
    assert_eq!(
        sales["externalSources"],
        serde_json::json!([{"product": "sales/orders", "topic": "raw.orders"}])
    );
}

#[tokio::test]
async fn the_list_shows_every_product_with_its_status() {
    let page = html(&app(), "/").await;
    assert_eq!(
        rows(&page),
        [
            "crm/customers",
            "finance/ledger",
            "finance/report",
            "sales/orders",
            "sales/stale"
        ]
    );
    for (key, status) in [
        ("crm/customers", "published"),
        ("finance/ledger", "running"),
        ("finance/report", "stopped"),
        ("sales/orders", "running"),
        ("sales/stale", "failed"),
    ] {
        let row = &page[page.find(&format!(r#"<tr data-product="{key}""#)).unwrap()..];
        let row = &row[..row.find("</tr>").unwrap()];
        assert!(
            row.contains(&format!(
                r#"<td class="status" data-status="{status}">{status}</td>"#
            )),
            "{key}: {row}"
        );
    }
    assert!(page.contains(r#"<form role="search" method="get" action="/""#));
    assert!(page.contains(r#"<label for="q">Search</label><input type="search" id="q" name="q""#));
    assert!(page.contains(r#"<label for="f-status">Status</label>"#));
    assert!(
        page.contains(r#"<option value="team-crm@example.com">"#),
        "owners offered"
    );
    assert!(page.contains(r#"<option value="tier-1">"#), "tags offered");
}

#[tokio::test]
async fn search_and_filters_select_the_rows() {
    let app = app();
    for (query, want) in [
        // A field of the orders' schema, which the ledger reads too.
        ("/?q=amount_cents", &["finance/ledger", "sales/orders"][..]),
        ("/?q=AMOUNT", &["finance/ledger", "sales/orders"][..]),
        ("/?q=email", &["crm/customers"][..]),
        ("/?q=balance", &["finance/ledger"][..]),
        ("/?q=sales.orders", &["finance/ledger", "sales/orders"][..]),
        ("/?domain=finance", &["finance/ledger", "finance/report"][..]),
        (
            "/?owner=team-sales%40example.com",
            &["sales/orders", "sales/stale"][..],
        ),
        ("/?status=published", &["crm/customers"][..]),
        ("/?status=stopped", &["finance/report"][..]),
        ("/?tag=tier-1", &["sales/orders"][..]),
        (
            "/?q=&domain=&owner=&status=&tag=",
            &[
                "crm/customers",
                "finance/ledger",
                "finance/report",
                "sales/orders",
                "sales/stale",
            ][..],
        ),
        ("/?domain=finance&status=running", &["finance/ledger"][..]),
        ("/?q=no-such-thing", &[][..]),
    ] {
        let page = html(&app, query).await;
        assert_eq!(rows(&page), want, "{query}");
    }
    let page = html(&app, "/?q=amount_cents&status=running").await;
    assert!(
        page.contains(r#"value="amount_cents""#),
        "the search is kept in the form"
    );
    assert!(page.contains(r#"<option value="running" selected>"#));
    assert!(page.contains("2 of 5 products"));
    assert!(html(&app, "/?q=zzz").await.contains("No product matches."));
}

#[tokio::test]
async fn the_product_page_shows_identity_fields_contract_and_lineage() {
    let app = app();
    let page = html(&app, "/products/sales/orders").await;
    assert!(page.contains(r#"<dd class="owner">team-sales@example.com</dd>"#));
    assert!(page.contains(r#"<dd class="status" data-status="running">running</dd>"#));
    assert!(page.contains(r#"<dd class="slo-freshness">60 s</dd>"#));
    assert!(page.contains(r#"aria-label="value fields of port orders""#));
    assert!(page.contains(r#"aria-label="key fields of port orders""#));
    assert!(page.contains(r#"<tr data-field="amount_cents"><th scope="row" class="name"><code>amount_cents</code></th><td class="type"><code>long</code></td><td class="optional">yes</td>"#));
    assert!(page.contains(r#"<td class="doc">The order id</td>"#));
    assert!(page.contains(r#"<a class="contract" href="/products/sales/orders/contracts/orders" download>"#));
    assert!(page.contains(r#"<tr data-instance="o-1">"#));
    let figure = &page[page
        .find(r#"<figure class="lineage">"#)
        .expect("a lineage figure")..];
    assert!(figure.starts_with(r#"<figure class="lineage"><svg"#));
    assert!(
        figure.contains(r#"href="/products/finance/ledger""#),
        "downstream linked"
    );
    assert!(page.contains(r#"<ul class="downstream"><li data-product="finance/ledger">"#));

    let ledger = html(&app, "/products/finance/ledger").await;
    assert!(ledger.contains(r#"<ul class="upstream"><li data-product="sales/orders">"#));
    assert!(ledger.contains(r#"<dt>Written by</dt><dd class="upstream"><a href="/products/sales/orders">"#));
    assert!(
        ledger.contains(r#"<table class="fields" data-port="orders" data-part="value""#),
        "input fields too"
    );

    let published = html(&app, "/products/crm/customers").await;
    assert!(published.contains(r#"<dd class="status" data-status="published">published</dd>"#));
    assert!(published.contains("A published stream"));
    let stale = html(&app, "/products/sales/stale").await;
    assert!(
        stale.contains(r#"<td class="status" data-status="failed">failed</td>"#),
        "the silent instance"
    );
    assert!(stale.contains("Values are raw bytes"));
}

#[tokio::test]
async fn catalog_text_is_escaped_on_every_page() {
    let app = app();
    for path in [
        "/",
        "/products/sales/orders",
        "/domains/sales",
        "/?q=%3Cscript%3E",
    ] {
        let page = html(&app, path).await;
        assert!(!page.contains("<script"), "{path}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more") || path.contains("%3C"),
            "{path}"
        );
    }
    let searched = html(&app, "/?q=%22%3E%3Cscript%3E").await;
    assert!(searched.contains(r#"value="&quot;&gt;&lt;script&gt;""#));
}

#[tokio::test]
async fn the_domain_page_lists_its_products_and_dependencies() {
    let page = html(&app(), "/domains/finance").await;
    let products = &page[..page.find(r#"class="depends-on""#).expect("a dependencies table")];
    assert_eq!(rows(products), ["finance/ledger", "finance/report"]);
    assert!(page.contains(r#"<tr data-product="finance/ledger" data-upstream="sales/orders">"#));
    assert!(page.contains(r#"<figure class="lineage"><svg"#));
}

#[tokio::test]
async fn unknown_things_are_404_with_the_ways_back() {
    let app = app();
    for path in [
        "/products/sales/nothing",
        "/domains/nowhere",
        "/no/such/page",
        "/products/sales/orders/contracts/nothing",
        "/products/nothing/x/contracts/y",
    ] {
        let (status, _, body) = call(&app, path, BROWSER).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_well_formed(&body);
        assert!(
            body.contains(r#"<ul class="ways-back"><li><a href="/">All products</a></li>"#),
            "{path}"
        );
        assert!(body.contains(r#"<a href="/domains/crm">Domain crm</a>"#));
        let (status, headers, body) = call(&app, path, JSON).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        let error: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(error["error"].as_str().unwrap().contains("no "), "{path}: {body}");
    }
    let (_, _, body) = call(&app, "/products/sales/nothing", JSON).await;
    assert!(body.contains("sales/nothing"));
    // An input port has no contract; the error names the outputs.
    let (status, _, body) = call(&app, "/products/finance/ledger/contracts/orders", JSON).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("ledger"), "{body}");
}

#[tokio::test]
async fn the_contract_downloads_as_odcs_yaml() {
    let (status, headers, body) = call(&app(), "/products/sales/orders/contracts/orders", BROWSER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/yaml");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        r#"attachment; filename="sales-orders-orders.odcs.yaml""#
    );
    let contract = DataContract::from_yaml(&body).unwrap();
    assert_eq!(contract.id, "sales/orders/orders");
    let expected = expected();
    let record = expected.get(&ProductKey::new("sales", "orders")).unwrap();
    let direct = export_contract(record, "orders", &ContractOptions::default()).unwrap();
    assert_eq!(body, direct.to_yaml().unwrap());
}

#[tokio::test]
async fn paths_are_percent_decoded_and_health_answers() {
    let d = DescriptorInput::new("sales", "with space", "1.0.0", "o").output(PortInput::new("out", "x"));
    let record = CatalogRecord::from_descriptor(&d, t(0));
    let mut catalog = Catalog::new();
    catalog
        .apply(&record.key().to_bytes(), Some(&record.encode().unwrap()))
        .unwrap();
    let app = router(Arc::new(catalog));
    let got = json(&app, "/products/sales/with%20space").await;
    assert_eq!(got["name"], "with space");
    let list = html(&app, "/").await;
    assert!(list.contains(r#"<a href="/products/sales/with%20space">with space</a>"#));
    let (status, _, body) = call(&app, "/healthz", "*/*").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
}

#[tokio::test]
async fn each_request_reads_a_fresh_snapshot() {
    use std::sync::Mutex;
    struct Swappable(Mutex<Arc<Catalog>>);
    impl CatalogSource for Arc<Swappable> {
        fn snapshot(&self) -> Arc<Catalog> {
            Arc::clone(&self.0.lock().unwrap())
        }
    }
    let source = Arc::new(Swappable(Mutex::new(Arc::new(catalog()))));
    let app = router_with_clock(Arc::clone(&source), || t(NOW));
    let page = html(&app, "/products/sales/orders").await;
    assert!(page.contains(r#"<dd class="status" data-status="running">running</dd>"#));
    let mut next = catalog();
    let mut orders = next.get(&ProductKey::new("sales", "orders")).unwrap().clone();
    orders.mark_stopped("o-1", t(NOW));
    next.apply(&orders.key().to_bytes(), Some(&orders.encode().unwrap()))
        .unwrap();
    *source.0.lock().unwrap() = Arc::new(next);
    let page = html(&app, "/products/sales/orders").await;
    assert!(page.contains(r#"<dd class="status" data-status="stopped">stopped</dd>"#));
}

#[test]
fn json_is_chosen_only_when_preferred() {
    let accept = |value: &str| {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        wants_json(&headers)
    };
    assert!(accept("application/json"));
    assert!(accept("application/json, text/html;q=0.9"));
    assert!(accept("text/html;q=0.5, application/json"));
    assert!(!accept(BROWSER));
    assert!(!accept("*/*"));
    assert!(!accept("text/html, application/json"));
    assert!(!accept("application/json;q=0"));
    assert!(!wants_json(&HeaderMap::new()));
}
