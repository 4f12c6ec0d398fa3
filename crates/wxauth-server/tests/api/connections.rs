//! What happens before a request reaches a route: connection limits and the answers to request
//! heads the HTTP parser refuses. Neither depends on the database, so these run on SQLite only.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wxauth_testkit::{Backend, TestApp, TestOptions};

/// A raw HTTP/1.1 answer.
struct Answer {
    status: u16,
    head: String,
    body: Value,
}

fn address(app: &TestApp) -> String {
    app.url("").trim_start_matches("http://").to_owned()
}

/// Sends `request` as is and reads the answer until the server closes the connection.
async fn exchange(app: &TestApp, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(address(app)).await.unwrap();
    // The server may answer and close before it has read all of an oversized head.
    let _ = stream.write_all(request).await;
    read_answer(&mut stream).await
}

async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the server closes the connection after its answer");
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    Answer {
        status: head[9..12].parse().unwrap(),
        head: head.to_ascii_lowercase(),
        body: serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: body {body:?}")),
    }
}

fn assert_envelope(answer: &Answer, names: &[&str]) {
    assert!(
        answer.head.contains("content-type: application/json"),
        "{}",
        answer.head
    );
    assert_eq!(answer.body["status"], answer.status, "{}", answer.body);
    let name = answer.body["name"].as_str().unwrap();
    assert!(names.contains(&name), "{name} is not one of {names:?}");
    assert!(
        answer.body["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let id = answer.body["id"].as_str().unwrap();
    assert!(
        answer.head.contains(&format!("x-request-id: {id}")),
        "{}",
        answer.head
    );
}

#[tokio::test]
async fn request_heads_the_parser_refuses_are_answered_in_the_envelope() {
    let app = TestApp::spawn(Backend::Sqlite, TestOptions::default()).await;

    let big_header = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let answer = exchange(&app, big_header.as_bytes()).await;
    assert_eq!(answer.status, 431);
    assert_envelope(&answer, &["REQUEST_HEADER_FIELDS_TOO_LARGE"]);

    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nhost: x\r\n{}\r\n",
        (0..200)
            .map(|i| format!("x-h{i}: v\r\n"))
            .collect::<String>()
    );
    let answer = exchange(&app, many_headers.as_bytes()).await;
    assert!([400, 431].contains(&answer.status), "{}", answer.status);
    assert_envelope(&answer, &["BAD_REQUEST", "REQUEST_HEADER_FIELDS_TOO_LARGE"]);

    let long_url = format!(
        "GET /api/v1/me?{} HTTP/1.1\r\nhost: x\r\n\r\n",
        "q".repeat(100 * 1024)
    );
    let answer = exchange(&app, long_url.as_bytes()).await;
    assert!(
        [400, 414, 431].contains(&answer.status),
        "{}",
        answer.status
    );
    assert_envelope(
        &answer,
        &[
            "BAD_REQUEST",
            "URI_TOO_LONG",
            "REQUEST_HEADER_FIELDS_TOO_LARGE",
        ],
    );

    let garbage = exchange(&app, b"NOT HTTP AT ALL\r\n\r\n").await;
    assert_eq!(garbage.status, 400);
    assert_envelope(&garbage, &["BAD_REQUEST"]);

    // The service still answers normally afterwards.
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.shutdown().await;
}

async fn open_connections(app: &TestApp, n: usize) -> Vec<TcpStream> {
    let mut open = Vec::new();
    for _ in 0..n {
        let mut stream = TcpStream::connect(address(app)).await.unwrap();
        // A request answered on the connection proves the server admitted it.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
        open.push(stream);
    }
    open
}

async fn refused(app: &TestApp) -> Answer {
    let mut stream = TcpStream::connect(address(app)).await.unwrap();
    read_answer(&mut stream).await
}

/// Waits until the server has seen a closed connection go and admits a new one.
async fn admitted_again(app: &TestApp) {
    for _ in 0..100 {
        let mut stream = TcpStream::connect(address(app)).await.unwrap();
        let _ = stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await;
        let mut buf = [0u8; 12];
        if stream.read_exact(&mut buf).await.is_ok() && &buf == b"HTTP/1.1 200" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("a closed connection's place was not given back");
}

#[tokio::test]
async fn one_address_may_hold_only_its_share_of_connections() {
    let app = TestApp::spawn(
        Backend::Sqlite,
        TestOptions::default().customize(|config| {
            config.server.max_connections_per_ip = 3;
        }),
    )
    .await;
    let mut open = open_connections(&app, 3).await;

    let answer = refused(&app).await;
    assert_eq!(answer.status, 503);
    assert!(answer.head.contains("retry-after: 1"), "{}", answer.head);
    assert_envelope(&answer, &["TOO_MANY_CONNECTIONS"]);

    drop(open.pop());
    admitted_again(&app).await;
    drop(open);
    app.shutdown().await;
}

#[tokio::test]
async fn the_instance_holds_at_most_its_maximum_of_connections() {
    let app = TestApp::spawn(
        Backend::Sqlite,
        TestOptions::default().customize(|config| {
            config.server.max_connections = 4;
            config.server.max_connections_per_ip = 0;
        }),
    )
    .await;
    let open = open_connections(&app, 4).await;
    let answer = refused(&app).await;
    assert_eq!(answer.status, 503);
    assert_envelope(&answer, &["TOO_MANY_CONNECTIONS"]);
    drop(open);
    admitted_again(&app).await;
    app.shutdown().await;
}
