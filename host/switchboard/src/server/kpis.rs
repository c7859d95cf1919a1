//! KPIs and exports: the dashboard's numbers (JSON, or CSV for a
//! spreadsheet), their definitions, a rebuild from the log, and the event
//! log as NDJSON with a resumable cursor.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value as JsonValue, json};
use switchboard_core::contract::Channel;
use switchboard_core::kpi::{DEFINITIONS, Day, Value, day_of};

use super::api::{blocking, now};
use super::auth::{AgentAuth, TenantAuth};
use super::wire::LoggedEvent;
use super::{AppError, AppState, ErrorBody};
use crate::engine::{Granularity, KpiAnswer, KpiQuery, day_name, parse_day};

/// The longest span one query reads: two years of days.
const MAX_DAYS: i32 = 731;
/// Records per page of an export.
const EXPORT_PAGE: usize = 1000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KpiParams {
    /// First day, `YYYY-MM-DD` in the tenant's zone (default: 29 days before `to`).
    from: Option<String>,
    /// Last day, inclusive (default: today in the tenant's zone).
    to: Option<String>,
    /// The last this many days up to `to` (instead of `from`): `days=7` is
    /// this week so far in the tenant's zone, wherever the browser is.
    days: Option<i32>,
    /// `whatsapp`, `telegram`, `messenger`, `instagram`, `webchat` or `internal`.
    #[param(value_type = Option<String>)]
    channel: Option<Channel>,
    intent: Option<String>,
    #[serde(default)]
    #[param(value_type = Option<String>)]
    granularity: Granularity,
    /// `json` (the default) or `csv`.
    format: Option<String>,
}

/// `GET /v1/tenants/{tenant}/kpis`: every KPI of SCENARIOS.md over a span,
/// per channel, per intent and per day or week, with each intent's funnel,
/// terminal states, handoffs by cause and step failures.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/kpis", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path), KpiParams),
    responses((status = 200, description = "`{zone, from, to, granularity, total, by_channel, by_intent, series, folded_to}`, or CSV rows `period,channel,intent,kpi,value,numerator,denominator`", body = Object),
              (status = 400, description = "A day that is not `YYYY-MM-DD`, `from` after `to`, or a span over two years", body = ErrorBody),
              (status = 401, description = "Missing or wrong bearer token", body = ErrorBody)))]
pub async fn kpis(
    State(state): State<AppState>,
    AgentAuth { name: tenant, .. }: AgentAuth,
    Query(params): Query<KpiParams>,
) -> Result<Response, AppError> {
    let csv = match params.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(AppError::bad_request(format!("format {other:?}: use json or csv"))),
    };
    let zone = {
        let tenant = tenant.clone();
        blocking(&state, move |engine| Ok(engine.tenant(&tenant)?.calendar.zone().clone())).await?
    };
    let query = query_of(params, day_of(&zone, now())).map_err(AppError::bad_request)?;
    let answer = blocking(&state, move |engine| engine.kpis(&tenant, &query)).await?;
    if csv {
        let body = to_csv(&answer).map_err(|error| AppError::bad_request(error.to_string()))?;
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response());
    }
    Ok(Json(answer).into_response())
}

fn query_of(params: KpiParams, today: Day) -> Result<KpiQuery, String> {
    let day = |text: Option<String>, default: Day| match text {
        None => Ok(default),
        Some(text) => parse_day(&text).ok_or_else(|| format!("{text:?} is not a day: write YYYY-MM-DD")),
    };
    let to = day(params.to, today)?;
    let from = match params.days {
        Some(days) if !(1..=MAX_DAYS).contains(&days) => return Err(format!("days is 1 to {MAX_DAYS}")),
        Some(days) => to - (days - 1),
        None => day(params.from, to - 29)?,
    };
    if from > to {
        return Err(format!("from ({}) is after to ({})", day_name(from), day_name(to)));
    }
    if to - from >= MAX_DAYS {
        return Err(format!("{} days asked; a query reads at most {MAX_DAYS}", to - from + 1));
    }
    Ok(KpiQuery { from, to, channel: params.channel, intent: params.intent, granularity: params.granularity })
}

