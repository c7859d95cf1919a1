//! What runs beside the traffic: the scheduler's view of the timer index,
//! retention sweeps, and retiring a removed tenant.

use switchboard_core::event::DomainEvent;
use switchboard_store::{Cutoffs, DueTimer, StoreError, StoredConversation, Swept, TurnLock};

use crate::PgStore;
use crate::scope::{Scope, execute, in_scope, in_tenant, query, query_opt};
use crate::turns::decode;

const NEXT_DUE: &str =
    "SELECT min(due_at) FROM timers WHERE lease_until IS NULL OR lease_until < clock_timestamp()";
const PENDING: &str = "SELECT count(*) FROM timers";
const PARK: &str = "INSERT INTO timers (tenant, conversation, key, due_at) \
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) ON CONFLICT DO NOTHING";
const CURSOR: &str = "SELECT last_seq FROM event_heads WHERE tenant = $1";

/// Event records whose newest event is older than the cutoff, a page of them.
const EXPIRED_RECORDS: &str = "SELECT seq FROM events WHERE tenant = $1 GROUP BY seq \
     HAVING max(at) < $2 ORDER BY seq LIMIT 500";
const RECORD_EVENTS: &str =
    "SELECT seq, event FROM events WHERE tenant = $1 AND seq = ANY($2) ORDER BY seq, idx";
const REMOVE_RECORDS: &str = "DELETE FROM events WHERE tenant = $1 AND seq = ANY($2)";
const REMOVE_DEDUPE: &str = "DELETE FROM inbound WHERE tenant = $1 AND handled_at < $2";
const REMOVE_CALLS: &str = "DELETE FROM step_calls WHERE tenant = $1 AND at < $2";
const IDLE_CANDIDATES: &str = "SELECT id FROM conversations WHERE tenant = $1 \
     AND updated_at < $2 AND id > $3 ORDER BY id LIMIT 500";
/// The conversation's turn lock across nodes, if no node holds it.
const TRY_TURN_LOCK: &str = "SELECT pg_try_advisory_xact_lock(hashtextextended($1 || chr(31) || $2, 0))";
const LOCK_CONVERSATION: &str = "SELECT state FROM conversations WHERE tenant = $1 AND id = $2 FOR UPDATE";
const REMOVE_CONVERSATION: &str = "DELETE FROM conversations WHERE tenant = $1 AND id = $2";
const REMOVE_INBOX: &str = "DELETE FROM inbox WHERE tenant = $1 AND conversation = $2";
const REMOVE_MARKS: &str = "DELETE FROM kpi_marks WHERE tenant = $1 AND conversation = $2";
const REMOVE_IDENTITIES: &str = "DELETE FROM identities WHERE tenant = $1 AND conversation = $2";
const REMOVE_CONTACT_POINTS: &str = "DELETE FROM contact_points WHERE tenant = $1 AND conversation = $2";

pub(crate) async fn next_due(store: &PgStore) -> Result<Option<i64>, StoreError> {
    in_scope(store, Scope::AllTenants, async |tx| {
        Ok(query_opt(tx, NEXT_DUE, &[], "reading the next due timer").await?.and_then(|row| row.get(0)))
    })
    .await
}

pub(crate) async fn pending(store: &PgStore) -> Result<usize, StoreError> {
    in_scope(store, Scope::AllTenants, async |tx| {
        let count: i64 = query_opt(tx, PENDING, &[], "counting timers").await?.map_or(0, |row| row.get(0));
        Ok(usize::try_from(count).unwrap_or_default())
    })
    .await
}

pub(crate) async fn park(store: &PgStore, timers: &[(&DueTimer, Option<i64>)]) -> Result<(), StoreError> {
    let later: Vec<(&DueTimer, i64)> =
        timers.iter().filter_map(|(timer, later)| later.map(|at| (*timer, at))).collect();
    if later.is_empty() {
        return Ok(());
    }
    let tenants: Vec<&str> = later.iter().map(|(timer, _)| timer.tenant.as_str()).collect();
    let conversations: Vec<&str> = later.iter().map(|(timer, _)| timer.conversation.as_str()).collect();
    let keys: Vec<&str> = later.iter().map(|(timer, _)| timer.key.as_str()).collect();
    let due: Vec<i64> = later.iter().map(|(_, at)| *at).collect();
    in_scope(store, Scope::AllTenants, async |tx| {
        execute(tx, PARK, &[&tenants, &conversations, &keys, &due], "parking timers").await.map(drop)
    })
    .await
}

