//! Shared pieces: one runtime per test binary, paths, a fake order API.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use switchboard_runtime::{AllowedDestination, OutboundPolicy, Runtime, RuntimeConfig};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"))
}

pub fn plugin_dir() -> PathBuf {
    let dir = target_dir().join("plugins");
    assert!(
        dir.join("pricing_calculator.wasm").exists(),
        "{} is empty: run scripts/build-plugins.sh first",
        dir.display()
    );
    dir
}

pub fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let cache_dir = Some(target_dir().join("compile-cache"));
            Arc::new(
                Runtime::new(RuntimeConfig { cache_dir, ..RuntimeConfig::default() })
                    .expect("the runtime starts"),
            )
        })
        .clone()
}

/// A shop order API on loopback with fixed orders, for the web-shop tenant's
/// order-status plugin. Started once; answers every connection in turn.
/// Loopback is not public, so it is allowed in this process's outbound
/// policy, as an operator would (`serve --allow-outbound 127.0.0.1:PORT`).
pub fn fake_shop() -> SocketAddr {
    static SHOP: OnceLock<SocketAddr> = OnceLock::new();
    *SHOP.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        OutboundPolicy::allowing([AllowedDestination::address(addr)]).install().expect("the only policy");
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                    line.clear();
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let (status, body) = order(&path);
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        addr
    })
}

fn order(path: &str) -> (u16, &'static str) {
    match path {
        "/api/orders/A-1001" => (
            200,
            r#"{"id": "A-1001", "status": "in_transit", "expected_date": "2026-01-07",
               "last_scan": {"place": "Yerevan sorting hub", "at": "2026-01-05"},
               "tracking_url": "https://track.example/A-1001", "phone": "+37491000001", "email": "ani@example.com"}"#,
        ),
        "/api/orders/A-1002" => (
            200,
            r#"{"id": "A-1002", "status": "in_transit", "expected_date": "2025-12-28",
               "last_scan": {"place": "Gyumri depot"}, "phone": "+37491000002", "email": "aram@example.com"}"#,
        ),
        _ => (404, r#"{"error": "no such order"}"#),
    }
}

/// The variables tenant files are loaded with in tests.
pub fn vars(name: &str) -> Option<String> {
    match name {
        "SHOP_API" => Some(format!("http://{}", fake_shop())),
        "SHOP_HOST" => Some(fake_shop().to_string()),
        _ => None,
    }
}

/// A flow that needs no plugins: the opening hours, sent to an email.
pub const HOURS_FLOW: &str = include_str!("../../../../tests/fixtures/hours-flow.toml");

/// Write a tenant directory `dir/name` running [`HOURS_FLOW`]; `extra` is
/// appended to its tenant.toml (an API token, channel secrets).
pub fn write_tenant(dir: &std::path::Path, name: &str, extra: &str) -> PathBuf {
    let tenant = dir.join(name);
    std::fs::create_dir_all(&tenant).expect("mkdir");
    std::fs::write(tenant.join("flow.toml"), HOURS_FLOW).expect("write flow");
    let toml = format!(
        "name = \"{name}\"\nflow = \"flow.toml\"\nweb_chat = true\n{extra}\n[calendar]\ntimezone = \"UTC\"\n"
    );
    std::fs::write(tenant.join("tenant.toml"), toml).expect("write tenant");
    tenant
}
