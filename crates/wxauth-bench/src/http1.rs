//! A minimal HTTP/1.1 keep-alive client: requests are pre-serialised bytes, responses are read
//! by `Content-Length`. The load generator shares two cores with the service and the
//! simulator, so it must cost as little CPU per request as possible.

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes in `buf` not consumed yet.
    filled: usize,
}

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Connection {
    pub async fn open(addr: &str) -> anyhow::Result<Self> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: vec![0; 16 * 1024],
            filled: 0,
        })
    }

    pub async fn send(&mut self, request: &[u8]) -> anyhow::Result<Response> {
        Ok(self.exchange(request, false).await?.0)
    }

    /// [`Self::send`], with the response's head too (the status line and headers), for answers
    /// whose headers matter: redirects and cookies. Costs a copy of the head.
    pub async fn send_with_head(&mut self, request: &[u8]) -> anyhow::Result<(Response, String)> {
        self.exchange(request, true).await
    }

    async fn exchange(
        &mut self,
        request: &[u8],
        keep_head: bool,
    ) -> anyhow::Result<(Response, String)> {
        self.stream.write_all(request).await?;
        // Read until the end of the headers.
        let header_end = loop {
            if let Some(pos) = find(&self.buf[..self.filled], b"\r\n\r\n") {
                break pos + 4;
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buf[..header_end]).context("response head")?;
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("status line")?;
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let head = if keep_head {
            head.to_owned()
        } else {
            String::new()
        };
        while self.filled < header_end + length {
            self.fill().await?;
        }
        let body = self.buf[header_end..header_end + length].to_vec();
        // Keep anything after this response (there is none with one request in flight).
        self.buf.copy_within(header_end + length..self.filled, 0);
        self.filled -= header_end + length;
        Ok((Response { status, body }, head))
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.stream.read(&mut self.buf[self.filled..]).await?;
        if n == 0 {
            bail!("connection closed");
        }
        self.filled += n;
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub fn post_json(host: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn get_bearer(host: &str, path: &str, token: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n")
        .into_bytes()
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || find(haystack, needle).is_some()
}

/// A GET with further headers (`("Cookie", "a=b")`).
pub fn get_with(host: &str, path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers {
        request.push_str(name);
        request.push_str(": ");
        request.push_str(value);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.into_bytes()
}

/// A form POST with an `Authorization` header.
pub fn post_form(host: &str, path: &str, authorization: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {authorization}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The values of the header `name` in a response head, in order.
pub fn header_values<'a>(head: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    head.lines().skip(1).filter_map(move |line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}
