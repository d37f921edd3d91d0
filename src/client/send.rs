//! `send`: prepare → (checkout → exchange → retry decision)* → response, on the caller's
//! task.
//!
//! `prepare` encodes (and so validates) the head once, before any connection is touched;
//! every attempt writes the same bytes. `attempt` runs one exchange on one connection and
//! classifies how it failed; `retry::should_retry` decides; a retry always takes a fresh
//! connection. Deadlines are applied where each wait happens (the pool wait, the dial, the
//! exchange's writes and reads), so every error, a timeout included, knows how much of
//! the request had been written.

use std::future::Future;
use std::time::{Duration, Instant};

use http::header::{
    ACCEPT_ENCODING, AUTHORIZATION, CONNECTION, CONTENT_LENGTH, COOKIE, EXPECT, HOST, LOCATION,
    PROXY_AUTHORIZATION, REFERER, RETRY_AFTER, UPGRADE, USER_AGENT,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use tokio::runtime::Handle;
use url::Url;

use super::config::Config;
use super::decode;
use super::redirect::{self, Hop, Next};
use super::request::RequestParts;
use super::response::{BodyContext, Response};
use super::retry::{should_retry, Attempt, Failure, RetryCause};
use super::target::Target;
use super::{status_retry, url_auth, Client};
use crate::clock::{self, now};
use crate::conn::connect::{DialReport, Found, Via};
use crate::conn::dns::Looked;
use crate::conn::h2::{H2Settings, KeepAlive, StreamBody};
use crate::conn::{Answer, Body, Broke, Connection, ExchangeError, Progress, Scheme, Timeouts};
use crate::error::{Error, ErrorKind};
use crate::kept::Kept;
use crate::pool::{Count, Http2, Lease, Need, PoolKey, Pooled, Slot, Stream, Wait};
use crate::proto::{self, RequestBody, RequestHead, ResponseReader, TargetForm};

static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// Runs a request to its final response head, following redirects.
///
/// The request is prepared at once, and the future owns the prepared request and the
/// client directly (an `async fn` would keep its arguments and their moved copies side by
/// side): the future is moved at least once before it is polled, so its size is paid per
/// request.
pub(crate) fn send(
    client: Client,
    parts: Result<RequestParts, Error>,
) -> impl Future<Output = Result<Response, Error>> + Send {
    let mut prepared = parts.and_then(|parts| prepare(&client.inner.config, parts));
    async move {
        let request = match prepared {
            Ok(ref mut request) => request,
            Err(e) => return Err(e),
        };
        let runtime = crate::runtime::current()?;
        let deadline = request
            .timeout
            .or(client.inner.config.timeout)
            .and_then(|t| clock::after(now(), t));
        // `send_hop`, inline.
        client.budget_request();
        let resp = send_one(&client, request, deadline, &runtime).await?;
        if settled(&client, request, &resp) && !resp.status().is_redirection() {
            return Ok(resp);
        }
        // Boxed: only a request whose answer did not stand, or that met a redirect, pays
        // for what follows. One await after the response, so that the response is kept
        // across no await of this future (kept across two, it would take space of its own
        // beside the exchange's state).
        Box::pin(after_first(&client, request, resp, deadline, &runtime)).await
    }
}

/// The first hop's answer did not stand as it was, or is a redirect: settle it, then follow.
async fn after_first(
    client: &Client,
    request: &mut Prepared,
    resp: Response,
    deadline: Option<Instant>,
    runtime: &Handle,
) -> Result<Response, Error> {
    let resp = if settled(client, request, &resp) {
        resp
    } else {
        settle(client, request, resp, deadline, runtime).await?
    };
    if !resp.status().is_redirection() {
        return Ok(resp);
    }
    // The server answered the request: an error on a later hop does not make it unsent.
    let complete = resp.request_complete();
    follow(client, request, resp, deadline, runtime)
        .await
        .map_err(|e| e.after_answered_hop(complete))
}

/// Follows redirects from `resp`, the answer to `request`, until the policy says stop.
async fn follow(
    client: &Client,
    request: &mut Prepared,
    mut resp: Response,
    deadline: Option<Instant>,
    runtime: &Handle,
) -> Result<Response, Error> {
    let mut chain: Vec<(Method, Url)> = Vec::new();
    loop {
        chain.push((request.method.clone(), resp.url().clone()));
        let decided = redirect::next(
            &client.inner.config.redirect,
            resp.status(),
            resp.headers().get(LOCATION),
            redirect::Current {
                method: &request.method,
                url: resp.url(),
                body_replayable: request.body.is_replayable(),
                chain: &chain,
            },
        );
        let hop = match decided {
            Next::Return => return Ok(resp),
            Next::Fail(e) => {
                discard(&client.inner.config, resp, None).await;
                return Err(e);
            }
            Next::Follow(hop) if client.inner.config.https_only && hop.url.scheme() != "https" => {
                discard(&client.inner.config, resp, None).await;
                return Err(not_https(ErrorKind::Redirect, &hop.url));
            }
            Next::Follow(hop) => hop,
        };
        client.inner.pool.count(Count::Redirect);
        tracing::debug!(
            status = resp.status().as_u16(),
            from = %url_auth::Redacted(resp.url()),
            to = %url_auth::Redacted(&hop.url),
            method = %hop.method,
            hops = chain.len(),
            "following redirect"
        );
        // The 3xx body is read (or its connection closed) before the next hop, so a chain
        // holds at most one slot at a time.
        discard(&client.inner.config, resp, None).await;
        *request = prepare(
            &client.inner.config,
            request.next_hop(&client.inner.config, hop),
        )?;
        resp = send_hop(client, request, deadline, runtime).await?;
        if !resp.status().is_redirection() {
            return Ok(resp);
        }
    }
}

/// The error for a URL that `https_only` refuses: `kind` says whether the caller gave it
/// or a redirect led to it.
#[cold]
fn not_https(kind: ErrorKind, url: &Url) -> Error {
    Error::msg(
        kind,
        "https_only: the URL is not https://; stopped before requesting it",
    )
    .for_url(url)
}

/// One hop of a chain: the request, with its transport retries (`send_one`) and then what
/// its answer asks for (`settle`). `send` writes the same three steps inline, so that the
/// first hop's future has one layer less.
async fn send_hop(
    client: &Client,
    request: &mut Prepared,
    deadline: Option<Instant>,
    runtime: &Handle,
) -> Result<Response, Error> {
    client.budget_request();
    let resp = send_one(client, request, deadline, runtime).await?;
    if settled(client, request, &resp) {
        return Ok(resp);
    }
    Box::pin(settle(client, request, resp, deadline, runtime)).await
}

/// Whether a hop's answer stands as it is: no failed expectation to repeat, no status the
/// retry policy covers. (A `429` or `503` paused its host already, in `respond`.)
fn settled(client: &Client, request: &Prepared, resp: &Response) -> bool {
    let status = resp.status();
    let policy = &client.inner.config.retry;
    !(status == StatusCode::EXPECTATION_FAILED && request.expect_continue)
        && (policy.is_off() || !policy.covers(status))
}

/// The rest of a hop whose answer did not stand (boxed by its callers: only such a request
/// pays for its state): the request again without its expectation, the status retries the
/// policy asks for.
async fn settle(
    client: &Client,
    request: &mut Prepared,
    mut resp: Response,
    deadline: Option<Instant>,
    runtime: &Handle,
) -> Result<Response, Error> {
    if resp.status() == StatusCode::EXPECTATION_FAILED
        && request.expect_continue
        && request.body.is_replayable()
    {
        resp = without_expectation(client, request, resp, deadline, runtime).await?;
    }
    let policy = &client.inner.config.retry;
    if policy.is_off() || !policy.covers(resp.status()) {
        return Ok(resp);
    }
    retry_statuses(client, request, resp, deadline, runtime).await
}

/// A `417` to a request that asked `Expect: 100-continue` says only that something on the
/// way does not take expectations; the request was not processed, and RFC 9110 §10.1.1
/// asks the client to repeat it without one. So it goes once more, whatever its method,
/// with its body at once.
async fn without_expectation(
    client: &Client,
    request: &mut Prepared,
    resp: Response,
    deadline: Option<Instant>,
    runtime: &Handle,
) -> Result<Response, Error> {
    // The URL the answer took goes back to the request.
    request.url = Some(resp.target().clone());
    discard(&client.inner.config, resp, None).await;
    tracing::debug!(host = %request.key, "417 to Expect: 100-continue: sending again without the expectation");
    request.headers.retain(|(n, _)| *n != EXPECT);
    proto::remove_field(&mut request.head, EXPECT.as_str());
    request.expect_continue = false;
    client.inner.pool.count(Count::RetryWithoutExpectation);
    send_one(client, request, deadline, runtime).await
}

/// Asks again while the policy says so, the request is safe to repeat, the deadline
/// leaves room for the wait and the budget allows.
async fn retry_statuses(
    client: &Client,
    request: &mut Prepared,
    mut resp: Response,
    deadline: Option<Instant>,
    runtime: &Handle,
) -> Result<Response, Error> {
    let config = &client.inner.config;
    if !(request.idempotent && request.body.is_replayable()) {
        return Ok(resp);
    }
    let mut retries = 0;
    loop {
        let status = resp.status();
        let wait = config.retry.delay(
            status,
            resp.headers().get(RETRY_AFTER),
            retries,
            std::time::SystemTime::now(),
            status_retry::jitter(),
        );
        let Some(wait) = wait else { break };
        let resume = clock::after(now(), wait);
        if deadline.is_some_and(|d| resume.is_none_or(|r| r >= d)) {
            break;
        }
        if !client.budget_retry() {
            break;
        }
        retries += 1;
        client.inner.pool.count(Count::RetryStatus);
        tracing::debug!(
            status = status.as_u16(),
            url = %url_auth::Redacted(resp.url()),
            wait_ms = wait.as_millis() as u64,
            retry = retries,
            "retrying after a status"
        );
        // The answer's body is read (or its connection closed) before the wait, so the
        // wait holds no slot; the URL it took goes back to the request. The wait ends
        // when planned, however long the reading took: within the deadline.
        request.url = Some(resp.target().clone());
        discard(config, resp, resume).await;
        match resume {
            Some(at) => tokio::time::sleep_until(at.into()).await,
            None => tokio::time::sleep(wait).await,
        }
        resp = send_one(client, request, deadline, runtime).await?;
        if !config.retry.covers(resp.status()) {
            break;
        }
    }
    Ok(resp)
}

/// Reads and drops the body of an answer that is not returned (a redirect, an answer
/// retried), so that its connection can serve the next request: within `drain_limit`
/// bytes, `drain_timeout` and `until`; past any of them the connection is closed. A body
/// that stalls never holds the request longer than that.
async fn discard(config: &Config, resp: Response, until: Option<Instant>) {
    let by = clock::earliest(until, clock::after(now(), config.drain_timeout));
    resp.discard(config.drain_limit, by).await;
}

/// A `429` or `503`: with `Retry-After`, it pauses its host. Asked when the response head
/// is read, before the connection can be released: a request waiting in line for it would
/// otherwise be sent before the pause is set.
fn pauses(status: StatusCode) -> bool {
    // One comparison for the usual answer, below both.
    status.as_u16() >= 429
        && (status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE)
}

/// A `429` or `503` with `Retry-After` holds back every request to its host for that long
/// (at most `max_host_pause`).
#[cold]
fn pause_host(client: &Client, key: &PoolKey, headers: &HeaderMap) {
    let limit = client.inner.config.max_host_pause;
    let wait = headers
        .get(RETRY_AFTER)
        .and_then(|value| status_retry::parse_retry_after(value, std::time::SystemTime::now()));
    if let Some(wait) = wait.map(|w| w.min(limit)).filter(|w| !w.is_zero()) {
        client.inner.pool.pause(key, wait);
    }
}

/// Waits, holding no slot, while the request's host is paused or its last request was
/// sent less than its spacing ago (`min_delay_per_host` or the origin's own delay, plus
/// any `random_delay_per_host` drawn at that start); one that could not start before its
/// deadline fails at once, nothing sent. Nothing is taken here: the pool keeps the gate when it gives a
/// connection (a request that finds it closed again waits in line, holding nothing, and
/// is told when to come back). True when it waited.
async fn wait_for_start(
    client: &Client,
    key: &PoolKey,
    url: Option<&Target>,
    deadline: Option<Instant>,
) -> Result<bool, Error> {
    let Some(start) = client.inner.pool.gate(key) else {
        return Ok(false);
    };
    if deadline.is_some_and(|d| start >= d) {
        return Err(Error::msg(
            crate::ErrorKind::Timeout,
            format!(
                "{} is paused or spaced past the request's deadline",
                key.site()
            ),
        )
        .or_url(url.map(Target::url)));
    }
    client.inner.pool.count(Count::PoliteWait);
    tracing::debug!(
        host = %key,
        wait_ms = start.saturating_duration_since(now()).as_millis() as u64,
        "waiting for the host's turn to start"
    );
    tokio::time::sleep_until(start.into()).await;
    Ok(true)
}

/// One request (one hop of a chain), with its retries.
///
/// An `async` block, not an `async fn`: an `async fn` keeps its arguments twice in its
/// state, and this state is in every request's future.
#[allow(clippy::manual_async_fn)]
fn send_one<'a>(
    client: &'a Client,
    request: &'a mut Prepared,
    deadline: Option<Instant>,
    runtime: &'a Handle,
) -> impl Future<Output = Result<Response, Error>> + 'a {
    async move {
        let mut waited_turn = false;
        if client.inner.config.spacing().is_some() || client.inner.pool.any_gated() {
            // Boxed: only a request that may have to wait pays for the wait's state.
            waited_turn = Box::pin(wait_for_start(
                client,
                &request.key,
                request.url.as_ref(),
                deadline,
            ))
            .await?;
        }
        let mut attempt = Attempt {
            reused: false,
            idempotent: request.idempotent,
            replayable: request.body.is_replayable(),
            retries: 0,
            max_retries: client.inner.config.max_retries,
            retried_408: false,
            refused: 0,
        };
        // The HTTP/2 connection that refused the last attempt's stream: the retry goes to
        // another one.
        let mut avoid = None;
        'attempts: loop {
            let need = Need {
                fresh: attempt.retries > 0,
                front: false,
                waited: waited_turn,
                retryable: should_retry(
                    Failure::ClosedBeforeResponse,
                    Attempt {
                        reused: true,
                        ..attempt
                    },
                )
                .is_some(),
            };
            // An idle connection is taken without a future; a dial, a stream or a wait
            // goes on in a boxed one, which only those requests pay for. Nothing of the
            // acquisition is kept across an await (a part kept would take space in every
            // request's future), hence the block and the box made inside the match.
            let mut pooled = 'acquired: {
                let later = match acquire(client, &request.key, need, avoid, runtime) {
                    Ok(pooled) => break 'acquired pooled,
                    Err(later) => Box::pin(acquire_later(
                        client,
                        &request.key,
                        need,
                        avoid,
                        deadline,
                        runtime,
                        later,
                    )),
                };
                let stream = match later.await {
                    Ok(Acquired::H1(pooled)) => break 'acquired pooled,
                    Ok(Acquired::H2(stream)) => stream,
                    Err(e) => return Err(e.or_url(request.url.as_ref().map(Target::url))),
                };
                // Boxed: inline, its state would make every HTTP/1 request's future (and
                // each move of it) larger by more than a kilobyte.
                let h2 = exchange_h2(client, stream, request, deadline, &mut attempt, &mut avoid);
                match Box::pin(h2).await {
                    Some(result) => return result,
                    None => continue 'attempts,
                }
            };
            if request.version == Version::HTTP_2 {
                // The connection is closed with it: it is unused, but the slot is freed.
                return Err(not_http2(request));
            }
            attempt.reused = pooled.reused();
            let mut reader = begin_exchange(client, &mut pooled, request, deadline);
            let mut progress = Progress::default();
            let result = pooled
                .conn()
                .exchange(
                    &request.head,
                    &mut request.body,
                    request.expect_continue,
                    &mut reader,
                    &mut progress,
                )
                .await
                .map(|answer| (answer, reader));
            let failure = classify(&result, &progress);
            if matches!(
                failure,
                Some(Failure::NothingWritten | Failure::ClosedBeforeResponse)
            ) {
                pooled.close_race();
            }
            let retry = failure.and_then(|f| should_retry(f, attempt));
            if let Some(cause) = retry.filter(|_| client.budget_retry()) {
                count_retry(
                    |c| pooled.count(c),
                    pooled.conn_id(),
                    &request.key,
                    cause,
                    attempt,
                );
                attempt.retries += 1;
                attempt.retried_408 |= cause == RetryCause::RequestTimeout408;
                // The failed connection is closed here; its slot goes back to the pool.
                drop(pooled);
                continue;
            }
            return match result {
                Ok((answer, reader)) => respond(client, request, answer, reader, pooled),
                Err(e) => Err(e
                    .error
                    .with_attempt(progress.written, progress.complete, attempt.reused)
                    .or_url(request.url.as_ref().map(Target::url))),
            };
        }
    }
}

