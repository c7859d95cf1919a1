//! The outbox: replies committed with their turns, settled or parked with
//! the events that say so, and delivery lanes claimed across nodes.

use std::time::Duration;

use switchboard_core::event::DomainEvent;
use switchboard_store::StoreError;

use crate::scope::{self, Scope};
use crate::turns::write_events;
use crate::{PgStore, backend};

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
    let mut client = store.client().await?;
    let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
    let sql = if parked { PARKED_PAGE } else { PAGE };
    let statement = transaction.prepare_cached(sql).await.map_err(backend("preparing an outbox read"))?;
    let after = after.map_or(0, seq_param);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = transaction
        .query(&statement, &[&tenant, &after, &limit])
        .await
        .map_err(backend("reading the outbox"))?;
    transaction.commit().await.map_err(backend("ending a read"))?;
    Ok(rows.iter().map(|row| (u64::try_from(row.get::<_, i64>(0)).unwrap_or_default(), row.get(1))).collect())
}

pub(crate) async fn settle(
    store: &PgStore,
    tenant: &str,
    seq: u64,
    retry: Option<&[u8]>,
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    let mut client = store.client().await?;
    let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
    let changed = match retry {
        Some(entry) => {
            let statement =
                transaction.prepare_cached(REPLACE).await.map_err(backend("preparing a settle"))?;
            transaction.execute(&statement, &[&tenant, &seq_param(seq), &entry]).await
        }
        None => {
            let statement =
                transaction.prepare_cached(REMOVE).await.map_err(backend("preparing a settle"))?;
            transaction.execute(&statement, &[&tenant, &seq_param(seq)]).await
        }
    }
    .map_err(backend("settling an outbox entry"))?;
    if changed == 0 {
        // Gone meanwhile (its tenant removed): nothing to settle, and a
        // retry must not bring it back.
        return Ok(());
    }
    write_events(&transaction, tenant, events).await?;
    transaction.commit().await.map_err(backend("committing a settle"))
}

pub(crate) async fn park(
    store: &PgStore,
    tenant: &str,
    seq: u64,
    entry: &[u8],
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    let mut client = store.client().await?;
    let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
    let statement = transaction.prepare_cached(PARK).await.map_err(backend("preparing a park"))?;
    let moved = transaction
        .execute(&statement, &[&tenant, &seq_param(seq), &entry])
        .await
        .map_err(backend("parking an outbox entry"))?;
    if moved == 0 {
        return Ok(());
    }
    write_events(&transaction, tenant, events).await?;
    transaction.commit().await.map_err(backend("committing a park"))
}

/// Move parked entries back in pages, each its own transaction.
pub(crate) async fn redrive(
    store: &PgStore,
    tenant: &str,
    reset: &dyn Fn(&[u8]) -> Vec<u8>,
) -> Result<usize, StoreError> {
    let mut client = store.client().await?;
    let mut moved = 0;
    let mut after = 0_i64;
    loop {
        let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
        let select =
            transaction.prepare_cached(PARKED_FOR_REDRIVE).await.map_err(backend("preparing a re-drive"))?;
        let rows = transaction
            .query(&select, &[&tenant, &after])
            .await
            .map_err(backend("reading parked entries"))?;
        let Some(last) = rows.last() else { return Ok(moved) };
        after = last.get(0);
        let seqs: Vec<i64> = rows.iter().map(|row| row.get(0)).collect();
        let conversations: Vec<String> = rows.iter().map(|row| row.get(1)).collect();
        let entries: Vec<Vec<u8>> = rows.iter().map(|row| reset(row.get::<_, &[u8]>(2))).collect();
        let unpark = transaction.prepare_cached(UNPARK).await.map_err(backend("preparing a re-drive"))?;
        transaction
            .execute(&unpark, &[&tenant, &seqs, &conversations, &entries])
            .await
            .map_err(backend("re-driving parked entries"))?;
        transaction.commit().await.map_err(backend("committing a re-drive"))?;
        moved += seqs.len();
    }
}

pub(crate) async fn claim_lane(
    store: &PgStore,
    tenant: &str,
    lane: &str,
    lease: Duration,
) -> Result<bool, StoreError> {
    let mut client = store.client().await?;
    let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
    let statement =
        transaction.prepare_cached(CLAIM_LANE).await.map_err(backend("preparing a lane claim"))?;
    let lease_ms = f64::from(u32::try_from(lease.as_millis()).unwrap_or(u32::MAX));
    let claimed = transaction
        .execute(&statement, &[&tenant, &lane, &store.node, &lease_ms])
        .await
        .map_err(backend("claiming a delivery lane"))?;
    transaction.commit().await.map_err(backend("committing a lane claim"))?;
    Ok(claimed == 1)
}

pub(crate) async fn release_lane(store: &PgStore, tenant: &str, lane: &str) -> Result<(), StoreError> {
    let mut client = store.client().await?;
    let transaction = scope::begin(&mut client, Scope::Tenant(tenant)).await?;
    let statement =
        transaction.prepare_cached(RELEASE_LANE).await.map_err(backend("preparing a lane release"))?;
    transaction
        .execute(&statement, &[&tenant, &lane, &store.node])
        .await
        .map_err(backend("releasing a lane"))?;
    transaction.commit().await.map_err(backend("committing a lane release"))
}

/// Sequence numbers are `bigint`: a number past its range is past any row.
fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}
