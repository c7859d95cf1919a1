//! Prometheus metrics, through the `metrics` facade. Until [`install`] runs
//! (in `serve`, with a metrics token), recording is a no-op, and the labels
//! that cost something to build are not built.
//!
//! - `switchboard_events_total{tenant, type}`: every domain event by type
//!   (messages, intents, handoffs, timers, step failures…), the raw material
//!   of the KPIs.
//! - `switchboard_turn_seconds{tenant}`: how long a turn took, plugins and
//!   the durable write included.
//! - `switchboard_deliveries_total{tenant, channel, outcome}`: provider sends,
//!   `delivered`, `retrying` or `failed`.
//! - `switchboard_webhooks_rejected_total{channel, code}`: deliveries refused
//!   (bad signature, malformed, unknown tenant…).
//! - `switchboard_plugin_calls_total{tenant, plugin, version, outcome}`:
//!   every plugin call, `ok` or its failure code; `version` is the first 12
//!   hex digits of the component's SHA-256, as `…/plugins/{name}/versions`
//!   lists it in full.
//! - `switchboard_plugin_fuel{tenant, plugin, version}` and
//!   `switchboard_plugin_seconds{…}`: what each call used.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use switchboard_core::event::DomainEvent;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Install the process-wide recorder (once; later calls return the same handle).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::warn!(%error, "metrics are off: another recorder is installed");
                None
            }
        })
        .as_ref()
}

/// The current metrics in Prometheus' text format (empty before [`install`]).
pub fn render() -> String {
    HANDLE.get().and_then(Option::as_ref).map(PrometheusHandle::render).unwrap_or_default()
}

/// Whether a recorder is installed; without one, labels are not worth building.
fn on() -> bool {
    HANDLE.get().is_some_and(Option::is_some)
}

pub fn events(tenant: &str, events: &[DomainEvent]) {
    // An event's type name comes from serializing it: skip that on every turn
    // when nothing records it.
    if !on() {
        return;
    }
    for event in events {
        metrics::counter!("switchboard_events_total", "tenant" => tenant.to_owned(), "type" => event.body.name())
            .increment(1);
    }
}

pub fn turn(tenant: &str, took: Duration) {
    metrics::histogram!("switchboard_turn_seconds", "tenant" => tenant.to_owned()).record(took.as_secs_f64());
}

pub fn delivery(tenant: &str, channel: &str, outcome: &'static str) {
    let labels =
        [("tenant", tenant.to_owned()), ("channel", channel.to_owned()), ("outcome", outcome.to_owned())];
    metrics::counter!("switchboard_deliveries_total", &labels).increment(1);
}

pub fn webhook_rejected(channel: &str, code: &str) {
    metrics::counter!("switchboard_webhooks_rejected_total", "channel" => channel.to_owned(), "code" => code.to_owned())
        .increment(1);
}

/// One plugin call: its outcome (`ok` or a failure code) and what it used.
pub fn plugin_call(tenant: &str, plugin: &str, component: &str, outcome: &str, fuel: u64, took: Duration) {
    if !on() {
        return;
    }
    let version = component.get(..12).unwrap_or(component).to_owned();
    let labels = [("tenant", tenant.to_owned()), ("plugin", plugin.to_owned()), ("version", version)];
    let mut with_outcome = labels.to_vec();
    with_outcome.push(("outcome", outcome.to_owned()));
    metrics::counter!("switchboard_plugin_calls_total", &with_outcome).increment(1);
    metrics::histogram!("switchboard_plugin_fuel", &labels).record(fuel as f64);
    metrics::histogram!("switchboard_plugin_seconds", &labels).record(took.as_secs_f64());
}