/// One attempt on an HTTP/2 stream: the exchange, and the retry decision on failure
/// (`None`: retry).
async fn exchange_h2(
    client: &Client,
    stream: Stream,
    request: &mut Prepared,
    deadline: Option<Instant>,
    attempt: &mut Attempt,
    avoid: &mut Option<u64>,
) -> Option<Result<Response, Error>> {
    if request.upgrade {
        // HTTP/2 has no `Upgrade` (RFC 9113 §8.6): nothing is sent.
        let e = Error::msg(
            ErrorKind::InvalidRequest,
            "a request with Upgrade needs HTTP/1.1, and the server chose HTTP/2 \
             (ClientBuilder::http1_only makes every connection HTTP/1.1)",
        );
        return Some(Err(e.or_url(request.url.as_ref().map(Target::url))));
    }
    attempt.reused = stream.reused();
    stream.count(Count::RequestSent);
    if stream.reused() {
        stream.count(Count::Reused);
    }
    let h2_request = match h2_request(&client.inner.config, request) {
        Ok(r) => r,
        Err(e) => return Some(Err(e.or_url(request.url.as_ref().map(Target::url)))),
    };
    let mut progress = Progress::default();
    let timeouts = Timeouts {
        request: deadline,
        read: client.inner.config.read_timeout,
    };
    let result = stream
        .conn()
        .exchange(
            h2_request,
            &mut request.body,
            request.expect_continue,
            timeouts,
            &mut progress,
        )
        .await;
    let failed = match result {
        Ok((head, body)) => return Some(respond_h2(client, request, head, body, stream, progress)),
        Err(failed) => failed,
    };
    let failure = if failed.refused {
        Failure::Refused
    } else if failed.broke == Broke::Closed && progress.written == 0 {
        Failure::NothingWritten
    } else if failed.broke == Broke::Closed {
        Failure::ClosedBeforeResponse
    } else {
        Failure::Other
    };
    let retry = should_retry(failure, *attempt);
    if let Some(cause) = retry.filter(|_| client.budget_retry()) {
        count_retry(
            |c| stream.count(c),
            stream.conn().id(),
            &request.key,
            cause,
            *attempt,
        );
        if cause == RetryCause::Refused {
            attempt.refused += 1;
            *avoid = Some(stream.conn().id());
        } else {
            attempt.retries += 1;
        }
        return None;
    }
    // A refused stream was not processed: nothing of it counts as sent.
    let (written, complete) = if failed.refused {
        (0, false)
    } else {
        (progress.written, progress.complete)
    };
    Some(Err(failed
        .error
        .with_attempt(written, complete, attempt.reused)
        .or_url(request.url.as_ref().map(Target::url))))
}

