//! **S3** (issue 18): a tenant's flow made the host's scheduler work for
//! ever. Two timers set each other off through the events they record when
//! they fire (`event`, `on`); with `after = "0m"` the scheduler would fire
//! them on every pass, writing events without end on the host's disk and
//! CPU. `flow check` refuses the loop, so the flow is never loaded.

use crate::support::{Options, Server, bearer, with_benign};

const LOOPING: &str = r#"version = "loop-1"
default_locale = "en"
menu.en = "Say go."
signals = []
[[intents]]
name = "go"
title.en = "Go"
triggers.en = ["go"]
[intents.done]
reply.en = "Done."
state = "resolved"
event = "went"
[[timers]]
kind = "ping"
on = "went"
after = "0m"
event = "ping.fired"
say.en = "ping"
[[timers]]
kind = "pong"
on = "ping.fired"
after = "0m"
event = "went"
say.en = "pong"
"#;

#[test]
fn s3_timers_that_set_each_other_off_are_refused_before_they_load() {
    let server = Server::start(Options::new());
    with_benign(&server, || {
        let key = server.create_tenant("looper");
        let auth = bearer(&key);
        let response =
            server.put_toml("/v1/tenants/looper/flow", &[("authorization", auth.as_str())], LOOPING);
        assert_eq!(response.status, 422, "{}", response.body);
        assert!(response.body.contains("set each other off"), "{}", response.body);
    });
}
