//! `http::Request` in, `Response` out: [`Client::execute`], and `tower_service::Service`
//! for `Client`, so tower layers (timeouts, retries, rate limits, tracing) stack on it. The
//! pool does its own waiting, so the service is always ready.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::body::Body;
use super::request::{RequestBuilder, RequestTimeout};
use super::{Client, IntoUrl};
use crate::error::Error;
use crate::Response;

impl Client {
    /// Sends an `http::Request` whose URI is absolute (`http://host/path`); its method,
    /// headers and body are sent as they are, with the timeout of the
    /// [`RequestBuilder::build`] that made it, if it set one.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let request = http::Request::post("http://127.0.0.1:8080/items")
    ///     .header("content-type", "text/plain")
    ///     .body("new item")
    ///     .unwrap();
    /// let resp = tether::Client::new().execute(request).await?;
    /// # Ok(()) }
    /// ```
    pub fn execute<B: Into<Body>>(
        &self,
        request: http::Request<B>,
    ) -> impl Future<Output = Result<Response, Error>> + Send {
        let (parts, body) = request.into_parts();
        let url = parts.uri.to_string().into_target();
        let mut builder = RequestBuilder::new(self.clone(), parts.method, url)
            .headers(parts.headers)
            .body(body);
        if parts.version != http::Version::HTTP_11 {
            builder = builder.version(parts.version);
        }
        match parts.extensions.get::<RequestTimeout>() {
            Some(&RequestTimeout(timeout)) => builder.timeout(timeout),
            None => builder,
        }
        .send()
    }
}

/// A `Client` as a tower service.
///
/// ```no_run
/// use tower_service::Service;
/// # async fn run() -> Result<(), tether::Error> {
/// let mut client = tether::Client::new();
/// let request = http::Request::get("http://127.0.0.1:8080/").body(()).unwrap();
/// let resp = client.call(request).await?;
/// # Ok(()) }
/// ```
impl<B: Into<Body>> tower_service::Service<http::Request<B>> for Client {
    type Response = Response;
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, body.into());
        Box::pin(self.execute::<Body>(request))
    }
}
