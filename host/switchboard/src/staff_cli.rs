//! `switchboard staff`: a tenant's people on a running server, with the
//! tenant's key: add or change one, list them, remove one, or make a
//! one-time login link.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{Value, json};

use crate::cli_api::{Server, query_value};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Add someone, or change their name, role or password.
    Add(AddArgs),
    /// Everyone on the tenant's staff.
    List(TenantArgs),
    /// Remove someone; their sessions end.
    Remove(PersonArgs),
    /// A link that signs someone in once, within 15 minutes.
    Link(PersonArgs),
}

#[derive(Debug, clap::Args)]
pub struct TenantArgs {
    #[arg(long)]
    tenant: String,
    #[command(flatten)]
    server: Server,
}

#[derive(Debug, clap::Args)]
pub struct PersonArgs {
    /// Their sign-in id, e.g. `lilit`.
    id: String,
    #[arg(long)]
    tenant: String,
    #[command(flatten)]
    server: Server,
}

#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Their sign-in id, e.g. `lilit`.
    id: String,
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    name: String,
    /// `agent` (works the inbox) or `admin` (also everything the tenant's key does).
    #[arg(long, default_value = "agent")]
    role: String,
    /// Read a password (8 characters or more) from the first line of stdin;
    /// without it, they sign in by link.
    #[arg(long)]
    password_stdin: bool,
    /// Their own messenger identity, where handoffs and approval requests
    /// reach them with buttons (`telegram:5551234`); repeat for several.
    #[arg(long = "contact")]
    contacts: Vec<String>,
    #[command(flatten)]
    server: Server,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Add(args) => {
            let mut body = json!({ "name": args.name, "role": args.role });
            if !args.contacts.is_empty() {
                body["contacts"] = json!(args.contacts);
            }
            if args.password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
                body["password"] = json!(line.trim_end_matches(['\r', '\n']));
            }
            let path = format!("/v1/tenants/{}/staff/{}", query_value(&args.tenant), query_value(&args.id));
            let added: Value = args.server.call_with(http::Method::PUT, &path, &body)?;
            println!("{} ({}) is {} of {}", added["name"], added["id"], added["role"], args.tenant);
        }
        Command::List(args) => {
            let listed: Value = args
                .server
                .call(http::Method::GET, &format!("/v1/tenants/{}/staff", query_value(&args.tenant)))?;
            for person in listed["staff"].as_array().into_iter().flatten() {
                let password = if person["has_password"] == true { "password" } else { "link only" };
                let contacts: Vec<&str> =
                    person["contacts"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                println!(
                    "{:<20} {:<30} {:<6} {password:<9} {}",
                    person["id"].as_str().unwrap_or_default(),
                    person["name"].as_str().unwrap_or_default(),
                    person["role"].as_str().unwrap_or_default(),
                    contacts.join(" ")
                );
            }
        }
        Command::Remove(args) => {
            let path = format!("/v1/tenants/{}/staff/{}", query_value(&args.tenant), query_value(&args.id));
            let _: Value = args.server.call(http::Method::DELETE, &path)?;
            println!("removed {} from {}", args.id, args.tenant);
        }
        Command::Link(args) => {
            let path = format!(
                "/v1/tenants/{}/staff/{}/login-link",
                query_value(&args.tenant),
                query_value(&args.id)
            );
            let link: Value = args.server.call(http::Method::POST, &path)?;
            println!(
                "{}{}",
                args.server.url.trim_end_matches('/'),
                link["path"].as_str().unwrap_or_default()
            );
            println!("(signs {} in once, within 15 minutes)", args.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
