//! Outbound HTTP (`wasi:http/outgoing-handler`) for plugins, deny by default.
//!
//! The interfaces are always linked, so any component that imports them loads.
//! Every request is checked twice before a socket opens. First against the
//! plugin's [`HttpGrant`]: a host and port that are not on its allowlist get
//! `HTTP-request-denied`. Then, after the name is resolved, every address
//! against the process's [`OutboundPolicy`] (`egress.rs`): a name that
//! resolves only to loopback, private or link-local addresses gets the same
//! `HTTP-request-denied`, so the guest cannot tell the two apart, and the
//! connection goes to exactly the address that was checked. Redirects are not
//! followed here; a guest that follows one sends a new request, checked anew.
//!
//! Allowed requests run with the grant's timeout on connect, first byte and
//! between bytes, and a response body past the size cap fails the guest's read
//! with `HTTP-response-body-size`.
//!
//! A guest blocked on a response is inside the host, where epochs cannot
//! interrupt it, so the timeout here is what bounds the call. Give a plugin that
//! calls out a call deadline (`timeout_ms` in its limits) above its HTTP timeout.

use std::pin::{Pin, pin};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::uri::Scheme;
use http_body::{Body, Frame, SizeHint};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::capabilities::Grants;
use crate::egress::{EgressError, OutboundPolicy};

/// Which hosts one plugin may call, and how patiently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpGrant {
    /// `host` (its scheme's default port only: 443 for https, 80 for http)
    /// or `host:port`, matched case-insensitively against the request's
    /// authority. Empty: no outbound HTTP at all.
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
    /// Whether a request to `uri` is on the allowlist. A bare host allows
    /// only the port its scheme implies, so that an allowed name cannot be
    /// turned against another service on the same machine.
    pub fn allows(&self, uri: &http::Uri) -> bool {
        let Some(host) = uri.host() else { return false };
        let default_port = default_port(uri);
        let port = uri.port_u16().unwrap_or(default_port);
        self.allow.iter().any(|entry| {
            let (allowed_host, allowed_port) = match entry.rsplit_once(':') {
                Some((allowed_host, allowed_port)) => match allowed_port.parse::<u16>() {
                    Ok(allowed_port) => (allowed_host, allowed_port),
                    Err(_) => (entry.as_str(), default_port),
                },
                None => (entry.as_str(), default_port),
            };
            allowed_host.eq_ignore_ascii_case(host) && allowed_port == port
        })
    }
}

fn default_port(uri: &http::Uri) -> u16 {
    if uri.scheme() == Some(&Scheme::HTTPS) { 443 } else { 80 }
}

/// The hooks one call's store hands to `wasmtime-wasi-http`.
#[derive(Debug, Clone, Default)]
pub(crate) struct GrantedHttp {
    grants: Arc<Grants>,
    outbound: OutboundPolicy,
}

impl GrantedHttp {
    pub(crate) fn new(grants: Arc<Grants>) -> Self {
        Self { grants, outbound: OutboundPolicy::installed() }
    }
}

type IoFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;
type SendFuture = Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), Error>> + Send>;

impl WasiHttpHooks for GrantedHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _response_errors: IoFuture,
    ) -> SendFuture {
        let grant = &self.grants.http;
        if !grant.allows(request.uri()) {
            tracing::debug!(uri = %request.uri(), "outbound HTTP denied: not on the plugin's allowlist");
            return Box::new(std::future::ready(Err(Error::HttpRequestDenied)));
        }
        let options = clamp(options, Duration::from_millis(grant.timeout_ms));
        let cap = grant.max_response_bytes;
        let outbound = self.outbound.clone();
        Box::new(async move { send(&outbound, request, options, cap).await })
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

/// What `wasmtime_wasi_http::default_send_request` does, except that the
/// socket comes from [`OutboundPolicy::connect`] (which that function has no
/// hook for), and the response body is capped.
async fn send(
    outbound: &OutboundPolicy,
    mut request: http::Request<WasiBody>,
    options: RequestOptions,
    cap: u64,
) -> Result<(http::Response<WasiBody>, IoFuture), Error> {
    let unset = Duration::from_secs(600);
    let connect_timeout = options.connect_timeout.unwrap_or(unset);
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(unset);
    // Tokio panics on a zero-length interval; a nanosecond is as good as none.
    let between_bytes_timeout = options.between_bytes_timeout.unwrap_or(unset).max(Duration::from_nanos(1));

    let uri = request.uri().clone();
    let host = uri.host().ok_or(Error::HttpRequestUriInvalid)?;
    let port = uri.port_u16().unwrap_or(default_port(&uri));
    let https = uri.scheme() == Some(&Scheme::HTTPS);
    let stream = tokio::time::timeout(connect_timeout, open(outbound, host, port, https))
        .await
        .map_err(|_| Error::ConnectionTimeout)??;
    let (mut sender, connection) =
        tokio::time::timeout(connect_timeout, hyper::client::conn::http1::handshake(TokioIo::new(stream)))
            .await
            .map_err(|_| Error::ConnectionTimeout)??;

    // The request holds the scheme and authority, but on the wire (not to a
    // proxy) it is the path and query only; `Host` is already set.
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    *request.uri_mut() = http::Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;

    let send = async move {
        let response = tokio::time::timeout(first_byte_timeout, sender.send_request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)??;
        Ok::<_, Error>(response.map(|incoming| {
            let idle = Box::pin(tokio::time::sleep(between_bytes_timeout));
            GuardedBody { incoming, remaining: cap, between_bytes_timeout, idle }
        }))
    };
    // Drive the connection while waiting for the response; what is left of
    // it afterwards goes back to wasmtime-wasi-http, which drives it to its end.
    let mut send = pin!(send);
    let mut connection = Some(connection);
    let response = std::future::poll_fn(|cx| {
        if let Poll::Ready(result) = send.as_mut().poll(cx) {
            return Poll::Ready(result);
        }
        let Some(driving) = connection.as_mut() else { return Poll::Pending };
        let finished = ready!(Pin::new(driving).poll(cx));
        connection = None;
        match finished {
            Ok(()) => send.as_mut().poll(cx),
            Err(error) => Poll::Ready(Err(Error::from(error))),
        }
    })
    .await?;
    let io = async move {
        match connection {
            Some(connection) => connection.await.map_err(|error| {
                if error.is_timeout() { Error::HttpResponseTimeout } else { Error::from(error) }
            }),
            None => Ok(()),
        }
    };
    use http_body_util::BodyExt;
    Ok((response.map(|body| body.boxed_unsync()), Box::new(io) as IoFuture))
}

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Stream for T {}

/// A connection to an address the policy allows, in TLS for `https`. A
/// refused destination is the same `HTTP-request-denied` as one off the
/// allowlist, whatever its port or state; the detail goes to the host log.
async fn open(
    outbound: &OutboundPolicy,
    host: &str,
    port: u16,
    https: bool,
) -> Result<Box<dyn Stream>, Error> {
    let tcp = outbound.connect(host, port).await.map_err(|error| {
        tracing::info!(%error, "outbound HTTP refused or failed");
        match error {
            EgressError::Refused { .. } => Error::HttpRequestDenied,
            EgressError::Resolve { .. } => {
                Error::DnsError { rcode: Some("address not available".to_owned()), info_code: None }
            }
            EgressError::Connect { source, .. } => Error::Connect(source),
        }
    })?;
    if !https {
        return Ok(Box::new(tcp));
    }
    let bare = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(host);
    let name = ServerName::try_from(bare.to_owned()).map_err(Error::InvalidDnsNameError)?;
    let tls = tls().ok_or_else(|| Error::InternalError(Some("no TLS client".to_owned())))?;
    Ok(Box::new(tls.connect(name, tcp).await.map_err(Error::Tls)?))
}

/// The TLS client every plugin request shares: webpki roots, ring.
fn tls() -> Option<&'static TlsConnector> {
    static TLS: OnceLock<Option<TlsConnector>> = OnceLock::new();
    TLS.get_or_init(|| {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .inspect_err(|error| tracing::error!(%error, "no TLS client for plugins' HTTP"))
            .ok()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Some(TlsConnector::from(Arc::new(config)))
    })
    .as_ref()
}