pub(crate) async fn cursor_now(store: &PgStore, tenant: &str) -> Result<u64, StoreError> {
    in_tenant(store, tenant, async |tx| {
        let last: i64 = query_opt(tx, CURSOR, &[&tenant], "reading the event log's head")
            .await?
            .map_or(0, |row| row.get(0));
        Ok(u64::try_from(last).unwrap_or_default())
    })
    .await
}

pub(crate) async fn sweep(
    store: &PgStore,
    tenant: &str,
    cutoffs: &Cutoffs,
    hold: &mut dyn FnMut(&str) -> Option<TurnLock>,
) -> Result<Swept, StoreError> {
    let mut swept = Swept::default();
    while sweep_events(store, tenant, cutoffs, &mut swept).await? {}
    let (dedupe, calls) = in_tenant(store, tenant, async |tx| {
        let dedupe =
            execute(tx, REMOVE_DEDUPE, &[&tenant, &cutoffs.dedupe_before], "removing dedupe ids").await?;
        let calls =
            execute(tx, REMOVE_CALLS, &[&tenant, &cutoffs.step_calls_before], "removing step calls").await?;
        Ok((dedupe, calls))
    })
    .await?;
    swept.dedupe_ids += dedupe;
    swept.step_calls += calls;
    if let Some(before) = cutoffs.conversations_before {
        let mut after = String::new();
        loop {
            let candidates: Vec<String> = in_tenant(store, tenant, async |tx| {
                let rows =
                    query(tx, IDLE_CANDIDATES, &[&tenant, &before, &after], "finding idle conversations")
                        .await?;
                Ok(rows.iter().map(|row| row.get(0)).collect())
            })
            .await?;
            let Some(last) = candidates.last() else { break };
            after = last.clone();
            for id in &candidates {
                // The engine's lock first, as for a turn; then, in the
                // transaction that removes it, the lock across nodes.
                let Some(held) = hold(id) else { continue };
                sweep_conversation(store, tenant, id, before, cutoffs, &mut swept).await?;
                drop(held);
            }
        }
    }
    Ok(swept)
}

/// Remove one page of expired event records, exported first; whether there
/// may be more.
async fn sweep_events(
    store: &PgStore,
    tenant: &str,
    cutoffs: &Cutoffs,
    swept: &mut Swept,
) -> Result<bool, StoreError> {
    let removed = in_tenant(store, tenant, async |tx| {
        let seqs: Vec<i64> =
            query(tx, EXPIRED_RECORDS, &[&tenant, &cutoffs.events_before], "finding expired events")
                .await?
                .iter()
                .map(|row| row.get(0))
                .collect();
        if seqs.is_empty() {
            return Ok(None);
        }
        let rows = query(tx, RECORD_EVENTS, &[&tenant, &seqs], "reading expired events").await?;
        let mut records: Vec<(u64, Vec<DomainEvent>)> = Vec::new();
        for row in &rows {
            let seq = u64::try_from(row.get::<_, i64>(0)).unwrap_or_default();
            let event: DomainEvent = decode(tenant, row.get(1))?;
            match records.last_mut() {
                Some((last, events)) if *last == seq => events.push(event),
                _ => records.push((seq, vec![event])),
            }
        }
        let mut exported = None;
        if let Some(dir) = &cutoffs.export_to {
            let pages: Vec<(u64, &[DomainEvent])> =
                records.iter().map(|(seq, events)| (*seq, events.as_slice())).collect();
            exported = Some(
                switchboard_store::export_events(dir, tenant, &pages)
                    .map_err(|source| StoreError::Export { dir: dir.display().to_string(), source })?,
            );
        }
        execute(tx, REMOVE_RECORDS, &[&tenant, &seqs], "removing expired events").await?;
        Ok(Some((records.len(), rows.len(), exported, seqs.len() == 500)))
    })
    .await?;
    let Some((records, events, exported, more)) = removed else { return Ok(false) };
    swept.event_records += records as u64;
    swept.events += events as u64;
    swept.exported.extend(exported);
    Ok(more)
}

