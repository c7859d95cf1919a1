//! `switchboard chat`: talk to a tenant's flow in the terminal, seeing the
//! decisions and events of every turn as they happen.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use switchboard_core::contract::{Channel, Contact};
use switchboard_core::conversation::Outbound;
use switchboard_core::event::{DomainEvent, EventBody};
use switchboard_runtime::{Runtime, RuntimeConfig};
use switchboard_store::Store;

use switchboard::engine::{Engine, InboundMessage};
use switchboard::scheduler::{self, Clock, ManualClock};
use switchboard::tenant::Tenant;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The tenant directory (holding tenant.toml), e.g. examples/moving.
    #[arg(long)]
    tenant: PathBuf,
    #[arg(long, default_value = "whatsapp", value_parser = parse_channel)]
    channel: Channel,
    /// The customer's language to start with (it follows what they write).
    #[arg(long, default_value = "en")]
    locale: String,
    /// Where compiled plugin components are.
    #[arg(long, default_value = "target/plugins")]
    plugins: PathBuf,
    /// Keep the conversation in this sled directory (default: in memory).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Hide the events under each reply.
    #[arg(long)]
    quiet: bool,
}

pub fn parse_channel(text: &str) -> Result<Channel, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| "expected whatsapp, telegram, messenger, instagram, webchat or internal".to_owned())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime =
        Arc::new(Runtime::new(RuntimeConfig { cache_dir: crate::cache_dir(), ..RuntimeConfig::default() })?);
    let tenant = Tenant::load(&args.tenant, &args.plugins, &runtime, &switchboard::tenant::env_var)?;
    let store = match &args.data {
        Some(path) => Store::open(path)?,
        None => Store::temporary()?,
    };
    let name = tenant.name.clone();
    println!(
        "Talking to {} ({}) on {:?}. Type a message; /tap N taps a button; /timers lists what is\n\
         scheduled; /advance 2h (or 30m, 3d) moves the clock and fires what falls due; /quit ends.",
        tenant.display_name, name, args.channel
    );
    let zone = tenant.calendar.zone().clone();
    let engine = Engine::new(store, runtime);
    engine.add_tenant(tenant)?;
    let clock = ManualClock::new(jiff::Timestamp::now().as_millisecond());
    let conversation_id = "terminal".to_owned();
    let contact = Contact {
        id: "terminal".to_owned(),
        display_name: Some("You".to_owned()),
        locale: args.locale.clone(),
    };
    let mut buttons: Vec<(String, String)> = Vec::new();
    let stdin = std::io::stdin();
    print!("you> ");
    std::io::stdout().flush()?;
    for line in stdin.lock().lines() {
        let line = line.context("failed to read stdin")?;
        let line = line.trim();
        if line == "/quit" {
            break;
        }
        if line.is_empty() {
            print!("you> ");
            std::io::stdout().flush()?;
            continue;
        }
        if line == "/timers" {
            print_timers(&engine, &name, &conversation_id, clock.now_ms(), &zone)?;
            print!("you> ");
            std::io::stdout().flush()?;
            continue;
        }
        if let Some(by) = line.strip_prefix("/advance") {
            match parse_duration(by.trim()) {
                Some(by) => advance(&engine, &conversation_id, &clock, by, &zone, &mut buttons)?,
                None => println!("  usage: /advance 45m, /advance 2h or /advance 3d"),
            }
            print!("you> ");
            std::io::stdout().flush()?;
            continue;
        }
        let (text, payload) = match line.strip_prefix("/tap ").and_then(|n| n.trim().parse::<usize>().ok()) {
            Some(n) if (1..=buttons.len()).contains(&n) => {
                (buttons[n - 1].0.clone(), Some(buttons[n - 1].1.clone()))
            }
            _ => (line.to_owned(), None),
        };
        let message = InboundMessage {
            channel: args.channel,
            contact: contact.clone(),
            text,
            payload,
            message_id: None,
            at: clock.now_ms(),
        };
        let outcome = engine.handle(&name, message)?;
        buttons.clear();
        for reply in &outcome.replies {
            print_reply(reply, &mut buttons);
        }
        if !args.quiet {
            print_events(&outcome.events);
        }
        print!("you> ");
        std::io::stdout().flush()?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_events(events: &[DomainEvent]) {
    for event in events {
        if !matches!(event.body, EventBody::MessageReceived { .. } | EventBody::MessageSent { .. }) {
            let data = serde_json::to_value(&event.body).ok().and_then(|value| value.get("data").cloned());
            println!("    · {} {}", event.body.name(), data.map(|data| data.to_string()).unwrap_or_default());
        }
    }
}

/// `45m`, `2h`, `3d`.
fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
    let number: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "m" | "min" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return None,
    };
    Some(Duration::from_secs(number * seconds))
}

fn local(at: i64, zone: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(at)
        .map(|at| at.to_zoned(zone.clone()).strftime("%a %d.%m %H:%M").to_string())
        .unwrap_or_default()
}

fn print_timers(
    engine: &Engine,
    tenant: &str,
    conversation: &str,
    now: i64,
    zone: &jiff::tz::TimeZone,
) -> anyhow::Result<()> {
    let stored = engine.conversation(tenant, conversation)?;
    let mut timers: Vec<_> =
        stored.map(|stored| stored.conversation.timers.into_iter().collect()).unwrap_or_default();
    timers.sort_by_key(|(_, timer)| timer.due_at);
    println!("  now: {}", local(now, zone));
    if timers.is_empty() {
        println!("  no timers pending");
    }
    for (key, timer) in timers {
        let minutes = (timer.due_at - now) / 60_000;
        let note = if timer.cancel_on_reply { ", a reply cancels it" } else { "" };
        println!("  {key}: {} (in {}h{:02}m{note})", local(timer.due_at, zone), minutes / 60, minutes % 60);
    }
    Ok(())
}

/// Move the simulated clock, firing each timer as it falls due, and show
/// what the timers said.
fn advance(
    engine: &Engine,
    conversation: &str,
    clock: &ManualClock,
    by: Duration,
    zone: &jiff::tz::TimeZone,
    buttons: &mut Vec<(String, String)>,
) -> anyhow::Result<()> {
    let until = clock.now_ms() + i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 2);
    let mut said = false;
    while let Some(due) = engine.next_due()?.filter(|due| *due <= until) {
        clock.set(clock.now_ms().max(due));
        let page = engine.due_timers(clock.now_ms(), scheduler::PAGE)?;
        for outcome in engine.fire_due(&page, clock.now_ms())? {
            if outcome.conversation != conversation {
                continue;
            }
            println!("  ── {} ──", local(clock.now_ms(), zone));
            buttons.clear();
            for reply in &outcome.replies {
                print_reply(reply, buttons);
            }
            print_events(&outcome.events);
            said = true;
        }
    }
    clock.set(until);
    if !said {
        println!("  (nothing fell due; now {})", local(until, zone));
    }
    Ok(())
}

fn print_reply(reply: &Outbound, buttons: &mut Vec<(String, String)>) {
    for (index, line) in reply.text.lines().enumerate() {
        println!("{} {line}", if index == 0 { "bot>" } else { "    " });
    }
    if !reply.quick_replies.is_empty() {
        let shown: Vec<String> = reply
            .quick_replies
            .iter()
            .map(|option| {
                buttons.push((option.title.clone(), option.payload.clone()));
                format!("[{}] {}", buttons.len(), option.title)
            })
            .collect();
        println!("     {}", shown.join("  "));
    }
}
