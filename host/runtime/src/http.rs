//! Outbound HTTP (`wasi:http/outgoing-handler`) for plugins, deny by default.
//!
//! The interfaces are always linked, so any component that imports them loads.
//! Every request is checked against the plugin's [`HttpGrant`]: a host that is
//! not on its allowlist gets `HTTP-request-denied` before a socket is opened.
//! Allowed requests run with the grant's timeout on connect, first byte and
//! between bytes, and a response body past the size cap fails the guest's read
//! with `HTTP-response-body-size`.
//!
//! A guest blocked on a response is inside the host, where epochs cannot
//! interrupt it, so the timeout here is what bounds the call. Give a plugin that
//! calls out a call deadline (`timeout_ms` in its limits) above its HTTP timeout.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use serde::{Deserialize, Serialize};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::capabilities::Grants;

/// Which hosts one plugin may call, and how patiently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpGrant {
    /// `host` (any port) or `host:port`, matched case-insensitively against the
    /// request's authority. Empty: no outbound HTTP at all.
    pub allow: Vec<String>,
    /// Per phase: connect, first response byte, and between body chunks.
    pub timeout_ms: u64,
    /// Largest response body the guest may read.
    pub max_response_bytes: u64,
}

impl Default for HttpGrant {
    fn default() -> Self {
        Self { allow: Vec::new(), timeout_ms: 2_000, max_response_bytes: 1 << 20 }
    }
}

impl HttpGrant {
    /// Whether a request to `host` (and `port`, if the URI names one) is on the allowlist.
    pub fn allows(&self, host: &str, port: Option<u16>) -> bool {
        self.allow.iter().any(|entry| match entry.rsplit_once(':') {
            Some((allowed_host, allowed_port)) if allowed_port.parse::<u16>().is_ok() => {
                allowed_host.eq_ignore_ascii_case(host)
                    && port.map(|port| port.to_string()).as_deref() == Some(allowed_port)
            }
            _ => entry.eq_ignore_ascii_case(host),
        })
    }
}

/// The hooks one call's store hands to `wasmtime-wasi-http`.
#[derive(Debug, Clone, Default)]
pub(crate) struct GrantedHttp {
    grants: Arc<Grants>,
}

impl GrantedHttp {
    pub(crate) fn new(grants: Arc<Grants>) -> Self {
        Self { grants }
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for GrantedHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        let grant = &self.grants.http;
        let uri = request.uri();
        let allowed = uri.host().is_some_and(|host| grant.allows(host, uri.port_u16()));
        if !allowed {
            tracing::debug!(uri = %uri, "outbound HTTP denied: host not on the plugin's allowlist");
            return Box::new(std::future::ready(Err(Error::HttpRequestDenied)));
        }
        let options = clamp(options, Duration::from_millis(grant.timeout_ms));
        let cap = grant.max_response_bytes;
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            let response =
                response.map(|body| CappedBody { inner: body.boxed_unsync(), remaining: cap }.boxed_unsync());
            Ok((response, Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// The guest may ask for shorter timeouts, never longer ones than its grant.
fn clamp(requested: Option<RequestOptions>, ceiling: Duration) -> RequestOptions {
    let requested = requested.unwrap_or_default();
    let pick = |asked: Option<Duration>| Some(asked.map_or(ceiling, |asked| asked.min(ceiling)));
    RequestOptions {
        connect_timeout: pick(requested.connect_timeout),
        first_byte_timeout: pick(requested.first_byte_timeout),
        between_bytes_timeout: pick(requested.between_bytes_timeout),
    }
}

/// A response body that fails once more than `remaining` bytes have come through.
struct CappedBody {
    inner: WasiBody,
    remaining: u64,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            let len = data.len() as u64;
            if len > self.remaining {
                self.remaining = 0;
                return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(len)))));
            }
            self.remaining -= len;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(allow: &[&str]) -> HttpGrant {
        HttpGrant { allow: allow.iter().map(|entry| (*entry).to_owned()).collect(), ..HttpGrant::default() }
    }

    #[test]
    fn an_empty_allowlist_denies_everything() {
        assert!(!HttpGrant::default().allows("example.com", None));
    }

    #[test]
    fn a_bare_host_allows_any_port_and_ignores_case() {
        let grant = grant(&["Shop.Example.com"]);
        assert!(grant.allows("shop.example.com", None));
        assert!(grant.allows("shop.example.com", Some(8443)));
        assert!(!grant.allows("evil.example.com", None));
        assert!(!grant.allows("shop.example.com.evil.net", None));
    }

    #[test]
    fn host_and_port_must_both_match() {
        let grant = grant(&["127.0.0.1:8080"]);
        assert!(grant.allows("127.0.0.1", Some(8080)));
        assert!(!grant.allows("127.0.0.1", Some(8081)));
        assert!(!grant.allows("127.0.0.1", None));
    }

    #[test]
    fn timeouts_are_clamped_to_the_grant() {
        let ceiling = Duration::from_millis(500);
        let asked =
            RequestOptions { connect_timeout: Some(Duration::from_secs(60)), ..RequestOptions::default() };
        let options = clamp(Some(asked), ceiling);
        assert_eq!(options.connect_timeout, Some(ceiling));
        assert_eq!(options.first_byte_timeout, Some(ceiling));
        let shorter = RequestOptions {
            between_bytes_timeout: Some(Duration::from_millis(5)),
            ..RequestOptions::default()
        };
        assert_eq!(clamp(Some(shorter), ceiling).between_bytes_timeout, Some(Duration::from_millis(5)));
    }
}
