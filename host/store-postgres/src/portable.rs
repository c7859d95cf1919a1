//! PostgreSQL's side of moving a deployment (`switchboard_store::portable`):
//! the records no other read lists, and writing records into their rows
//! as they are, sequence numbers kept.

use std::future::Future;
use std::pin::Pin;

use switchboard_store::StoreError;
use switchboard_store::portable::{Record, Shared};
use tokio_postgres::types::ToSql;

use crate::PgStore;
use crate::scope::{Scope, execute, in_scope, in_tenant, query, read};
use crate::turns::{encode, plain_key, text_key};

/// Dedupe ids grow with every message: read a page at a time. The other
/// listings grow with conversations at most, and are read whole.
const HANDLED: &str = "SELECT channel, message_id, handled_at FROM inbound \
     WHERE tenant = $1 AND (channel, message_id) > ($2, $3) ORDER BY channel, message_id LIMIT 10000";
const USAGE: &str = "SELECT keys, bytes FROM kv_usage WHERE tenant = $1";
const IDENTITIES: &str = "SELECT identity, conversation FROM identities WHERE tenant = $1";
const CONTACT_POINTS: &str = "SELECT kind, value, conversation FROM contact_points WHERE tenant = $1";
const FLOWS: &str = "SELECT version, hash FROM flows WHERE tenant = $1";
const CONFIGS: &str = "SELECT hash, text FROM plugin_configs WHERE tenant = $1";
const NUMBERS: &str = "SELECT sequence, last FROM numbers WHERE tenant = $1";
const VERSIONS: &str = "SELECT binding, version FROM plugin_versions WHERE tenant = $1";
const STATE: &str = "SELECT plugin, key, value FROM plugin_state WHERE tenant = $1";
const MARKS: &str = "SELECT conversation, marks FROM kpi_marks WHERE tenant = $1";
const BLOB_HASHES: &str = "SELECT hash FROM blobs ORDER BY hash";

const CONVERSATION: &str =
    "INSERT INTO conversations (tenant, id, state, updated_at) VALUES ($1, $2, $3, $4)";
const TIMER: &str =
    "INSERT INTO timers (tenant, conversation, key, due_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING";
const EVENT: &str =
    "INSERT INTO events (tenant, seq, idx, conversation, at, event) VALUES ($1, $2, $3, $4, $5, $6)";
/// Where a record an earlier batch began goes on.
const EVENT_BASE: &str = "SELECT coalesce(max(idx), 0) FROM events WHERE tenant = $1 AND seq = $2";
const EVENT_HEAD: &str = "INSERT INTO event_heads AS h (tenant, last_seq) VALUES ($1, $2) \
     ON CONFLICT (tenant) DO UPDATE SET last_seq = greatest(h.last_seq, EXCLUDED.last_seq)";
const PUT_HANDLED: &str =
    "INSERT INTO inbound (tenant, channel, message_id, handled_at) VALUES ($1, $2, $3, $4)";
/// The conversation column is a note the outbox's rows carry; entries hold
/// their own, and a sled store does not keep it apart.
const OUTBOX: &str = "INSERT INTO outbox (tenant, seq, conversation, entry) VALUES ($1, $2, '', $3)";
const PARKED: &str = "INSERT INTO parked_outbox (tenant, seq, conversation, entry) VALUES ($1, $2, '', $3)";
const INBOX: &str = "INSERT INTO inbox (tenant, conversation, entry, since) VALUES ($1, $2, $3, $4)";
const IDENTITY: &str = "INSERT INTO identities (tenant, identity, conversation) VALUES ($1, $2, $3)";
const CONTACT_POINT: &str =
    "INSERT INTO contact_points (tenant, kind, value, conversation) VALUES ($1, $2, $3, $4)";
