//! A small HTTPS client for provider APIs and handoff webhooks: hyper over
//! tokio, TLS by rustls with the webpki roots, one connection per request
//! (sends are rare and short; pooling is not worth its state here).
//!
//! The URL is the tenant's (`api_base`, the webhook), so the socket comes
//! from the runtime's [`OutboundPolicy`]: resolved once, every address
//! checked, and a destination that is not public refused before any
//! connection. Redirects are not followed. What a failure says
//! ([`SendFailure::reason`], which the tenant reads in `message.failed`) is
//! one of a few fixed phrases; the detail goes to the server's log only.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use switchboard_runtime::OutboundPolicy;
use tokio_rustls::TlsConnector;
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
    tls: TlsConnector,
    outbound: OutboundPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Client")
    }
}

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
        Ok(Self { tls: TlsConnector::from(Arc::new(config)), outbound })
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
        let host = uri.host().ok_or_else(|| SendFailure::give_up(invalid, "URL without a host"))?.to_owned();
        let https = uri.scheme_str() == Some("https");
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tcp = self.outbound.connect(&host, port).await.map_err(|error| {
            let reason = if error.is_refused() { NOT_ALLOWED } else { UNREACHABLE };
            // The operator's policy will not change between retries.
            SendFailure {
                retryable: !error.is_refused(),
                park: false,
                reason: reason.to_owned(),
                detail: error.to_string(),
            }
        })?;
        let body = Full::new(Bytes::from(request.body.to_string()));
        // Origin form (`/path?query`), as HTTP/1.1 servers expect; the host goes in `Host`.
        let target = uri.path_and_query().map_or("/", |path| path.as_str()).to_owned();
        let mut builder = http::Request::post(target)
            .header(http::header::HOST, uri.authority().map(|authority| authority.as_str()).unwrap_or(&host))
            .header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let outgoing = builder.body(body).map_err(|error| SendFailure::give_up(invalid, error))?;
        let (status, body) = if https {
            let bare = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')).unwrap_or(&host);
            let name = ServerName::try_from(bare.to_owned())
                .map_err(|error| SendFailure::give_up(invalid, error))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|error| SendFailure::retry(UNREACHABLE, format!("tls: {error}")))?;
            exchange(TokioIo::new(tls), outgoing).await?
        } else {
            exchange(TokioIo::new(tcp), outgoing).await?
        };
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

async fn exchange<I>(
    io: I,
    request: http::Request<Full<Bytes>>,
) -> Result<(http::StatusCode, Bytes), SendFailure>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|error| SendFailure::retry(UNREACHABLE, format!("handshake: {error}")))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| SendFailure::retry(UNREACHABLE, format!("send: {error}")))?;
    let status = response.status();
    // A send API answers with a few ids; past the cap the answer is ignored
    // (the send still counts), so a misbehaving endpoint cannot fill memory.
    let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    Ok((status, body))
}