/// The request as HTTP/2 has it: the URL's scheme and authority become pseudo-header
/// fields, and the fields HTTP/2 forbids (those of one connection, RFC 9113 §8.2.2) are
/// left out.
fn h2_request(config: &Config, request: &Prepared) -> Result<http::Request<()>, Error> {
    let Some(url) = request.url.as_ref() else {
        return Err(Error::msg(
            crate::ErrorKind::InvalidRequest,
            "the request was already answered",
        ));
    };
    let text = url.as_str();
    let text = text.split_once('#').map_or(text, |(before, _)| before);
    let mut uri = http::Uri::try_from(text).map_err(|e| {
        Error::new(crate::ErrorKind::InvalidRequest, e)
            .context("the URL is not a valid HTTP/2 target")
    })?;
    // A `Host` of the caller's own names the origin in HTTP/1.1; HTTP/2 says it in
    // `:authority`, which must not differ from a `Host` (RFC 9113 §8.3.1), so the
    // caller's goes there (as Go's client does) rather than being dropped.
    if let Some((_, host)) = request.headers.iter().find(|(name, _)| name == HOST) {
        uri = with_authority(uri, host)?;
    }
    let mut out = http::Request::new(());
    *out.method_mut() = request.method.clone();
    *out.uri_mut() = uri;
    *out.version_mut() = http::Version::HTTP_2;
    let headers = out.headers_mut();
    let defaults = request
        .defaults_lined
        .then_some(&config.default_headers)
        .into_iter()
        .flatten();
    for (name, value) in request.headers.iter().map(|(n, v)| (n, v)).chain(defaults) {
        if is_connection_specific(name, value) {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    if !headers.contains_key(USER_AGENT) {
        if let Some(agent) = &config.user_agent {
            headers.insert(USER_AGENT, agent.clone());
        }
    }
    if request.decode && !headers.contains_key(ACCEPT_ENCODING) {
        if let Some(coding) = &config.accept_encoding {
            headers.insert(ACCEPT_ENCODING, coding.clone());
        }
    }
    match &request.body {
        Body::Full(b) => {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(b.len()));
        }
        Body::Stream(_, Some(n)) => {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(*n));
        }
        Body::Empty if matches!(request.method, Method::POST | Method::PUT | Method::PATCH) => {
            headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(0u32));
        }
        _ => {}
    }
    Ok(out)
}