const API_KEY: &str = "INSERT INTO api_keys (tenant, id, key) VALUES ($1, $2, $3)";
const FLOW: &str = "INSERT INTO flows (tenant, version, hash) VALUES ($1, $2, $3)";
const CONFIG: &str = "INSERT INTO plugin_configs (tenant, hash, text) VALUES ($1, $2, $3)";
const NUMBER: &str = "INSERT INTO numbers (tenant, sequence, last) VALUES ($1, $2, $3)";
const VERSION: &str =
    "INSERT INTO plugin_versions (tenant, binding, seq, canary, version) VALUES ($1, $2, $3, $4, $5)";
const WITHDRAWN: &str = "INSERT INTO withdrawn_components (tenant, binding, component) VALUES ($1, $2, $3)";
const STEP_CALL: &str = "INSERT INTO step_calls (tenant, at, seq, record) VALUES ($1, $2, $3, $4)";
const STAFF: &str = "INSERT INTO staff (tenant, id, record) VALUES ($1, $2, $3)";
const PLUGIN_STATE: &str = "INSERT INTO plugin_state (tenant, plugin, key, value) VALUES ($1, $2, $3, $4)";
const PUT_USAGE: &str = "INSERT INTO kv_usage (tenant, keys, bytes) VALUES ($1, $2, $3)";
const CHECKPOINT: &str = "INSERT INTO kpi_state (tenant, checkpoint) VALUES ($1, $2) \
     ON CONFLICT (tenant) DO UPDATE SET checkpoint = EXCLUDED.checkpoint";
const KPI_DAY: &str = "INSERT INTO kpi_days (tenant, day, tally) VALUES ($1, $2, $3)";
const KPI_MARKS: &str = "INSERT INTO kpi_marks (tenant, conversation, marks) VALUES ($1, $2, $3)";
/// The shared sequences move past every number restored, so new outbox
/// entries and step calls sort after the old.
const OUTBOX_SEQ: &str = "SELECT setval('outbox_seq', greatest((SELECT last_value FROM outbox_seq), $1))";
const STEP_CALL_SEQ: &str =
    "SELECT setval('step_call_seq', greatest((SELECT last_value FROM step_call_seq), $1))";

const BLOB: &str = "INSERT INTO blobs (hash, bytes) VALUES ($1, $2) ON CONFLICT DO NOTHING";
const CATALOG_ENTRY: &str = "INSERT INTO catalog (name, version, entry) VALUES ($1, $2, $3)";
const TENANT_BUNDLE: &str = "INSERT INTO tenant_catalog (tenant, revision, bundle) VALUES ($1, $2, $3)";

/// Each listing is read whole, then handed to `sink` off the store's
/// runtime: a sink may write to another store (a migration's target).
pub(crate) fn dump_listed(
    store: &PgStore,
    tenant: &str,
    sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let params: [&(dyn ToSql + Sync); 1] = [&tenant];
    let rows = |sql, operation| store.block(read(store, tenant, sql, &params, operation));
    let (mut channel, mut message_id) = (String::new(), String::new());
    loop {
        let params: [&(dyn ToSql + Sync); 3] = [&tenant, &channel, &message_id];
        let page = store.block(read(store, tenant, HANDLED, &params, "listing dedupe ids"))?;
        let Some(last) = page.last() else { break };
        (channel, message_id) = (last.get(0), last.get(1));
        for row in page {
            let stored: String = row.get(1);
            sink(Record::Handled { channel: row.get(0), message_id: plain_key(&stored), at: row.get(2) })?;
        }
    }
    for row in rows(USAGE, "reading plugin state usage")? {
        sink(Record::PluginUsage { keys: unsigned(row.get(0)), bytes: unsigned(row.get(1)) })?;
    }
    for row in rows(IDENTITIES, "listing linked identities")? {
        let identity: String = row.get(0);
        sink(Record::Identity { identity: plain_key(&identity), conversation: row.get(1) })?;
    }
    for row in rows(CONTACT_POINTS, "listing contact points")? {
        let value: String = row.get(1);
        sink(Record::ContactPoint { kind: row.get(0), value: plain_key(&value), conversation: row.get(2) })?;
    }
    for row in rows(FLOWS, "listing flow versions")? {
        sink(Record::Flow { version: row.get(0), hash: row.get(1) })?;
    }
    for row in rows(CONFIGS, "listing plugin configs")? {
        sink(Record::PluginConfig { hash: row.get(0), text: row.get(1) })?;
    }
    for row in rows(NUMBERS, "listing numbers")? {
        sink(Record::Number { sequence: row.get(0), last: unsigned(row.get(1)) })?;
    }
    for row in rows(VERSIONS, "listing plugin versions")? {
        let binding: String = row.get(0);
        let version = crate::turns::decode(&binding, row.get(1))?;
        sink(Record::PluginVersion { binding, version })?;
    }
    for row in rows(STATE, "listing plugin state")? {
        let key: String = row.get(1);
        sink(Record::PluginState { plugin: row.get(0), key: plain_key(&key), value: row.get(2) })?;
    }
    for row in rows(MARKS, "listing KPI marks")? {
        let conversation: String = row.get(0);
        let marks = crate::kpis::decode(&format!("{tenant}/{conversation}"), row.get(1))?;
        sink(Record::KpiMarks { conversation, marks })?;
    }
    Ok(())
}

