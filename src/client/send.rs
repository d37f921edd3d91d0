//! `send`: checkout → write → read the head → retry, on the caller's task.
//!
//! The head is encoded (and so validated) once, before any connection is touched, and the
//! same bytes are written by every attempt. A failed attempt is classified (`Failure`) and
//! `retry::should_retry` decides; a retry always takes a fresh connection. The whole of it
//! runs under the request's deadline.

use std::io;
use std::time::Instant;

use bytes::Bytes;
use http::header::CONNECTION;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::request::{Body, RequestParts};
use super::response::Response;
use super::retry::{should_retry, Attempt, Failure, RetryCause};
use super::Client;
use crate::conn::Connection;
use crate::error::{Error, ErrorKind};
use crate::pool::{now, Count, Lease, PoolKey, Pooled};
use crate::proto::{
    self, Event, Framing, RequestBody, RequestHead, ResponseHead, ResponseReader, TargetForm,
};

/// Bodies up to this size are written in the same write as the head.
const COALESCE_BODY: usize = 64 * 1024;

static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Runs a request to its response head.
pub(crate) async fn send(
    client: Client,
    parts: Result<RequestParts, Error>,
) -> Result<Response, Error> {
    let parts = parts?;
    let client = &client;
    let timeout = parts.timeout.or(client.config.timeout);
    let deadline = timeout.map(|t| now() + t);
    let run = run(client, parts, deadline);
    match deadline {
        Some(d) => match tokio::time::timeout_at(d.into(), run).await {
            Ok(result) => result,
            Err(_) => Err(Error::timeout("request")),
        },
        None => run.await,
    }
}

/// One failed attempt: the error for the caller and its class for the retry decision.
struct Failed {
    error: Error,
    failure: Failure,
}

async fn run(
    client: &Client,
    mut parts: RequestParts,
    deadline: Option<Instant>,
) -> Result<Response, Error> {
    let key = PoolKey::from_url(&parts.url).ok_or_else(|| {
        Error::proto(proto::ProtoError::InvalidUrl).context(format!("cannot request {}", parts.url))
    })?;
    // The caller's `Connection` headers, for the keep-alive decision. Without any, the
    // default `keep-alive` is added, which asks nothing the decision looks at: the map
    // stays empty (and allocates nothing).
    let mut sent_connection = HeaderMap::new();
    for (name, value) in parts.headers.iter().filter(|(n, _)| n == CONNECTION) {
        sent_connection.append(name, value.clone());
    }
    if sent_connection.is_empty() {
        parts
            .headers
            .push((CONNECTION, HeaderValue::from_static("keep-alive")));
    }
    let mut head = Vec::with_capacity(256);
    proto::encode_request_head(
        &RequestHead {
            method: &parts.method,
            url: &parts.url,
            form: TargetForm::Origin,
            headers: &parts.headers,
            body: match &parts.body {
                Body::Empty => RequestBody::None,
                Body::Full(b) => RequestBody::Known(b.len() as u64),
                Body::Stream(_) => RequestBody::Chunked,
            },
        },
        &mut head,
    )
    .map_err(Error::proto)?;
    let idempotent = proto::is_idempotent(&parts.method)
        || parts.headers.iter().any(|(n, _)| n == IDEMPOTENCY_KEY);
    let mut attempt = Attempt {
        reused: false,
        idempotent,
        replayable: parts.body.is_replayable(),
        retries: 0,
        max_retries: client.config.max_retries,
        retried_408: false,
    };
    let mut fresh = false;
    loop {
        let mut pooled = acquire(client, &key, fresh, deadline).await?;
        attempt.reused = pooled.reused();
        pooled.count(Count::RequestSent);
        if attempt.reused {
            pooled.count(Count::Reused);
        }
        let result = exchange(&mut pooled, &head, &mut parts.body, &parts.method, client).await;
        let (failure, outcome) = match result {
            Ok(answer) if answer.head.status == StatusCode::REQUEST_TIMEOUT => {
                (Failure::Status408, Ok(answer))
            }
            Ok(ok) => (Failure::Other, Ok(ok)),
            Err(failed) => (failed.failure, Err(failed.error)),
        };
        let cause = match &outcome {
            Ok(_) if failure != Failure::Status408 => None,
            _ => should_retry(failure, attempt),
        };
        if let Some(cause) = cause {
            let (what, label) = match cause {
                RetryCause::NothingWritten => (Count::RetryNothingWritten, "nothing written"),
                RetryCause::CloseRace => (Count::RetryCloseRace, "closed before response"),
                RetryCause::RequestTimeout408 => (Count::Retry408, "408 request timeout"),
            };
            pooled.count(what);
            tracing::debug!(
                host = %key,
                conn = pooled.conn().id(),
                reused = attempt.reused,
                cause = label,
                retry = attempt.retries + 1,
                "retrying on a fresh connection"
            );
            attempt.retries += 1;
            attempt.retried_408 |= cause == RetryCause::RequestTimeout408;
            fresh = true;
            // The failed connection is closed here; its slot goes back to the pool.
            drop(pooled);
            continue;
        }
        return match outcome {
            Ok(answer) => Ok(Response::new(
                answer.head,
                answer.framing,
                answer.reader,
                answer.request_complete,
                pooled,
                &sent_connection,
                parts.url,
                deadline,
                client,
            )),
            Err(error) => Err(error),
        };
    }
}