/// `uri` naming `host` (a caller's `Host` field) as its authority.
fn with_authority(uri: http::Uri, host: &HeaderValue) -> Result<http::Uri, Error> {
    let bad = |e: http::Error| {
        Error::new(crate::ErrorKind::InvalidRequest, e)
            .context("the Host header is not a valid HTTP/2 :authority")
    };
    let authority = http::uri::Authority::try_from(host.as_bytes()).map_err(|e| bad(e.into()))?;
    if authority.as_str().contains('@') {
        // RFC 9113 §8.3.1: no user information in `:authority`.
        return Err(Error::msg(
            crate::ErrorKind::InvalidRequest,
            "the Host header holds user information, which HTTP/2's :authority must not",
        ));
    }
    let mut parts = uri.into_parts();
    parts.authority = Some(authority);
    http::Uri::from_parts(parts).map_err(|e| bad(e.into()))
}

/// Fields that belong to one HTTP/1.1 connection, which HTTP/2 forbids, and `Host`, which
/// `:authority` replaces.
fn is_connection_specific(name: &HeaderName, value: &HeaderValue) -> bool {
    use http::header::{TE, TRANSFER_ENCODING, UPGRADE};
    name == CONNECTION
        || name == HOST
        || name == TRANSFER_ENCODING
        || name == UPGRADE
        || name == "keep-alive"
        || name == "proxy-connection"
        || (name == TE && !value.as_bytes().eq_ignore_ascii_case(b"trailers"))
        || name == http::header::CONTENT_LENGTH
}

/// The response to an HTTP/2 exchange.
fn respond_h2(
    client: &Client,
    request: &mut Prepared,
    head: http::response::Parts,
    body: StreamBody,
    stream: Stream,
    progress: Progress,
) -> Result<Response, Error> {
    let Some(url) = request.url.take() else {
        return Err(Error::msg(
            crate::ErrorKind::InvalidRequest,
            "the request was already answered",
        ));
    };
    #[cfg(feature = "cookies")]
    if let Some(jar) = &client.inner.config.cookies {
        jar.store(url.url(), &head.headers);
    }
    if pauses(head.status) {
        pause_host(client, &request.key, &head.headers);
    }
    let bodiless = request.method == Method::HEAD
        || head.status == StatusCode::NO_CONTENT
        || head.status == StatusCode::NOT_MODIFIED;
    let coding = match bodiless {
        _ if !request.decode => None,
        true => None,
        false => decode::coding_of(&head.headers, client.inner.config.codings),
    };
    let context = BodyContext {
        url,
        max_body_bytes: client.inner.config.max_body_bytes,
        coding,
        tls_info: client.inner.config.tls_info && request.key.scheme() == Scheme::Https,
    };
    Ok(Response::from_h2(
        head,
        bodiless,
        body,
        stream,
        progress.complete,
        context,
    ))
}

/// The response for a final head: the keep-alive verdict of both heads, and what the
/// body needs to be read and its connection released.
fn respond(
    client: &Client,
    request: &mut Prepared,
    answer: Answer,
    reader: ResponseReader,
    pooled: Pooled,
) -> Result<Response, Error> {
    // Moved, not cloned: the plain path pays nothing; a redirect reads it back from the
    // response. Each hop's request answers once, so it is always there.
    let Some(url) = request.url.take() else {
        return Err(Error::msg(
            crate::ErrorKind::InvalidRequest,
            "the request was already answered",
        ));
    };
    // Paused before the connection can go to a request waiting in line, which would
    // otherwise be sent at once.
    if pauses(answer.head.status) {
        pause_host(client, &request.key, answer.head.headers());
    }
    let sent = match &request.sent_connection {
        Some(map) => proto::FieldView::from(&**map),
        None => proto::FieldView::empty(),
    };
    let keep_alive = proto::keep_alive(
        sent,
        answer.head.version,
        answer.head.fields(),
        &answer.framing,
    );
    // The body's reads keep the exchange's deadlines, set when it began.
    #[cfg(feature = "cookies")]
    if let Some(jar) = &client.inner.config.cookies {
        jar.store(url.url(), answer.head.headers());
    }
    let coding = match answer.framing.body {
        _ if !request.decode => None,
        proto::BodyFraming::Empty => None,
        _ => decode::coding_of(answer.head.fields(), client.inner.config.codings),
    };
    let context = BodyContext {
        url,
        max_body_bytes: client.inner.config.max_body_bytes,
        coding,
        tls_info: client.inner.config.tls_info && request.key.scheme() == Scheme::Https,
    };
    Ok(Response::new(answer, keep_alive, reader, pooled, context))
}

/// How an attempt failed, for the retry decision (`None`: it did not).
fn classify(
    result: &Result<(Answer, ResponseReader), ExchangeError>,
    progress: &Progress,
) -> Option<Failure> {
    match result {
        Ok((answer, _)) if answer.head.status == StatusCode::REQUEST_TIMEOUT => {
            Some(Failure::Status408)
        }
        Ok(_) => None,
        Err(e) if e.broke == Broke::Closed && progress.written == 0 => {
            Some(Failure::NothingWritten)
        }
        Err(e) if e.broke == Broke::Closed => Some(Failure::ClosedBeforeResponse),
        Err(_) => Some(Failure::Other),
    }
}

/// A request ready to be sent any number of times.
struct Prepared {
    key: PoolKey,
    method: Method,
    /// The URL, without its userinfo (moved into `Authorization`); taken by the response.
    url: Option<Target>,
    head: Vec<u8>,
    body: Body,
    /// The headers as sent (the caller's and the client's), for the next hop of a chain.
    headers: Vec<(HeaderName, HeaderValue)>,
    /// The client's default headers went out in `Config::default_block`, not in `headers`.
    defaults_lined: bool,
    /// tether added `Accept-Encoding`, so it decodes what comes in those codings.
    decode: bool,
    /// The cookie store added `Cookie`: the next hop asks it again.
    #[cfg(feature = "cookies")]
    store_cookie: bool,
    /// The caller's `Connection` headers, for the keep-alive decision, if any (boxed: a
    /// request's state is moved, and most have none).
    sent_connection: Option<Box<HeaderMap>>,
    idempotent: bool,
    timeout: Option<Duration>,
    /// The head asks `Expect: 100-continue`: the body waits for the server's word.
    expect_continue: bool,
    /// The head asks to switch protocols (`Upgrade`): a `101` answers it.
    upgrade: bool,
    /// The version the caller asked for (`HTTP_2`: only over a connection that speaks it).
    version: Version,
}

