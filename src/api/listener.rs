//! The node's HTTP listener, built from actix-web's parts (as `HttpServer` builds it) so that
//! each accepted connection passes through here first:
//!
//! - connections are counted, per client address and in all; beyond either limit a new one is
//!   answered `503` in the JSON envelope and closed at once, so a flood of connections turns into
//!   refusals while the node keeps file descriptors for everyone else (and for Redis);
//! - a connection that sends no request head within `header_timeout` is answered `408` and
//!   closed; an idle kept-alive one is closed after `keep_alive`;
//! - the answers the HTTP framework writes by itself, before any handler runs (a head that never
//!   came, a malformed one, headers too large), leave in the JSON error envelope rather than
//!   with an empty body.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::body::MessageBody;
use actix_http::{HttpService, Protocol, Request};
use actix_server::Server;
use actix_service::{
    IntoServiceFactory, ServiceFactory, ServiceFactoryExt as _, fn_service, map_config,
};
use actix_web::dev::AppConfig;
use actix_web::http::StatusCode;
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::error::error_body;

/// How many connections the listener serves, and how long a client may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub workers: usize,
    /// Connections served at once by the node.
    pub max_connections: usize,
    /// Connections served at once for one client address (0: no limit of its own).
    pub max_connections_per_address: usize,
    /// How long a connection may take to send a request's head.
    pub header_timeout: Duration,
    /// How long an idle connection is kept open for the next request.
    pub keep_alive: Duration,
}

/// The connections open now, per address and in all.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// The listener's count of open connections, shared by its workers.
#[derive(Debug)]
struct Connections {
    limits: Limits,
    open: Mutex<Open>,
}

/// One counted connection: uncounted when dropped (the connection ended).
#[derive(Debug)]
struct Slot {
    connections: Arc<Connections>,
    address: Option<IpAddr>,
}

impl Connections {
    /// Counts a new connection from `address`, or says why it is refused.
    fn admit(self: &Arc<Self>, address: Option<IpAddr>) -> Result<Slot, &'static str> {
        let mut open = self.open.lock();
        if open.total >= self.limits.max_connections {
            return Err("the node serves as many connections as it can; try again later");
        }
        if let Some(address) = address {
            let per_address = self.limits.max_connections_per_address;
            let from_address = open.by_address.entry(address).or_default();
            if per_address > 0 && *from_address >= per_address {
                return Err("too many connections from this address; try again later");
            }
            *from_address += 1;
        }
        open.total += 1;
        Ok(Slot {
            connections: self.clone(),
            address,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.connections.open.lock();
        open.total -= 1;
        if let Some(address) = self.address
            && let std::collections::hash_map::Entry::Occupied(mut entry) =
                open.by_address.entry(address)
        {
            *entry.get_mut() -= 1;
            if *entry.get() == 0 {
                entry.remove();
            }
        }
    }
}

/// Serves `app` (an actix-web `App` factory) on `listener` within `limits`.
pub fn serve<F, I, T, B>(listener: TcpListener, limits: Limits, app: F) -> io::Result<Server>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<T, Request>,
    T: ServiceFactory<
            Request,
            Config = AppConfig,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let connections = Arc::new(Connections {
        limits,
        open: Mutex::new(Open::default()),
    });
    let workers = limits.workers.max(1);
    let builder = Server::build();
    // On a graceful stop, connections idle between requests close at once (as HttpServer has
    // them do) rather than hold the stop until their keep-alive ends.
    let shutdown = builder.graceful_shutdown_signal();
    builder
        .workers(workers)
        // A backstop beyond the listener's own count: actix stops accepting rather than run
        // out of file descriptors.
        .max_concurrent_connections(limits.max_connections.div_ceil(workers) + 64)
        .disable_signals()
        .listen("pacer-api", listener, move || {
            let connections = connections.clone();
            let app = app.clone();
            let shutdown = shutdown.clone();
            let http = HttpService::build()
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .keep_alive(limits.keep_alive)
                .client_request_timeout(limits.header_timeout)
                .client_disconnect_timeout(Duration::from_secs(1))
                .finish(map_config(
                    app().into_factory().map_err(|error| error.error_response()),
                    |()| AppConfig::default(),
                ));
            fn_service(move |io: TcpStream| {
                let connections = connections.clone();
                async move {
                    let peer = io.peer_addr().ok();
                    match connections.admit(peer.map(|peer| peer.ip())) {
                        Ok(slot) => Ok((Guarded::new(io, slot), Protocol::Http1, peer)),
                        Err(reason) => {
                            refuse(&io, reason).await;
                            Err(actix_http::error::DispatchError::Io(io::Error::other(
                                reason,
                            )))
                        }
                    }
                }
            })
            .and_then(http)
        })
        .map(actix_server::ServerBuilder::run)
}

