//! The state machine with plain values: a small flow, canned plugin answers.

use std::collections::{BTreeSet, VecDeque};

use super::*;
use crate::contract::{Amount, Entity, IntentGuess, LineItem, Quote, Reply, ScoreChange, Verdict};

const FLOW: &str = r#"
version = "test-1"
default_locale = "en"
greeting.en = "Hi!"
menu.en = "What can I do for you?"
menu.ru = "Чем помочь?"

[handoff]
phrases.en = ["human", "operator"]
phrases.ru = ["оператор"]
negative.en = ["terrible"]
max_failed_validations = 3
queue = "sales"

[[queues]]
name = "sales"
owner = "anna"
after_hours_owner = "on-call"

[[intents]]
name = "quote"
title.en = "Price"
triggers.en = ["how much", "price"]
triggers.ru = ["сколько стоит"]

[[intents.fields]]
name = "rooms"
type = "number"
min = 1
max = 10
prompt.en = "How many rooms?"
prompt.ru = "Сколько комнат?"
retries = 1

[[intents.steps]]
name = "price"
plugin = "pricing"
on_failure = "default"
default.en = "A manager will send the price."

[intents.confirm]
prompt.en = "{rooms} rooms for {total}. Book it?"

[intents.done]
reply.en = "Booked!"
state = "booked"
event = "booking.created"

[[intents]]
name = "refund"
title.en = "Refund"
triggers.en = ["refund", "return"]

[[intents.steps]]
name = "policy"
plugin = "policy"

[intents.done]
reply.en = "Done."
state = "resolved"
"#;

fn flow() -> Flow {
    let plugins: BTreeSet<String> = ["pricing", "policy"].map(str::to_owned).into();
    Flow::parse("test.toml", FLOW, &plugins).expect("the test flow is valid")
}

/// Answers each plugin call with the next canned outcome.
#[derive(Default)]
struct Canned {
    answers: VecDeque<Result<Vec<Decision>, StepFailed>>,
    calls: Vec<(String, StepInput)>,
    classifications: VecDeque<Result<Classification, StepFailed>>,
    classified: Vec<(String, ClassifyInput)>,
}

impl Plugins for Canned {
    fn call(&mut self, plugin: &str, input: StepInput) -> Result<Vec<Decision>, StepFailed> {
        self.calls.push((plugin.to_owned(), input));
        self.answers.pop_front().unwrap_or(Ok(Vec::new()))
    }

    fn classify(&mut self, plugin: &str, input: ClassifyInput) -> Result<Classification, StepFailed> {
        self.classified.push((plugin.to_owned(), input));
        self.classifications.pop_front().unwrap_or(Ok(Classification::default()))
    }
}

struct Chat {
    flow: Flow,
    calendar: Calendar,
    conversation: Conversation,
    plugins: Canned,
    now: i64,
    events: Vec<String>,
}

impl Chat {
    fn new() -> Self {
        Self::with_flow(flow())
    }

    /// The test flow with `[understanding] plugin = "nlu"`.
    fn with_classifier() -> Self {
        let plugins: BTreeSet<String> = ["pricing", "policy", "nlu"].map(str::to_owned).into();
        let source = format!("{FLOW}\n[understanding]\nplugin = \"nlu\"\n");
        Self::with_flow(Flow::parse("test.toml", &source, &plugins).expect("the test flow is valid"))
    }

    fn with_flow(flow: Flow) -> Self {
        let contact =
            Contact { id: "c1".to_owned(), display_name: Some("Ani".to_owned()), locale: "en".to_owned() };
        let conversation = Conversation::new("conv-1", "acme", Channel::Whatsapp, contact, &flow, 0);
        Self {
            flow,
            calendar: Calendar::always_open(),
            conversation,
            plugins: Canned::default(),
            now: 1_000,
            events: Vec::new(),
        }
    }