/// Request heads kept for reuse: the buffers of finished requests (cleared), for the next
/// requests on the thread.
const KEEP_HEADS: usize = 64;

/// A head buffer larger than this (a request with large fields) goes back to the allocator.
const KEPT_HEAD_MAX: usize = 4096;

thread_local! {
    static HEADS: Kept<Vec<u8>> = const { Kept::new(KEEP_HEADS) };
}

impl Drop for Prepared {
    fn drop(&mut self) {
        let mut head = std::mem::take(&mut self.head);
        if (1..=KEPT_HEAD_MAX).contains(&head.capacity()) {
            head.clear();
            Kept::give(&HEADS, head);
        }
    }
}

/// Turns the caller's request into what every attempt writes.
fn prepare(config: &Config, mut parts: RequestParts) -> Result<Prepared, Error> {
    let Some(mut key) = parts.target.origin() else {
        return Err(Error::proto(proto::ProtoError::InvalidUrl).context(format!(
            "cannot request {}",
            url_auth::Redacted(parts.target.url())
        )));
    };
    if config.https_only && key.scheme() != Scheme::Https {
        return Err(not_https(ErrorKind::InvalidRequest, parts.target.url()));
    }
    // The plain path asks only whether there are proxies at all.
    if !config.proxies.is_empty() {
        let proxy = config
            .proxies
            .route(&key, &|| crate::error::without_userinfo(parts.target.url()))
            .map_err(|e| e.for_url(parts.target.url()))?;
        key = key.via(proxy);
    }
    // Credentials in the URL are the request's own `Authorization` (unless it set one),
    // before any default.
    if parts.target.has_credentials() {
        let mut url = parts.target.url().clone();
        url_auth::take_credentials(&mut url, &mut parts.headers);
        parts.target = Target::from_url(url);
    }
    // The client's default headers go out encoded at `build` when the request sets none
    // of their names, nor anything else that would have them in its list; else they join
    // the request's headers.
    let defaults_lined = parts.add_defaults
        && config
            .default_block
            .as_ref()
            .is_some_and(|_| takes_default_block(config, &parts));
    if parts.add_defaults && !defaults_lined {
        add_default_headers(config, &mut parts.headers);
    }
    let has = |name: &HeaderName| parts.headers.iter().any(|(n, _)| n == name);
    let (has_agent, has_coding, mut has_connection) =
        (has(&USER_AGENT), has(&ACCEPT_ENCODING), has(&CONNECTION));
    // A request with `Upgrade` asks to switch protocols (none that takes the encoded
    // defaults has it); its `Connection` must name the option (RFC 9110 §7.8), and does
    // when the caller gave none.
    let mut upgrade = false;
    if !defaults_lined && has(&UPGRADE) {
        upgrade = true;
        if !has_connection {
            parts
                .headers
                .push((CONNECTION, HeaderValue::from_static("upgrade")));
            has_connection = true;
        }
    }
    // The usual request sets none of the three: the lines encoded at `build` go out as
    // they are. Otherwise each is added where the request set none.
    let encoded: &[u8] = if let (true, Some(block)) = (defaults_lined, &config.default_block) {
        block
    } else if has_agent || has_coding || has_connection {
        if let (Some(agent), false) = (&config.user_agent, has_agent) {
            parts.headers.push((USER_AGENT, agent.clone()));
        }
        if let (Some(coding), false) = (&config.accept_encoding, has_coding) {
            parts.headers.push((ACCEPT_ENCODING, coding.clone()));
        }
        &[]
    } else {
        &config.default_lines
    };
    // `Accept-Encoding` only where the caller set none; then, and only then, tether
    // decodes what it asked for.
    let decode = config.accept_encoding.is_some() && !has_coding;
    #[cfg(feature = "cookies")]
    let store_cookie = match &config.cookies {
        Some(jar) if !parts.headers.iter().any(|(n, _)| n == COOKIE) => {
            match jar.header_for(parts.target.url()) {
                Some(value) => {
                    parts.headers.push((COOKIE, value));
                    true
                }
                None => false,
            }
        }
        _ => false,
    };
    let expect_continue = expects_continue(config, &mut parts);
    // The caller's `Connection` headers, for the keep-alive decision. Without any, the
    // default `keep-alive` is sent, which asks nothing the decision looks at: there is no
    // map.
    let mut sent_connection = None;
    if has_connection {
        let mut sent = HeaderMap::new();
        for (name, value) in parts.headers.iter().filter(|(n, _)| n == CONNECTION) {
            sent.append(name, value.clone());
        }
        sent_connection = Some(Box::new(sent));
    } else if encoded.is_empty() {
        parts
            .headers
            .push((CONNECTION, HeaderValue::from_static("keep-alive")));
    }
    // A plain request through an HTTP proxy goes in absolute-form, with the proxy's
    // credentials unless the caller set its own; a tunnel's requests (CONNECT or SOCKS)
    // are the origin's.
    let forwarded = key.scheme() == Scheme::Http && key.proxy().is_some_and(|p| p.forwards_http());
    let with_proxy_auth;
    let encoded = match key.proxy().and_then(|p| p.authorization()) {
        Some(auth) if forwarded && !parts.headers.iter().any(|(n, _)| n == PROXY_AUTHORIZATION) => {
            with_proxy_auth = proxy_authorization_line(encoded, auth);
            &with_proxy_auth[..]
        }
        _ => encoded,
    };
    let with_proxy_fields;
    let encoded = match key.proxy().and_then(|p| p.headers()) {
        Some(fields) if forwarded => {
            with_proxy_fields = proxy_field_lines(encoded, &parts.headers, fields);
            &with_proxy_fields[..]
        }
        _ => encoded,
    };
    // A caller's `Content-Length` on a streamed body declares its length, as hyper takes
    // it: the stream goes out as it is, held to that length, rather than chunked.
    if let Body::Stream(_, declared @ None) = &mut parts.body {
        *declared = declared_length(&parts.headers)?;
    }
    if parts.version != Version::HTTP_11 {
        check_version(&parts)?;
    }
    let mut head = Kept::take(&HEADS).unwrap_or_else(|| Vec::with_capacity(256));
    proto::encode_request_head(
        &RequestHead {
            method: &parts.method,
            url: parts.target.parts(),
            form: if forwarded {
                TargetForm::Absolute
            } else {
                TargetForm::Origin
            },
            headers: &parts.headers,
            body: match &parts.body {
                Body::Empty => RequestBody::None,
                Body::Full(b) => RequestBody::Known(b.len() as u64),
                Body::Stream(_, Some(n)) => RequestBody::Known(*n),
                Body::Stream(_, None) => RequestBody::Chunked,
            },
            encoded,
        },
        &mut head,
    )
    .map_err(Error::proto)?;
    if parts.version == Version::HTTP_10 {
        proto::request_line_http10(&mut head);
    }
    if config.title_case {
        proto::title_case_names(&mut head);
    }
    let idempotent = proto::is_idempotent(&parts.method)
        || parts.headers.iter().any(|(n, _)| n == IDEMPOTENCY_KEY);
    Ok(Prepared {
        key,
        method: parts.method,
        url: Some(parts.target),
        head,
        body: parts.body,
        headers: parts.headers,
        defaults_lined,
        decode,
        #[cfg(feature = "cookies")]
        store_cookie,
        sent_connection,
        idempotent,
        timeout: parts.timeout,
        expect_continue,
        upgrade,
        version: parts.version,
    })
}