/// A connection for the request: taken from the pool, or opened in a reserved slot.
async fn acquire(
    client: &Client,
    key: &PoolKey,
    fresh: bool,
    deadline: Option<Instant>,
) -> Result<Pooled, Error> {
    let wait_deadline = match (deadline, client.config.pool_timeout) {
        (Some(d), Some(p)) => Some(d.min(now() + p)),
        (d, p) => d.or(p.map(|p| now() + p)),
    };
    match client.pool.checkout(key, fresh, wait_deadline).await? {
        Lease::Reused(pooled) => Ok(pooled),
        Lease::Open(slot) => {
            // Boxed: dialing (TLS above all) needs far more state than a reused connection,
            // and every request's future would otherwise carry that size.
            let open = Box::pin(Connection::open(
                key,
                client.config.connect_timeout,
                client.config.tls.as_ref(),
            ));
            match open.await {
                Ok(conn) => Ok(slot.fill(conn)),
                Err(e) => {
                    slot.connect_failed(&e);
                    Err(e)
                }
            }
        }
    }
}

/// A response head, and whether the whole request had been written when it came.
struct Answer {
    head: ResponseHead,
    framing: Framing,
    reader: ResponseReader,
    request_complete: bool,
}

/// Writes the request and reads the final response head. A server may answer before it has
/// read the whole request (a `413` to a large upload) and close; when writing fails that
/// way, the answer already sent is read and returned instead of the write error.
async fn exchange(
    pooled: &mut Pooled,
    head: &[u8],
    body: &mut Body,
    method: &http::Method,
    client: &Client,
) -> Result<Answer, Failed> {
    let reused = pooled.reused();
    let conn = pooled.conn();
    let mut written = 0u64;
    let mut reader = ResponseReader::new(method, client.config.head_limits);
    if let Err(e) = write_request(conn, head, body, &mut written).await {
        let closed = is_closed(&e);
        if closed && written > 0 {
            if let Ok((head, framing)) = read_head(conn, &mut reader, reused).await {
                tracing::debug!(
                    conn = conn.id(),
                    status = head.status.as_u16(),
                    "the server answered before the whole request was sent"
                );
                return Ok(Answer {
                    head,
                    framing,
                    reader,
                    request_complete: false,
                });
            }
        }
        let failure = match () {
            _ if written == 0 && closed => Failure::NothingWritten,
            _ if closed => Failure::ClosedBeforeResponse,
            _ => Failure::Other,
        };
        let kind = if failure == Failure::Other {
            ErrorKind::Io
        } else {
            ErrorKind::ClosedBeforeResponse
        };
        let error = Error::new(kind, e)
            .context("writing the request")
            .with_attempt(written > 0, reused);
        return Err(Failed { error, failure });
    }
    let (head, framing) = read_head(conn, &mut reader, reused).await?;
    Ok(Answer {
        head,
        framing,
        reader,
        request_complete: true,
    })
}

