//! A small HTTPS client for provider APIs and handoff webhooks: hyper-util's
//! pooled client over tokio, TLS by rustls with the webpki roots. Connections
//! are kept alive and reused per scheme and authority, so a busy tenant pays
//! for one TCP and TLS handshake, not one per reply; a pooled connection
//! carries no credentials (each request brings its own).
//!
//! The URL is the tenant's (`api_base`, the webhook), so every new socket
//! comes from the runtime's [`OutboundPolicy`] ([`Connector`]): resolved
//! once, every address checked, and a destination that is not public refused
//! before any connection. Redirects are not followed. What a failure says
//! ([`SendFailure::reason`], which the tenant reads in `message.failed`) is
//! one of a few fixed phrases; the detail goes to the server's log only.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use switchboard_runtime::OutboundPolicy;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore, pki_types::ServerName};

use super::render::Request;

/// Everything about one send, connect to last byte, must fit in this.
const TIMEOUT: Duration = Duration::from_secs(15);

/// What the tenant reads when the outbound policy refused the destination,
/// whatever its port, and whether anything listens there.
pub const NOT_ALLOWED: &str = "destination not allowed";
/// What the tenant reads when an allowed destination could not be reached
/// (name lookup, connection, TLS or the HTTP exchange failed).
pub const UNREACHABLE: &str = "the provider could not be reached";

#[derive(Debug)]
pub struct SendFailure {
    /// A timeout, a connection problem, 429 or 5xx: worth another try.
    pub retryable: bool,
    /// The provider refused the credentials (401, 403): nothing goes out
    /// until they are fixed, so the entry is parked rather than dropped.
    pub park: bool,
    /// For the tenant's `message.failed` event: never a host, an address or
    /// an OS error.
    pub reason: String,
    /// For the server's log.
    pub detail: String,
}

impl SendFailure {
    fn retry(reason: &str, detail: impl std::fmt::Display) -> Self {
        Self { retryable: true, park: false, reason: reason.to_owned(), detail: detail.to_string() }
    }

    fn give_up(reason: &str, detail: impl std::fmt::Display) -> Self {
        Self { retryable: false, park: false, reason: reason.to_owned(), detail: detail.to_string() }
    }
}

#[derive(Clone)]
pub struct Client {
    pool: legacy::Client<Connector, Full<Bytes>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Client")
    }
}

/// Idle connections kept per scheme and authority.
const IDLE_PER_HOST: usize = 256;
/// How long an idle connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    /// A client that connects wherever `outbound` allows (the server uses
    /// [`OutboundPolicy::installed`]).
    pub fn new(outbound: OutboundPolicy) -> anyhow::Result<Self> {
        let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = Connector { tls: TlsConnector::from(Arc::new(config)), outbound };
        let pool = legacy::Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(IDLE_PER_HOST)
            .pool_idle_timeout(IDLE_TIMEOUT)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(connector);
        Ok(Self { pool })
    }

    /// POST the request as JSON; `Ok` for a 2xx answer, with the
    /// provider's id for the message when its answer names one.
    pub async fn post(&self, request: Request) -> Result<Option<String>, SendFailure> {
        match tokio::time::timeout(TIMEOUT, self.send(request)).await {
            Ok(result) => result,
            Err(_) => {
                let reason = format!("no answer within {TIMEOUT:?}");
                Err(SendFailure::retry(&reason, &reason))
            }
        }
    }

    async fn send(&self, request: Request) -> Result<Option<String>, SendFailure> {
        let invalid = "the provider URL is not valid";
        let uri: http::Uri = request
            .url
            .parse()
            .map_err(|error| SendFailure::give_up(invalid, format!("bad URL: {error}")))?;
        if uri.host().is_none() || !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(SendFailure::give_up(invalid, "URL without an http(s) scheme and a host"));
        }
        let mut builder = http::Request::post(uri).header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let outgoing = builder
            .body(Full::new(Bytes::from(request.body.to_string())))
            .map_err(|error| SendFailure::give_up(invalid, error))?;
        let response = self.pool.request(outgoing).await.map_err(failure)?;
        let status = response.status();
        // A send API answers with a few ids; past the cap the answer is ignored
        // (the send still counts), so a misbehaving endpoint cannot fill memory.
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map(|body| body.to_bytes())
            .unwrap_or_default();
        match status.as_u16() {
            200..=299 => Ok(provider_message_id(&body)),
            429 | 500..=599 => {
                let reason = format!("provider answered {status}");
                Err(SendFailure::retry(&reason, &reason))
            }
            401 | 403 => {
                let reason = format!("provider refused the channel's credentials ({status})");
                Err(SendFailure { park: true, ..SendFailure::give_up(&reason, &reason) })
            }
            _ => {
                let reason = format!("provider refused with {status}");
                Err(SendFailure::give_up(&reason, &reason))
            }
        }
    }
}

