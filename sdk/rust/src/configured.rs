//! A plugin's config, parsed once per binding rather than once per call.
//!
//! The host runs each component's `init(config)` once, when the
//! tenant binds it, and snapshots the instance: every call then starts from
//! what `init` left in memory. A [`ConfigCell`] is what `init` leaves: the
//! config parsed into the plugin's own type.
//!
//! ```ignore
//! use switchboard_sdk::prelude::*;
//!
//! #[derive(serde::Deserialize)]
//! struct Config { greeting: String }
//!
//! static CONFIG: ConfigCell<Config> = ConfigCell::new();
//!
//! struct Greeter;
//!
//! impl Plugin for Greeter {
//!     fn run(input: StepInput) -> Result<Vec<Decision>, StepError> {
//!         let config = CONFIG.get(&input.config)?;
//!         Ok(vec![Decision::reply(config.greeting.clone())])
//!     }
//! }
//!
//! switchboard_sdk::export_plugin!(Greeter, config = CONFIG);
//! ```

use std::sync::{Arc, RwLock};

use serde::de::DeserializeOwned;

use crate::StepError;
use crate::input::parse_config;

/// A config parsed by `init`, for every call of the binding to read: the
/// last config parsed, with its text.
#[derive(Debug)]
pub struct ConfigCell<T> {
    kept: RwLock<Option<(Box<str>, Arc<T>)>>,
}

impl<T> Default for ConfigCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> ConfigCell<T> {
    pub const fn new() -> Self {
        Self { kept: RwLock::new(None) }
    }
}

impl<T: DeserializeOwned> ConfigCell<T> {
    /// Parse `config` and keep it: what the exported `init` does. A config
    /// that does not parse is `invalid-config`, and the host refuses the
    /// binding with that message.
    pub fn init(&self, config: &str) -> Result<(), StepError> {
        self.get(config).map(drop)
    }

    /// The config `text` as a `T`. Inside the host, `text` is the one `init`
    /// parsed, and this is a lookup (the host runs `init` with each call's
    /// config, in a snapshot or just before the call). Given another (a
    /// native test trying several configs), it is parsed and kept in its
    /// place. An empty config parses as `{}`.
    pub fn get(&self, text: &str) -> Result<Arc<T>, StepError> {
        let kept = self.kept.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((kept_text, value)) = kept.as_ref()
            && **kept_text == *text
        {
            return Ok(value.clone());
        }
        drop(kept);
        let value: Arc<T> = Arc::new(parse_config(text)?);
        *self.kept.write().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            Some((text.into(), value.clone()));
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Config {
        #[serde(default)]
        limit: u32,
    }

    #[test]
    fn a_config_is_parsed_once_and_kept_until_another_comes() {
        let cell = ConfigCell::<Config>::new();
        cell.init(r#"{"limit": 3}"#).expect("parses");
        let first = cell.get(r#"{"limit": 3}"#).expect("kept");
        assert!(Arc::ptr_eq(&first, &cell.get(r#"{"limit": 3}"#).expect("kept")), "not parsed again");
        assert_eq!(*cell.get(r#"{"limit": 4}"#).expect("parses"), Config { limit: 4 });
        assert_eq!(*cell.get("").expect("empty is {}"), Config { limit: 0 });
        assert!(matches!(cell.get(r#""nope""#), Err(StepError::InvalidConfig(_))));
    }

    #[test]
    fn a_config_that_does_not_parse_is_not_kept() {
        let cell = ConfigCell::<Config>::new();
        cell.init(r#"{"limit": 1}"#).expect("parses");
        assert!(matches!(cell.init(r#"{"limit": "many"}"#), Err(StepError::InvalidConfig(_))));
        let kept = cell.get(r#"{"limit": 1}"#).expect("still kept");
        assert!(Arc::ptr_eq(&kept, &cell.get(r#"{"limit": 1}"#).expect("kept")));
    }
}