/// Reads until the final response head.
async fn read_head(
    conn: &mut Connection,
    reader: &mut ResponseReader,
    reused: bool,
) -> Result<(ResponseHead, Framing), Failed> {
    let mut received = !conn.buf().is_empty();
    loop {
        let event = match reader.next(conn.buf()) {
            Ok(event) => event,
            Err(e) => return Err(protocol(e, reused)),
        };
        match event {
            Event::Head(resp_head, framing) => return Ok((resp_head, framing)),
            Event::NeedMore => {}
            Event::Data(_) | Event::End => {
                return Err(protocol(proto::ProtoError::InvalidHead, reused));
            }
        }
        match conn.read_more().await {
            Ok(0) if !received => {
                let error = Error::msg(
                    ErrorKind::ClosedBeforeResponse,
                    "the server closed the connection before responding",
                )
                .with_attempt(true, reused);
                return Err(Failed {
                    error,
                    failure: Failure::ClosedBeforeResponse,
                });
            }
            Ok(0) => {
                let err = match reader.eof(conn.buf()) {
                    Err(e) => e,
                    Ok(_) => proto::ProtoError::IncompleteHead,
                };
                return Err(protocol(err, reused));
            }
            Ok(_) => received = true,
            Err(e) if !received && is_closed(&e) => {
                let error = Error::new(ErrorKind::ClosedBeforeResponse, e)
                    .context("the connection was reset before a response")
                    .with_attempt(true, reused);
                return Err(Failed {
                    error,
                    failure: Failure::ClosedBeforeResponse,
                });
            }
            Err(e) => {
                return Err(Failed {
                    error: crate::conn::tls::io_error(e, "reading the response")
                        .with_attempt(true, reused),
                    failure: Failure::Other,
                })
            }
        }
    }
}

fn protocol(e: proto::ProtoError, reused: bool) -> Failed {
    Failed {
        error: Error::proto(e).with_attempt(true, reused),
        failure: Failure::Other,
    }
}

/// Errors that mean the peer closed the connection under us.
fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
            | io::ErrorKind::WriteZero
    )
}

/// Writes head and body; small bodies go out in the same write as the head.
async fn write_request(
    conn: &mut Connection,
    head: &[u8],
    body: &mut Body,
    written: &mut u64,
) -> io::Result<()> {
    match body {
        Body::Empty => conn.write_all(head, written).await?,
        Body::Full(bytes) if bytes.len() <= COALESCE_BODY => {
            let mut out = Vec::with_capacity(head.len() + bytes.len());
            out.extend_from_slice(head);
            out.extend_from_slice(bytes);
            conn.write_all(&out, written).await?;
        }
        Body::Full(bytes) => {
            conn.write_all(head, written).await?;
            conn.write_all(bytes, written).await?;
        }
        Body::Stream(stream) => {
            conn.write_all(head, written).await?;
            let Some(mut stream) = stream.take() else {
                return Err(io::Error::other(
                    "the body stream was already used by an earlier attempt",
                ));
            };
            let mut frame = Vec::new();
            while let Some(chunk) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
                let chunk: Bytes = chunk.map_err(io::Error::other)?;
                frame.clear();
                proto::encode_chunk(&chunk, &mut frame);
                conn.write_all(&frame, written).await?;
            }
            frame.clear();
            proto::encode_last_chunk(&mut frame);
            conn.write_all(&frame, written).await?;
        }
    }
    conn.flush().await
}
