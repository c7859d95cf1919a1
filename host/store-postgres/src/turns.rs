//! Conversations, their turns, the dedupe index and the event log.
//!
//! A turn is one transaction in its tenant's scope: the dedupe id first (a
//! retry stops there, having written nothing), then the conversation, its
//! outbox entries and timers, and last its events under the tenant's next
//! sequence number. Numbering last keeps the tenant's `event_heads` row
//! locked only from there to the commit, which is what orders the log.

use deadpool_postgres::Transaction;
use switchboard_core::event::DomainEvent;
use switchboard_store::{Committed, StoreError, StoredConversation, TurnRecord};

use crate::scope::{self, Scope};
use crate::{PgStore, backend};

const CONVERSATION: &str = "SELECT state::text FROM conversations WHERE tenant = $1 AND id = $2";
const CONVERSATIONS: &str = "SELECT state::text FROM conversations \
     WHERE tenant = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3";
const SEEN: &str = "SELECT 1 FROM inbound WHERE tenant = $1 AND channel = $2 AND message_id = $3";
const DEDUPE: &str = "INSERT INTO inbound (tenant, channel, message_id, handled_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT DO NOTHING";
const SAVE: &str = "INSERT INTO conversations (tenant, id, state) VALUES ($1, $2, $3::text::jsonb) \
     ON CONFLICT (tenant, id) DO UPDATE SET state = EXCLUDED.state";
const OUTBOX: &str = "INSERT INTO outbox (tenant, seq, conversation, entry) \
     SELECT $1, nextval('outbox_seq'), $2, entry FROM unnest($3::bytea[]) WITH ORDINALITY AS u(entry, n) ORDER BY n";
const TIMERS: &str = "INSERT INTO timers (tenant, conversation, key, due_at) \
     SELECT $1, $2, key, due_at FROM unnest($3::text[], $4::bigint[]) AS u(key, due_at) ON CONFLICT DO NOTHING";
/// Number the events and write them in one statement.
const EVENTS: &str = "WITH head AS ( \
       INSERT INTO event_heads AS h (tenant, last_seq) VALUES ($1, 1) \
       ON CONFLICT (tenant) DO UPDATE SET last_seq = h.last_seq + 1 RETURNING last_seq) \
     INSERT INTO events (tenant, seq, idx, conversation, event) \
     SELECT $1, head.last_seq, u.n::integer, u.conversation, u.event::jsonb \
     FROM head, unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(conversation, event, n)";
const CONVERSATION_EVENTS: &str =
    "SELECT event::text FROM events WHERE tenant = $1 AND conversation = $2 ORDER BY seq, idx";
/// Whole turns: every event up to the sequence number of the `limit`th.
const TENANT_EVENTS: &str = "SELECT seq, event::text FROM events \
     WHERE tenant = $1 AND seq > $2 AND seq <= ( \
       SELECT max(seq) FROM (SELECT seq FROM events WHERE tenant = $1 AND seq > $2 ORDER BY seq, idx LIMIT $3) page) \
     ORDER BY seq, idx";

pub(crate) async fn conversation(
    store: &PgStore,
    tenant: &str,
    id: &str,
) -> Result<Option<StoredConversation>, StoreError> {
    let mut client = store.client().await?;
    let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
    let statement = transaction.prepare_cached(CONVERSATION).await.map_err(backend("preparing a read"))?;
    let row = transaction
        .query_opt(&statement, &[&tenant, &id])
        .await
        .map_err(backend("reading a conversation"))?;
    transaction.commit().await.map_err(backend("ending a read"))?;
    row.map(|row| decode(id, row.get(0))).transpose()
}

