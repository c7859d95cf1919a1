//! What every `since_v*` module shares.
//!
//! Each WIT version generates its own Rust types, so the host side of `log`,
//! `config` and `kv`, and the conversions to and from
//! [`switchboard_core::contract`], have to exist once per version. The logic
//! lives here once: the capability checks as plain methods on [`HostState`],
//! and the per-version glue as macros that a `since_v*` module expands with
//! its own `types`, `log`, `config` and `kv` modules in scope.
//!
//! A later version that changes a record (as 0.2.0 added `locale` to `reply`)
//! tells the macros how to read the new field through the `*_locale`
//! functions it defines, and each version converts its own `step-error`
//! (0.2.0 added `crashed`); everything else is written once.

use switchboard_core::kv::KvScope;

use crate::capabilities::{KV_MAX_KEY_BYTES, KV_MAX_VALUE_BYTES};
use crate::plugin::LogLine;
use crate::state::HostState;

/// Why a capability call did not answer with a value: every version's
/// `host-error`, before it is converted into that version's type.
#[derive(Debug)]
pub(crate) enum CapabilityError {
    Denied(&'static str),
    Limit(String),
    Unavailable,
}

impl HostState {
    pub(crate) fn log_line(&mut self, level: tracing::Level, message: String) {
        if self.context.grants.log {
            self.push_log(LogLine { level: level.to_string(), message });
        }
    }

    pub(crate) fn setting(&self, name: &str) -> Result<Option<String>, CapabilityError> {
        let settings = &self.context.grants.settings;
        if settings.is_empty() {
            return Err(CapabilityError::Denied("config"));
        }
        Ok(settings.get(name).cloned())
    }

    pub(crate) fn secret(&self, name: &str) -> Result<Option<String>, CapabilityError> {
        let secrets = &self.context.grants.secrets;
        if secrets.is_empty() {
            return Err(CapabilityError::Denied("secrets"));
        }
        Ok(secrets.get(name).map(|secret| secret.0.clone()))
    }

    /// Check the grant and the sizes, then run `operation` against the backend.
    /// Backend failures are logged here and reach the guest as `unavailable`.
    pub(crate) fn with_kv<T>(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
        operation: impl FnOnce(&dyn crate::KvBackend, &KvScope) -> anyhow::Result<T>,
    ) -> Result<T, CapabilityError> {
        let backend = match (&self.context.kv, self.context.grants.kv) {
            (Some(backend), true) => backend.clone(),
            _ => return Err(CapabilityError::Denied("kv")),
        };
        if key.len() > KV_MAX_KEY_BYTES {
            return Err(CapabilityError::Limit(format!("kv keys are at most {KV_MAX_KEY_BYTES} bytes")));
        }
        if value.is_some_and(|value| value.len() > KV_MAX_VALUE_BYTES) {
            return Err(CapabilityError::Limit(format!("kv values are at most {KV_MAX_VALUE_BYTES} bytes")));
        }
        let scope = KvScope { tenant: self.tenant.clone(), plugin: self.context.plugin.clone() };
        operation(backend.as_ref(), &scope).map_err(|error| {
            if let Some(exceeded) = error.downcast_ref::<crate::KvQuotaExceeded>() {
                tracing::info!(tenant = %scope.tenant, plugin = %scope.plugin, "kv write refused: {exceeded}");
                return CapabilityError::Limit(exceeded.to_string());
            }
            tracing::warn!(tenant = %scope.tenant, plugin = %scope.plugin, "kv backend failed: {error:#}");
            CapabilityError::Unavailable
        })
    }
}

/// The host side of `log`, `config` and `kv` for one version's bindings.
macro_rules! host_capabilities {
    () => {
        impl types::Host for HostState {}

        fn host_error(error: $crate::bridge::CapabilityError) -> types::HostError {
            match error {
                $crate::bridge::CapabilityError::Denied(what) => types::HostError::Denied(what.to_owned()),
                $crate::bridge::CapabilityError::Limit(message) => types::HostError::Limit(message),
                $crate::bridge::CapabilityError::Unavailable => types::HostError::Unavailable,
            }
        }

        impl log::Host for HostState {
            fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
                let level = match level {
                    log::Level::Trace => tracing::Level::TRACE,
                    log::Level::Debug => tracing::Level::DEBUG,
                    log::Level::Info => tracing::Level::INFO,
                    log::Level::Warn => tracing::Level::WARN,
                    log::Level::Error => tracing::Level::ERROR,
                };
                self.log_line(level, message);
                Ok(())
            }
        }

        impl config::Host for HostState {
            fn get(&mut self, name: String) -> wasmtime::Result<Result<Option<String>, types::HostError>> {
                Ok(self.setting(&name).map_err(host_error))
            }

            fn secret(&mut self, name: String) -> wasmtime::Result<Result<Option<String>, types::HostError>> {
                Ok(HostState::secret(self, &name).map_err(host_error))
            }
        }

        impl kv::Host for HostState {
            fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<Vec<u8>>, types::HostError>> {
                Ok(self.with_kv(&key, None, |backend, scope| backend.get(scope, &key)).map_err(host_error))
            }

            fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), types::HostError>> {
                let quota = self.context.kv_quota;
                Ok(self
                    .with_kv(&key, Some(&value), |backend, scope| backend.set(scope, &key, &value, &quota))
                    .map_err(host_error))
            }

            fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), types::HostError>> {
                Ok(self.with_kv(&key, None, |backend, scope| backend.delete(scope, &key)).map_err(host_error))
            }
        }
    };
}

