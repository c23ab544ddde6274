//! A small HTTP/1.1 responder for the server's scrape and admin endpoints: GET and HEAD of a
//! path, one request per connection (`Connection: close`), everything bounded so that a
//! careless or hostile peer costs one connection and nothing else: the request head is at
//! most [`MAX_HEAD_BYTES`], it must arrive within [`HEAD_DEADLINE`], and at most
//! [`MAX_CONNECTIONS`] are served at once (more are closed on accept).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// The request line and headers together, at most.
pub const MAX_HEAD_BYTES: usize = 8 * 1024;
/// A request head must be complete this long after the connection was accepted.
pub const HEAD_DEADLINE: Duration = Duration::from_secs(10);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;

/// What a route answers.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

/// Why a request head was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    #[error("the request head is over {MAX_HEAD_BYTES} bytes")]
    TooLarge,
    #[error("malformed request line")]
    Malformed,
}

impl HeadError {
    /// The status a refused head is answered with.
    pub fn status(&self) -> u16 {
        match self {
            HeadError::TooLarge => 431,
            HeadError::Malformed => 400,
        }
    }
}

/// A request's method, path and query string (without its `?`; empty when absent). Neither
/// is percent-decoded: routes decide what their parts mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
}

/// Parses a complete head (`head` ends with the blank line), or says why not.
pub fn parse_head(head: &[u8]) -> Result<Request, HeadError> {
    if head.len() > MAX_HEAD_BYTES {
        return Err(HeadError::TooLarge);
    }
    let text = std::str::from_utf8(head).map_err(|_| HeadError::Malformed)?;
    let line = text.split("\r\n").next().ok_or(HeadError::Malformed)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed);
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') || method.is_empty() {
        return Err(HeadError::Malformed);
    }
    let target = target.split('#').next().unwrap_or(target);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
    })
}

/// Where the head ends (the index after its blank line), if it has arrived.
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// The bytes of `reply` (without its body for HEAD).
pub fn encode_reply(reply: &Reply, with_body: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len()
    )
    .into_bytes();
    if with_body {
        out.extend_from_slice(reply.body.as_bytes());
    }
    out
}

/// Serves `route` on `listener` until the task is dropped.
pub async fn serve<F>(listener: TcpListener, name: &'static str, route: F)
where
    F: Fn(&Request) -> Reply + Send + Sync + 'static,
{
    let route = Arc::new(route);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!("{name}: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "{name}: {MAX_CONNECTIONS} connections already; closing");
            continue;
        };
        let route = route.clone();
        tokio::spawn(async move {
            if let Err(reason) = answer(stream, route.as_ref()).await {
                tracing::debug!(%peer, "{name}: {reason}");
            }
            drop(slot);
        });
    }
}

/// Reads until the request head is complete: `Ok(Ok(end))` with the index after its blank
/// line, `Ok(Err(_))` for a head to refuse, `Err` when the peer went away or took too long.
async fn read_head(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> Result<Result<usize, HeadError>, String> {
    let reading = async {
        loop {
            if let Some(end) = head_end(buf) {
                return Ok(Ok(end));
            }
            if buf.len() > MAX_HEAD_BYTES {
                return Ok(Err(HeadError::TooLarge));
            }
            let mut chunk = [0u8; 2048];
            match stream.read(&mut chunk).await {
                Ok(0) => return Err("closed before a complete request".to_owned()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    tokio::time::timeout(HEAD_DEADLINE, reading)
        .await
        .map_err(|_| "no complete request in time".to_owned())?
}

async fn answer<F: Fn(&Request) -> Reply>(mut stream: TcpStream, route: &F) -> Result<(), String> {
    let mut buf = Vec::with_capacity(1024);
    let head = read_head(&mut stream, &mut buf)
        .await?
        .and_then(|end| parse_head(&buf[..end]));
    let (reply, with_body) = match head {
        Err(e) => (Reply::text(e.status(), format!("{e}\n")), true),
        Ok(request) if request.method == "GET" || request.method == "HEAD" => {
            (route(&request), request.method == "GET")
        }
        Ok(request) => (
            Reply::text(405, format!("{} is not served here\n", request.method)),
            true,
        ),
    };
    let bytes = encode_reply(&reply, with_body);
    stream.write_all(&bytes).await.map_err(|e| e.to_string())?;
    let _ = stream.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A head, and the method and path it parses to (or why it does not).
    type Case = (
        &'static [u8],
        Result<(&'static str, &'static str), HeadError>,
    );

    #[test]
    fn request_heads_parse_or_say_why_not() {
        let cases: &[Case] = &[
            (
                b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
                Ok(("GET", "/metrics")),
            ),
            (
                b"HEAD /metrics?x=1 HTTP/1.0\r\n\r\n",
                Ok(("HEAD", "/metrics")),
            ),
            (
                b"GET /commands/stmk#frag HTTP/1.1\r\n\r\n",
                Ok(("GET", "/commands/stmk")),
            ),
            (b"GET metrics HTTP/1.1\r\n\r\n", Err(HeadError::Malformed)),
            (b"GET /metrics\r\n\r\n", Err(HeadError::Malformed)),
            (b"GET /a b HTTP/1.1\r\n\r\n", Err(HeadError::Malformed)),
            (b"\xff\xfe /x HTTP/1.1\r\n\r\n", Err(HeadError::Malformed)),
            (b"GET / SPDY/3\r\n\r\n", Err(HeadError::Malformed)),
        ];
        for (head, want) in cases {
            let got = parse_head(head);
            let got = got.as_ref().map(|r| (r.method.as_str(), r.path.as_str()));
            assert_eq!(
                got,
                want.as_ref().copied(),
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
        let huge = [
            b"GET /".as_slice(),
            &vec![b'a'; MAX_HEAD_BYTES],
            b" HTTP/1.1\r\n\r\n",
        ]
        .concat();
        assert_eq!(parse_head(&huge), Err(HeadError::TooLarge));
    }

    #[test]
    fn the_query_string_is_kept_apart_from_the_path() {
        let request =
            parse_head(b"GET /commands/stmk?traceMask=5&x=%20#f HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(request.path, "/commands/stmk");
        assert_eq!(request.query, "traceMask=5&x=%20");
        assert_eq!(parse_head(b"GET /a HTTP/1.1\r\n\r\n").unwrap().query, "");
    }

    #[test]
    fn replies_carry_their_length_and_close() {
        let reply = Reply::text(200, "a 1\n");
        let bytes = String::from_utf8(encode_reply(&reply, true)).unwrap();
        assert_eq!(
            bytes,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\nConnection: close\r\n\r\na 1\n"
        );
        let head_only = String::from_utf8(encode_reply(&reply, false)).unwrap();
        assert!(head_only.ends_with("Content-Length: 4\r\nConnection: close\r\n\r\n"));
    }
}