    /// Send a message; the bot's replies, one string each.
    fn say(&mut self, text: &str) -> Vec<String> {
        self.now += 1_000;
        let inbound = Inbound { text: text.to_owned(), payload: None, at: self.now };
        let setting = Setting { flow: &self.flow, calendar: &self.calendar };
        let effects = self.conversation.handle(setting, &inbound, &mut self.plugins);
        self.events.extend(effects.events.iter().map(|event| event.body.name()));
        effects.outbound.into_iter().map(|message| message.text).collect()
    }
}

fn quote(total: i64) -> Decision {
    Decision::Quote(Quote {
        line_items: vec![LineItem {
            label: "Move".to_owned(),
            quantity: 1.0,
            unit_price_minor: total,
            total_minor: total,
        }],
        total: Amount::Exact(total),
        currency: "AMD".to_owned(),
        valid_until: None,
        factors: Vec::new(),
        locale: None,
    })
}

fn classified(intent: Option<(&str, f32)>, entities: &[(&str, Value, f32)]) -> Classification {
    Classification {
        intents: intent
            .map(|(name, confidence)| IntentGuess { name: name.to_owned(), confidence })
            .into_iter()
            .collect(),
        entities: entities
            .iter()
            .map(|(field, value, confidence)| Entity {
                field: (*field).to_owned(),
                value: value.clone(),
                confidence: *confidence,
            })
            .collect(),
        locale: None,
    }
}

#[test]
fn a_classifier_finds_the_intent_and_the_fields_the_built_in_pass_missed() {
    let mut chat = Chat::with_classifier();
    chat.plugins
        .classifications
        .push_back(Ok(classified(Some(("quote", 0.9)), &[("rooms", Value::Number(3.0), 0.9)])));
    chat.plugins.answers.push_back(Ok(vec![quote(5_000_000)]));
    let replies = chat.say("We are moving out of a three-bedroom flat");
    assert_eq!(replies.last().map(String::as_str), Some("3 rooms for 50,000 AMD. Book it?"), "{replies:?}");
    let (plugin, input) = &chat.plugins.classified[0];
    assert_eq!((plugin.as_str(), input.text.as_str()), ("nlu", "We are moving out of a three-bedroom flat"));
    let quote_intent =
        input.intents.iter().find(|intent| intent.name == "quote").expect("intents are listed");
    assert!(quote_intent.examples.contains(&"how much".to_owned()));
    assert_eq!(quote_intent.fields[0].kind, crate::contract::FieldKindSpec::Number);
}

#[test]
fn a_failing_classifier_leaves_the_built_in_understanding_to_serve() {
    let mut chat = Chat::with_classifier();
    chat.plugins.classifications.push_back(Err(StepFailed::new(FailureCode::Deadline, "took 300 ms")));
    assert_eq!(chat.say("How much for a move?"), ["Hi!", "How many rooms?"]);
    assert!(chat.events.iter().any(|event| event == "step.failed"), "{:?}", chat.events);
}

#[test]
fn a_classifier_value_the_field_refuses_is_dropped_and_the_field_asked() {
    let mut chat = Chat::with_classifier();
    chat.plugins
        .classifications
        .push_back(Ok(classified(Some(("quote", 0.9)), &[("rooms", Value::Number(50.0), 0.99)])));
    assert_eq!(chat.say("price for a palace"), ["Hi!", "How many rooms?"]);
}

#[test]
fn the_surer_of_the_two_understandings_gives_the_value() {
    for (confidence, rooms) in [(0.7, 3.0), (0.95, 4.0)] {
        let mut chat = Chat::with_classifier();
        chat.say("How much?");
        chat.plugins
            .classifications
            .push_back(Ok(classified(None, &[("rooms", Value::Number(4.0), confidence)])));
        chat.plugins.answers.push_back(Ok(vec![quote(5_000_000)]));
        chat.say("3 rooms");
        let (_, input) = chat.plugins.calls.last().expect("the pricing step ran");
        assert_eq!(input.fields.get("rooms"), Some(&Value::Number(rooms)), "plugin confidence {confidence}");
    }
}

