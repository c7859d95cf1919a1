//! Timers firing: a page of due timers, each conversation's under its
//! turn lock, one disk sync for the page.

use std::collections::BTreeMap;

use switchboard_core::conversation::{Effects, Setting};
use switchboard_store::{DueTimer, TurnRecord};

use super::turn::Applied;
use super::{Engine, EngineError, TurnOutcome, outbox};

/// How long timers of a tenant that is not loaded wait before the next try.
const ORPHAN_RETRY_MS: i64 = 60 * 60 * 1000;
/// When timers of a tenant that start-up is still loading are tried again.
const LOADING_RETRY_MS: i64 = 1000;

impl Engine {
    /// Fire a page of due timers (from [`Engine::due_timers`]): one atomic
    /// write per conversation, one disk sync for the page, then the page's
    /// index entries are settled (or, if firing failed, handed out again).
    /// Each conversation's timers fire under its turn lock, so they
    /// interleave with its messages in a definite order. Returns what each
    /// conversation did; an entry whose timer was already fired, moved or
    /// cancelled does nothing.
    pub fn fire_due(&self, due: &[DueTimer], now: i64) -> Result<Vec<TurnOutcome>, EngineError> {
        match self.fire_page(due, now) {
            Ok(outcomes) => {
                self.store.settle_timers(due, now)?;
                Ok(outcomes)
            }
            Err(error) => {
                if let Err(release) = self.store.release_timers(due.to_vec()) {
                    // Their lease runs out all the same, and they fall due again then.
                    tracing::warn!(%release, "could not release timers whose firing failed");
                }
                Err(error)
            }
        }
    }

    fn fire_page(&self, due: &[DueTimer], now: i64) -> Result<Vec<TurnOutcome>, EngineError> {
        let mut by_conversation: BTreeMap<(&str, &str), Vec<&DueTimer>> = BTreeMap::new();
        for timer in due {
            by_conversation.entry((&timer.tenant, &timer.conversation)).or_default().push(timer);
        }
        // Locks are taken in key order, and only the scheduler takes more than one.
        let mut held = Vec::with_capacity(by_conversation.len());
        let mut fired = Vec::with_capacity(by_conversation.len());
        let mut parked = Vec::new();
        for ((tenant_name, conversation_id), timers) in by_conversation {
            let Ok(tenant) = self.tenant(tenant_name) else {
                // The tenant is not loaded: try again later rather than drop
                // the timer or let it block the index; soon if start-up is
                // still loading it (its timers due during downtime are due).
                let retry = if self.is_loading(tenant_name) { LOADING_RETRY_MS } else { ORPHAN_RETRY_MS };
                parked.extend(timers.into_iter().map(|timer| (timer, Some(now + retry))));
                continue;
            };
            held.push(self.hold_turn(tenant_name, conversation_id)?);
            let _working = self.admission.working(tenant_name);
            // A conversation that is gone has nothing to fire.
            let Some(mut stored) = self.store.conversation(tenant_name, conversation_id)? else { continue };
            let flow = self.flow_for(&tenant, &stored.conversation.flow_version, &stored.plugin_pins)?;
            let setting = Setting { flow: &flow, calendar: &tenant.calendar };
            // Every timer of this conversation due by now, not only those on
            // this page: after downtime, one turn instead of one each. An
            // entry the conversation disagrees with (its timer fired, moved
            // or cancelled since) fires nothing.
            let effects = stored.conversation.fire_due_timers(setting, now);
            if effects == Effects::default() {
                continue;
            }
            let notices = self.notices(&tenant, &stored, &effects);
            let outbox = outbox::entries(&tenant, &stored, &effects, &notices);
            fired.push((tenant, stored, effects, outbox));
        }
        let turns: Vec<(&str, TurnRecord<'_>)> = fired
            .iter()
            .map(|(tenant, stored, effects, outbox)| {
                let record = TurnRecord {
                    stored,
                    events: &effects.events,
                    dedupe: None,
                    outbox,
                    timers: &effects.timers,
                };
                (tenant.name.as_str(), record)
            })
            .collect();
        self.store.commit_turns(&turns)?;
        drop(turns);
        let outcomes = fired
            .into_iter()
            .map(|(tenant, stored, effects, outbox)| {
                self.announce(Applied::turn(&tenant.name, &stored, effects).with_outbox(!outbox.is_empty()))
            })
            .collect();
        self.store.park_timers(&parked)?;
        drop(held);
        Ok(outcomes)
    }
}
