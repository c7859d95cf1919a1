//! The outbox: replies committed with their turns, settled or parked with
//! the events that say so, and delivery lanes claimed across nodes.

use std::time::Duration;

use switchboard_core::event::DomainEvent;
use switchboard_store::StoreError;

use crate::PgStore;
use crate::scope::{execute, in_tenant, query};
use crate::turns::{check_events, text_key, write_events};

const PAGE: &str = "SELECT seq, entry FROM outbox WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3";
const PARKED_PAGE: &str =
    "SELECT seq, entry FROM parked_outbox WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT $3";
const REMOVE: &str = "DELETE FROM outbox WHERE tenant = $1 AND seq = $2";
const REPLACE: &str = "UPDATE outbox SET entry = $3 WHERE tenant = $1 AND seq = $2";
const PARK: &str = "WITH gone AS (DELETE FROM outbox WHERE tenant = $1 AND seq = $2 RETURNING tenant, seq, conversation) \
     INSERT INTO parked_outbox (tenant, seq, conversation, entry) SELECT tenant, seq, conversation, $3 FROM gone";
/// A page of parked entries, locked so two re-drives never move one twice.
const PARKED_FOR_REDRIVE: &str = "SELECT seq, conversation, entry FROM parked_outbox \
     WHERE tenant = $1 AND seq > $2 ORDER BY seq LIMIT 256 FOR UPDATE";
const UNPARK: &str = "WITH gone AS ( \
       DELETE FROM parked_outbox p USING unnest($2::bigint[]) AS s(seq) WHERE p.tenant = $1 AND p.seq = s.seq) \
     INSERT INTO outbox (tenant, seq, conversation, entry) \
     SELECT $1, seq, conversation, entry FROM unnest($2::bigint[], $3::text[], $4::bytea[]) AS u(seq, conversation, entry)";
/// Take the lane if it is free, ours, or its lease ran out.
const CLAIM_LANE: &str = "INSERT INTO outbox_lanes AS l (tenant, lane, node, lease_until) \
     VALUES ($1, $2, $3, clock_timestamp() + $4 * interval '1 millisecond') \
     ON CONFLICT (tenant, lane) DO UPDATE SET node = EXCLUDED.node, lease_until = EXCLUDED.lease_until \
     WHERE l.node = EXCLUDED.node OR l.lease_until < clock_timestamp()";
const RELEASE_LANE: &str = "DELETE FROM outbox_lanes WHERE tenant = $1 AND lane = $2 AND node = $3";

pub(crate) async fn page(
    store: &PgStore,
    parked: bool,
    tenant: &str,
    after: Option<u64>,
    limit: usize,
) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
    let sql = if parked { PARKED_PAGE } else { PAGE };
    let after = after.map_or(0, seq_param);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = in_tenant(store, tenant, async |tx| {
        query(tx, sql, &[&tenant, &after, &limit], "reading the outbox").await
    })
    .await?;
    Ok(rows.iter().map(|row| (u64::try_from(row.get::<_, i64>(0)).unwrap_or_default(), row.get(1))).collect())
}

pub(crate) async fn settle(
    store: &PgStore,
    tenant: &str,
    seq: u64,
    retry: Option<&[u8]>,
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    check_events(tenant, events)?;
    in_tenant(store, tenant, async |tx| {
        let seq = seq_param(seq);
        let changed = match retry {
            Some(entry) => execute(tx, REPLACE, &[&tenant, &seq, &entry], "settling an outbox entry").await?,
            None => execute(tx, REMOVE, &[&tenant, &seq], "settling an outbox entry").await?,
        };
        // Gone meanwhile (its tenant removed): nothing to settle, and a
        // retry must not bring it back.
        if changed == 1 {
            write_events(tx, tenant, events).await?;
        }
        Ok(())
    })
    .await
}

pub(crate) async fn park(
    store: &PgStore,
    tenant: &str,
    seq: u64,
    entry: &[u8],
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    check_events(tenant, events)?;
    in_tenant(store, tenant, async |tx| {
        let moved = execute(tx, PARK, &[&tenant, &seq_param(seq), &entry], "parking an outbox entry").await?;
        if moved == 1 {
            write_events(tx, tenant, events).await?;
        }
        Ok(())
    })
    .await
}

/// Move parked entries back in pages, each its own transaction.
pub(crate) async fn redrive(
    store: &PgStore,
    tenant: &str,
    reset: &dyn Fn(&[u8]) -> Vec<u8>,
) -> Result<usize, StoreError> {
    let mut moved = 0;
    let mut after = 0_i64;
    loop {
        let page = in_tenant(store, tenant, async |tx| {
            let rows = query(tx, PARKED_FOR_REDRIVE, &[&tenant, &after], "reading parked entries").await?;
            let seqs: Vec<i64> = rows.iter().map(|row| row.get(0)).collect();
            let conversations: Vec<String> = rows.iter().map(|row| row.get(1)).collect();
            let entries: Vec<Vec<u8>> = rows.iter().map(|row| reset(row.get::<_, &[u8]>(2))).collect();
            if !seqs.is_empty() {
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                    [&tenant, &seqs, &conversations, &entries];
                execute(tx, UNPARK, &params, "re-driving parked entries").await?;
            }
            Ok(seqs)
        })
        .await?;
        let Some(last) = page.last() else { return Ok(moved) };
        after = *last;
        moved += page.len();
    }
}

pub(crate) async fn claim_lane(
    store: &PgStore,
    tenant: &str,
    lane: &str,
    lease: Duration,
) -> Result<bool, StoreError> {
    let lease_ms = f64::from(u32::try_from(lease.as_millis()).unwrap_or(u32::MAX));
    // The engine names a conversation's handoff lane with a NUL in it.
    let lane = text_key(lane);
    let claimed = in_tenant(store, tenant, async |tx| {
        execute(tx, CLAIM_LANE, &[&tenant, &lane, &store.node, &lease_ms], "claiming a delivery lane").await
    })
    .await?;
    Ok(claimed == 1)
}

pub(crate) async fn release_lane(store: &PgStore, tenant: &str, lane: &str) -> Result<(), StoreError> {
    let lane = text_key(lane);
    in_tenant(store, tenant, async |tx| {
        execute(tx, RELEASE_LANE, &[&tenant, &lane, &store.node], "releasing a delivery lane").await.map(drop)
    })
    .await
}

/// Sequence numbers are `bigint`: a number past its range is past any row.
fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}