#[test]
fn a_step_that_writes_several_languages_is_heard_in_the_conversations() {
    let reply = |locale: Option<&str>, text: &str| {
        Decision::Reply(Reply {
            text: text.to_owned(),
            quick_replies: Vec::new(),
            locale: locale.map(str::to_owned),
        })
    };
    let texts = |decisions: Vec<Decision>| -> Vec<String> {
        decisions
            .into_iter()
            .filter_map(|decision| match decision {
                Decision::Reply(reply) => Some(reply.text),
                _ => None,
            })
            .collect()
    };
    let answer = || vec![reply(Some("ru"), "Привет"), reply(Some("en-GB"), "Hello"), reply(None, "🙂")];
    assert_eq!(texts(decisions::in_language(answer(), "ru", "en")), ["Привет", "🙂"]);
    assert_eq!(texts(decisions::in_language(answer(), "en", "ru")), ["Hello", "🙂"]);
    // No Armenian: the flow's default language, then the first the step used.
    assert_eq!(texts(decisions::in_language(answer(), "hy", "en")), ["Hello", "🙂"]);
    assert_eq!(texts(decisions::in_language(answer(), "hy", "fr")), ["Привет", "🙂"]);
    let untagged = vec![reply(None, "a"), reply(None, "b")];
    assert_eq!(texts(decisions::in_language(untagged, "ru", "en")), ["a", "b"]);
}

#[test]
fn a_quote_is_collected_priced_confirmed_and_booked() {
    let mut chat = Chat::new();
    assert_eq!(chat.say("How much for a move?"), ["Hi!", "How many rooms?"]);
    chat.plugins.answers.push_back(Ok(vec![
        quote(5_000_000),
        Decision::Score(ScoreChange { delta: 2, reason: "big".into() }),
    ]));
    assert_eq!(
        chat.say("3 rooms"),
        ["• Move: 50,000 AMD\nTotal: 50,000 AMD", "3 rooms for 50,000 AMD. Book it?"]
    );
    let (plugin, input) = &chat.plugins.calls[0];
    assert_eq!(
        (plugin.as_str(), input.step.as_str(), input.fields.get("rooms")),
        ("pricing", "price", Some(&Value::Number(3.0)))
    );
    assert_eq!(chat.say("yes"), ["Booked!"]);
    assert_eq!(chat.conversation.status, Status::Ended { state: "booked".to_owned() });
    assert_eq!(chat.conversation.score, 2);
    for name in [
        "intent.detected",
        "field.collected",
        "quote.sent",
        "lead.scored",
        "booking.created",
        "conversation.closed",
    ] {
        assert!(chat.events.iter().any(|event| event == name), "{name} in {:?}", chat.events);
    }
}

#[test]
fn plugins_see_the_customers_stable_id_whichever_linked_channel_they_write_from() {
    let mut chat = Chat::with_classifier();
    chat.say("How much for a move?");
    // The customer writes again from a linked Telegram account: replies go
    // there, but plugins still see the id the contract promises is stable.
    chat.conversation.channel = Channel::Telegram;
    chat.conversation.contact.id = "telegram:42".to_owned();
    chat.plugins.answers.push_back(Ok(vec![quote(5_000_000)]));
    chat.say("3 rooms");
    let (_, step) = chat.plugins.calls.last().expect("the pricing step ran");
    let (_, classify) = chat.plugins.classified.last().expect("the classifier ran");
    assert_eq!((step.contact.id.as_str(), step.channel), ("conv-1", Channel::Telegram));
    assert_eq!(classify.contact.id, "conv-1");
    assert_eq!(step.contact.display_name.as_deref(), Some("Ani"), "the rest of the contact is theirs");
}

#[test]
fn the_customer_is_answered_in_the_language_they_write() {
    let mut chat = Chat::new();
    assert_eq!(chat.say("Сколько стоит переезд?"), ["Hi!", "Сколько комнат?"]);
    assert_eq!(chat.conversation.contact.locale, "ru");
}