/// One row per KPI and period (`total` for the whole span), channel and
/// intent (`all` for every one).
fn to_csv(answer: &KpiAnswer) -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(["period", "channel", "intent", "kpi", "value", "numerator", "denominator"])?;
    let mut rows =
        |period: &str, channel: &str, intent: &str, kpis: &std::collections::BTreeMap<&str, Value>| {
            for (id, value) in kpis {
                let number = |n: Option<f64>| n.map(|n| n.to_string()).unwrap_or_default();
                writer.write_record([
                    period,
                    channel,
                    intent,
                    id,
                    &number(value.value),
                    &number(value.numerator),
                    &number(value.denominator),
                ])?;
            }
            Ok::<_, csv::Error>(())
        };
    rows("total", "all", "all", &answer.total.kpis)?;
    for (channel, kpis) in &answer.by_channel {
        rows("total", channel.as_str(), "all", kpis)?;
    }
    for (intent, kpis) in &answer.by_intent {
        rows("total", "all", intent, kpis)?;
    }
    for period in &answer.series {
        rows(&period.start, "all", "all", &period.kpis)?;
    }
    let bytes = writer.into_inner().map_err(|error| csv::Error::from(error.into_error()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `GET /v1/tenants/{tenant}/kpis/definitions`: what every KPI counts.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/kpis/definitions", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path)),
    responses((status = 200, description = "`[{id, scenario, title, unit, definition}]`", body = Object)))]
pub async fn definitions(_: AgentAuth) -> Json<JsonValue> {
    Json(json!(DEFINITIONS))
}

/// `POST /v1/tenants/{tenant}/kpis/rebuild`: recompute the tallies from
/// the event log (after a definition changed, or to check them).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/kpis/rebuild", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path)),
    responses((status = 200, description = "`{events}`: how many were folded", body = Object),
              (status = 401, description = "Missing or wrong bearer token", body = ErrorBody)))]
pub async fn rebuild(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
) -> Result<Json<JsonValue>, AppError> {
    let events = blocking(&state, move |engine| engine.rebuild_kpis(&tenant, &|_| {})).await?;
    Ok(Json(json!({ "events": events })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Resume after this sequence number (the last line's `seq`).
    after: Option<u64>,
}

/// `GET /v1/tenants/{tenant}/events/export?after=SEQ`: the event log from
/// `after` to the moment of the request as NDJSON, one `{"seq", "event"}`
/// per line, streamed page by page. A cut-off download resumes with `after` = the last
/// line's `seq`: the cursor never passes a record still being written.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/events/export", tag = "agents", security(("bearer" = [])), params(("tenant" = String, Path), ExportParams),
    responses((status = 200, description = "NDJSON, one event per line", content_type = "application/x-ndjson"),
              (status = 401, description = "Missing or wrong bearer token", body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    AgentAuth { name: tenant, .. }: AgentAuth,
    Query(params): Query<ExportParams>,
) -> Result<Response, AppError> {
    // It ends at the log as it is now, so a busy tenant's export ends
    // too; the next one resumes from its last line. An unknown tenant is
    // refused before the stream starts.
    let (first, until) = {
        let tenant = tenant.clone();
        blocking(&state, move |engine| {
            let until = engine.live_cursor(&tenant)?;
            Ok((engine.tenant_events(&tenant, params.after, EXPORT_PAGE)?, until))
        })
        .await?
    };
    let pages = futures_util::stream::unfold(Some((first, state, tenant)), move |cursor| async move {
        let (mut page, state, tenant) = cursor?;
        page.retain(|(seq, _)| *seq <= until);
        let last = page.last().map(|(seq, _)| *seq)?;
        let mut lines = Vec::new();
        for (seq, event) in &page {
            let mut line =
                serde_json::to_vec(&LoggedEvent { seq: *seq, event: event.into() }).unwrap_or_default();
            line.push(b'\n');
            lines.extend_from_slice(&line);
        }
        let next = {
            let tenant = tenant.clone();
            blocking(&state, move |engine| engine.tenant_events(&tenant, Some(last), EXPORT_PAGE)).await
        };
        let next = match next {
            Ok(next) => Some((next, state, tenant)),
            // The client sees the stream end early and resumes from its last line.
            Err(error) => {
                tracing::warn!(%tenant, "event export stopped: {}", error.message);
                None
            }
        };
        Some((Ok::<_, std::io::Error>(lines), next))
    });
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(pages)).into_response())
}
