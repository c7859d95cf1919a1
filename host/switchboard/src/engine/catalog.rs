//! The plugin catalog: a build published once (its manifest names it and
//! its version), installed into many tenants by the control plane
//! (`tenants/publish.rs`), each with its own config.

use switchboard_store::{CatalogEntry, Published};

use super::{Engine, EngineError};

impl Engine {
    /// Publish a component to the catalog under its manifest's name and
    /// version, checked in this engine's sandbox first. Compiles it: call
    /// it off the async runtime.
    pub fn publish_to_catalog(&self, wasm: &[u8]) -> Result<Published, EngineError> {
        let plugin = self.runtime.load(wasm).map_err(|error| EngineError::Candidate(error.to_string()))?;
        let Some(manifest) = plugin.manifest() else {
            return Err(EngineError::Candidate(
                "it carries no manifest; build it with `switchboard plugin build`, which embeds switchboard-plugin.toml"
                    .to_owned(),
            ));
        };
        // A version taken by another build stores nothing.
        if let Some(held) = self.store.catalog_entry(&manifest.name, &manifest.version)?
            && held.component != plugin.hash().as_str()
        {
            return Ok(Published::Taken(held));
        }
        let component = self.store.put_blob(wasm)?;
        let language = serde_json::to_value(manifest.language)
            .ok()
            .and_then(|language| language.as_str().map(str::to_owned))
            .unwrap_or_default();
        let entry = CatalogEntry {
            name: manifest.name.clone(),
            version: manifest.version.clone(),
            component,
            language,
            description: Some(manifest.description.clone()).filter(|description| !description.is_empty()),
            at: jiff::Timestamp::now().as_millisecond(),
        };
        Ok(self.store.publish_to_catalog(entry)?)
    }

    /// Everything in the catalog, by name then version.
    pub fn catalog(&self) -> Result<Vec<CatalogEntry>, EngineError> {
        Ok(self.store.catalog()?)
    }

    /// A build in the catalog, with its component's bytes.
    pub fn catalog_build(
        &self,
        name: &str,
        version: &str,
    ) -> Result<Option<(CatalogEntry, Vec<u8>)>, EngineError> {
        let Some(entry) = self.store.catalog_entry(name, version)? else { return Ok(None) };
        Ok(self.store.blob(&entry.component)?.map(|bytes| (entry, bytes)))
    }
}
