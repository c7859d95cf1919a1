//! The demo's people (`serve --demo`): every queue owner of every demo
//! tenant becomes an agent, and `admin` its admin, all with the password
//! `demo-password`; then a one-time link that signs in salon's front desk
//! (or the first tenant's) is printed, so the README's demo opens the
//! console signed in. They are marked as the demo's: with a published
//! password, they sign in only while the server runs with `--demo`.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Engine, Role};

pub const PASSWORD: &str = "demo-password";

/// Wait for the tenants to load, add their people, print the link.
pub async fn seed_staff(engine: Arc<Engine>, base: String) {
    for _ in 0..600 {
        if engine.unavailable().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let seeded = tokio::task::spawn_blocking(move || seed(&engine)).await;
    match seeded {
        Ok(Ok(Some((tenant, agent, token)))) => eprintln!(
            "console: {base}/console/#/link/{token}\n  (signs in once as {agent}, {tenant}'s agent; every demo person's password is {PASSWORD})"
        ),
        Ok(Ok(None)) => {}
        Ok(Err(error)) => tracing::warn!(%error, "could not add the demo's people"),
        Err(joined) => tracing::error!(%joined, "adding the demo's people panicked"),
    }
}

fn seed(engine: &Engine) -> Result<Option<(String, String, String)>, crate::engine::EngineError> {
    let now = jiff::Timestamp::now().as_millisecond();
    let mut first = None;
    let mut names = engine.tenant_names();
    // The salon first: its front desk is the README's walk-through.
    names.sort_by_key(|name| (name != "salon", name.clone()));
    for name in names {
        let tenant = engine.tenant(&name)?;
        let mut people: Vec<String> = tenant
            .flow
            .queues
            .iter()
            .flat_map(|queue| [queue.owner.clone(), queue.after_hours_owner.clone()])
            .flatten()
            .filter(|id| crate::engine::valid_staff_id(id))
            .collect();
        people.dedup();
        for id in &people {
            if engine.staff_member(&name, id)?.is_none() {
                engine.put_staff(&name, id, &title(id), Role::Agent, Some(PASSWORD), true, now)?;
            }
        }
        if engine.staff_member(&name, "admin")?.is_none() {
            engine.put_staff(&name, "admin", "Admin", Role::Admin, Some(PASSWORD), true, now)?;
        }
        if first.is_none()
            && let Some(agent) = people.first()
            && let Some(token) = engine.login_link(&name, agent, now)?
        {
            first = Some((name.clone(), agent.clone(), token));
        }
    }
    Ok(first)
}

/// `owner-on-call` as `Owner on call`.
fn title(id: &str) -> String {
    let spaced = id.replace(['-', '_', '.'], " ");
    let mut chars = spaced.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