/// A version other than HTTP/1.1 that the request can be sent in: HTTP/1.0 (with a body
/// of known length: HTTP/1.0 has no chunked coding) or HTTP/2.
#[cold]
fn check_version(parts: &RequestParts) -> Result<(), Error> {
    let why = match parts.version {
        Version::HTTP_2 => return Ok(()),
        Version::HTTP_10 if matches!(parts.body, Body::Stream(_, None)) => {
            "an HTTP/1.0 request cannot be chunked: a streamed body needs its length \
             (a Content-Length header), or give the body whole"
        }
        Version::HTTP_10 => return Ok(()),
        _ => "tether speaks HTTP/1.0, HTTP/1.1 and HTTP/2 only",
    };
    Err(Error::msg(
        ErrorKind::InvalidRequest,
        format!("cannot send the request in {:?}: {why}", parts.version),
    ))
}

/// The error of a request that asked for HTTP/2 and was given a connection that speaks
/// HTTP/1.1: nothing of it was sent.
#[cold]
fn not_http2(request: &Prepared) -> Error {
    let how = if request.key.scheme() == Scheme::Http {
        " (over plain http, HTTP/2 needs http2_prior_knowledge)"
    } else {
        ""
    };
    Error::msg(
        ErrorKind::InvalidRequest,
        format!(
            "the request asks for HTTP/2 (version(HTTP_2)) and the connection to {} speaks \
             HTTP/1.1{how}: not sent",
            request.key
        ),
    )
    .or_url(request.url.as_ref().map(Target::url))
}

/// Whether the body waits for `100 Continue`: the caller asked with its own `Expect`, or
/// the client's `expect_continue` threshold applies (then the header is added here; never
/// to an HTTP/1.0 request, RFC 9110 §10.1.1).
fn expects_continue(config: &Config, parts: &mut RequestParts) -> bool {
    if let Some((_, value)) = parts.headers.iter().find(|(n, _)| n == EXPECT) {
        return value.as_bytes().eq_ignore_ascii_case(b"100-continue");
    }
    let large = match (config.expect_continue, &parts.body) {
        (Some(threshold), Body::Full(bytes)) => bytes.len() as u64 >= threshold,
        (Some(_), Body::Stream(..)) => true,
        _ => false,
    } && parts.version != Version::HTTP_10;
    if large {
        parts
            .headers
            .push((EXPECT, HeaderValue::from_static("100-continue")));
    }
    large
}

impl Prepared {
    /// The request of the next hop: its method and URL, the body and its `Content-*`
    /// headers only where the status keeps them, and no credentials once the origin
    /// changes.
    fn next_hop(&mut self, config: &Config, hop: Hop) -> RequestParts {
        let mut headers = std::mem::take(&mut self.headers);
        if self.defaults_lined {
            // The next hop carries them in its list, to be dropped as the caller's are.
            add_default_headers(config, &mut headers);
        }
        if self.decode {
            // Ours: the next hop adds it again, and decodes again.
            headers.retain(|(n, _)| *n != ACCEPT_ENCODING);
        }
        #[cfg(feature = "cookies")]
        if self.store_cookie {
            // The store's: the next hop gets what matches its URL, new cookies included.
            headers.retain(|(n, _)| *n != COOKIE);
        }
        if !hop.keep_body {
            // No content: nothing to describe, and nothing to expect a `100` for (a client
            // must not send the expectation without content, RFC 9110 §10.1.1).
            headers.retain(|(n, _)| !n.as_str().starts_with("content-") && *n != EXPECT);
        }
        if config.referer {
            // Where this hop came from, in place of any `Referer` before (the caller's
            // included: it named a page the chain has left).
            headers.retain(|(n, _)| *n != REFERER);
            headers.extend(hop.referer.map(|value| (REFERER, value)));
        }
        if !hop.same_origin {
            // Credentials are the old origin's, and so is a `Host` the caller named: the
            // new origin is named by its URL.
            headers.retain(|(n, _)| {
                *n != AUTHORIZATION && *n != PROXY_AUTHORIZATION && *n != COOKIE && *n != HOST
            });
        }
        RequestParts {
            method: hop.method,
            target: Target::from_url(hop.url),
            headers,
            add_defaults: false,
            body: if hop.keep_body {
                std::mem::replace(&mut self.body, Body::Empty)
            } else {
                Body::Empty
            },
            timeout: self.timeout,
            version: self.version,
        }
    }
}

/// `User-Agent` (if any), `Accept-Encoding` (if decoding) and `Connection: keep-alive`,
/// encoded: what a request that sets none of them sends.
pub(super) fn default_lines(config: &Config) -> Vec<u8> {
    let mut lines = Vec::new();
    let named = [
        (USER_AGENT, config.user_agent.as_ref()),
        (ACCEPT_ENCODING, config.accept_encoding.as_ref()),
        (CONNECTION, Some(&HeaderValue::from_static("keep-alive"))),
    ];
    for (name, value) in named {
        if let Some(value) = value {
            lines.extend_from_slice(name.as_str().as_bytes());
            lines.extend_from_slice(b": ");
            lines.extend_from_slice(value.as_bytes());
            lines.extend_from_slice(b"\r\n");
        }
    }
    lines
}

