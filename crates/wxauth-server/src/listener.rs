//! Accepting connections: bounded in number, globally and per client IP, and with actix-http's
//! own error answers (a request head it cannot parse) in the service's error envelope.
//!
//! A flood of connections is what grew the resident memory without bound: each keeps its
//! buffers. The [`Gate`] counts connections and refuses those over the limits with a 503 before
//! any HTTP is read. actix-http answers a head that is too large (431) or malformed — a URL
//! over 64 KiB, too many headers — itself, with an empty body and no hook; [`Guarded`] sees such
//! an answer go out (a 4xx or 5xx whose `content-length` is 0: the service's own errors always
//! carry the envelope) and writes the envelope in its place.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// How many connections may be open at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    pub max: usize,
    pub per_ip: usize,
}

/// Counts open connections against the limits.
#[derive(Debug)]
pub struct Gate {
    limits: ConnectionLimits,
    open: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    TooManyConnections,
    TooManyFromThisAddress,
}

impl Gate {
    pub fn new(limits: ConnectionLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            open: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
        })
    }

    /// Admits a connection from `ip`, or refuses it when a limit is reached.
    pub fn enter(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.limits.max {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::TooManyConnections);
        }
        let mut per_ip = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= self.limits.per_ip {
            drop(per_ip);
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::TooManyFromThisAddress);
        }
        *count += 1;
        Ok(Ticket {
            gate: self.clone(),
            ip,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

/// An admitted connection; dropping it gives its place back.
#[derive(Debug)]
pub struct Ticket {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut per_ip = self.gate.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                // Forgotten at once: the map holds only addresses with open connections.
                per_ip.remove(&self.ip);
            }
        }
        drop(per_ip);
        self.gate.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The envelope of a refused connection, written before it is closed.
pub async fn refuse<T: AsyncRead + AsyncWrite + Unpin>(io: &mut T, why: Refusal) {
    let (name, message) = match why {
        Refusal::TooManyConnections => (
            "TOO_MANY_CONNECTIONS",
            "the service has as many connections open as it allows: retry shortly",
        ),
        Refusal::TooManyFromThisAddress => (
            "TOO_MANY_CONNECTIONS",
            "this address has as many connections open as one address may: reuse them",
        ),
    };
    let response = envelope_response(503, "Service Unavailable", name, message, true);
    // A client that does not read gets no more than a second of our time.
    let _ = tokio::time::timeout(Duration::from_secs(1), io.write_all(&response)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), io.shutdown()).await;
    // Closing a socket with unread input resets it, and a reset can destroy the answer before
    // the client reads it: read (and drop) what the client sent, briefly.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let mut sink = [0u8; 4096];
        let mut left: usize = 64 * 1024;
        while left > 0 {
            match io.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}

fn envelope_response(status: u16, reason: &str, name: &str, message: &str, close: bool) -> Vec<u8> {
    let id = uuid::Uuid::now_v7().to_string();
    let body = serde_json::json!({
        "id": id,
        "status": status,
        "name": name,
        "message": message,
        "details": {},
    })
    .to_string();
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: {id}\r\n",
        body.len()
    );
    if close {
        out.push_str("connection: close\r\n");
    }
    if status == 503 {
        out.push_str("retry-after: 1\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

/// The envelope for actix-http's own error answer at the start of `buf`, if that is what it is.
fn envelope_for(buf: &[u8]) -> Option<Vec<u8>> {
    if !(buf.starts_with(b"HTTP/1.1 4") || buf.starts_with(b"HTTP/1.1 5")) {
        return None;
    }
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let empty = head
        .split("\r\n")
        .any(|line| line.eq_ignore_ascii_case("content-length: 0"));
    if !empty {
        return None;
    }
    let status: u16 = head.get(9..12)?.parse().ok()?;
    let (reason, name, message) = match status {
        400 => (
            "Bad Request",
            "BAD_REQUEST",
            "the request could not be read: it is malformed, or its URL or a header is too long",
        ),
        408 => (
            "Request Timeout",
            "REQUEST_TIMEOUT",
            "the request did not arrive in time",
        ),
        413 => (
            "Payload Too Large",
            "PAYLOAD_TOO_LARGE",
            "the request body is too large",
        ),
        414 => (
            "URI Too Long",
            "URI_TOO_LONG",
            "the request's URL is too long",
        ),
        431 => (
            "Request Header Fields Too Large",
            "REQUEST_HEADER_FIELDS_TOO_LARGE",
            "the request's headers are too large or too many",
        ),
        s if s >= 500 => (
            "Internal Server Error",
            "INTERNAL_ERROR",
            "something went wrong while reading the request",
        ),
        _ => (
            "Bad Request",
            "BAD_REQUEST",
            "the request could not be read",
        ),
    };
    let close = head
        .split("\r\n")
        .any(|line| line.eq_ignore_ascii_case("connection: close"));
    let mut out = envelope_response(status, reason, name, message, close);
    out.extend_from_slice(&buf[head_end..]);
    Some(out)
}

/// A connection admitted by the [`Gate`], whose writes pass through the envelope check.
pub struct Guarded<T> {
    io: T,
    _ticket: Ticket,
    /// A replacement response still to be written, and how much of it is.
    pending: Vec<u8>,
    written: usize,
}

impl<T> Guarded<T> {
    pub fn new(io: T, ticket: Ticket) -> Self {
        Self {
            io,
            _ticket: ticket,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<T: AsyncWrite + Unpin> Guarded<T> {
    fn flush_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.flush_pending(cx))?;
        if let Some(replacement) = envelope_for(buf) {
            this.pending = replacement;
            this.written = 0;
            // The original bytes count as written: the replacement goes out in their place.
            if let Poll::Ready(Err(e)) = this.flush_pending(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.flush_pending(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.flush_pending(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_counts_globally_and_per_address_and_gives_places_back() {
        let gate = Gate::new(ConnectionLimits { max: 3, per_ip: 2 });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let first = gate.enter(a).unwrap();
        let _second = gate.enter(a).unwrap();
        assert_eq!(gate.enter(a).unwrap_err(), Refusal::TooManyFromThisAddress);
        let _third = gate.enter(b).unwrap();
        assert_eq!(gate.enter(b).unwrap_err(), Refusal::TooManyConnections);
        drop(first);
        assert_eq!(gate.open(), 2);
        assert!(gate.enter(b).is_ok(), "a place was given back");
    }

    #[test]
    fn actix_https_empty_error_answers_become_envelopes() {
        let raw = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(envelope_for(raw).unwrap()).unwrap();
        assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
        assert!(out.contains("content-type: application/json"));
        assert!(out.contains("connection: close"));
        let body = out.split("\r\n\r\n").nth(1).unwrap();
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["name"], "REQUEST_HEADER_FIELDS_TOO_LARGE");
        assert_eq!(json["status"], 431);
        // The service's own errors carry a body and pass untouched, as do successes.
        assert!(envelope_for(b"HTTP/1.1 404 Not Found\r\ncontent-length: 120\r\n\r\n{}").is_none());
        assert!(envelope_for(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
    }
}