#[test]
fn invalid_answers_are_explained_then_handed_off_when_retries_run_out() {
    let mut chat = Chat::new();
    chat.say("price");
    assert_eq!(chat.say("lots"), ["Please send a number. How many rooms?"]);
    let replies = chat.say("50");
    assert_eq!(replies, ["I'm passing you to a colleague, who will reply here shortly."]);
    assert!(matches!(&chat.conversation.status, Status::Human { queue, .. } if queue == "sales"));
    assert_eq!(chat.events.iter().filter(|event| *event == "field.invalid").count(), 2);
}

#[test]
fn asking_for_a_human_mid_flow_hands_off_with_a_card_and_silences_the_bot() {
    let mut chat = Chat::new();
    chat.say("how much");
    chat.say("operator please");
    assert_eq!(chat.say("hello?"), Vec::<String>::new(), "the bot stays quiet while a human has it");
    let effects = chat.conversation.hand_back("anna", chat.now);
    assert_eq!(effects.events[0].body.name(), "handoff.returned");
    assert_eq!(chat.say("how much"), ["How many rooms?"]);
}

#[test]
fn the_handoff_card_summarises_what_is_known() {
    let mut chat = Chat::new();
    chat.say("how much");
    let setting = Setting { flow: &chat.flow, calendar: &chat.calendar };
    let inbound = Inbound { text: "this is terrible".to_owned(), payload: None, at: 5_000 };
    let effects = chat.conversation.handle(setting, &inbound, &mut chat.plugins);
    let card = effects.events.iter().find_map(|event| match &event.body {
        EventBody::HandoffRequested { card } => Some(card.clone()),
        _ => None,
    });
    let card = card.expect("a handoff card");
    assert_eq!(
        card.summary,
        "Ani wrote on Whatsapp in en about \"Price\".\nHanded over because negative signal in the customer's message."
    );
    assert_eq!((card.queue.as_str(), card.assignee.as_deref()), ("sales", Some("anna")));
}

#[test]
fn a_failing_step_follows_its_policy() {
    let mut chat = Chat::new();
    chat.say("how much");
    chat.plugins.answers.push_back(Err(StepFailed::new(FailureCode::FuelExhausted, "loop")));
    let replies = chat.say("2");
    assert_eq!(replies, ["A manager will send the price.", "2 rooms for —. Book it?"]);
    assert!(chat.events.contains(&"step.failed".to_owned()));
}

#[test]
fn a_policy_escalation_hands_off_and_a_denial_ends_politely() {
    let mut chat = Chat::new();
    chat.plugins
        .answers
        .push_back(Ok(vec![Decision::Verdict(Verdict::Escalate("amount above 100,000".into()))]));
    chat.say("I want a refund");
    assert!(matches!(chat.conversation.status, Status::Human { .. }));

    let mut chat = Chat::new();
    chat.plugins.answers.push_back(Ok(vec![Decision::Verdict(Verdict::Deny("final sale".into()))]));
    assert_eq!(chat.say("return"), ["Hi!", "I'm sorry, this can't be returned: final sale."]);
    assert_eq!(chat.conversation.status, Status::Ended { state: "resolved".to_owned() });
}

#[test]
fn a_denial_that_names_the_next_intent_goes_on_with_it_and_one_it_cannot_find_ends() {
    let mut chat = Chat::new();
    let then = |next: &str| {
        Ok(vec![Decision::Verdict(Verdict::DenyThen { reason: "final sale".into(), next: next.into() })])
    };
    chat.plugins.answers.push_back(then("quote"));
    assert_eq!(
        chat.say("return"),
        ["Hi!", "I'm sorry, this can't be returned: final sale.", "How many rooms?"],
        "the denial, then the next intent's first question"
    );
    assert_eq!(chat.conversation.intent.as_deref(), Some("quote"));
    assert!(matches!(chat.conversation.status, Status::Bot));

    for nowhere in ["no-such-intent", "refund"] {
        let mut chat = Chat::new();
        chat.plugins.answers.push_back(then(nowhere));
        assert_eq!(
            chat.say("return"),
            ["Hi!", "I'm sorry, this can't be returned: final sale."],
            "{nowhere}: an intent the flow lacks, or the denied one itself, is a plain denial"
        );
        assert_eq!(chat.conversation.status, Status::Ended { state: "resolved".to_owned() });
    }
}

