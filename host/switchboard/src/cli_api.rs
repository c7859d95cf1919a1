//! The CLI's side of the Switchboard API: one request at a time to a
//! running server, with a tenant's key (`--server`, `--key`, or
//! `SWITCHBOARD_URL` and `SWITCHBOARD_KEY`).

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

/// Where the server is and which key opens the tenant.
#[derive(Debug, Clone, clap::Args)]
pub struct Server {
    /// The server.
    #[arg(long = "server", env = "SWITCHBOARD_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// The tenant's API key.
    #[arg(long, env = "SWITCHBOARD_KEY", hide_env_values = true)]
    pub key: Option<String>,
}

/// The most of an answer read.
const MAX_ANSWER_BYTES: usize = 256 << 20;

impl Server {
    /// `method path` (`/v1/...`), JSON in and out; an error that says what
    /// the server said.
    pub fn call<T: DeserializeOwned>(&self, method: http::Method, path: &str) -> anyhow::Result<T> {
        self.send(method, path, None)
    }

    /// `method path` with a JSON body.
    pub fn call_with<T: DeserializeOwned>(
        &self,
        method: http::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<T> {
        self.send(method, path, Some(body))
    }

    fn send<T: DeserializeOwned>(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> anyhow::Result<T> {
        let Some(key) = &self.key else {
            bail!("the server needs the tenant's API key: pass --key or set SWITCHBOARD_KEY");
        };
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let everywhere = ["0.0.0.0/0", "::/0"].map(|network| network.parse().expect("a network"));
        let client = switchboard::delivery::client::Client::new(
            switchboard_runtime::OutboundPolicy::allowing(everywhere),
        )?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let body = body.map(|body| ("application/json", bytes::Bytes::from(body.to_string())));
        let (status, body) = runtime.block_on(client.api(method, &url, Some(key), body, MAX_ANSWER_BYTES))?;
        if !status.is_success() {
            let said = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|body| body["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            bail!("the server answered {status} for {url}: {said}");
        }
        // A 204 has no body: it decodes as null.
        let body: &[u8] = if body.is_empty() { b"null" } else { &body };
        serde_json::from_slice(body).with_context(|| format!("the answer from {url} did not decode"))
    }
}

/// `text` as one query-string value.
pub fn query_value(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}
