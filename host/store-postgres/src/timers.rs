//! Due timers, claimed across nodes: `FOR UPDATE SKIP LOCKED` keeps two
//! claims from taking the same entry at once, and a lease (on the
//! database's clock) hands back what a dead node claimed. The claim is the
//! one statement that spans tenants (the scope `all-tenants`).

use std::time::Duration;

use switchboard_store::{DueTimer, StoreError};

use crate::PgStore;
use crate::scope::{Scope, execute, in_scope, query};

const CLAIM: &str = "UPDATE timers t SET lease_until = clock_timestamp() + $3 * interval '1 millisecond' \
     FROM (SELECT tenant, conversation, key, due_at FROM timers \
           WHERE due_at <= $1 AND (lease_until IS NULL OR lease_until < clock_timestamp()) \
           ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED) due \
     WHERE t.tenant = due.tenant AND t.conversation = due.conversation AND t.key = due.key AND t.due_at = due.due_at \
     RETURNING t.tenant, t.conversation, t.key, t.due_at";
const SETTLE: &str = "DELETE FROM timers t \
     USING unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS s(tenant, conversation, key, due_at) \
     WHERE t.tenant = s.tenant AND t.conversation = s.conversation AND t.key = s.key AND t.due_at = s.due_at";
const RELEASE: &str = "UPDATE timers t SET lease_until = NULL \
     FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS s(tenant, conversation, key, due_at) \
     WHERE t.tenant = s.tenant AND t.conversation = s.conversation AND t.key = s.key AND t.due_at = s.due_at";

pub(crate) async fn claim(
    store: &PgStore,
    now: i64,
    limit: usize,
    lease: Duration,
) -> Result<Vec<DueTimer>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let lease_ms = f64::from(u32::try_from(lease.as_millis()).unwrap_or(u32::MAX));
    let rows = in_scope(store, Scope::AllTenants, async |tx| {
        query(tx, CLAIM, &[&now, &limit, &lease_ms], "claiming due timers").await
    })
    .await?;
    let mut due: Vec<DueTimer> = rows
        .iter()
        .map(|row| DueTimer {
            tenant: row.get(0),
            conversation: row.get(1),
            key: row.get(2),
            due_at: row.get(3),
        })
        .collect();
    // RETURNING keeps no order: oldest first, as the contract says.
    due.sort_by(|a, b| {
        (a.due_at, &a.tenant, &a.conversation, &a.key).cmp(&(b.due_at, &b.tenant, &b.conversation, &b.key))
    });
    Ok(due)
}

pub(crate) async fn settle(store: &PgStore, fired: &[DueTimer]) -> Result<(), StoreError> {
    by_key(store, SETTLE, "settling timers", fired).await
}

pub(crate) async fn release(store: &PgStore, due: &[DueTimer]) -> Result<(), StoreError> {
    by_key(store, RELEASE, "releasing timers", due).await
}

/// Run `sql` with the timers' keys as four arrays, in the all-tenants scope.
async fn by_key(
    store: &PgStore,
    sql: &'static str,
    operation: &'static str,
    timers: &[DueTimer],
) -> Result<(), StoreError> {
    if timers.is_empty() {
        return Ok(());
    }
    let tenants: Vec<&str> = timers.iter().map(|timer| timer.tenant.as_str()).collect();
    let conversations: Vec<&str> = timers.iter().map(|timer| timer.conversation.as_str()).collect();
    let keys: Vec<&str> = timers.iter().map(|timer| timer.key.as_str()).collect();
    let due: Vec<i64> = timers.iter().map(|timer| timer.due_at).collect();
    in_scope(store, Scope::AllTenants, async |tx| {
        execute(tx, sql, &[&tenants, &conversations, &keys, &due], operation).await.map(drop)
    })
    .await
}
