//! Conveniences for understanding plugins (`understanding.classify`, WIT 0.2.0).
//!
//! ```ignore
//! use switchboard_sdk::prelude::*;
//!
//! struct Keywords;
//!
//! impl Classifier for Keywords {
//!     fn classify(input: ClassifyInput) -> Result<Classification, StepError> {
//!         let mut answer = Classification::none();
//!         if input.text.contains("стрижк") && input.intent("booking").is_some() {
//!             answer = answer.with_intent("booking", 0.9).with_entity("service", Value::Text("haircut".into()), 0.9);
//!         }
//!         Ok(answer)
//!     }
//! }
//!
//! switchboard_sdk::export_classifier!(Keywords);
//! ```

use serde::de::DeserializeOwned;

use crate::{Classification, ClassifyInput, Entity, FieldSpec, IntentGuess, IntentSpec, StepError, Value};

impl Classification {
    /// Nothing understood: the host's built-in understanding serves alone.
    pub fn none() -> Self {
        Self { intents: Vec::new(), entities: Vec::new(), locale: None }
    }

    /// Add a guess at the intent, `confidence` from 0 to 1.
    pub fn with_intent(mut self, name: impl Into<String>, confidence: f32) -> Self {
        self.intents.push(IntentGuess { name: name.into(), confidence });
        self
    }

    /// Add a value for a field, `confidence` from 0 to 1.
    pub fn with_entity(mut self, field: impl Into<String>, value: Value, confidence: f32) -> Self {
        self.entities.push(Entity { field: field.into(), value, confidence });
        self
    }

    pub fn with_locale(mut self, locale: impl Into<String>) -> Self {
        self.locale = Some(locale.into());
        self
    }
}

impl ClassifyInput {
    /// One of the flow's intents, by name.
    pub fn intent(&self, name: &str) -> Option<&IntentSpec> {
        self.intents.iter().find(|intent| intent.name == name)
    }

    /// A field of one of the flow's intents, by name.
    pub fn field_spec(&self, name: &str) -> Option<&FieldSpec> {
        self.intents.iter().flat_map(|intent| &intent.fields).find(|field| field.name == name)
    }

    /// The tenant's configuration for this plugin; see [`crate::StepInput::config`].
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, StepError> {
        crate::input::parse_config(&self.config)
    }
}