/// Answers a refused connection `503` before it closes, if its send buffer takes the answer
/// within a moment (a new socket's buffer is empty: it does, unless the client is gone).
async fn refuse(io: &TcpStream, reason: &str) {
    let response = framework_answer(StatusCode::SERVICE_UNAVAILABLE, reason, &[]);
    let writable = tokio::time::timeout(Duration::from_millis(100), io.writable()).await;
    if matches!(writable, Ok(Ok(()))) {
        let _ = io.try_write(&response);
    }
}

/// An accepted connection: counted until it ends, and with the framework's bodiless error
/// answers rewritten into the JSON envelope on their way out.
struct Guarded {
    io: TcpStream,
    _slot: Slot,
    /// A rewritten answer, and how much of it was written.
    pending: Option<(Vec<u8>, usize)>,
}

impl Guarded {
    fn new(io: TcpStream, slot: Slot) -> Self {
        Self {
            io,
            _slot: slot,
            pending: None,
        }
    }

    /// Writes what is left of a rewritten answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.pending {
            match Pin::new(&mut self.io).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    *written += n;
                    if *written == bytes.len() {
                        self.pending = None;
                    }
                }
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.poll_pending(cx)?.is_pending() {
            return Poll::Pending;
        }
        if let Some(answer) = rewritten(buf) {
            // The framework's bytes count as written; the envelope goes in their place.
            self.pending = Some((answer, 0));
            let _ = self.poll_pending(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.poll_pending(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.poll_pending(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The answers actix-http writes by itself, with no body: a head that never came (408), a
/// malformed head (400), headers too large (431). The API's own answers always carry a body,
/// so an answer of these statuses with `content-length: 0` is the framework's.
const FRAMEWORK_ANSWERS: [(StatusCode, &str); 3] = [
    (
        StatusCode::REQUEST_TIMEOUT,
        "the request's head did not arrive in time",
    ),
    (StatusCode::BAD_REQUEST, "the request is not valid HTTP/1.1"),
    (
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "the request's headers are too large",
    ),
];

/// The envelope to send instead of `buf`, when `buf` is one whole bodiless framework answer.
/// Every write passes here: the checks that turn an answer of the API away cost a few bytes'
/// comparisons (it carries a body, so it does not end with the blank line of a head).
fn rewritten(buf: &[u8]) -> Option<Vec<u8>> {
    if buf.len() > 1024 || !buf.starts_with(b"HTTP/1.1 4") || !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let head_end = buf.windows(4).position(|window| window == b"\r\n\r\n")?;
    if head_end + 4 != buf.len() {
        return None;
    }
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let code: u16 = status_line
        .strip_prefix("HTTP/1.1 ")?
        .get(..3)?
        .parse()
        .ok()?;
    let (status, message) = FRAMEWORK_ANSWERS
        .iter()
        .find(|(status, _)| status.as_u16() == code)?;
    let headers: Vec<&str> = lines.collect();
    if !headers
        .iter()
        .any(|line| line.eq_ignore_ascii_case("content-length: 0"))
    {
        return None;
    }
    let kept: Vec<&str> = headers
        .into_iter()
        .filter(|line| !line.to_ascii_lowercase().starts_with("content-length:"))
        .collect();
    Some(framework_answer(*status, message, &kept))
}

/// A whole HTTP/1.1 answer of `status` in the error envelope, with `headers` kept, a fresh
/// request id and `connection: close`.
fn framework_answer(status: StatusCode, message: &str, headers: &[&str]) -> Vec<u8> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = error_body(status, message, request_id.clone());
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: {request_id}\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    for line in headers {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            answer.push_str(line);
            answer.push_str("\r\n");
        }
    }
    answer.push_str("connection: close\r\n\r\n");
    let mut bytes = answer.into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

/// The connection cap that fits the process' file descriptors: `wanted`, or less when the
/// limit (raised to its hard maximum first) leaves less room beside a reserve for the store,
/// the dialer and the logs. Returns the cap and the descriptor limit.
pub fn fitting_connections(wanted: usize) -> (usize, u64) {
    /// Descriptors kept for everything but API connections.
    const RESERVE: u64 = 512;
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let room = limit.saturating_sub(RESERVE).max(64);
    (wanted.min(room as usize), limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_framework_s_bodiless_answers_are_put_in_the_envelope() {
        let timeout = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\ndate: Sun, 06 Dec 2026 18:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(rewritten(timeout).unwrap()).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{head}"
        );
        assert!(
            head.contains("date: Sun, 06 Dec 2026 18:00:00 GMT"),
            "{head}"
        );
        assert!(head.contains("content-type: application/json"), "{head}");
        assert!(
            head.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        assert_eq!(head.matches("connection:").count(), 1, "{head}");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["error"]["code"], "request_timeout");
        assert!(body["meta"]["request_id"].is_string());
        // The API's own answers carry a body, and pass as they are.
        let own = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 12\r\n\r\n";
        assert_eq!(rewritten(own), None);
        let partial = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n";
        assert_eq!(rewritten(partial), None);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(rewritten(ok), None);
    }
}
