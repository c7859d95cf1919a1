//! **L1**: every open web chat session used to receive every live reply of
//! every tenant through one 1024-slot broadcast channel, and filter. So
//! each reply of a busy tenant woke every open session on the host, and a
//! burst could make other tenants' sessions fall behind and drop replies.
//! Each session now has a queue of its own, and only its visitor's replies
//! go into it.
//!
//! The cost shows as CPU time: the server's CPU per noisy reply must not
//! grow with the number of other tenants' open sessions, and those
//! sessions must still get every reply of their own.

use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

use crate::support::{Options, Server, connect_from, http_from, unlimited_yardstick};

/// Other tenants' open sessions, idle while the noise goes on.
const IDLE_SESSIONS: usize = 600;
/// Sessions per source address, under the per-address connection cap.
const SESSIONS_PER_ADDRESS: usize = 200;
/// Clients making the noise, each a new visitor per message.
const NOISY_CLIENTS: usize = 8;
const NOISE_TIME: Duration = Duration::from_secs(3);
/// The host's default web chat rate per tenant.
const NOISY_RATE_PER_MINUTE: u32 = 3_000;
/// How much more CPU a noisy reply may cost with the idle sessions open.
const CPU_GROWTH_ALLOWED: f64 = 1.5;
const REPLY_LIMIT: Duration = Duration::from_secs(10);

type Socket = WebSocket<TcpStream>;

fn open(server: &Server, from: IpAddr, tenant: &str, session: &str) -> Socket {
    let stream = connect_from(from, server.addr).expect("connects");
    let url = format!("ws://{}/v1/tenants/{tenant}/chat/{session}/ws", server.addr);
    let (socket, _) = tungstenite::client(url, stream).expect("a web chat session opens");
    socket
}

/// The next reply frame, if one comes within [`REPLY_LIMIT`].
fn next_reply(socket: &mut Socket) -> Option<Value> {
    socket.get_ref().set_read_timeout(Some(REPLY_LIMIT)).ok()?;
    loop {
        match socket.read() {
            Ok(Message::Text(text)) => {
                let frame: Value = serde_json::from_str(text.as_str()).ok()?;
                if frame["type"] == "reply" {
                    return Some(frame);
                }
            }
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

/// The noisy tenant's web chat, as fast as it answers, for [`NOISE_TIME`]:
/// how many replies it sent, and the server's CPU time per reply.
fn noise(server: &Server) -> (usize, Duration) {
    let stop = AtomicBool::new(false);
    let replies = AtomicUsize::new(0);
    let cpu_before = server.cpu_time();
    std::thread::scope(|scope| {
        for client in 0..NOISY_CLIENTS {
            let (stop, replies) = (&stop, &replies);
            scope.spawn(move || {
                let from = IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1));
                let mut visit = 0;
                while !stop.load(Ordering::SeqCst) {
                    visit += 1;
                    let body = json!({ "contact": { "id": format!("noisy-{client}-{visit}") }, "text": "Где мой заказ?" });
                    let sent = http_from(
                        from,
                        server.addr,
                        "POST",
                        "/v1/tenants/webshop/messages",
                        &[("content-type", "application/json")],
                        Some(&body.to_string()),
                    );
                    match sent {
                        Ok(response) if response.status == 429 => {
                            // The noise's CPU is this machine's too: no spinning.
                            std::thread::sleep(Duration::from_millis(20));
                        }
                        Ok(response) => {
                            let count = response.json()["replies"].as_array().map_or(0, Vec::len);
                            replies.fetch_add(count, Ordering::Relaxed);
                        }
                        Err(_) => {}
                    }
                }
            });
        }
        std::thread::sleep(NOISE_TIME);
        stop.store(true, Ordering::SeqCst);
    });
    let replies = replies.load(Ordering::Relaxed);
    let cpu = server.cpu_time().saturating_sub(cpu_before);
    (replies, cpu / u32::try_from(replies.max(1)).unwrap_or(u32::MAX))
}

#[test]
fn l1_one_tenants_replies_wake_no_other_tenants_sessions() {
    // The noisy tenant is held to the host's default web chat rate, as any
    // tenant is; the benign yardstick's tenant has a rate of its own.
    let options = Options::new().flag("--web-chat-per-tenant-per-minute", &NOISY_RATE_PER_MINUTE.to_string());
    let server = Server::start_with(options, |tenants| unlimited_yardstick(tenants, "web_chat_per_minute"));
    // A store that grows makes each turn dearer for a while: warm it up, and
    // take the baseline on both sides of the measurement.
    noise(&server);
    let (before_replies, before) = noise(&server);
    let mut idle: Vec<Socket> = (0..IDLE_SESSIONS)
        .map(|session| {
            let from = IpAddr::V4(Ipv4Addr::new(127, 0, 2, 1 + (session / SESSIONS_PER_ADDRESS) as u8));
            open(&server, from, "moving", &format!("idle-{session}"))
        })
        .collect();
    let (busy_replies, busy) = noise(&server);
    // And a benign tenant's quotes meanwhile (timed apart from the CPU
    // measurement, whose count they would swell).
    crate::support::with_benign(&server, || noise(&server));
    // Every idle session still gets its own replies.
    for socket in &mut idle {
        socket.send(Message::text(json!({ "text": "Сколько стоит переезд?" }).to_string())).expect("sends");
    }
    let lost = idle.iter_mut().map(next_reply).filter(Option::is_none).count();
    drop(idle);
    let (after_replies, after) = noise(&server);
    eprintln!(
        "server CPU per noisy reply: {before:?} ({before_replies} replies) and {after:?} ({after_replies}) \
         alone, {busy:?} ({busy_replies}) with {IDLE_SESSIONS} other sessions open"
    );
    assert!(before_replies.min(busy_replies).min(after_replies) > 50, "too little noise to measure");
    assert_eq!(lost, 0, "{lost} of {IDLE_SESSIONS} sessions got no reply of their own");
    let alone = (before.as_secs_f64() + after.as_secs_f64()) / 2.0;
    let growth = busy.as_secs_f64() / alone.max(1e-9);
    assert!(
        growth < CPU_GROWTH_ALLOWED,
        "a noisy reply cost {growth:.2}x the CPU with other tenants' sessions open: they are woken for it"
    );
}
