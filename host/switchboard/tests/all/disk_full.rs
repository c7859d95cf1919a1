//! A full disk, on a filesystem the test makes for itself: a small tmpfs in
//! a mount namespace of its own (`unshare`), which nothing outside the test
//! sees and which is gone when the test ends.
//!
//! The test re-runs itself inside the namespace (as root there: a user
//! namespace maps the caller to root, so this needs no privileges), and the
//! server it starts inherits it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use switchboard::engine::StoreHealth;
use switchboard_core::contract::{Channel, Contact};
use switchboard_core::conversation::{Conversation, ScheduledTimer};
use switchboard_core::flow::Flow;
use switchboard_store::{Store, StoreError, StoredConversation, TurnRecord};

use crate::crash::serve_with;
use crate::support::{HOURS_FLOW, write_tenant};

/// Set inside the namespace, to the tmpfs's mount point.
const SMALL_DISK: &str = "SWITCHBOARD_TEST_SMALL_DISK";

#[test]
fn a_full_disk_refuses_writes_with_503_serves_reads_and_recovers_in_process_losing_nothing() {
    let Some(disk) = small_disk(
        "a_full_disk_refuses_writes_with_503_serves_reads_and_recovers_in_process_losing_nothing",
        32,
    ) else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let tenants = dir.path().join("tenants");
    write_tenant(&tenants, "alpha", "api_token = \"token-alpha\"");
    let data = disk.join("data");
    let server = Server::start(&tenants, &data);

    let mut acknowledged = Vec::new();
    let first = server.say("c0", "m0");
    assert_eq!(first.status, 200, "{}", first.body);
    acknowledged.push(("c0".to_owned(), "m0".to_owned()));

    // Fill the disk, then keep writing until the store refuses.
    let filler = disk.join("filler");
    fill(&filler);
    let mut refused = None;
    for index in 1..5_000 {
        let (contact, id) = (format!("c{index}"), format!("m{index}"));
        let answer = server.say(&contact, &id);
        match answer.status {
            200 => acknowledged.push((contact, id)),
            503 => {
                refused = Some((contact, id, answer));
                break;
            }
            other => panic!("a write on a full disk answered {other}: {}", answer.body),
        }
    }
    let (contact, id, answer) = refused.expect("the store refused a write once the disk was full");
    eprintln!("{} messages went in on the full disk before the store refused one", acknowledged.len() - 1);
    let code = answer.body["error"]["code"].as_str().unwrap_or_default().to_owned();
    assert!(code == "storage_full" || code == "store_unavailable", "{}", answer.body);
    assert!(answer.retry_after.is_some(), "a 503 says when to retry");

    // Still full: writes are refused, reads are served, and /readyz says why.
    let again = server.say("someone-new", "m-new");
    assert_eq!(again.status, 503, "{}", again.body);
    let read = server.get("/v1/tenants/alpha/conversations");
    assert_eq!(read.status, 200, "reads keep working: {}", read.body);
    assert!(read.body.to_string().contains("c0"), "{}", read.body);
    let ready = server.get("/readyz");
    assert_eq!(ready.status, 503);
    assert!(ready.body["reason"].as_str().is_some_and(|reason| reason.contains("writes")), "{}", ready.body);

    // Space returns: the store reopens in-process, and writes go in again.
    std::fs::remove_file(&filler).expect("free the disk");
    let started = Instant::now();
    while server.get("/readyz").status != 200 {
        assert!(started.elapsed() < Duration::from_secs(30), "the store did not recover once space returned");
        std::thread::sleep(Duration::from_millis(100));
    }
    let retried = server.say(&contact, &id);
    assert_eq!(retried.status, 200, "the refused message goes in on retry: {}", retried.body);
    acknowledged.push((contact, id));
    for index in 0..20 {
        let (contact, id) = (format!("after{index}"), format!("after-m{index}"));
        let answer = server.say(&contact, &id);
        assert_eq!(answer.status, 200, "{}", answer.body);
        acknowledged.push((contact, id));
    }

    // Everything acknowledged, before the disk filled and after, survives
    // kill -9: each retry is a duplicate.
    server.kill();
    let server = Server::start(&tenants, &data);
    for (contact, id) in &acknowledged {
        let answer = server.say(contact, id);
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["duplicate"], true, "acknowledged {id} of {contact} was lost");
    }
    assert!(acknowledged.len() > 2, "only {} messages went in", acknowledged.len());
}

