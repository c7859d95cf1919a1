//! `switchboard store migrate` on a store a real `serve` wrote: a sled
//! deployment moves into PostgreSQL, the command checks every record
//! arrived, and a node on PostgreSQL serves the tenant on from where the
//! sled one left off, with the same event log under the same cursors.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::crash::serve_in_env;
use crate::nodes_killed::{events, fake_telegram, request};
use crate::scheduler::{SECRET, TOKEN, write_telegram_tenant};
use crate::support::postgres_database;

fn say(addr: &str, user: i64, update_id: i64, text: &str) {
    let update = json!({
        "update_id": update_id,
        "message": { "message_id": update_id, "date": 1_767_600_000,
                     "from": { "id": user, "is_bot": false, "first_name": "A" },
                     "chat": { "id": user, "type": "private" }, "text": text }
    });
    let headers = [("x-telegram-bot-api-secret-token", SECRET)];
    let (status, answer) =
        request(addr, "POST", "/webhooks/alpha/telegram", &headers, &update).expect("answers");
    assert_eq!(status, 200, "{answer}");
}

/// A page of the event log after `after`, as an API reader holding that
/// cursor gets it.
fn page(addr: &str, after: u64) -> Value {
    let auth = format!("Bearer {TOKEN}");
    let path = format!("/v1/tenants/alpha/events?limit=3&after={after}");
    let (status, page) =
        request(addr, "GET", &path, &[("authorization", &auth)], &Value::Null).expect("answers");
    assert_eq!(status, 200, "{page}");
    page
}

fn migrate(from: &str, to: &str, extra: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["store", "migrate", "--from", from, "--to", to])
        .args(extra)
        .env_remove("SWITCHBOARD_SECRETS_KEY")
        .output()
        .expect("switchboard runs");
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn a_sled_deployment_moves_into_postgres_and_serves_on_from_there() {
    let url = postgres_database();
    let (api, _provider) = fake_telegram(Duration::ZERO);
    let dir = tempfile::tempdir().expect("temp dir");
    let (tenants, data) = (dir.path().join("tenants"), dir.path().join("data"));
    write_telegram_tenant(&tenants, &api, "");
    let from = format!("sled:{}", data.display());

    let (mut sled_node, addr) = serve_in_env(&tenants, &data, &[], &[]);
    for (update, (user, text)) in
        [(1, "hours?"), (2, "Բարև"), (1, "and on Sunday?"), (3, "привет")].into_iter().enumerate()
    {
        say(&addr, user, 100 + update as i64, text);
    }
    let before = events(&addr);
    let first_page = page(&addr, 2);
    assert!(before.len() >= 4, "{before:?}");
    let (moved, said) = migrate(&from, &url, &[]);
    assert!(!moved, "a store in use is not moved");
    assert!(said.contains("stop `switchboard serve` first"), "{said}");
    sled_node.kill().expect("kill");
    sled_node.wait().expect("reaped");

    // A tenant directory serve never loaded: nothing of it is in the
    // store, and the report says to import it.
    std::fs::create_dir_all(tenants.join("gamma")).expect("mkdir");
    std::fs::write(tenants.join("gamma/tenant.toml"), "name = \"gamma\"\n").expect("write");
    let tenants_flag = tenants.display().to_string();
    let (moved, report) = migrate(&from, &url, &["--tenants", &tenants_flag]);
    assert!(moved, "{report}");
    println!("{report}");
    assert!(report.contains("every record arrived"), "{report}");
    for kind in ["conversations", "events", "dedupe ids", "tenant catalog", "blobs"] {
        assert!(report.lines().any(|line| line.contains(kind) && line.ends_with('✓')), "{kind} in\n{report}");
    }
    assert!(!report.contains('✗'), "{report}");
    assert!(report.contains("secrets.key"), "says which key the nodes need:\n{report}");
    assert!(report.contains("(gamma)") && report.contains("tenants import"), "{report}");
    let (again, refused) = migrate(&from, &url, &[]);
    assert!(!again, "{refused}");
    assert!(refused.contains("holds") && refused.contains("empty database"), "{refused}");

    // A node on PostgreSQL, with no tenant directory of its own: the
    // tenant comes out of the moved catalog, unsealed with sled's key.
    let key = std::fs::read_to_string(data.join("secrets.key")).expect("sled's key");
    let env = [("SWITCHBOARD_SECRETS_KEY", key.trim())];
    let (pg_tenants, pg_data) = (dir.path().join("pg/tenants"), dir.path().join("pg/data"));
    std::fs::create_dir_all(&pg_tenants).expect("mkdir");
    let (mut pg_node, pg_addr) = serve_in_env(&pg_tenants, &pg_data, &["--store", &url], &env);
    assert_eq!(events(&pg_addr), before, "the same log");
    assert_eq!(page(&pg_addr, 2), first_page, "a reader's cursor reads the same page");
    // A retried update is still a duplicate, and the customer carries on.
    say(&pg_addr, 1, 100, "hours?");
    assert_eq!(events(&pg_addr), before, "the retry was known as one");
    say(&pg_addr, 1, 200, "thanks");
    let after = events(&pg_addr);
    assert!(after.len() > before.len());
    assert_eq!(&after[..before.len()], &before[..]);
    let new: Vec<&Value> =
        after[before.len()..].iter().filter(|event| event["type"] == "message.received").collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!(new[0]["conversation"], "telegram:1");
    pg_node.kill().expect("kill");
    let _ = pg_node.wait();
}
