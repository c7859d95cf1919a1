//! Plugin `kv` state on sled.

use switchboard_runtime::{KvBackend, KvScope};

use crate::keys;

/// The sled-backed [`KvBackend`]: one tree, keys scoped by tenant then plugin.
#[derive(Debug, Clone)]
pub struct SledKv {
    tree: sled::Tree,
}

impl SledKv {
    pub(crate) fn new(tree: sled::Tree) -> Self {
        Self { tree }
    }
}

impl KvBackend for SledKv {
    fn get(&self, scope: &KvScope, key: &str) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self.tree.get(keys::plugin_state(&scope.tenant, &scope.plugin, key))?.map(|value| value.to_vec()))
    }

    fn set(&self, scope: &KvScope, key: &str, value: &[u8]) -> anyhow::Result<()> {
        self.tree.insert(keys::plugin_state(&scope.tenant, &scope.plugin, key), value)?;
        Ok(())
    }

    fn delete(&self, scope: &KvScope, key: &str) -> anyhow::Result<()> {
        self.tree.remove(keys::plugin_state(&scope.tenant, &scope.plugin, key))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn state_is_scoped_to_tenant_and_plugin() -> anyhow::Result<()> {
        let kv = Store::temporary()?.plugin_kv();
        let mine = KvScope { tenant: "salon".into(), plugin: "slots".into() };
        let other_tenant = KvScope { tenant: "movers".into(), plugin: "slots".into() };
        let other_plugin = KvScope { tenant: "salon".into(), plugin: "pricing".into() };
        kv.set(&mine, "k", b"v")?;
        assert_eq!(kv.get(&mine, "k")?, Some(b"v".to_vec()));
        assert_eq!(kv.get(&other_tenant, "k")?, None);
        assert_eq!(kv.get(&other_plugin, "k")?, None);
        kv.delete(&mine, "k")?;
        assert_eq!(kv.get(&mine, "k")?, None);
        Ok(())
    }
}