/// `lines` followed by `Proxy-Authorization: <auth>`.
fn proxy_authorization_line(lines: &[u8], auth: &HeaderValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines.len() + 24 + auth.len());
    out.extend_from_slice(lines);
    out.extend_from_slice(b"Proxy-Authorization: ");
    out.extend_from_slice(auth.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// `lines` followed by the fields `Proxy::headers` gave the proxy, each where neither
/// `lines` (the client's encoded defaults, the proxy's credentials) nor `headers` (the
/// request's own) has a field of its name.
fn proxy_field_lines(
    lines: &[u8],
    headers: &[(HeaderName, HeaderValue)],
    fields: &crate::conn::ProxyHeaders,
) -> Vec<u8> {
    let in_lines = |name: &HeaderName| {
        lines.split(|&b| b == b'\n').any(|line| {
            line.split(|&b| b == b':')
                .next()
                .is_some_and(|n| n.eq_ignore_ascii_case(name.as_str().as_bytes()))
        })
    };
    let mut out = lines.to_vec();
    for (name, value) in fields.iter() {
        if !in_lines(name) && !headers.iter().any(|(n, _)| n == name) {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

/// The client's default headers, where the request set none of that name.
fn add_default_headers(config: &Config, headers: &mut Vec<(HeaderName, HeaderValue)>) {
    let caller_set = headers.len();
    let set_by_caller = |headers: &[(HeaderName, HeaderValue)], name: &HeaderName| {
        headers[..caller_set].iter().any(|(n, _)| n == name)
    };
    for (name, value) in &config.default_headers {
        if !set_by_caller(headers, name) {
            headers.push((name.clone(), value.clone()));
        }
    }
}

/// Whether the request can send the client's default headers as `default_block`: it sets
/// none of their names, nor any of the three of `default_lines`.
fn takes_default_block(config: &Config, parts: &RequestParts) -> bool {
    parts.headers.iter().all(|(n, _)| {
        *n != USER_AGENT
            && *n != ACCEPT_ENCODING
            && *n != CONNECTION
            && !config.default_headers.contains_key(n)
    })
}

/// Fields a request's handling looks for among its headers (framing, keep-alive,
/// decoding, cookies, `100-continue`, idempotency, the proxy's credentials, HTTP/2's
/// forbidden fields): default headers naming any of them stay in each request's list.
fn looked_for(name: &HeaderName) -> bool {
    use http::header::{CONTENT_LENGTH, TE, TRANSFER_ENCODING, UPGRADE};
    [
        HOST,
        CONTENT_LENGTH,
        TRANSFER_ENCODING,
        USER_AGENT,
        ACCEPT_ENCODING,
        CONNECTION,
        COOKIE,
        EXPECT,
        PROXY_AUTHORIZATION,
        TE,
        UPGRADE,
    ]
    .contains(name)
        || *name == IDEMPOTENCY_KEY
        || name == "keep-alive"
        || name == "proxy-connection"
}

/// `default_lines` followed by the client's default headers, encoded; `None` without
/// default headers, or with one that [`looked_for`] names.
pub(super) fn default_block(config: &Config) -> Option<Vec<u8>> {
    if config.default_headers.is_empty() || config.default_headers.keys().any(looked_for) {
        return None;
    }
    let mut block = config.default_lines.clone();
    for (name, value) in &config.default_headers {
        proto::validate_header_name(name.as_str().as_bytes()).ok()?;
        proto::validate_header_value(value.as_bytes()).ok()?;
        block.extend_from_slice(name.as_str().as_bytes());
        block.extend_from_slice(b": ");
        block.extend_from_slice(value.as_bytes());
        block.extend_from_slice(b"\r\n");
    }
    Some(block)
}

/// What a request runs on.
enum Acquired {
    H1(Pooled),
    H2(Stream),
}

/// An idle HTTP/1 connection for the request, taken from the pool at once; anything else
/// (a slot to dial in, a stream on a shared HTTP/2 connection, a wait) is left to
/// `acquire_later`.
fn acquire(
    client: &Client,
    key: &PoolKey,
    need: Need,
    avoid: Option<u64>,
    runtime: &Handle,
) -> Result<Pooled, AcquireLater> {
    let http2 = http2_ask(&client.inner.config, key, avoid);
    match client.inner.pool.try_checkout(key, need, runtime, http2) {
        Ok(Lease::Reused(pooled)) => Ok(pooled),
        Ok(lease) => Err(AcquireLater(Ok(lease))),
        Err(wait) => Err(AcquireLater(Err(wait))),
    }
}

/// What `acquire` could not finish at once: a lease to dial or check, or a wait.
struct AcquireLater(Result<Lease, Wait>);

/// Whether a checkout for `key` may be given an HTTP/2 stream (and which connection to
/// avoid).
fn http2_ask(config: &Config, key: &PoolKey, avoid: Option<u64>) -> Option<Http2> {
    let http2 = match key.scheme() {
        Scheme::Https => config.tls_settings.http2,
        Scheme::Http => config.http2_prior_knowledge && !forwarded_by_proxy(key),
    };
    http2.then_some(Http2 { avoid })
}

/// Goes on from what `acquire` could not finish: dials, checks an HTTP/2 stream's
/// connection, or waits, and checks out again as often as needed.
///
/// Every request that waits at a cap boxes this future, so it is kept small: an `async`
/// block (an `async fn` keeps its arguments twice), `first` taken and put back in place
/// (not moved into a second local), and the dial boxed on its own.
#[allow(clippy::manual_async_fn)]
fn acquire_later<'a>(
    client: &'a Client,
    key: &'a PoolKey,
    need: Need,
    avoid: Option<u64>,
    deadline: Option<Instant>,
    runtime: &'a Handle,
    mut first: AcquireLater,
) -> impl Future<Output = Result<Acquired, Error>> + 'a {
    async move {
        let config = &client.inner.config;
        let http2 = http2_ask(config, key, avoid);
        loop {
            let lease = match first.0 {
                Ok(lease) => lease,
                Err(wait) => {
                    let wait_until = pool_wait_until(config, deadline);
                    client
                        .inner
                        .pool
                        .checkout_after(wait, key, need, wait_until, runtime, http2)
                        .await?
                }
            };
            match lease {
                Lease::Reused(pooled) => return Ok(Acquired::H1(pooled)),
                Lease::Stream(stream) => {
                    let conn = stream.conn();
                    let now = now();
                    let spent = config.max_lifetime.is_some_and(|l| conn.age(now) >= l)
                        || config
                            .max_requests_per_connection
                            .is_some_and(|m| conn.started() > u64::from(m));
                    if spent {
                        stream.retire();
                    } else if alive(config, &stream, deadline).await {
                        return Ok(Acquired::H2(stream));
                    }
                    // The connection is let go of; the request looks again.
                }
                // Boxed: a dial's state (the connect, TLS and proxy futures) is some 6.5
                // KiB; inline, every request that waits would box and copy it too.
                Lease::Open(slot) => {
                    return Box::pin(dial(client, key, slot, deadline, runtime)).await
                }
            }
            first.0 = client.inner.pool.try_checkout(key, need, runtime, http2);
        }
    }
}

/// How long a checkout may wait for a connection: the request's deadline, or the pool
/// timeout from now if that comes first.
fn pool_wait_until(config: &Config, deadline: Option<Instant>) -> Option<Instant> {
    clock::earliest(
        deadline,
        config.pool_timeout.and_then(|p| clock::after(now(), p)),
    )
}

/// Whether the stream's connection may be used: one idle longer than
/// `http2_ping_after_idle` must answer a PING first.
async fn alive(config: &Config, stream: &Stream, deadline: Option<Instant>) -> bool {
    let conn = stream.conn();
    let now = now();
    let idle = stream.idle_for(now);
    if idle < config.http2_ping_after_idle || conn.alive_within(now, config.http2_ping_after_idle) {
        return true;
    }
    let mut wait = config.http2_ping_timeout;
    if let Some(d) = deadline {
        wait = wait.min(d.saturating_duration_since(now));
    }
    tracing::debug!(host = %stream.key(), conn = conn.id(), idle_ms = idle.as_millis() as u64, "pinging an idle HTTP/2 connection before reuse");
    if conn.ping(wait).await {
        return true;
    }
    stream.ping_failed();
    false
}

/// Opens a connection in `slot`: HTTP/2 when ALPN agreed on `h2` (or by prior knowledge
/// for plain `http://`), else HTTP/1.1.
///
/// Boxed by `acquire_later`; an `async` block (an `async fn` keeps its arguments twice),
/// with the TLS, proxy and HTTP/2 handshakes boxed further in, so that a plain dial's box
/// is under a kilobyte.
#[allow(clippy::manual_async_fn)]
fn dial<'a>(
    client: &'a Client,
    key: &'a PoolKey,
    slot: Slot,
    deadline: Option<Instant>,
    runtime: &'a Handle,
) -> impl Future<Output = Result<Acquired, Error>> + 'a {
    async move {
        let config = &client.inner.config;
        let connect_by = clock::earliest(deadline, clock::after(now(), config.connect_timeout));
        // The opened connection is handed on inside this block, so that the state kept
        // across the handshake's await is the box alone, not the connection beside it.
        let handshake = {
            let mut report = DialReport::default();
            let opened = Connection::open(
                key,
                connect_by,
                config.tls.as_ref(),
                &config.dialer,
                &mut report,
            )
            .await;
            count_dial(client, key, opened.as_ref().ok().map(|c| c.id()), report);
            let conn = match opened {
                Ok(conn) => conn,
                Err(e) => {
                    slot.connect_failed(&e);
                    return Err(e);
                }
            };
            let prior = key.scheme() == Scheme::Http
                && config.http2_prior_knowledge
                && !forwarded_by_proxy(key);
            if !(conn.alpn_h2() || prior) {
                return Ok(Acquired::H1(slot.fill(conn)));
            }
            let settings = H2Settings {
                head_limits: config.head_limits,
                tls_info: config.tls_info,
                windows: config.http2_windows,
                max_streams: config.http2_max_streams,
                keep_alive: config.http2_keep_alive_interval.map(|interval| KeepAlive {
                    interval,
                    timeout: config.http2_keep_alive_timeout,
                    while_idle: config.http2_keep_alive_while_idle,
                }),
            };
            // Boxed: the HTTP/2 handshake's state (some 2 KiB) is not in every dial's box.
            Box::pin(conn.into_h2(settings, connect_by))
        };
        match handshake.await {
            Ok((h2, driver)) => Ok(Acquired::H2(slot.fill_h2(
                h2,
                driver,
                config.idle_timeout,
                runtime,
            ))),
            Err(e) => {
                slot.connect_failed(&e);
                Err(e)
            }
        }
    }
}