#[test]
fn an_unclear_message_shows_the_menu_and_a_tap_picks_the_intent() {
    let mut chat = Chat::new();
    assert_eq!(chat.say("hello"), ["Hi!", "What can I do for you?"]);
    chat.now += 1;
    let inbound =
        Inbound { text: "Price".to_owned(), payload: Some("intent:quote".to_owned()), at: chat.now };
    let setting = Setting { flow: &chat.flow, calendar: &chat.calendar };
    let effects = chat.conversation.handle(setting, &inbound, &mut chat.plugins);
    assert_eq!(effects.outbound[0].text, "How many rooms?");
}

#[test]
fn a_lead_rescored_on_every_answer_is_not_double_counted() {
    let source = r#"
version = "1"
default_locale = "en"
menu.en = "?"
[[intents]]
name = "lead"
title.en = "Lead"
triggers.en = ["hello"]
[[intents.fields]]
name = "budget"
type = "number"
prompt.en = "Budget?"
on_collect = [{ name = "score", plugin = "scoring" }]
[[intents.fields]]
name = "city"
type = "text"
prompt.en = "City?"
on_collect = [{ name = "score", plugin = "scoring" }]
[intents.done]
reply.en = "Thanks"
state = "closed"
"#;
    let plugins: BTreeSet<String> = ["scoring".to_owned()].into();
    let mut chat = Chat::new();
    chat.flow = Flow::parse("lead.toml", source, &plugins).expect("valid");
    chat.say("hello");
    let score = |delta: i32| Ok(vec![Decision::Score(ScoreChange { delta, reason: "rules".into() })]);
    chat.plugins.answers.extend([score(2), score(3)]);
    chat.say("500");
    assert_eq!(chat.conversation.score, 2);
    chat.say("Yerevan");
    assert_eq!(chat.conversation.score, 3, "the second scoring replaces the first");
    assert_eq!(chat.plugins.calls.len(), 2);
}

#[test]
fn a_step_that_asks_runs_again_after_the_answer() {
    let source = r#"
version = "1"
default_locale = "en"
menu.en = "?"
[[intents]]
name = "order"
title.en = "Order"
triggers.en = ["order"]
[[intents.fields]]
name = "order_id"
type = "text"
prompt.en = "Order number?"
on_collect = [{ name = "note", plugin = "notes", on_failure = "skip" }]
[[intents.steps]]
name = "lookup"
plugin = "orders"
[intents.done]
reply.en = "Done."
state = "resolved"
"#;
    let plugins: BTreeSet<String> = ["orders", "notes"].map(str::to_owned).into();
    let mut chat = Chat::new();
    chat.flow = Flow::parse("order.toml", source, &plugins).expect("valid");
    chat.say("order");
    let not_found = vec![
        Decision::Reply(Reply { text: "No such order.".into(), quick_replies: Vec::new(), locale: None }),
        Decision::ClearField("order_id".into()),
        Decision::Ask(crate::contract::Ask {
            field: "order_id".into(),
            prompt: None,
            quick_replies: Vec::new(),
            locale: None,
        }),
    ];
    // on_collect "notes", then "lookup" says not found and asks again.
    chat.plugins.answers.extend([Ok(Vec::new()), Ok(not_found)]);
    assert_eq!(chat.say("A-1"), ["No such order.", "Order number?"]);
    // on_collect "notes" again, then "lookup" runs again and finds it.
    chat.plugins.answers.extend([Ok(Vec::new()), Ok(Vec::new())]);
    assert_eq!(chat.say("A-2"), ["Done."]);
    let steps: Vec<&str> = chat.plugins.calls.iter().map(|(_, input)| input.step.as_str()).collect();
    assert_eq!(steps, ["note", "lookup", "note", "lookup"]);
}

