//! `POST /v1/tenants/{tenant}/signals`: what the business's own systems say
//! about a customer (a payment failed, an order was created, a renewal is
//! due), so the flow can start an intent or set its timers.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use serde::Deserialize;
use switchboard_core::contract::{Channel, Identity, Money, Value};

use super::{blocking, now};
use crate::engine::Signal;
use crate::server::auth::TenantAuth;
use crate::server::wire::Turn;
use crate::server::{AppError, AppState, ErrorBody};

/// The most fields one signal carries.
const MAX_FIELDS: usize = 64;

/// The longest text a field of a signal holds, in characters.
const MAX_FIELD_CHARS: usize = 1000;

/// How far a signal's `at` may lie from now: a little ahead (clocks
/// differ), a week behind (a billing run catching up). Beyond, it would
/// skew daily quotas, retention and timers.
const AT_AHEAD_MS: i64 = 5 * 60 * 1000;
const AT_BEHIND_MS: i64 = 7 * 24 * 60 * 60 * 1000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSignal {
    /// One of the flow's `signals`, e.g. `payment.failed`.
    name: String,
    /// The customer: `channel:id`, as their messages name them.
    #[schema(example = "whatsapp:37491234567")]
    to: String,
    /// Facts for the flow: strings, numbers, booleans, `{"money": {"amount_minor", "currency"}}`
    /// or `{"datetime": ms}`.
    #[serde(default)]
    #[schema(value_type = Object)]
    fields: BTreeMap<String, serde_json::Value>,
    /// Your id for this signal: sending it again does nothing.
    #[serde(default)]
    id: Option<String>,
    /// For a customer not yet known: the language to write in, and their name.
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    name_of_customer: Option<String>,
    /// When it happened: Unix milliseconds or RFC 3339; now by default.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    at: Option<serde_json::Value>,
}

/// `POST .../signals`: record a signal in the customer's conversation.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/signals", tag = "conversations", security(("bearer" = [])), params(("tenant" = String, Path, description = "The tenant's name")), request_body = NewSignal,
    responses((status = 200, description = "The turn it made: what the bot sent and recorded", body = Turn), (status = 400, body = ErrorBody), (status = 401, description = "Missing or wrong bearer token", body = ErrorBody), (status = 422, description = "The flow declares no such signal", body = ErrorBody)))]
pub async fn post(
    State(state): State<AppState>,
    TenantAuth { name: tenant, .. }: TenantAuth,
    body: Result<Json<NewSignal>, JsonRejection>,
) -> Result<Json<Turn>, AppError> {
    let Json(request) = body?;
    // A provider's customer is `channel:id`; a web chat visitor `web:{session}`.
    let (channel, to) = match request.to.strip_prefix("web:") {
        Some(session) => (Channel::Webchat, super::web_session(session)?),
        None => {
            let identity =
                Identity::parse(&request.to).filter(|identity| !identity.id.is_empty()).ok_or_else(|| {
                    AppError::bad_request(format!(
                        "to {:?} is not a customer's identity; write it as channel:id (whatsapp:37491234567) \
                         or web:{{session}} for a web chat visitor",
                        request.to
                    ))
                })?;
            if matches!(identity.channel, Channel::Internal | Channel::Webchat) {
                return Err(AppError::bad_request(
                    "signals reach customers on their channels (not `internal`); web chat visitors are web:{session}",
                ));
            }
            (identity.channel, identity.to_string())
        }
    };
    if request.fields.len() > MAX_FIELDS {
        return Err(AppError::bad_request(format!("a signal carries at most {MAX_FIELDS} fields")));
    }
    let fields = request
        .fields
        .into_iter()
        .map(|(name, value)| field(&name, value).map(|value| (name, value)))
        .collect::<Result<_, _>>()?;
    let at = match request.at {
        None => now(),
        Some(serde_json::Value::Number(ms)) => {
            ms.as_i64().ok_or_else(|| AppError::bad_request("at must be whole milliseconds"))?
        }
        Some(serde_json::Value::String(text)) => text
            .parse::<jiff::Timestamp>()
            .map_err(|error| AppError::bad_request(format!("at {text:?} is not RFC 3339: {error}")))?
            .as_millisecond(),
        Some(_) => return Err(AppError::bad_request("at is Unix milliseconds or RFC 3339")),
    };
    let current = now();
    if at > current + AT_AHEAD_MS || at < current - AT_BEHIND_MS {
        return Err(AppError::bad_request(
            "at must lie within the past week and no more than 5 minutes ahead; leave it out for now",
        ));
    }
    let signal = Signal {
        to,
        channel,
        name: request.name,
        fields,
        id: request.id,
        locale: request.locale,
        display_name: request.name_of_customer,
        at,
    };
    Ok(Json(blocking(&state, move |engine| engine.signal(&tenant, signal)).await?.into()))
}

/// A field as a flow value: plain JSON, or the tagged shape flows store.
fn field(name: &str, value: serde_json::Value) -> Result<Value, AppError> {
    let plain = match &value {
        serde_json::Value::String(text) => Some(Value::Text(text.clone())),
        serde_json::Value::Bool(flag) => Some(Value::Boolean(*flag)),
        serde_json::Value::Number(number) => number.as_f64().map(Value::Number),
        _ => None,
    };
    if let Some(Value::Text(text)) = &plain
        && text.chars().count() > MAX_FIELD_CHARS
    {
        return Err(AppError::bad_request(format!(
            "field {name:?} is longer than {MAX_FIELD_CHARS} characters"
        )));
    }
    if let Some(value) = plain {
        return Ok(value);
    }
    let value: Value = serde_json::from_value(value).map_err(|_| {
        AppError::bad_request(format!(
            "field {name:?} is not a string, number, boolean, {{\"money\": {{\"amount_minor\", \"currency\"}}}} or {{\"datetime\": ms}}"
        ))
    })?;
    if let Value::Money(Money { currency, .. }) = &value
        && currency.len() != 3
    {
        return Err(AppError::bad_request(format!(
            "field {name:?}: currency {currency:?} is not a 3-letter code"
        )));
    }
    Ok(value)
}