/// One attempt begins on `pooled`: counted, its connection given the exchange's deadlines,
/// and a reader for its response (the exchange is awaited in `send_one` itself: one layer
/// of future less).
fn begin_exchange(
    client: &Client,
    pooled: &mut Pooled,
    request: &Prepared,
    deadline: Option<Instant>,
) -> ResponseReader {
    pooled.count_sent();
    pooled.conn().begin(Timeouts {
        request: deadline,
        read: client.inner.config.read_timeout,
    });
    let mut reader = ResponseReader::new(&request.method, client.inner.config.head_limits);
    if request.upgrade {
        reader.allow_upgrade();
    }
    reader
}

/// The length a caller's `Content-Length` fields declare (`None`: there are none). Every
/// one must be a decimal length, and all the same.
fn declared_length(headers: &[(HeaderName, HeaderValue)]) -> Result<Option<u64>, Error> {
    let mut declared = None;
    for (_, value) in headers.iter().filter(|(n, _)| n == CONTENT_LENGTH) {
        let digits = std::str::from_utf8(value.as_bytes()).map_or("", str::trim);
        let n = Some(digits)
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u64>().ok())
            .ok_or_else(|| {
                Error::msg(
                    ErrorKind::InvalidRequest,
                    format!("Content-Length {value:?} is not a length"),
                )
            })?;
        if declared.is_some_and(|d| d != n) {
            return Err(Error::msg(
                ErrorKind::InvalidRequest,
                "Content-Length fields declare different lengths",
            ));
        }
        declared = Some(n);
    }
    Ok(declared)
}

/// Whether the origin's connections go to an HTTP proxy that forwards its requests
/// (where HTTP/2 by prior knowledge does not apply): a SOCKS5 proxy is a tunnel.
fn forwarded_by_proxy(key: &PoolKey) -> bool {
    key.proxy().is_some_and(|p| p.forwards_http())
}

/// Counts and traces what a dial did, whether it opened connection `conn` or failed:
/// the lookup, the addresses tried, and the proxy connection or tunnel it opened.
fn count_dial(client: &Client, key: &PoolKey, conn: Option<u64>, report: DialReport) {
    let pool = &client.inner.pool;
    let dns = match report.found {
        None => "none",
        Some(Found::Literal) => "ip literal",
        Some(Found::Pinned) => "pinned",
        Some(Found::Looked(Looked::Cached)) => {
            pool.count(Count::DnsCacheHit);
            "cached"
        }
        Some(Found::Looked(Looked::Resolved)) => {
            pool.count(Count::DnsLookup);
            "resolved"
        }
    };
    for _ in 0..report.attempts {
        pool.count(Count::DialAttempt);
    }
    let Some(conn) = conn else {
        tracing::debug!(host = %key, dns, attempts = report.attempts, "dial failed");
        return;
    };
    let via = match report.via {
        Via::Direct => "direct",
        Via::Forward => {
            pool.count(Count::ProxyForward);
            "proxy"
        }
        Via::Tunnel => {
            pool.count(Count::ProxyTunnel);
            "tunnel"
        }
        Via::Socks => {
            pool.count(Count::SocksConnection);
            // The proxy's scheme: socks4, socks4a, socks5 or socks5h.
            key.proxy().map_or("socks", |p| p.kind().scheme())
        }
    };
    tracing::debug!(host = %key, conn, dns, attempts = report.attempts, via, "dialed");
}

/// Counts (with `count`) and traces a retry of a request that failed on connection `conn`.
fn count_retry(
    count: impl Fn(Count),
    conn: u64,
    key: &PoolKey,
    cause: RetryCause,
    attempt: Attempt,
) {
    let (what, label) = match cause {
        RetryCause::NothingWritten => (Count::RetryNothingWritten, "nothing written"),
        RetryCause::CloseRace => (Count::RetryCloseRace, "closed before response"),
        RetryCause::RequestTimeout408 => (Count::Retry408, "408 request timeout"),
        RetryCause::Refused => (Count::RetryRefused, "refused stream: not processed"),
    };
    count(what);
    tracing::debug!(
        host = %key,
        conn,
        reused = attempt.reused,
        cause = label,
        retry = attempt.retries + attempt.refused + 1,
        "retrying on a fresh connection"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_defaults(pairs: &[(&'static str, &'static str)]) -> Config {
        let mut config = Config::default();
        for (name, value) in pairs {
            config.default_headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        config.default_lines = default_lines(&config);
        config
    }

    #[test]
    fn default_headers_are_encoded_once_unless_a_request_must_see_them() {
        assert_eq!(default_block(&with_defaults(&[])), None, "none to encode");
        let config = with_defaults(&[("authorization", "Bearer t"), ("x-a", "1"), ("x-a", "2")]);
        let block = default_block(&config).unwrap();
        let mut expected = config.default_lines.clone();
        expected.extend_from_slice(b"authorization: Bearer t\r\nx-a: 1\r\nx-a: 2\r\n");
        assert_eq!(
            String::from_utf8_lossy(&block),
            String::from_utf8_lossy(&expected)
        );
        for name in [
            "host",
            "content-length",
            "transfer-encoding",
            "user-agent",
            "accept-encoding",
            "connection",
            "keep-alive",
            "proxy-connection",
            "cookie",
            "expect",
            "idempotency-key",
            "proxy-authorization",
            "te",
            "upgrade",
        ] {
            let config = with_defaults(&[("x-a", "1"), (name, "v")]);
            assert_eq!(default_block(&config), None, "{name} stays in the list");
        }
    }
}