pub(crate) async fn conversations(
    store: &PgStore,
    tenant: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<StoredConversation>, StoreError> {
    let mut client = store.client().await?;
    let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
    let statement = transaction.prepare_cached(CONVERSATIONS).await.map_err(backend("preparing a read"))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = transaction
        .query(&statement, &[&tenant, &after, &limit])
        .await
        .map_err(backend("reading conversations"))?;
    transaction.commit().await.map_err(backend("ending a read"))?;
    rows.iter().map(|row| decode("a conversation", row.get(0))).collect()
}

pub(crate) async fn seen(
    store: &PgStore,
    tenant: &str,
    channel: &str,
    message_id: &str,
) -> Result<bool, StoreError> {
    let mut client = store.client().await?;
    let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
    let statement = transaction.prepare_cached(SEEN).await.map_err(backend("preparing a read"))?;
    let row = transaction
        .query_opt(&statement, &[&tenant, &channel, &message_id])
        .await
        .map_err(backend("reading the dedupe index"))?;
    transaction.commit().await.map_err(backend("ending a read"))?;
    Ok(row.is_some())
}

/// Commit turns, a transaction for each run of one tenant's: one commit
/// (one WAL flush) for a page of timers the scheduler fires. Each turn is
/// atomic; a duplicate among them writes nothing and the rest go on.
pub(crate) async fn commit_turns(
    store: &PgStore,
    turns: &[(&str, &TurnRecord<'_>)],
) -> Result<Vec<Committed>, StoreError> {
    for (tenant, turn) in turns {
        check_tenant(tenant, turn)?;
    }
    let mut client = store.client().await?;
    let mut outcomes = Vec::with_capacity(turns.len());
    let mut start = 0;
    while start < turns.len() {
        let tenant = turns[start].0;
        let end =
            turns[start..].iter().position(|(other, _)| *other != tenant).map_or(turns.len(), |n| start + n);
        let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
        for (_, turn) in &turns[start..end] {
            outcomes.push(write_turn(&transaction, tenant, turn).await?);
        }
        transaction.commit().await.map_err(backend("committing a turn"))?;
        start = end;
    }
    Ok(outcomes)
}

/// A turn's conversation and events must be its tenant's: a write that
/// carries another's is refused before anything is written.
fn check_tenant(tenant: &str, turn: &TurnRecord<'_>) -> Result<(), StoreError> {
    let others = std::iter::once(turn.stored.conversation.tenant.as_str())
        .chain(turn.events.iter().map(|event| event.tenant.as_str()));
    for other in others {
        if other != tenant {
            return Err(StoreError::Foreign { tenant: tenant.to_owned(), other: other.to_owned() });
        }
    }
    Ok(())
}

async fn write_turn(
    transaction: &Transaction<'_>,
    tenant: &str,
    turn: &TurnRecord<'_>,
) -> Result<Committed, StoreError> {
    let id = turn.stored.conversation.id.as_str();
    if let Some((channel, message_id)) = turn.dedupe
        && dedupe(transaction, tenant, channel, message_id, handled_at(turn.events)).await?
            == Committed::Duplicate
    {
        return Ok(Committed::Duplicate);
    }
    let state = serde_json::to_string(turn.stored)
        .map_err(|source| StoreError::Decode { key: format!("conversation {id}"), source })?;
    let save = transaction.prepare_cached(SAVE).await.map_err(backend("preparing a turn"))?;
    transaction.execute(&save, &[&tenant, &id, &state]).await.map_err(backend("writing a conversation"))?;
    if !turn.outbox.is_empty() {
        let outbox = transaction.prepare_cached(OUTBOX).await.map_err(backend("preparing a turn"))?;
        transaction
            .execute(&outbox, &[&tenant, &id, &turn.outbox])
            .await
            .map_err(backend("writing outbox entries"))?;
    }
    if !turn.timers.is_empty() {
        let keys: Vec<&str> = turn.timers.iter().map(|timer| timer.key.as_str()).collect();
        let due: Vec<i64> = turn.timers.iter().map(|timer| timer.due_at).collect();
        let timers = transaction.prepare_cached(TIMERS).await.map_err(backend("preparing a turn"))?;
        transaction
            .execute(&timers, &[&tenant, &id, &keys, &due])
            .await
            .map_err(backend("indexing timers"))?;
    }
    write_events(transaction, tenant, turn.events).await?;
    Ok(Committed::Written)
}

async fn dedupe(
    transaction: &Transaction<'_>,
    tenant: &str,
    channel: &str,
    message_id: &str,
    at: i64,
) -> Result<Committed, StoreError> {
    let statement = transaction.prepare_cached(DEDUPE).await.map_err(backend("preparing a turn"))?;
    let inserted = transaction
        .execute(&statement, &[&tenant, &channel, &message_id, &at])
        .await
        .map_err(backend("writing a dedupe id"))?;
    Ok(if inserted == 0 { Committed::Duplicate } else { Committed::Written })
}

pub(crate) async fn write_events(
    transaction: &Transaction<'_>,
    tenant: &str,
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let conversations: Vec<&str> = events.iter().map(|event| event.conversation.as_str()).collect();
    let encoded = events
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<String>, _>>()
        .map_err(|source| StoreError::Decode { key: format!("events of {tenant}"), source })?;
    let statement = transaction.prepare_cached(EVENTS).await.map_err(backend("preparing the event log"))?;
    transaction
        .execute(&statement, &[&tenant, &conversations, &encoded])
        .await
        .map_err(backend("writing events"))?;
    Ok(())
}

pub(crate) async fn append_events(
    store: &PgStore,
    tenant: &str,
    events: &[DomainEvent],
    dedupe_id: Option<(&str, &str)>,
) -> Result<Committed, StoreError> {
    if let Some(event) = events.iter().find(|event| event.tenant != tenant) {
        return Err(StoreError::Foreign { tenant: tenant.to_owned(), other: event.tenant.clone() });
    }
    let mut client = store.client().await?;
    let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
    if let Some((channel, message_id)) = dedupe_id
        && dedupe(&transaction, tenant, channel, message_id, handled_at(events)).await?
            == Committed::Duplicate
    {
        return Ok(Committed::Duplicate);
    }
    write_events(&transaction, tenant, events).await?;
    transaction.commit().await.map_err(backend("committing events"))?;
    Ok(Committed::Written)
}

pub(crate) async fn conversation_events(
    store: &PgStore,
    tenant: &str,
    conversation: &str,
) -> Result<Vec<DomainEvent>, StoreError> {
    let mut client = store.client().await?;
    let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
    let statement =
        transaction.prepare_cached(CONVERSATION_EVENTS).await.map_err(backend("preparing a read"))?;
    let rows = transaction
        .query(&statement, &[&tenant, &conversation])
        .await
        .map_err(backend("reading a conversation's events"))?;
    transaction.commit().await.map_err(backend("ending a read"))?;
    rows.iter().map(|row| decode(conversation, row.get(0))).collect()
}

pub(crate) async fn tenant_events(
    store: &PgStore,
    tenant: &str,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<(u64, DomainEvent)>, StoreError> {
    let mut client = store.client().await?;
    let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
    let statement = transaction.prepare_cached(TENANT_EVENTS).await.map_err(backend("preparing a read"))?;
    let after = after.map_or(0, |seq| i64::try_from(seq).unwrap_or(i64::MAX));
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let rows = transaction
        .query(&statement, &[&tenant, &after, &limit])
        .await
        .map_err(backend("reading the event log"))?;
    transaction.commit().await.map_err(backend("ending a read"))?;
    rows.iter()
        .map(|row| {
            let seq: i64 = row.get(0);
            Ok((u64::try_from(seq).unwrap_or_default(), decode(tenant, row.get(1))?))
        })
        .collect()
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|source| StoreError::Decode { key: what.to_owned(), source })
}

/// When a message with an id was handled: its events' time, or now.
fn handled_at(events: &[DomainEvent]) -> i64 {
    events.iter().map(|event| event.at).max().unwrap_or_else(now_ms)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
}
