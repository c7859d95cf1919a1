//! Conversations, their turns, the dedupe index and the event log.
//!
//! A turn is one transaction in its tenant's scope: the dedupe id first (a
//! retry stops there, having written nothing), then the conversation, its
//! outbox entries and timers, and last its events under the tenant's next
//! sequence number. Numbering last keeps the tenant's `event_heads` row
//! locked only from there to the commit, which is what orders the log.

use deadpool_postgres::Transaction;
use switchboard_core::event::DomainEvent;
use switchboard_store::{Committed, InboxEntry, StoreError, StoredConversation, TurnRecord};

use crate::scope::{self, Scope, execute, in_tenant, query_opt, read};
use crate::{PgStore, backend};

const CONVERSATION: &str = "SELECT state FROM conversations WHERE tenant = $1 AND id = $2";
const CONVERSATIONS: &str = "SELECT state FROM conversations \
     WHERE tenant = $1 AND ($2::text IS NULL OR id > $2) ORDER BY id LIMIT $3";
const SEEN: &str = "SELECT 1 FROM inbound WHERE tenant = $1 AND channel = $2 AND message_id = $3";
const DEDUPE: &str = "INSERT INTO inbound (tenant, channel, message_id, handled_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT DO NOTHING";
const SAVE: &str = "INSERT INTO conversations (tenant, id, state, updated_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (tenant, id) DO UPDATE SET state = EXCLUDED.state, updated_at = EXCLUDED.updated_at";
const OUTBOX: &str = "INSERT INTO outbox (tenant, seq, conversation, entry) \
     SELECT $1, nextval('outbox_seq'), $2, entry FROM unnest($3::bytea[]) WITH ORDINALITY AS u(entry, n) ORDER BY n";
const TIMERS: &str = "INSERT INTO timers (tenant, conversation, key, due_at) \
     SELECT $1, $2, key, due_at FROM unnest($3::text[], $4::bigint[]) AS u(key, due_at) ON CONFLICT DO NOTHING";
/// Number the events and write them in one statement.
const EVENTS: &str = "WITH head AS ( \
       INSERT INTO event_heads AS h (tenant, last_seq) VALUES ($1, 1) \
       ON CONFLICT (tenant) DO UPDATE SET last_seq = h.last_seq + 1 RETURNING last_seq) \
     INSERT INTO events (tenant, seq, idx, conversation, at, event) \
     SELECT $1, head.last_seq, u.n::integer, u.conversation, u.at, u.event \
     FROM head, unnest($2::text[], $3::bigint[], $4::bytea[]) WITH ORDINALITY AS u(conversation, at, event, n)";
const INBOX_ENTRY: &str = "SELECT entry FROM inbox WHERE tenant = $1 AND conversation = $2";
const PUT_INBOX: &str = "INSERT INTO inbox (tenant, conversation, entry, since) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (tenant, conversation) DO UPDATE SET entry = EXCLUDED.entry, since = EXCLUDED.since";
const REMOVE_INBOX: &str = "DELETE FROM inbox WHERE tenant = $1 AND conversation = $2";
const INBOX: &str = "SELECT entry FROM inbox WHERE tenant = $1 ORDER BY since DESC, conversation";
const CONVERSATION_EVENTS: &str =
    "SELECT event FROM events WHERE tenant = $1 AND conversation = $2 ORDER BY seq, idx";
/// Whole turns: every event up to the sequence number of the `limit`th.
const TENANT_EVENTS: &str = "SELECT seq, event FROM events \
     WHERE tenant = $1 AND seq > $2 AND seq <= ( \
       SELECT max(seq) FROM (SELECT seq FROM events WHERE tenant = $1 AND seq > $2 ORDER BY seq, idx LIMIT $3) page) \
     ORDER BY seq, idx";

pub(crate) async fn conversation(
    store: &PgStore,
    tenant: &str,
    id: &str,
) -> Result<Option<StoredConversation>, StoreError> {
    let rows = read(store, tenant, CONVERSATION, &[&tenant, &id], "reading a conversation").await?;
    rows.first().map(|row| decode(id, row.get(0))).transpose()
}

