//! `switchboard chat`: talk to a tenant's flow in the terminal, seeing the
//! decisions and events of every turn as they happen.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use switchboard_core::contract::{Channel, Contact};
use switchboard_core::conversation::Outbound;
use switchboard_core::event::EventBody;
use switchboard_runtime::{Runtime, RuntimeConfig};
use switchboard_store::Store;

use switchboard::engine::{Engine, InboundMessage};
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
    let tenant = Tenant::load(&args.tenant, &args.plugins, &runtime, &|name| std::env::var(name).ok())?;
    let store = match &args.data {
        Some(path) => Store::open(path)?,
        None => Store::temporary()?,
    };
    let name = tenant.name.clone();
    println!(
        "Talking to {} ({}) on {:?}. Type a message; /tap N taps a button; /quit ends.",
        tenant.display_name, name, args.channel
    );
    let engine = Engine::new(store, runtime);
    engine.add_tenant(tenant)?;
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
            at: jiff::Timestamp::now().as_millisecond(),
        };
        let outcome = engine.handle(&name, message)?;
        buttons.clear();
        for reply in &outcome.replies {
            print_reply(reply, &mut buttons);
        }
        if !args.quiet {
            for event in &outcome.events {
                if !matches!(event.body, EventBody::MessageReceived { .. } | EventBody::MessageSent { .. }) {
                    let data =
                        serde_json::to_value(&event.body).ok().and_then(|value| value.get("data").cloned());
                    println!(
                        "    · {} {}",
                        event.body.name(),
                        data.map(|data| data.to_string()).unwrap_or_default()
                    );
                }
            }
        }
        print!("you> ");
        std::io::stdout().flush()?;
    }
    Ok(ExitCode::SUCCESS)
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