pub(crate) async fn blob_hashes(store: &PgStore) -> Result<Vec<String>, StoreError> {
    in_scope(store, Scope::Shared, async |tx| {
        let rows = query(tx, BLOB_HASHES, &[], "listing blobs").await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    })
    .await
}

/// The tenants the tenant catalog names: on PostgreSQL it names every
/// tenant a node serves, and row-level security lets no other statement
/// list tenants.
pub(crate) async fn stored_tenants(store: &PgStore) -> Result<Vec<String>, StoreError> {
    let revisions = crate::tenant_catalog::revisions(store).await?;
    Ok(revisions.into_iter().map(|revision| revision.tenant).collect())
}

/// A value a restore's statement takes, owned.
type Value = Box<dyn ToSql + Sync + Send>;

/// One statement of a restore, its values owned, so a batch's statements
/// go out pipelined, in order, on one transaction.
struct Statement {
    sql: &'static str,
    values: Vec<Value>,
    operation: &'static str,
}

type Write<'a> = Pin<Box<dyn Future<Output = Result<u64, StoreError>> + Send + 'a>>;

impl Statement {
    fn run<'a>(self, tx: &'a deadpool_postgres::Transaction<'a>) -> Write<'a> {
        Box::pin(async move {
            let params: Vec<&(dyn ToSql + Sync)> =
                self.values.iter().map(|value| &**value as &(dyn ToSql + Sync)).collect();
            execute(tx, self.sql, &params, self.operation).await
        })
    }
}

