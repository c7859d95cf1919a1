//! `switchboard plugin run`: a step that breaks shows its cause, its logs
//! and its traceback, and exits non-zero.

use std::process::Command;

use crate::support::plugin_dir;

#[test]
fn a_python_exception_shows_what_was_logged_the_traceback_and_the_typed_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("input.json");
    let step = r#"{"tenant": "shop", "conversation": "c-1", "step": "key-error", "channel": "telegram",
                   "contact": {"id": "c-1"}, "now": 1767585600000}"#;
    std::fs::write(&input, step).expect("input written");
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["plugin", "run"])
        .arg(plugin_dir().join("crashing_py.wasm"))
        .arg("--input")
        .arg(&input)
        .args(["--grants", r#"{"log": true}"#, "--no-cache"])
        .output()
        .expect("switchboard runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let expected = [
        "log INFO: looking up the deposit",
        "Traceback (most recent call last):",
        "in deposit",
        "error: step failed (exception): uncaught exception: KeyError: 'deposit'",
    ];
    let mut from = 0;
    for line in expected {
        let at =
            stderr[from..].find(line).unwrap_or_else(|| panic!("{line:?} after byte {from} in\n{stderr}"));
        from += at + line.len();
    }
}

#[test]
fn render_shows_what_the_customer_would_read_in_each_language_of_the_flow() {
    let root = crate::support::repo_root();
    let output = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["plugin", "run"])
        .arg(plugin_dir().join("pricing_calculator.wasm"))
        .arg("--input")
        .arg(root.join("examples/inputs/moving-quote.json"))
        .arg("--config")
        .arg(root.join("plugins/pricing-calculator/config/moving.json"))
        .arg("--render")
        .arg("--tenant")
        .arg(root.join("examples/moving"))
        .arg("--no-cache")
        .output()
        .expect("switchboard runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    for expected in [
        "── en",
        "Total: from 29,500 to 42,000 AMD",
        "── ru",
        "Итого: от 29 500 до 42 000 драм",
        "· quote.sent",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in\n{stdout}");
    }
}