#[test]
fn a_conversation_is_stored_without_its_defaults_and_reads_back_the_same_from_either_form() {
    let mut chat = Chat::new();
    let fresh = serde_json::to_value(&chat.conversation).expect("JSON");
    for left_out in
        ["intent", "skipped", "score", "score_parts", "tier", "route", "next_step", "confirmed", "timers"]
    {
        assert!(fresh.get(left_out).is_none(), "{left_out} at its default is left out: {fresh}");
    }
    chat.say("how much");
    chat.say("3");
    let compact = serde_json::to_string(&chat.conversation).expect("JSON");
    assert!(compact.contains("\"intent\":\"quote\"") && compact.contains("\"greeted\":true"), "{compact}");
    assert_eq!(serde_json::from_str::<Conversation>(&compact).expect("read back"), chat.conversation);

    // As stores wrote it before: every field, defaults included.
    let mut full = serde_json::to_value(&chat.conversation).expect("JSON");
    let object = full.as_object_mut().expect("an object");
    use serde_json::json;
    for (field, default) in [
        ("skipped", json!([])),
        ("score_parts", json!({})),
        ("tier", json!(null)),
        ("route", json!(null)),
        ("timers", json!({})),
    ] {
        object.entry(field).or_insert(default);
    }
    assert_eq!(serde_json::from_value::<Conversation>(full).expect("the old form reads"), chat.conversation);
}

/// The test flow with a remembered event, a denial that leads on to an
/// intent the menu does not offer, and a timer set on an event.
fn with_scenario_features() -> Chat {
    let plugins: BTreeSet<String> = ["pricing", "policy"].map(str::to_owned).into();
    let source = FLOW
        .replace("plugin = \"policy\"\n", "plugin = \"policy\"\non_deny = \"alternative\"\n")
        .replace("state = \"resolved\"\n", "state = \"resolved\"\nevent = \"refund.done\"\n")
        + r#"
[[intents]]
name = "alternative"
title.en = "Other options"
menu = false
[intents.done]
reply.en = "Here is 10% off instead."
state = "closed"

[[remember]]
event = "refund.done"
as = "refunds"

[[timers]]
kind = "nudge"
on = "quote.sent"
after = "4h"
cancel_on = ["booking.created"]
say.en = "Still there?"
"#;
    Chat::with_flow(Flow::parse("test.toml", &source, &plugins).expect("the test flow is valid"))
}

#[test]
fn an_intent_the_menu_does_not_offer_cannot_be_started_by_a_crafted_payload() {
    let mut chat = with_scenario_features();
    chat.say("hello");
    let setting = Setting { flow: &chat.flow, calendar: &chat.calendar };
    let crafted = Inbound { text: "x".to_owned(), payload: Some("intent:alternative".to_owned()), at: 5_000 };
    let effects = chat.conversation.handle(setting, &crafted, &mut chat.plugins);
    assert_ne!(chat.conversation.intent.as_deref(), Some("alternative"));
    assert!(effects.outbound.iter().all(|message| !message.text.contains("10% off")));
    assert!(
        effects.outbound[0].quick_replies.iter().all(|reply| reply.payload != "intent:alternative"),
        "nor is it offered"
    );
}

#[test]
fn a_denial_leads_on_and_what_the_customer_did_is_remembered_for_plugins_across_rounds() {
    let mut chat = with_scenario_features();
    chat.plugins.answers.push_back(Ok(vec![Decision::Verdict(Verdict::Deny("final sale".to_owned()))]));
    let replies = chat.say("I want a refund");
    assert_eq!(
        chat.conversation.status,
        Status::Ended { state: "closed".to_owned() },
        "the alternative completed: {replies:?}"
    );
    assert!(replies.iter().any(|reply| reply == "Here is 10% off instead."), "{replies:?}");
    assert!(chat.conversation.memory.is_empty(), "a denial is no refund");
    chat.plugins.answers.push_back(Ok(vec![Decision::Verdict(Verdict::Allow(Vec::new()))]));
    chat.say("refund please");
    assert_eq!(chat.conversation.memory["refunds"].len(), 1);
    chat.say("refund again");
    let (_, input) = chat.plugins.calls.last().expect("the policy ran");
    assert_eq!(input.fields.get("prior_refunds"), Some(&Value::Number(1.0)), "seen by the next round's step");
}