#[test]
fn timers_accepted_before_during_and_after_a_full_disk_all_fall_due() {
    let Some(disk) = small_disk("timers_accepted_before_during_and_after_a_full_disk_all_fall_due", 16)
    else {
        return;
    };
    let store = Store::open(&disk.join("data")).expect("store");
    let flow = Flow::parse("flow.toml", HOURS_FLOW, &BTreeSet::new()).expect("flow");
    // Every timer of the test falls due in minute A, so a torn record there
    // would hide the ones after it; minute B only pads the journal.
    let (minute_a, minute_b) = (10 * 60_000, 70 * 60_000);
    let commit = |index: i64, minute: i64| {
        // Fixed widths: every record is the same size.
        let id = format!("telegram:{index:05}");
        let contact = Contact { id: id.clone(), display_name: None, locale: "en".into() };
        let conversation = Conversation::new(&id, "acme", Channel::Telegram, contact, &flow, 0);
        let stored = StoredConversation::new(conversation, BTreeMap::new());
        let timers =
            [ScheduledTimer { key: format!("t{index:05}"), kind: "remind".into(), due_at: minute + index }];
        let turn = TurnRecord { stored: &stored, events: &[], dedupe: None, outbox: &[], timers: &timers };
        store.commit_turn("acme", &turn)
    };
    let timer_log = disk.join("data").join("timers");
    let (file_a, journal) =
        (timer_log.join(format!("{:020}.log", minute_a / 60_000)), timer_log.join("journal"));
    let len = |path: &Path| std::fs::metadata(path).map_or(0, |meta| meta.len());
    let page = page_size();
    let mut accepted = Vec::new();
    let mut sizes = Vec::new();
    for index in 0..3 {
        commit(index, minute_a).expect("before the disk fills");
        accepted.push(index);
        sizes.push((len(&file_a), len(&journal)));
    }
    let (record, entry) = (sizes[2].0 - sizes[1].0, sizes[2].1 - sizes[1].1);
    let mut index = 3;
    // Minute A's file ends within one record of a page's end, so its next
    // record needs a page a full disk cannot give ...
    while page - len(&file_a) % page >= record {
        commit(index, minute_a).expect("before the disk fills");
        accepted.push(index);
        index += 1;
    }
    // ... while the journal, written first, has room for its whole entry.
    while page - len(&journal) % page < entry {
        commit(index, minute_b).expect("before the disk fills");
        index += 1;
    }

    let filler = disk.join("filler");
    fill(&filler);
    let refused = commit(index, minute_a).expect_err("the full disk cuts minute A's record short");
    assert!(matches!(refused, StoreError::TimerLog(_)), "{refused}");
    index += 1;

    std::fs::remove_file(&filler).expect("free the disk");
    if store.health() != StoreHealth::Writable {
        store.reopen().expect("reopens once there is room");
    }
    for index in index..index + 20 {
        commit(index, minute_a).expect("after the disk has room again");
        accepted.push(index);
    }
    let lost = |store: &Store| {
        let due: BTreeSet<String> = store
            .due_timers(minute_a + 2 * 60_000, 100_000)
            .expect("due")
            .into_iter()
            .map(|timer| timer.key)
            .collect();
        accepted.iter().filter(|index| !due.contains(&format!("t{index:05}"))).copied().collect::<Vec<_>>()
    };
    assert_eq!(lost(&store), [] as [i64; 0], "accepted timers that never fall due");
    drop(store);
    let store = Store::open(&disk.join("data")).expect("opens again");
    assert_eq!(lost(&store), [] as [i64; 0], "accepted timers that never fall due after a restart");
}

/// Outside the namespace: re-run `test` alone inside a new one, assert it
/// passed, and return `None`. Inside: mount a tmpfs of `mib` MiB and
/// return where.
fn small_disk(test: &str, mib: u64) -> Option<PathBuf> {
    if let Some(mounted) = std::env::var_os(SMALL_DISK) {
        return Some(PathBuf::from(mounted));
    }
    let mount_point = tempfile::tempdir().expect("temp dir");
    let is_root = std::fs::metadata("/proc/self").map(|meta| std::os::unix::fs::MetadataExt::uid(&meta) == 0);
    let mut unshare = Command::new("unshare");
    if !is_root.unwrap_or(false) {
        unshare.args(["--user", "--map-root-user"]);
    }
    let script = format!("mount -t tmpfs -o size={mib}m switchboard-test \"$1\" && shift && exec \"$@\"");
    let status = unshare
        .args(["--mount", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(mount_point.path())
        .arg(std::env::current_exe().expect("the test binary"))
        .args([&format!("disk_full::{test}"), "--exact", "--nocapture", "--test-threads=1"])
        .env(SMALL_DISK, mount_point.path())
        .status()
        .expect("unshare (util-linux) runs: it makes the test's own small filesystem");
    assert!(status.success(), "the test failed inside its namespace ({status}); its output is above");
    None
}

/// The memory page size, tmpfs's unit of allocation.
fn page_size() -> u64 {
    let output = Command::new("getconf").arg("PAGESIZE").output().expect("getconf runs");
    String::from_utf8_lossy(&output.stdout).trim().parse().expect("a page size")
}

/// Write zeroes to `path` until the filesystem is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).expect("filler");
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match file.write_all(&chunk).and_then(|()| file.sync_all()) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::StorageFull => return,
            Err(error) => panic!("filling the disk: {error}"),
        }
    }
}

/// `switchboard serve`, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

impl Server {
    fn start(tenants: &Path, data: &Path) -> Self {
        let (child, addr) = serve_with(
            tenants,
            data,
            &[
                "--min-free-disk-mib",
                "2",
                "--web-chat-per-ip-per-minute",
                "100000",
                "--web-chat-per-tenant-per-minute",
                "100000",
            ],
        );
        Self { child, addr }
    }

    fn say(&self, contact: &str, message_id: &str) -> Answer {
        let body =
            json!({ "contact": { "id": contact }, "text": "what are your hours?", "message_id": message_id });
        self.request("POST", "/v1/tenants/alpha/messages", Some(&body))
    }

    fn get(&self, path: &str) -> Answer {
        self.request("GET", path, None)
    }

    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut stream = TcpStream::connect(&self.addr).expect("connect");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer token-alpha\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let (head, body) = response.split_once("\r\n\r\n").expect("a response");
        let status = head.get(9..12).and_then(|code| code.parse().ok()).expect("a status");
        let retry_after = head.lines().find_map(|line| {
            line.to_ascii_lowercase().strip_prefix("retry-after:").map(|value| value.trim().to_owned())
        });
        Answer {
            status,
            retry_after,
            body: serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())),
        }
    }

    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