/// A response body that fails once more than `remaining` bytes have come
/// through, or when no frame arrives within `between_bytes_timeout`.
struct GuardedBody {
    incoming: hyper::body::Incoming,
    remaining: u64,
    between_bytes_timeout: Duration,
    idle: Pin<Box<tokio::time::Sleep>>,
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.remaining {
                        this.remaining = 0;
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(len)))));
                    }
                    this.remaining -= len;
                }
                let next = tokio::time::Instant::now() + this.between_bytes_timeout;
                this.idle.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) if error.is_timeout() => {
                Poll::Ready(Some(Err(Error::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(Error::from(error)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(this.idle.as_mut().poll(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(allow: &[&str]) -> HttpGrant {
        HttpGrant { allow: allow.iter().map(|entry| (*entry).to_owned()).collect(), ..HttpGrant::default() }
    }

    fn allows(grant: &HttpGrant, uri: &str) -> bool {
        grant.allows(&uri.parse().expect("a URI"))
    }

    #[test]
    fn an_empty_allowlist_denies_everything() {
        assert!(!allows(&HttpGrant::default(), "https://example.com/"));
    }

    #[test]
    fn a_bare_host_allows_its_default_port_only_and_ignores_case() {
        let grant = grant(&["Shop.Example.com"]);
        assert!(allows(&grant, "https://shop.example.com/orders"));
        assert!(allows(&grant, "https://shop.example.com:443/orders"));
        assert!(allows(&grant, "http://shop.example.com/"));
        assert!(!allows(&grant, "https://shop.example.com:8443/"), "another port");
        assert!(!allows(&grant, "http://shop.example.com:443/"), "not http's port");
        assert!(!allows(&grant, "https://evil.example.com/"));
        assert!(!allows(&grant, "https://shop.example.com.evil.net/"));
    }

    #[test]
    fn host_and_port_must_both_match() {
        let grant = grant(&["127.0.0.1:8080", "api.example.com:443"]);
        assert!(allows(&grant, "http://127.0.0.1:8080/"));
        assert!(!allows(&grant, "http://127.0.0.1:8081/"));
        assert!(!allows(&grant, "http://127.0.0.1/"));
        assert!(allows(&grant, "https://api.example.com/"), "443 named is 443 implied");
    }

    #[tokio::test]
    async fn an_allowlisted_name_that_resolves_to_loopback_is_denied_like_an_unlisted_one() {
        use http_body_util::BodyExt;

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let port = listener.local_addr().expect("an address").port();
        let grants = Grants { http: grant(&[&format!("localhost:{port}")]), ..Grants::default() };
        let mut hooks = GrantedHttp { grants: Arc::new(grants), outbound: OutboundPolicy::default() };
        let empty = || http_body_util::Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync();
        for uri in [format!("http://localhost:{port}/"), "http://localhost:1/".to_owned()] {
            let request = http::Request::get(uri.as_str()).body(empty()).expect("a request");
            let sent = Pin::from(hooks.send_request(request, None, Box::new(async { Ok(()) }))).await;
            assert!(matches!(sent, Err(Error::HttpRequestDenied)), "{uri}: {:?}", sent.err());
        }
        assert!(listener.accept().is_err(), "the denied request connected");
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
