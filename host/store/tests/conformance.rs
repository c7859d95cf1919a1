//! The store contract's conformance suite on the embedded sled store.

use std::path::PathBuf;
use std::sync::Arc;

use switchboard_store::conformance::Harness;
use switchboard_store::{Backend, Store};

/// Each test's store in a directory of its own, so a "dead" node can be
/// reopened from disk as a restarted process would.
struct Sled {
    dir: tempfile::TempDir,
}

impl Sled {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("a temp dir") }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("store")
    }
}

impl Harness for Sled {
    fn open(&self) -> Arc<dyn Backend> {
        Arc::new(Store::open(&self.path()).expect("the store opens"))
    }

    /// One process holds a sled store: a second node is another handle.
    fn another_node(&self, store: &Arc<dyn Backend>) -> Arc<dyn Backend> {
        store.clone()
    }

    fn separate_nodes(&self) -> bool {
        false
    }

    fn after_death(&self, store: Arc<dyn Backend>) -> Arc<dyn Backend> {
        assert_eq!(Arc::strong_count(&store), 1, "the harness holds the last handle");
        drop(store);
        self.open()
    }
}

switchboard_store::conformance_suite!(Sled::new());