pub(crate) async fn conversations(
    store: &PgStore,
    tenant: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<StoredConversation>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows =
        read(store, tenant, CONVERSATIONS, &[&tenant, &after, &limit], "reading conversations").await?;
    rows.iter().map(|row| decode("a conversation", row.get(0))).collect()
}

pub(crate) async fn seen(
    store: &PgStore,
    tenant: &str,
    channel: &str,
    message_id: &str,
) -> Result<bool, StoreError> {
    let message_id = text_key(message_id);
    let rows =
        read(store, tenant, SEEN, &[&tenant, &channel, &message_id], "reading the dedupe index").await?;
    Ok(!rows.is_empty())
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
    let other = &turn.stored.conversation.tenant;
    if other != tenant {
        return Err(StoreError::Foreign { tenant: tenant.to_owned(), other: other.clone() });
    }
    check_events(tenant, turn.events)
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
    let state = encode(id, turn.stored)?;
    let updated_at = turn.stored.conversation.updated_at;
    // Read before the writes, so they all go out together.
    let previous = match InboxEntry::needs_previous(turn) {
        true => query_opt(transaction, INBOX_ENTRY, &[&tenant, &id], "reading an inbox line")
            .await?
            .map(|row| decode(id, row.get(0)))
            .transpose()?,
        false => None,
    };
    let keys: Vec<&str> = turn.timers.iter().map(|timer| timer.key.as_str()).collect();
    let due: Vec<i64> = turn.timers.iter().map(|timer| timer.due_at).collect();
    // The rest of the turn goes out pipelined, in this order, one round
    // trip for all (tokio-postgres sends a connection's requests in the
    // order they are first polled; the server runs them in that order).
    // The events go last: their statement takes the tenant's log head,
    // held to the commit. A failure aborts the transaction, which rolls back.
    let save_params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&tenant, &id, &state, &updated_at];
    let save = execute(transaction, SAVE, &save_params, "writing a conversation");
    let outbox = async {
        match turn.outbox.is_empty() {
            true => Ok(0),
            false => {
                execute(transaction, OUTBOX, &[&tenant, &id, &turn.outbox], "writing outbox entries").await
            }
        }
    };
    let timers = async {
        match keys.is_empty() {
            true => Ok(0),
            false => execute(transaction, TIMERS, &[&tenant, &id, &keys, &due], "indexing timers").await,
        }
    };
    // `biased`: polled in this order, so sent in this order.
    tokio::try_join!(
        biased;
        save,
        outbox,
        timers,
        write_inbox(transaction, tenant, turn, previous),
        write_events(transaction, tenant, turn.events)
    )?;
    Ok(Committed::Written)
}

/// Keep the conversation's inbox line as the turn leaves it.
async fn write_inbox(
    transaction: &Transaction<'_>,
    tenant: &str,
    turn: &TurnRecord<'_>,
    previous: Option<InboxEntry>,
) -> Result<(), StoreError> {
    let id = turn.stored.conversation.id.as_str();
    match InboxEntry::after_turn(turn, previous) {
        Some(entry) => {
            let json = encode(id, &entry)?;
            execute(transaction, PUT_INBOX, &[&tenant, &id, &json, &entry.since], "writing an inbox line")
                .await?;
        }
        None => {
            execute(transaction, REMOVE_INBOX, &[&tenant, &id], "removing an inbox line").await?;
        }
    }
    Ok(())
}

pub(crate) async fn inbox(store: &PgStore, tenant: &str) -> Result<Vec<InboxEntry>, StoreError> {
    let rows = read(store, tenant, INBOX, &[&tenant], "reading the inbox").await?;
    rows.iter().map(|row| decode("an inbox line", row.get(0))).collect()
}

async fn dedupe(
    transaction: &Transaction<'_>,
    tenant: &str,
    channel: &str,
    message_id: &str,
    at: i64,
) -> Result<Committed, StoreError> {
    let inserted =
        execute(transaction, DEDUPE, &[&tenant, &channel, &text_key(message_id), &at], "writing a dedupe id")
            .await?;
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
    let at: Vec<i64> = events.iter().map(|event| event.at).collect();
    let encoded = events.iter().map(|event| encode(tenant, event)).collect::<Result<Vec<_>, _>>()?;
    execute(transaction, EVENTS, &[&tenant, &conversations, &at, &encoded], "writing events").await?;
    Ok(())
}