pub(crate) async fn restore_tenant(
    store: &PgStore,
    tenant: &str,
    records: &[Record],
) -> Result<(), StoreError> {
    let mut writes = Vec::new();
    let mut add = |sql, values: Vec<Value>, operation| writes.push(Statement { sql, values, operation });
    let name = || -> Value { Box::new(tenant.to_owned()) };
    let (mut last_outbox, mut last_call) = (0i64, 0i64);
    // Events, numbered within their record here: `(seq, place in this
    // batch's part of the record, conversation, at, event)`.
    let mut events: Vec<(i64, i32, String, i64, Vec<u8>)> = Vec::new();
    for record in records {
        match record {
            Record::Conversation(stored) => {
                let conversation = &stored.conversation;
                let state = encode(&conversation.id, stored)?;
                add(
                    CONVERSATION,
                    vec![
                        name(),
                        Box::new(conversation.id.clone()),
                        Box::new(state),
                        Box::new(conversation.updated_at),
                    ],
                    "restoring a conversation",
                );
                // The conversation's timers are the truth the index follows.
                for (key, timer) in &conversation.timers {
                    add(
                        TIMER,
                        vec![
                            name(),
                            Box::new(conversation.id.clone()),
                            Box::new(key.clone()),
                            Box::new(timer.due_at),
                        ],
                        "restoring a timer",
                    );
                }
            }
            Record::Event { seq, event } => {
                if event.tenant != tenant {
                    return Err(StoreError::Foreign {
                        tenant: tenant.to_owned(),
                        other: event.tenant.clone(),
                    });
                }
                let seq = signed(*seq);
                let place = match events.last() {
                    Some(&(last, place, ..)) if last == seq => place + 1,
                    _ => 0,
                };
                events.push((seq, place, event.conversation.clone(), event.at, encode(tenant, event)?));
            }
            Record::EventHead { seq } => {
                add(EVENT_HEAD, vec![name(), Box::new(signed(*seq))], "restoring the event log's head");
            }
            Record::Handled { channel, message_id, at } => add(
                PUT_HANDLED,
                vec![name(), Box::new(channel.clone()), Box::new(text_key(message_id)), Box::new(*at)],
                "restoring a dedupe id",
            ),
            Record::Outbox { seq, entry } | Record::Parked { seq, entry } => {
                let sql = if matches!(record, Record::Outbox { .. }) { OUTBOX } else { PARKED };
                last_outbox = last_outbox.max(signed(*seq));
                add(
                    sql,
                    vec![name(), Box::new(signed(*seq)), Box::new(entry.clone())],
                    "restoring an outbox entry",
                );
            }
            Record::Inbox(entry) => add(
                INBOX,
                vec![
                    name(),
                    Box::new(entry.id.clone()),
                    Box::new(encode(&entry.id, entry)?),
                    Box::new(entry.since),
                ],
                "restoring an inbox line",
            ),
            Record::Identity { identity, conversation } => add(
                IDENTITY,
                vec![name(), Box::new(text_key(identity)), Box::new(conversation.clone())],
                "restoring a linked identity",
            ),
            Record::ContactPoint { kind, value, conversation } => add(
                CONTACT_POINT,
                vec![
                    name(),
                    Box::new(kind.clone()),
                    Box::new(text_key(value)),
                    Box::new(conversation.clone()),
                ],
                "restoring a contact point",
            ),
            Record::ApiKey(key) => add(
                API_KEY,
                vec![name(), Box::new(key.id.clone()), Box::new(encode(&key.id, key)?)],
                "restoring an API key",
            ),
            Record::Flow { version, hash } => add(
                FLOW,
                vec![name(), Box::new(version.clone()), Box::new(hash.clone())],
                "restoring a flow version",
            ),
            Record::PluginConfig { hash, text } => add(
                CONFIG,
                vec![name(), Box::new(hash.clone()), Box::new(text.clone())],
                "restoring a plugin config",
            ),
            Record::Number { sequence, last } => add(
                NUMBER,
                vec![name(), Box::new(sequence.clone()), Box::new(signed(*last))],
                "restoring a number",
            ),
            Record::PluginVersion { binding, version } => add(
                VERSION,
                vec![
                    name(),
                    Box::new(binding.clone()),
                    Box::new(signed(version.seq)),
                    Box::new(version.canary.is_some()),
                    Box::new(encode(binding, version)?),
                ],
                "restoring a plugin version",
            ),
            Record::Withdrawn { binding, component } => add(
                WITHDRAWN,
                vec![name(), Box::new(binding.clone()), Box::new(component.clone())],
                "restoring a withdrawn component",
            ),
            Record::StepCall { at, seq, record } => {
                last_call = last_call.max(signed(*seq));
                add(
                    STEP_CALL,
                    vec![name(), Box::new(*at), Box::new(signed(*seq)), Box::new(record.clone())],
                    "restoring a recorded step call",
                );
            }
            Record::Staff { id, record } => add(
                STAFF,
                vec![name(), Box::new(id.clone()), Box::new(record.clone())],
                "restoring a staff member",
            ),
            Record::PluginState { plugin, key, value } => add(
                PLUGIN_STATE,
                vec![name(), Box::new(plugin.clone()), Box::new(text_key(key)), Box::new(value.clone())],
                "restoring plugin state",
            ),
            Record::PluginUsage { keys, bytes } => add(
                PUT_USAGE,
                vec![name(), Box::new(signed(*keys)), Box::new(signed(*bytes))],
                "restoring plugin state usage",
            ),
            Record::KpiCheckpoint { seq } => {
                add(CHECKPOINT, vec![name(), Box::new(signed(*seq))], "restoring the KPI checkpoint");
            }
            Record::KpiDay { day, tally } => {
                add(
                    KPI_DAY,
                    vec![name(), Box::new(*day), Box::new(crate::kpis::encode(tenant, tally)?)],
                    "restoring a KPI day",
                );
            }
            Record::KpiMarks { conversation, marks } => add(
                KPI_MARKS,
                vec![
                    name(),
                    Box::new(conversation.clone()),
                    Box::new(crate::kpis::encode(conversation, marks)?),
                ],
                "restoring KPI marks",
            ),
        }
    }
    if let Some(last) = events.iter().map(|&(seq, ..)| seq).max() {
        add(EVENT_HEAD, vec![name(), Box::new(last)], "restoring the event log's head");
    }
    if last_outbox > 0 {
        add(OUTBOX_SEQ, vec![Box::new(last_outbox)], "moving the outbox's numbers on");
    }
    if last_call > 0 {
        add(STEP_CALL_SEQ, vec![Box::new(last_call)], "moving the step calls' numbers on");
    }
    in_tenant(store, tenant, async |tx| {
        // Only the batch's first record can have begun in an earlier batch
        // (a dump hands events over in order).
        let first = events.first().map(|&(seq, ..)| seq);
        let base: i32 = match first {
            Some(seq) => {
                query(tx, EVENT_BASE, &[&tenant, &seq], "reading where a record goes on").await?[0].get(0)
            }
            None => 0,
        };
        for (seq, place, conversation, at, event) in events {
            let idx = place + 1 + if Some(seq) == first { base } else { 0 };
            writes.push(Statement {
                sql: EVENT,
                values: vec![
                    name(),
                    Box::new(seq),
                    Box::new(idx),
                    Box::new(conversation),
                    Box::new(at),
                    Box::new(event),
                ],
                operation: "restoring an event",
            });
        }
        let pending = writes.into_iter().map(|statement| statement.run(tx));
        futures_util::future::try_join_all(pending).await.map(drop)
    })
    .await
}

