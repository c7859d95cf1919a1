//! Bindings for `switchboard:plugin@0.2.0`: the step contract of 0.1.0 with
//! `locale` on replies, asks and quotes, and the new `understanding` export.
//!
//! 0.2.0 is released and frozen like 0.1.0 (`versions::released_contracts_are_never_edited`):
//! what comes next goes in a new version.

use switchboard_core::contract as latest;

use crate::state::HostState;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/since_v0.2.0",
        // The world with every export: a component may have either or both,
        // and the host looks each one up by name (see `Handler::find`).
        world: "plugin",
        imports: { default: trappable },
    });
}

use bindings::exports::switchboard::plugin::understanding;
use bindings::switchboard::plugin::{config, kv, log, types};

pub(crate) fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> wasmtime::Result<()> {
    bindings::Plugin::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(linker, |state| {
        state
    })
}

crate::bridge::host_capabilities!();
crate::bridge::step_handler!("switchboard:plugin/handler@0.2.0");
crate::bridge::conversions!();

fn step_error(error: types::StepError) -> latest::StepError {
    match error {
        types::StepError::InvalidInput(message) => latest::StepError::InvalidInput(message),
        types::StepError::InvalidConfig(message) => latest::StepError::InvalidConfig(message),
        types::StepError::Refused(message) => latest::StepError::Refused(message),
        types::StepError::Unavailable(message) => latest::StepError::Unavailable(message),
        types::StepError::Crashed(crash) => latest::StepError::Crashed(latest::Crash {
            kind: match crash.kind {
                types::CrashKind::Exception => latest::CrashKind::Exception,
                types::CrashKind::BadOutput => latest::CrashKind::BadOutput,
            },
            message: crash.message,
            traceback: crash.traceback,
        }),
    }
}

fn verdict_to_latest(verdict: types::Verdict) -> latest::Verdict {
    match verdict {
        types::Verdict::Allow(remedies) => latest::Verdict::Allow(remedies_to_latest(remedies)),
        types::Verdict::Deny(reason) => latest::Verdict::Deny(reason),
        types::Verdict::DenyThen(denial) => {
            latest::Verdict::DenyThen { reason: denial.reason, next: denial.next }
        }
        types::Verdict::Escalate(reason) => latest::Verdict::Escalate(reason),
    }
}

fn reply_locale(reply: &types::Reply) -> Option<String> {
    reply.locale.clone()
}

fn ask_locale(ask: &types::Ask) -> Option<String> {
    ask.locale.clone()
}

fn quote_locale(quote: &types::Quote) -> Option<String> {
    quote.locale.clone()
}

/// The export a component must have to be an understanding plugin.
pub(crate) const UNDERSTANDING_EXPORT: &str = "switchboard:plugin/understanding@0.2.0";

type ClassifyParams<'a> = (&'a understanding::ClassifyInput,);
type ClassifyResults = (Result<understanding::Classification, types::StepError>,);

/// `understanding.classify`, resolved to an export index once (see [`Handler`]).
#[derive(Clone)]
pub(crate) struct Classifier {
    classify: wasmtime::component::ComponentExportIndex,
}

impl Classifier {
    pub(crate) fn find(component: &wasmtime::component::Component) -> Option<Self> {
        let classify = component
            .get_export_index(None, UNDERSTANDING_EXPORT)
            .and_then(|export| component.get_export_index(Some(&export), "classify"))?;
        Some(Self { classify })
    }

    pub(crate) fn probe(
        &self,
        instance: &wasmtime::component::Instance,
        store: &mut wasmtime::Store<HostState>,
    ) -> wasmtime::Result<()> {
        instance.get_typed_func::<ClassifyParams<'_>, ClassifyResults>(&mut *store, &self.classify)?;
        Ok(())
    }

    pub(crate) fn classify(
        &self,
        instance: &wasmtime::component::Instance,
        store: &mut wasmtime::Store<HostState>,
        input: &latest::ClassifyInput,
    ) -> wasmtime::Result<Result<latest::Classification, latest::StepError>> {
        let func = instance
            .get_func(&mut *store, self.classify)
            .ok_or_else(|| wasmtime::format_err!("{UNDERSTANDING_EXPORT} lost its `classify` export"))?;
        // SAFETY: `probe` type-checked this export against these types at load
        // time, and `instance` comes from the same `InstancePre`.
        let classify = unsafe {
            wasmtime::component::TypedFunc::<ClassifyParams<'_>, ClassifyResults>::new_unchecked(func)
        };
        let (result,) = classify.call(&mut *store, (&classify_input(input),))?;
        Ok(result.map(classification).map_err(step_error))
    }
}

