//! KPI tallies per day and the fold's marks per conversation, stored with
//! postcard (compact, and a year's dashboard decodes 365 of them).

use std::collections::BTreeMap;

use switchboard_core::kpi::{Day, Marks, Tally};
use switchboard_store::StoreError;

use crate::PgStore;
use crate::scope::{execute, in_tenant, query, query_opt};

const CHECKPOINT: &str = "SELECT checkpoint FROM kpi_state WHERE tenant = $1";
const MARKS: &str = "SELECT marks FROM kpi_marks WHERE tenant = $1 AND conversation = $2";
const DAYS: &str = "SELECT day, tally FROM kpi_days WHERE tenant = $1 AND day BETWEEN $2 AND $3 ORDER BY day";
const STATE_ROW: &str = "INSERT INTO kpi_state (tenant, checkpoint) VALUES ($1, NULL) ON CONFLICT DO NOTHING";
const LOCK_STATE: &str = "SELECT checkpoint FROM kpi_state WHERE tenant = $1 FOR UPDATE";
const SAVE_DAYS: &str = "INSERT INTO kpi_days (tenant, day, tally) SELECT $1, day, tally \
     FROM unnest($2::integer[], $3::bytea[]) AS u(day, tally) \
     ON CONFLICT (tenant, day) DO UPDATE SET tally = EXCLUDED.tally";
const SAVE_MARKS: &str = "INSERT INTO kpi_marks (tenant, conversation, marks) SELECT $1, conversation, marks \
     FROM unnest($2::text[], $3::bytea[]) AS u(conversation, marks) \
     ON CONFLICT (tenant, conversation) DO UPDATE SET marks = EXCLUDED.marks";
const SET_CHECKPOINT: &str = "UPDATE kpi_state SET checkpoint = $2 WHERE tenant = $1";
const CLEAR_DAYS: &str = "DELETE FROM kpi_days WHERE tenant = $1 AND day >= $2";
const CLEAR_MARKS: &str = "DELETE FROM kpi_marks WHERE tenant = $1";
const CLEAR_CHECKPOINT: &str = "UPDATE kpi_state SET checkpoint = NULL WHERE tenant = $1";

pub(crate) fn encode<T: serde::Serialize>(what: &str, value: &T) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value)
        .map_err(|error| StoreError::Tally { key: what.to_owned(), message: error.to_string() })
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes)
        .map_err(|error| StoreError::Tally { key: what.to_owned(), message: error.to_string() })
}

fn seq(checkpoint: Option<i64>) -> Option<u64> {
    checkpoint.and_then(|seq| u64::try_from(seq).ok())
}

pub(crate) async fn checkpoint(store: &PgStore, tenant: &str) -> Result<Option<u64>, StoreError> {
    in_tenant(store, tenant, async |tx| {
        let row = query_opt(tx, CHECKPOINT, &[&tenant], "reading the KPI checkpoint").await?;
        Ok(seq(row.and_then(|row| row.get(0))))
    })
    .await
}

pub(crate) async fn marks(
    store: &PgStore,
    tenant: &str,
    conversation: &str,
) -> Result<Option<Marks>, StoreError> {
    in_tenant(store, tenant, async |tx| {
        let row = query_opt(tx, MARKS, &[&tenant, &conversation], "reading KPI marks").await?;
        row.map(|row| decode(conversation, row.get::<_, &[u8]>(0))).transpose()
    })
    .await
}

pub(crate) async fn days(
    store: &PgStore,
    tenant: &str,
    from: Day,
    to: Day,
) -> Result<Vec<(Day, Tally)>, StoreError> {
    in_tenant(store, tenant, async |tx| {
        let rows = query(tx, DAYS, &[&tenant, &from, &to], "reading KPI tallies").await?;
        rows.iter()
            .map(|row| {
                let day: Day = row.get(0);
                Ok((day, decode(&format!("{tenant}/{day}"), row.get::<_, &[u8]>(1))?))
            })
            .collect()
    })
    .await
}

pub(crate) async fn save(
    store: &PgStore,
    tenant: &str,
    from: Option<u64>,
    folded_to: u64,
    marks: &BTreeMap<String, Marks>,
    days: &BTreeMap<Day, Tally>,
) -> Result<bool, StoreError> {
    let day_numbers: Vec<Day> = days.keys().copied().collect();
    let tallies = days
        .iter()
        .map(|(day, tally)| encode(&format!("{tenant}/{day}"), tally))
        .collect::<Result<Vec<_>, _>>()?;
    let conversations: Vec<&str> = marks.keys().map(String::as_str).collect();
    let encoded_marks = marks
        .iter()
        .map(|(conversation, marks)| encode(conversation, marks))
        .collect::<Result<Vec<_>, _>>()?;
    let folded_to = i64::try_from(folded_to).unwrap_or(i64::MAX);
    in_tenant(store, tenant, async |tx| {
        execute(tx, STATE_ROW, &[&tenant], "starting the KPI state").await?;
        let current = query_opt(tx, LOCK_STATE, &[&tenant], "locking the KPI checkpoint").await?;
        if seq(current.and_then(|row| row.get(0))) != from {
            return Ok(false);
        }
        execute(tx, SAVE_DAYS, &[&tenant, &day_numbers, &tallies], "writing KPI tallies").await?;
        execute(tx, SAVE_MARKS, &[&tenant, &conversations, &encoded_marks], "writing KPI marks").await?;
        execute(tx, SET_CHECKPOINT, &[&tenant, &folded_to], "moving the KPI checkpoint").await?;
        Ok(true)
    })
    .await
}

/// Clear in one transaction: there is never a half-cleared tally to finish.
pub(crate) async fn clear(store: &PgStore, tenant: &str, from: Day) -> Result<usize, StoreError> {
    in_tenant(store, tenant, async |tx| {
        // The checkpoint's lock first, as a fold's save takes it: a save
        // running meanwhile lands wholly before this or after it.
        execute(tx, STATE_ROW, &[&tenant], "starting the KPI state").await?;
        query_opt(tx, LOCK_STATE, &[&tenant], "locking the KPI checkpoint").await?;
        let days = execute(tx, CLEAR_DAYS, &[&tenant, &from], "clearing KPI tallies").await?;
        let marks = execute(tx, CLEAR_MARKS, &[&tenant], "clearing KPI marks").await?;
        execute(tx, CLEAR_CHECKPOINT, &[&tenant], "clearing the KPI checkpoint").await?;
        Ok(usize::try_from(days + marks).unwrap_or(usize::MAX))
    })
    .await
}