pub(crate) async fn restore_shared(store: &PgStore, records: &[Shared]) -> Result<(), StoreError> {
    in_scope(store, Scope::Shared, async |tx| {
        for record in records {
            match record {
                Shared::Blob { hash, bytes } => {
                    crate::blobs::verify(hash, bytes)?;
                    execute(tx, BLOB, &[hash, bytes], "restoring a blob").await?;
                }
                Shared::CatalogEntry(entry) => {
                    let json = encode(&entry.name, entry)?;
                    execute(
                        tx,
                        CATALOG_ENTRY,
                        &[&entry.name, &entry.version, &json],
                        "restoring a catalog entry",
                    )
                    .await?;
                }
                Shared::TenantBundle { .. } => {}
            }
        }
        Ok(())
    })
    .await?;
    // Each tenant's row is its own under row-level security.
    for record in records {
        if let Shared::TenantBundle { tenant, revision, bundle } = record {
            in_tenant(store, tenant, async |tx| {
                execute(
                    tx,
                    TENANT_BUNDLE,
                    &[tenant, &signed(*revision), bundle],
                    "restoring a tenant's bundle",
                )
                .await
            })
            .await?;
        }
    }
    Ok(())
}

/// Statistics for the planner, gathered now rather than when autovacuum
/// next looks: on tables it has none of yet, it estimates a tenant's event
/// log at a row and pages it with a full scan per page (measured: 20 ms a
/// page against 0.7 ms, on 56,000 events; `bench migrate`).
pub(crate) async fn finish_restore(store: &PgStore) -> Result<(), StoreError> {
    let client = store.client().await?;
    client.batch_execute("ANALYZE").await.map_err(crate::backend("gathering planner statistics"))
}

/// Numbers are `bigint`: one past its range is past any row.
fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn unsigned(column: i64) -> u64 {
    u64::try_from(column).unwrap_or_default()
}