/// Remove one idle conversation, with its inbox line, KPI marks and links,
/// if no node runs a turn of it and it is idle still.
async fn sweep_conversation(
    store: &PgStore,
    tenant: &str,
    id: &str,
    before: i64,
    cutoffs: &Cutoffs,
    swept: &mut Swept,
) -> Result<(), StoreError> {
    let removed = in_tenant(store, tenant, async |tx| {
        let free: bool = query_opt(tx, TRY_TURN_LOCK, &[&tenant, &id], "locking a conversation")
            .await?
            .is_some_and(|row| row.get(0));
        if !free {
            return Ok(None);
        }
        let Some(row) = query_opt(tx, LOCK_CONVERSATION, &[&tenant, &id], "reading a conversation").await?
        else {
            return Ok(None);
        };
        let json: &[u8] = row.get(0);
        let stored: StoredConversation = decode(id, json)?;
        if !switchboard_store::is_idle(&stored.conversation, before) {
            return Ok(None);
        }
        let mut exported = None;
        if let Some(dir) = &cutoffs.export_to {
            exported = Some(
                switchboard_store::export_conversations(
                    dir,
                    tenant,
                    cutoffs.now,
                    swept.conversations,
                    &[json],
                )
                .map_err(|source| StoreError::Export { dir: dir.display().to_string(), source })?,
            );
        }
        execute(tx, REMOVE_CONVERSATION, &[&tenant, &id], "removing a conversation").await?;
        execute(tx, REMOVE_INBOX, &[&tenant, &id], "removing an inbox line").await?;
        execute(tx, REMOVE_MARKS, &[&tenant, &id], "removing KPI marks").await?;
        let links = execute(tx, REMOVE_IDENTITIES, &[&tenant, &id], "removing links").await?
            + execute(tx, REMOVE_CONTACT_POINTS, &[&tenant, &id], "removing contact points").await?;
        Ok(Some((links, exported, json.len())))
    })
    .await?;
    if let Some((links, exported, bytes)) = removed {
        swept.conversations += 1;
        swept.links += links;
        swept.bytes += bytes as u64;
        swept.exported.extend(exported);
    }
    Ok(())
}

/// The statements that move a tenant's rows to its retired name, table by
/// table; timers and lanes are deleted instead.
const RETIRE: [&str; 23] = [
    "UPDATE conversations SET tenant = $2 WHERE tenant = $1",
    "UPDATE inbound SET tenant = $2 WHERE tenant = $1",
    "UPDATE event_heads SET tenant = $2 WHERE tenant = $1",
    "UPDATE events SET tenant = $2 WHERE tenant = $1",
    "UPDATE outbox SET tenant = $2 WHERE tenant = $1",
    "UPDATE parked_outbox SET tenant = $2 WHERE tenant = $1",
    "UPDATE identities SET tenant = $2 WHERE tenant = $1",
    "UPDATE contact_points SET tenant = $2 WHERE tenant = $1",
    "UPDATE api_keys SET tenant = $2 WHERE tenant = $1",
    "UPDATE flows SET tenant = $2 WHERE tenant = $1",
    "UPDATE plugin_configs SET tenant = $2 WHERE tenant = $1",
    "UPDATE numbers SET tenant = $2 WHERE tenant = $1",
    "UPDATE inbox SET tenant = $2 WHERE tenant = $1",
    "UPDATE plugin_versions SET tenant = $2 WHERE tenant = $1",
    "UPDATE withdrawn_components SET tenant = $2 WHERE tenant = $1",
    "UPDATE step_calls SET tenant = $2 WHERE tenant = $1",
    "UPDATE staff SET tenant = $2 WHERE tenant = $1",
    "UPDATE kpi_state SET tenant = $2 WHERE tenant = $1",
    "UPDATE kpi_days SET tenant = $2 WHERE tenant = $1",
    "UPDATE kpi_marks SET tenant = $2 WHERE tenant = $1",
    "UPDATE plugin_state SET tenant = $2 WHERE tenant = $1",
    "UPDATE kv_usage SET tenant = $2 WHERE tenant = $1",
    "UPDATE live_replies SET tenant = $2 WHERE tenant = $1",
];
const RETIRE_TIMERS: &str = "DELETE FROM timers WHERE tenant = $1";
const RETIRE_LANES: &str = "DELETE FROM outbox_lanes WHERE tenant = $1";
const SET_RETIRING: &str = "SELECT set_config('switchboard.retiring', $1, true)";

pub(crate) async fn retire(store: &PgStore, tenant: &str, retired_at: i64) -> Result<u64, StoreError> {
    let retired = format!("retired/{retired_at}/{tenant}");
    in_tenant(store, tenant, async |tx| {
        query(tx, SET_RETIRING, &[&retired], "naming the retired tenant").await?;
        let mut moved = 0;
        for statement in RETIRE {
            moved += execute(tx, statement, &[&tenant, &retired], "retiring a tenant").await?;
        }
        moved += execute(tx, RETIRE_TIMERS, &[&tenant], "retiring a tenant's timers").await?;
        moved += execute(tx, RETIRE_LANES, &[&tenant], "retiring a tenant's lanes").await?;
        Ok(moved)
    })
    .await
}