/// Events written as `tenant`'s must be its own: refused whole otherwise.
pub(crate) fn check_events(tenant: &str, events: &[DomainEvent]) -> Result<(), StoreError> {
    match events.iter().find(|event| event.tenant != tenant) {
        Some(event) => Err(StoreError::Foreign { tenant: tenant.to_owned(), other: event.tenant.clone() }),
        None => Ok(()),
    }
}

pub(crate) async fn append_events(
    store: &PgStore,
    tenant: &str,
    events: &[DomainEvent],
    dedupe_id: Option<(&str, &str)>,
) -> Result<Committed, StoreError> {
    check_events(tenant, events)?;
    in_tenant(store, tenant, async |tx| {
        if let Some((channel, message_id)) = dedupe_id
            && dedupe(tx, tenant, channel, message_id, handled_at(events)).await? == Committed::Duplicate
        {
            return Ok(Committed::Duplicate);
        }
        write_events(tx, tenant, events).await?;
        Ok(Committed::Written)
    })
    .await
}

pub(crate) async fn conversation_events(
    store: &PgStore,
    tenant: &str,
    conversation: &str,
) -> Result<Vec<DomainEvent>, StoreError> {
    let rows = read(
        store,
        tenant,
        CONVERSATION_EVENTS,
        &[&tenant, &conversation],
        "reading a conversation's events",
    )
    .await?;
    rows.iter().map(|row| decode(conversation, row.get(0))).collect()
}

pub(crate) async fn tenant_events(
    store: &PgStore,
    tenant: &str,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<(u64, DomainEvent)>, StoreError> {
    let after = after.map_or(0, |seq| i64::try_from(seq).unwrap_or(i64::MAX));
    let limit = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let rows =
        read(store, tenant, TENANT_EVENTS, &[&tenant, &after, &limit], "reading the event log").await?;
    rows.iter()
        .map(|row| {
            let seq: i64 = row.get(0);
            Ok((u64::try_from(seq).unwrap_or_default(), decode(tenant, row.get(1))?))
        })
        .collect()
}

/// A record stored as JSON bytes.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(what: &str, json: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(json).map_err(|source| StoreError::Decode { key: what.to_owned(), source })
}

/// A record to store as JSON bytes.
pub(crate) fn encode<T: serde::Serialize>(what: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|source| StoreError::Decode { key: what.to_owned(), source })
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

const NEXT_NUMBER: &str = "INSERT INTO numbers AS n (tenant, sequence, last) VALUES ($1, $2, 1) \
     ON CONFLICT (tenant, sequence) DO UPDATE SET last = n.last + 1 RETURNING last";

/// The next number of a tenant's sequence: the row's lock makes takers
/// on every node wait their turn, so none gets a number twice.
pub(crate) async fn next_number(store: &PgStore, tenant: &str, sequence: &str) -> Result<u64, StoreError> {
    in_tenant(store, tenant, async |tx| {
        let row = query_opt(tx, NEXT_NUMBER, &[&tenant, &sequence], "taking a number").await?;
        let last: i64 = row.map_or(1, |row| row.get(0));
        Ok(u64::try_from(last).unwrap_or_default())
    })
    .await
}

/// A key a customer or provider chose (a message id, a typed phone or
/// email), as a `text` column can hold it: PostgreSQL's text refuses NUL,
/// so backslashes are doubled and NUL becomes `\0`, one to one.
pub(crate) fn text_key(key: &str) -> String {
    key.replace('\\', "\\\\").replace('\0', "\\0")
}

/// [`text_key`] undone: the key as the customer or provider chose it.
pub(crate) fn plain_key(stored: &str) -> String {
    let mut plain = String::with_capacity(stored.len());
    let mut chars = stored.chars();
    while let Some(char) = chars.next() {
        match (char, char == '\\') {
            (_, true) => match chars.next() {
                Some('0') => plain.push('\0'),
                Some(other) => plain.push(other),
                None => plain.push('\\'),
            },
            (char, false) => plain.push(char),
        }
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_key_reads_back_as_it_was_chosen() {
        for key in ["plain", "back\\slash", "nul\0inside", "\\0 looks like one", "end\\"] {
            assert_eq!(plain_key(&text_key(key)), key);
        }
    }
}