#[test]
fn a_timer_set_on_an_event_is_cancelled_only_by_what_comes_after_it() {
    let mut chat = with_scenario_features();
    chat.plugins.answers.push_back(Ok(vec![quote(5_000)]));
    chat.say("how much");
    chat.say("3");
    assert_eq!(chat.conversation.awaiting, Awaiting::Confirm { second: false });
    let nudge = chat.conversation.timers.get("nudge").expect("the quote set the nudge");
    assert_eq!(nudge.due_at, chat.now + 4 * 3_600_000);
    chat.say("yes");
    assert!(!chat.conversation.timers.contains_key("nudge"), "a reply cancels it");

    // A timer set as the refund completes, cancelled by the next intent
    // detected: not by the one earlier in the very turn that set it.
    let plugins: BTreeSet<String> = ["pricing", "policy"].map(str::to_owned).into();
    let source = FLOW.replace(
        "state = \"resolved\"\n",
        "state = \"resolved\"\n[[intents.done.timers]]\nkind = \"survey\"\nafter = \"1d\"\n\
         cancel_on_reply = false\ncancel_on = [\"intent.detected\"]\nsay.en = \"How did we do?\"\n",
    );
    let mut chat = Chat::with_flow(Flow::parse("test.toml", &source, &plugins).expect("valid"));
    chat.say("I want a refund");
    assert!(chat.conversation.timers.contains_key("survey"), "set after the turn's intent.detected");
    chat.say("how much");
    assert!(!chat.conversation.timers.contains_key("survey"), "the next intent detected cancels it");
}

#[test]
fn a_timer_a_reaction_set_is_cancelled_by_a_later_event_of_the_same_turn() {
    // The quote sets the nudge; the handoff right after it, in the same
    // step's answer, calls it off.
    let plugins: BTreeSet<String> = ["pricing", "policy"].map(str::to_owned).into();
    let source = FLOW.to_owned()
        + r#"
[[timers]]
kind = "nudge"
on = "quote.sent"
after = "4h"
cancel_on = ["handoff.requested"]
say.en = "Still there?"
"#;
    let mut chat = Chat::with_flow(Flow::parse("test.toml", &source, &plugins).expect("valid"));
    let card = crate::contract::HandoffCard {
        reason: "haggling".to_owned(),
        summary: String::new(),
        suggested_next_step: String::new(),
        queue: None,
        priority: crate::contract::Priority::Normal,
    };
    chat.plugins.answers.push_back(Ok(vec![quote(5_000), Decision::Handoff(card)]));
    chat.say("how much");
    chat.say("3");
    assert!(matches!(chat.conversation.status, Status::Human { .. }));
    assert!(!chat.conversation.timers.contains_key("nudge"), "{:?}", chat.conversation.timers);
}

#[test]
fn a_typed_timer_payload_the_flow_never_offered_does_nothing() {
    let mut chat = with_scenario_features();
    chat.say("hello");
    let setting = Setting { flow: &chat.flow, calendar: &chat.calendar };
    // The nudge offers no reschedule; nor does any timer start `alternative`.
    for payload in ["timer:nudge:reschedule", "timer:nudge:confirm", "timer:unknown:stop"] {
        let crafted = Inbound { text: "x".to_owned(), payload: Some(payload.to_owned()), at: 9_000 };
        let effects = chat.conversation.handle(setting, &crafted, &mut chat.plugins);
        assert!(
            !effects.events.iter().any(|event| matches!(event.body, EventBody::TimerAnswered { .. })),
            "{payload}: {:?}",
            effects.events
        );
    }
}