/// A pre-instantiated step plugin of one version, with `handler.run`
/// resolved to an export index once.
///
/// The generated `*Pre::instantiate` looks the export up by name and
/// type-checks its (large) signature on every instantiation. We check it
/// once, in `probe` at load time, and then call through the index.
macro_rules! step_handler {
    ($export:expr) => {
        /// The export a component must have to be a step plugin of this version.
        pub(crate) const HANDLER_EXPORT: &str = $export;

        type RunParams<'a> = (&'a types::StepInput,);
        type RunResults = (Result<Vec<types::Decision>, types::StepError>,);

        #[derive(Clone)]
        pub(crate) struct Handler {
            run: wasmtime::component::ComponentExportIndex,
        }

        impl Handler {
            /// `None` when the component does not export this version's handler.
            pub(crate) fn find(component: &wasmtime::component::Component) -> Option<Self> {
                let run = component
                    .get_export_index(None, HANDLER_EXPORT)
                    .and_then(|handler| component.get_export_index(Some(&handler), "run"))?;
                Some(Self { run })
            }

            /// Type-check `run` against this version's signature.
            pub(crate) fn probe(
                &self,
                instance: &wasmtime::component::Instance,
                store: &mut wasmtime::Store<HostState>,
            ) -> wasmtime::Result<()> {
                instance.get_typed_func::<RunParams<'_>, RunResults>(&mut *store, &self.run)?;
                Ok(())
            }

            /// Run `handler.run` on `instance`. The outer error is a trap; the
            /// inner one is the guest's own refusal.
            pub(crate) fn run(
                &self,
                instance: &wasmtime::component::Instance,
                store: &mut wasmtime::Store<HostState>,
                input: &latest::StepInput,
            ) -> wasmtime::Result<Result<Vec<latest::Decision>, latest::StepError>> {
                let func = instance
                    .get_func(&mut *store, self.run)
                    .ok_or_else(|| wasmtime::format_err!("{HANDLER_EXPORT} lost its `run` export"))?;
                // SAFETY: `probe` type-checked this export of this component
                // against exactly these parameter and result types when the
                // plugin was loaded, and `instance` comes from the same
                // `InstancePre`.
                let run = unsafe {
                    wasmtime::component::TypedFunc::<RunParams<'_>, RunResults>::new_unchecked(func)
                };
                let (result,) = run.call(&mut *store, (&step_input(input),))?;
                Ok(match result {
                    Ok(decisions) => Ok(decisions.into_iter().map(decision).collect()),
                    Err(error) => Err(step_error(error)),
                })
            }
        }
    };
}

