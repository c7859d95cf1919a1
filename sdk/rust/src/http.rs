//! Outbound HTTP, for the hosts the tenant allowlisted for this plugin.
//!
//! Inside wasm this is `wasi:http/outgoing-handler`; the host refuses any host
//! not on the plugin's allowlist ([`HttpError::Denied`]), bounds every request
//! with a timeout, and caps the response size. Natively, requests are answered
//! from [`crate::testing::TestHost::http`], so plugin tests need no server.
//!
//! ```ignore
//! let response = http::get("https://shop.example/api/orders/A-1001", &[("accept", "application/json")])?;
//! if response.status == 200 {
//!     let order: Order = response.json()?;
//! }
//! ```

use std::fmt;

/// A response, with its body read in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn text(&self) -> Result<&str, HttpError> {
        std::str::from_utf8(&self.body).map_err(|error| HttpError::Body(error.to_string()))
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|error| HttpError::Body(error.to_string()))
    }
}

/// Why a request produced no usable response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host is not on this plugin's allowlist (or HTTP is not granted at all).
    Denied,
    /// The URL is not `http://` or `https://` with a host.
    InvalidUrl(String),
    /// Connecting, sending, a timeout, or a response past the size cap.
    Failed(String),
    /// The body arrived but is not what the caller asked for (UTF-8, JSON).
    Body(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Denied => formatter.write_str("outbound HTTP to this host is not allowed"),
            Self::InvalidUrl(url) => write!(formatter, "invalid URL: {url}"),
            Self::Failed(reason) => write!(formatter, "HTTP request failed: {reason}"),
            Self::Body(reason) => write!(formatter, "unexpected response body: {reason}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// A URL split the way `wasi:http` wants it.
#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    https: bool,
    authority: &'a str,
    path_with_query: &'a str,
}

fn parse(url: &str) -> Result<Target<'_>, HttpError> {
    let invalid = || HttpError::InvalidUrl(url.to_owned());
    let (scheme, rest) = url.split_once("://").ok_or_else(invalid)?;
    let https = match scheme.to_ascii_lowercase().as_str() {
        "https" => true,
        "http" => false,
        _ => return Err(invalid()),
    };
    let (authority, path_with_query) = match rest.find(['/', '?']) {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(invalid());
    }
    Ok(Target { https, authority, path_with_query })
}

/// `GET url` with the given headers; the whole body is read.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Result<Response, HttpError> {
    send(url, headers, None)
}

/// `POST url` with `body` as JSON (the `content-type` header is added); the
/// whole response body is read.
pub fn post_json(
    url: &str,
    headers: &[(&str, &str)],
    body: &impl serde::Serialize,
) -> Result<Response, HttpError> {
    let body = serde_json::to_vec(body).map_err(|error| HttpError::Body(error.to_string()))?;
    let mut headers = headers.to_vec();
    headers.push(("content-type", "application/json"));
    send(url, &headers, Some(&body))
}

/// `GET` without a body, `POST` with one.
fn send(url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Result<Response, HttpError> {
    let target = parse(url)?;
    #[cfg(target_arch = "wasm32")]
    return wasi_send(&target, headers, body);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (target, headers);
        crate::testing::with_host(|host| host.http_send(url, body))
    }
}

#[cfg(target_arch = "wasm32")]
fn wasi_send(
    target: &Target<'_>,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, HttpError> {
    use wasi::http::outgoing_handler;
    use wasi::http::types::{ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme};
    use wasi::io::streams::StreamError;

    fn failed(code: ErrorCode) -> HttpError {
        match code {
            ErrorCode::HttpRequestDenied => HttpError::Denied,
            other => HttpError::Failed(format!("{other:?}")),
        }
    }

    let mut fields: Vec<(String, Vec<u8>)> =
        headers.iter().map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec())).collect();
    // A known length rather than chunked: some APIs and proxies refuse chunked requests.
    if let Some(body) = body {
        fields.push(("content-length".to_owned(), body.len().to_string().into_bytes()));
    }
    let fields =
        Fields::from_list(&fields).map_err(|error| HttpError::Failed(format!("header: {error:?}")))?;
    let request = OutgoingRequest::new(fields);
    let scheme = if target.https { Scheme::Https } else { Scheme::Http };
    let method = if body.is_some() { Method::Post } else { Method::Get };
    let set = request
        .set_method(&method)
        .and(request.set_scheme(Some(&scheme)))
        .and(request.set_authority(Some(target.authority)))
        .and(request.set_path_with_query(Some(target.path_with_query)));
    set.map_err(|()| HttpError::InvalidUrl(format!("{}{}", target.authority, target.path_with_query)))?;

    let outgoing = request.body().map_err(|()| HttpError::Failed("no request body".to_owned()))?;
    let pending = outgoing_handler::handle(request, None).map_err(failed)?;
    {
        let stream = outgoing.write().map_err(|()| HttpError::Failed("no request body".to_owned()))?;
        // `blocking_write_and_flush` takes at most 4096 bytes at a time.
        for chunk in body.unwrap_or_default().chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|error| HttpError::Failed(format!("{error:?}")))?;
        }
    }
    OutgoingBody::finish(outgoing, None).map_err(failed)?;
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(failed(code)),
        Some(Err(())) | None => return Err(HttpError::Failed("the response was already taken".to_owned())),
    };
    let status = response.status();
    let incoming = response.consume().map_err(|()| HttpError::Failed("no response body".to_owned()))?;
    let stream = incoming.stream().map_err(|()| HttpError::Failed("no response body".to_owned()))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(error)) => {
                let code = wasi::http::types::http_error_code(&error);
                return Err(code.map_or_else(|| HttpError::Failed(error.to_debug_string()), failed));
            }
        }
    }
    drop(stream);
    drop(IncomingBody::finish(incoming));
    Ok(Response { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let target = parse("https://shop.example:8443/api/orders/7?full=1").unwrap();
        assert_eq!(
            target,
            Target { https: true, authority: "shop.example:8443", path_with_query: "/api/orders/7?full=1" }
        );
        assert_eq!(parse("http://shop.example").unwrap().path_with_query, "/");
        assert_eq!(parse("http://shop.example?x=1").unwrap().path_with_query, "?x=1");
    }

    #[test]
    fn unusable_urls_are_refused() {
        for url in
            ["ftp://shop.example/", "shop.example/orders", "http:///orders", "http://user@evil.example/"]
        {
            assert_eq!(parse(url), Err(HttpError::InvalidUrl(url.to_owned())), "{url}");
        }
    }
}