fn classify_input(input: &latest::ClassifyInput) -> understanding::ClassifyInput {
    understanding::ClassifyInput {
        tenant: input.tenant.clone(),
        conversation: input.conversation.clone(),
        channel: channel_to_guest(input.channel),
        contact: contact_to_guest(&input.contact),
        text: input.text.clone(),
        intents: input
            .intents
            .iter()
            .map(|intent| understanding::IntentSpec {
                name: intent.name.clone(),
                examples: intent.examples.clone(),
                fields: intent
                    .fields
                    .iter()
                    .map(|field| understanding::FieldSpec {
                        name: field.name.clone(),
                        kind: field_kind(field.kind),
                        options: field.options.clone(),
                    })
                    .collect(),
            })
            .collect(),
        active_intent: input.active_intent.clone(),
        asking: input.asking.clone(),
        fields: fields_to_guest(&input.fields),
        now: input.now,
        config: input.config.as_str().to_owned(),
    }
}

fn field_kind(kind: latest::FieldKindSpec) -> understanding::FieldKind {
    use latest::FieldKindSpec as K;
    use understanding::FieldKind as G;
    match kind {
        K::Text => G::Text,
        K::Number => G::Number,
        K::Money => G::Money,
        K::Date => G::Date,
        K::Datetime => G::Datetime,
        K::Phone => G::Phone,
        K::Email => G::Email,
        K::Choice => G::Choice,
        K::Boolean => G::Boolean,
        K::Pattern => G::Pattern,
        K::Quantity => G::Quantity,
    }
}

fn classification(answer: understanding::Classification) -> latest::Classification {
    latest::Classification {
        intents: answer
            .intents
            .into_iter()
            .map(|guess| latest::IntentGuess { name: guess.name, confidence: guess.confidence })
            .collect(),
        entities: answer
            .entities
            .into_iter()
            .map(|entity| latest::Entity {
                field: entity.field,
                value: value(entity.value),
                confidence: entity.confidence,
            })
            .collect(),
        locale: answer.locale,
    }
}

type InitParams<'a> = (&'a str,);
type InitResults = (Result<(), types::StepError>,);

/// The component's `init`s (`handler.init`, then `understanding.init`),
/// resolved to export indexes: what pre-initialises a binding (see
/// `snapshot.rs`).
#[derive(Clone)]
pub(crate) struct Lifecycle {
    inits: Vec<wasmtime::component::ComponentExportIndex>,
}

impl Lifecycle {
    /// `None` for a component without `init` (every 0.1.0 one, and 0.2.0
    /// ones built before it): its calls simply start unconfigured.
    pub(crate) fn find(component: &wasmtime::component::Component) -> Option<Self> {
        let inits: Vec<_> = [HANDLER_EXPORT, UNDERSTANDING_EXPORT]
            .into_iter()
            .filter_map(|interface| {
                let export = component.get_export_index(None, interface)?;
                component.get_export_index(Some(&export), "init")
            })
            .collect();
        (!inits.is_empty()).then_some(Self { inits })
    }

    pub(crate) fn probe(
        &self,
        instance: &wasmtime::component::Instance,
        store: &mut wasmtime::Store<HostState>,
    ) -> wasmtime::Result<()> {
        for init in &self.inits {
            instance.get_typed_func::<InitParams<'_>, InitResults>(&mut *store, init)?;
        }
        Ok(())
    }

    /// Run every `init(config)`, stopping at the first refusal. The outer
    /// error is a trap; the inner one the guest's refusal of its config.
    pub(crate) fn init(
        &self,
        instance: &wasmtime::component::Instance,
        store: &mut wasmtime::Store<HostState>,
        config: &str,
    ) -> wasmtime::Result<Result<(), latest::StepError>> {
        for init in &self.inits {
            let init = instance.get_typed_func::<InitParams<'_>, InitResults>(&mut *store, init)?;
            let (result,) = init.call(&mut *store, (config,))?;
            if let Err(refusal) = result {
                return Ok(Err(step_error(refusal)));
            }
        }
        Ok(Ok(()))
    }
}