/// Conversions between one version's types and [`switchboard_core::contract`].
///
/// The invoking module defines `reply_locale`, `ask_locale` and
/// `quote_locale`, which read the `locale` field where the version has one,
/// and `verdict_to_latest` (0.2.0 added `deny-then`), which converts remedies
/// through the shared `remedies_to_latest`.
macro_rules! conversions {
    () => {
        /// A verdict's remedies, as every version has them.
        fn remedies_to_latest(remedies: Vec<types::Remedy>) -> Vec<latest::Remedy> {
            remedies
                .into_iter()
                .map(|remedy| match remedy {
                    types::Remedy::Exchange => latest::Remedy::Exchange,
                    types::Remedy::StoreCredit(amount) => latest::Remedy::StoreCredit(money(amount)),
                    types::Remedy::FullRefund(amount) => latest::Remedy::FullRefund(money(amount)),
                    types::Remedy::PartialRefund(amount) => latest::Remedy::PartialRefund(money(amount)),
                })
                .collect()
        }

        // Host (latest) -> guest.

        fn channel_to_guest(channel: latest::Channel) -> types::Channel {
            match channel {
                latest::Channel::Whatsapp => types::Channel::Whatsapp,
                latest::Channel::Telegram => types::Channel::Telegram,
                latest::Channel::Messenger => types::Channel::Messenger,
                latest::Channel::Instagram => types::Channel::Instagram,
                latest::Channel::Webchat => types::Channel::Webchat,
                latest::Channel::Internal => types::Channel::Internal,
            }
        }

        fn contact_to_guest(contact: &latest::Contact) -> types::Contact {
            types::Contact {
                id: contact.id.clone(),
                display_name: contact.display_name.clone(),
                locale: contact.locale.clone(),
            }
        }

        fn fields_to_guest(fields: &std::collections::BTreeMap<String, latest::Value>) -> Vec<types::Field> {
            fields
                .iter()
                .map(|(name, value)| types::Field { name: name.clone(), value: value_to_guest(value) })
                .collect()
        }

        fn step_input(input: &latest::StepInput) -> types::StepInput {
            types::StepInput {
                tenant: input.tenant.clone(),
                conversation: input.conversation.clone(),
                step: input.step.clone(),
                channel: channel_to_guest(input.channel),
                contact: contact_to_guest(&input.contact),
                intent: input.intent.clone(),
                message: input.message.as_ref().map(|message| types::Message {
                    text: message.text.clone(),
                    payload: message.payload.clone(),
                    received_at: message.received_at,
                }),
                fields: fields_to_guest(&input.fields),
                score: input.score,
                now: input.now,
                config: input.config.as_str().to_owned(),
            }
        }

        fn value_to_guest(value: &latest::Value) -> types::Value {
            match value {
                latest::Value::Text(text) => types::Value::Text(text.clone()),
                latest::Value::Number(number) => types::Value::Number(*number),
                latest::Value::Money(money) => types::Value::Money(money_to_guest(money)),
                latest::Value::Datetime(at) => types::Value::Datetime(*at),
                latest::Value::Boolean(flag) => types::Value::Boolean(*flag),
                latest::Value::List(items) => types::Value::List(
                    items
                        .iter()
                        .map(|item| match item {
                            latest::Scalar::Text(text) => types::Scalar::Text(text.clone()),
                            latest::Scalar::Number(number) => types::Scalar::Number(*number),
                            latest::Scalar::Money(money) => types::Scalar::Money(money_to_guest(money)),
                            latest::Scalar::Datetime(at) => types::Scalar::Datetime(*at),
                            latest::Scalar::Boolean(flag) => types::Scalar::Boolean(*flag),
                        })
                        .collect(),
                ),
            }
        }

        fn money_to_guest(money: &latest::Money) -> types::Money {
            types::Money { amount_minor: money.amount_minor, currency: money.currency.clone() }
        }

        // Guest -> host (latest).

        fn money(money: types::Money) -> latest::Money {
            latest::Money { amount_minor: money.amount_minor, currency: money.currency }
        }

        fn value(value: types::Value) -> latest::Value {
            match value {
                types::Value::Text(text) => latest::Value::Text(text),
                types::Value::Number(number) => latest::Value::Number(number),
                types::Value::Money(amount) => latest::Value::Money(money(amount)),
                types::Value::Datetime(at) => latest::Value::Datetime(at),
                types::Value::Boolean(flag) => latest::Value::Boolean(flag),
                types::Value::List(items) => latest::Value::List(
                    items
                        .into_iter()
                        .map(|item| match item {
                            types::Scalar::Text(text) => latest::Scalar::Text(text),
                            types::Scalar::Number(number) => latest::Scalar::Number(number),
                            types::Scalar::Money(amount) => latest::Scalar::Money(money(amount)),
                            types::Scalar::Datetime(at) => latest::Scalar::Datetime(at),
                            types::Scalar::Boolean(flag) => latest::Scalar::Boolean(flag),
                        })
                        .collect(),
                ),
            }
        }

        fn quick_replies(replies: Vec<types::QuickReply>) -> Vec<latest::QuickReply> {
            replies
                .into_iter()
                .map(|reply| latest::QuickReply { title: reply.title, payload: reply.payload })
                .collect()
        }

        fn priority(priority: types::Priority) -> latest::Priority {
            match priority {
                types::Priority::Low => latest::Priority::Low,
                types::Priority::Normal => latest::Priority::Normal,
                types::Priority::High => latest::Priority::High,
                types::Priority::Urgent => latest::Priority::Urgent,
            }
        }

        fn decision(decision: types::Decision) -> latest::Decision {
            use types::Decision as D;
            match decision {
                D::SetField(field) => {
                    latest::Decision::SetField { name: field.name, value: value(field.value) }
                }
                D::ClearField(name) => latest::Decision::ClearField(name),
                D::Reply(reply) => latest::Decision::Reply(latest::Reply {
                    locale: reply_locale(&reply),
                    text: reply.text,
                    quick_replies: quick_replies(reply.quick_replies),
                }),
                D::Ask(ask) => latest::Decision::Ask(latest::Ask {
                    locale: ask_locale(&ask),
                    field: ask.field,
                    prompt: ask.prompt,
                    quick_replies: quick_replies(ask.quick_replies),
                }),
                D::Score(change) => latest::Decision::Score(latest::ScoreChange {
                    delta: change.delta,
                    reason: change.reason,
                }),
                D::Grade(grade) => latest::Decision::Grade(latest::LeadGrade {
                    tier: match grade.tier {
                        types::LeadTier::Hot => latest::LeadTier::Hot,
                        types::LeadTier::Warm => latest::LeadTier::Warm,
                        types::LeadTier::Cold => latest::LeadTier::Cold,
                    },
                    reasons: grade.reasons,
                }),
                D::Quote(quote) => latest::Decision::Quote(latest::Quote {
                    locale: quote_locale(&quote),
                    line_items: quote
                        .line_items
                        .into_iter()
                        .map(|item| latest::LineItem {
                            label: item.label,
                            quantity: item.quantity,
                            unit_price_minor: item.unit_price_minor,
                            total_minor: item.total_minor,
                        })
                        .collect(),
                    total: match quote.total {
                        types::Amount::Exact(amount) => latest::Amount::Exact(amount),
                        types::Amount::Range((low, high)) => latest::Amount::Range(low, high),
                    },
                    currency: quote.currency,
                    valid_until: quote.valid_until,
                    factors: quote.factors,
                }),
                D::Verdict(verdict) => latest::Decision::Verdict(verdict_to_latest(verdict)),
                D::OfferSlots(slots) => latest::Decision::OfferSlots(
                    slots
                        .into_iter()
                        .map(|slot| latest::Slot {
                            start: slot.start,
                            end: slot.end,
                            label: slot.label,
                            resource: slot.resource,
                        })
                        .collect(),
                ),
                D::Route(route) => latest::Decision::Route(latest::Route {
                    queue: route.queue,
                    assignee: route.assignee,
                    backup: route.backup,
                    priority: priority(route.priority),
                }),
                D::Handoff(card) => latest::Decision::Handoff(latest::HandoffCard {
                    reason: card.reason,
                    summary: card.summary,
                    suggested_next_step: card.suggested_next_step,
                    queue: card.queue,
                    priority: priority(card.priority),
                }),
                D::Schedule(timer) => latest::Decision::Schedule(latest::Timer {
                    key: timer.key,
                    kind: timer.kind,
                    due: match timer.due {
                        types::Due::At(at) => latest::Due::At(at),
                        types::Due::AfterMs(ms) => latest::Due::AfterMs(ms),
                        types::Due::BeforeField((field, ms)) => latest::Due::BeforeField(field, ms),
                    },
                    payload: timer.payload,
                }),
                D::CancelTimer(key) => latest::Decision::CancelTimer(key),
                D::Emit(event) => {
                    latest::Decision::Emit(latest::Event { name: event.name, payload: event.payload })
                }
            }
        }
    };
}

pub(crate) use {conversions, host_capabilities, step_handler};