impl Client {
    /// One request to the Switchboard API (the CLI's `plugin replay`):
    /// the answer's status and body, up to `max_bytes`.
    pub async fn api(
        &self,
        method: http::Method,
        url: &str,
        bearer: Option<&str>,
        body: Option<(&str, Bytes)>,
        max_bytes: usize,
    ) -> anyhow::Result<(http::StatusCode, Bytes)> {
        use anyhow::Context;
        let uri: http::Uri = url.parse().with_context(|| format!("{url:?} is not a URL"))?;
        let mut builder = http::Request::builder().method(method).uri(uri);
        if let Some(bearer) = bearer {
            builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {bearer}"));
        }
        let body = match body {
            Some((content_type, body)) => {
                builder = builder.header(http::header::CONTENT_TYPE, content_type);
                body
            }
            None => Bytes::new(),
        };
        let response = self
            .pool
            .request(builder.body(Full::new(body))?)
            .await
            .map_err(|error| anyhow::anyhow!("{}", failure(error).detail))
            .with_context(|| format!("could not reach {url}; is `switchboard serve` running there?"))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), max_bytes)
            .collect()
            .await
            .map_err(|error| anyhow::anyhow!("the answer from {url} could not be read: {error}"))?
            .to_bytes();
        Ok((status, body))
    }
}

/// What a failed exchange tells the tenant: a refusal by the outbound
/// policy (which will not change between retries), else unreachable.
fn failure(error: legacy::Error) -> SendFailure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(current) = source {
        if let Some(connect) = current.downcast_ref::<ConnectError>() {
            let reason = if connect.refused { NOT_ALLOWED } else { UNREACHABLE };
            return SendFailure {
                retryable: !connect.refused,
                park: false,
                reason: reason.to_owned(),
                detail: connect.detail.clone(),
            };
        }
        source = current.source();
    }
    SendFailure::retry(
        UNREACHABLE,
        format!(
            "{error:#}: {}",
            std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default()
        ),
    )
}

/// Why a connection was not made.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
struct ConnectError {
    /// The outbound policy refused the destination.
    refused: bool,
    detail: String,
}

/// Makes the pool's connections: through the outbound policy, then TLS for
/// `https`.
#[derive(Clone)]
struct Connector {
    tls: TlsConnector,
    outbound: OutboundPolicy,
}

impl tower_service::Service<http::Uri> for Connector {
    type Response = TokioIo<Stream>;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connector = self.clone();
        Box::pin(async move {
            let unreachable = |detail: String| ConnectError { refused: false, detail };
            let host = uri.host().ok_or_else(|| unreachable("URL without a host".to_owned()))?.to_owned();
            let https = uri.scheme_str() == Some("https");
            let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
            let tcp = connector
                .outbound
                .connect(&host, port)
                .await
                .map_err(|error| ConnectError { refused: error.is_refused(), detail: error.to_string() })?;
            let _ = tcp.set_nodelay(true);
            if !https {
                return Ok(TokioIo::new(Stream::Plain(tcp)));
            }
            let bare = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(&host);
            let name =
                ServerName::try_from(bare.to_owned()).map_err(|error| unreachable(error.to_string()))?;
            let tls = connector
                .tls
                .connect(name, tcp)
                .await
                .map_err(|error| unreachable(format!("tls: {error}")))?;
            Ok(TokioIo::new(Stream::Tls(Box::new(tls))))
        })
    }
}

/// A pooled connection: plain TCP (loopback fakes, when the operator allows
/// them) or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_read(context, buf),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_read(context, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_write(context, buf),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_write(context, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_flush(context),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(context),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_shutdown(context),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(context),
        }
    }
}

/// The most of a provider's answer read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The sent message's id in a send API's answer: WhatsApp's `messages[0].id`,
/// Messenger's `message_id`, Telegram's `result.message_id`.
fn provider_message_id(body: &[u8]) -> Option<String> {
    let answer: serde_json::Value = serde_json::from_slice(body).ok()?;
    let id = answer
        .pointer("/messages/0/id")
        .or_else(|| answer.get("message_id"))
        .or_else(|| answer.pointer("/result/message_id"))?;
    match id {
        serde_json::Value::String(id) => Some(id.clone()),
        serde_json::Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}
