//! Kill -9 the server between two messages: what it acknowledged is still
//! there on restart, and a provider's retry of an acknowledged message is
//! recognised as a duplicate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

use crate::support::{plugin_dir, write_tenant};

/// Start `switchboard serve`; its address once it listens and is ready
/// (it loads tenants after it starts listening).
pub fn serve(tenants: &Path, data: &Path) -> (Child, String) {
    serve_with(tenants, data, &[])
}

/// [`serve`] with `extra` arguments.
pub fn serve_with(tenants: &Path, data: &Path, extra: &[&str]) -> (Child, String) {
    serve_in_env(tenants, data, extra, &[])
}

/// [`serve_with`], with `env` set for the server.
pub fn serve_in_env(tenants: &Path, data: &Path, extra: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .envs(env.iter().copied())
        .args(["serve", "--listen", "127.0.0.1:0", "--tenants"])
        .arg(tenants)
        .arg("--plugins")
        .arg(plugin_dir())
        .arg("--data")
        .arg(data)
        // The fake providers of scheduler.rs are on loopback.
        .args(["--allow-outbound", "127.0.0.1"])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("switchboard starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("the server says where it listens").expect("a line");
        if let Some(rest) = line.strip_prefix("switchboard is listening on http://") {
            break rest.trim_end_matches('/').to_owned();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let started = std::time::Instant::now();
    while !is_ready(&addr) {
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "serve did not get ready");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (child, addr)
}

fn is_ready(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else { return false };
    let request = format!("GET /readyz HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    let mut response = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut response).is_ok()
        && response.starts_with("HTTP/1.1 200")
}

fn post(addr: &str, path: &str, body: &Value) -> Value {
    let body = body.to_string();
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a response");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    serde_json::from_str(body).expect("JSON")
}

fn say(addr: &str, text: &str, message_id: &str) -> Value {
    post(
        addr,
        "/v1/tenants/alpha/messages",
        &json!({ "contact": { "id": "c1" }, "text": text, "message_id": message_id }),
    )
}

#[test]
fn an_acknowledged_message_survives_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_tenant(&dir.path().join("tenants"), "alpha", "");
    let data = dir.path().join("data");

    let (mut first, addr) = serve(&dir.path().join("tenants"), &data);
    let reply = say(&addr, "what are your hours?", "wamid.1");
    assert_eq!(reply["replies"][0]["text"], "Your email, so we can send them?");
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");

    let (mut second, addr) = serve(&dir.path().join("tenants"), &data);
    let retry = say(&addr, "what are your hours?", "wamid.1");
    assert_eq!(retry["duplicate"], true, "the retried delivery is not answered twice");
    let reply = say(&addr, "ani@example.com", "wamid.2");
    assert_eq!(
        reply["replies"][0]["text"], "Sent to ani@example.com.",
        "the conversation went on where it was"
    );
    second.kill().expect("SIGKILL");
    second.wait().expect("reaped");
}
