//! The service on the three real databases, driven over HTTP on a loopback
//! port: migrations applied on startup, create and read back, 409 on a
//! unique violation, 404 on a missing row, 400 on bad JSON, and 32
//! concurrent creations with none lost, none duplicated and the pool never
//! exhausted.

#[path = "../../../tests/common/mod.rs"]
mod common;

use migrate::db::Backend;
use migrate::orm::PoolOptions;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Every request, connect to last byte, is bounded by this.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Connections the service's pool may open.
const POOL_SIZE: u32 = 4;

/// One HTTP/1.1 request (`Connection: close`); the status and the JSON body.
async fn request(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let body = body.unwrap_or("");
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| panic!("{method} {path} took longer than {REQUEST_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let text = String::from_utf8(response).expect("a UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body = if body.is_empty() { Value::Null } else { serde_json::from_str(body).expect("a JSON body") };
    (status, body)
}

async fn drive(backend: Backend) {
    let Some(db) = common::fresh_db(backend, "web_service") else { return };
    let options = PoolOptions { max_size: POOL_SIZE, ..PoolOptions::default() };
    let pool = migrate_example_web::start(&db.url, options.clone()).await.expect("the service starts");
    // A second start finds the schema current and applies nothing.
    migrate_example_web::start(&db.url, options).await.expect("a restart");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().expect("the bound address");
    let server = tokio::spawn(axum::serve(listener, migrate_example_web::router(pool.clone())).into_future());

    let (status, ann) = request(addr, "POST", "/users", Some(r#"{"name":"ann","posts":["hello","world"]}"#)).await;
    assert_eq!(status, 201, "{ann}");
    assert_eq!(ann["name"], "ann");
    let titles: Vec<&str> = ann["posts"].as_array().unwrap().iter().map(|p| p["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["hello", "world"]);
    let post = ann["posts"][0]["id"].as_i64().unwrap();

    // The name is unique: the typed UniqueViolation becomes 409, and the
    // rolled-back request left nothing behind.
    let (status, body) = request(addr, "POST", "/users", Some(r#"{"name":"ann","posts":["again"]}"#)).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("unique constraint violated"), "{body}");

    // Bad requests.
    for bad in [r#"{"name":"#, r#"{"posts":[]}"#, r#"{"name":42}"#, r#"{"name":""}"#, r#"[]"#] {
        let (status, body) = request(addr, "POST", "/users", Some(bad)).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    let (status, _) = request(addr, "GET", "/users/abc", None).await;
    assert_eq!(status, 400);

    // Missing rows.
    let (status, body) = request(addr, "GET", "/users/999999", None).await;
    assert_eq!((status, body), (404, json!({"error": "no such user"})));
    let (status, body) = request(addr, "POST", "/posts/999999/tags", Some(r#"{"name":"rust"}"#)).await;
    assert_eq!((status, body), (404, json!({"error": "no such post"})));

    // Tags: created on first use, shared after; a second identical tag is 409.
    let path = format!("/posts/{post}/tags");
    let (status, body) = request(addr, "POST", &path, Some(r#"{"name":"sql"}"#)).await;
    assert_eq!((status, &body["tags"]), (201, &json!(["sql"])), "{body}");
    let (status, body) = request(addr, "POST", &path, Some(r#"{"name":"rust"}"#)).await;
    assert_eq!((status, &body["tags"]), (201, &json!(["rust", "sql"])), "{body}");
    let (status, body) = request(addr, "POST", &path, Some(r#"{"name":"rust"}"#)).await;
    assert_eq!(status, 409, "{body}");
    let second = ann["posts"][1]["id"].as_i64().unwrap();
    let (status, body) = request(addr, "POST", &format!("/posts/{second}/tags"), Some(r#"{"name":"rust"}"#)).await;
    assert_eq!((status, &body["tags"]), (201, &json!(["rust"])), "{body}");

    // 32 concurrent creations on a pool of POOL_SIZE connections.
    let creations = (0..32).map(|i| {
        tokio::spawn(async move {
            let body = format!(r#"{{"name":"user{i:02}","posts":["post of {i}"]}}"#);
            request(addr, "POST", "/users", Some(&body)).await
        })
    });
    let mut ids = HashSet::new();
    for creation in creations.collect::<Vec<_>>() {
        let (status, body) = creation.await.expect("the request task");
        assert_eq!(status, 201, "{body}");
        assert!(ids.insert(body["id"].as_i64().unwrap()), "a duplicate key: {body}");
    }
    assert_eq!(ids.len(), 32);

    // Everything reads back, with posts and tags.
    let (status, users) = request(addr, "GET", "/users", None).await;
    assert_eq!(status, 200);
    let users = users.as_array().unwrap();
    let names: HashSet<&str> = users.iter().map(|u| u["name"].as_str().unwrap()).collect();
    let expected: HashSet<String> = (0..32).map(|i| format!("user{i:02}")).chain(["ann".to_string()]).collect();
    assert_eq!(names, expected.iter().map(String::as_str).collect());
    assert_eq!(users.len(), 33, "a row appeared twice");
    for user in users.iter().filter(|u| u["name"] != "ann") {
        assert_eq!(user["posts"].as_array().unwrap().len(), 1, "{user}");
    }
    assert_eq!(users[0]["posts"][0]["tags"], json!(["rust", "sql"]));
    assert_eq!(users[0]["posts"][1]["tags"], json!(["rust"]));
    let (status, one) = request(addr, "GET", &format!("/users/{}", ann["id"]), None).await;
    assert_eq!((status, &one), (200, &users[0]));

    // The pool: never more than its size, every connection given back clean.
    let state = pool.state();
    assert!(state.connections >= 1 && state.connections <= POOL_SIZE, "{state:?}");
    assert_eq!(state.idle, state.connections, "{state:?}");
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    drive(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    drive(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql() {
    drive(Backend::Mysql).await;
}
