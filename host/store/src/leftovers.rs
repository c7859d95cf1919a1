//! What a crash can leave in the store's directory that would stop it from
//! opening, found and removed before the store opens.
//!
//! - **A snapshot sled was still writing.** sled writes a snapshot to
//!   `snap.{lsn}.generating`, syncs it, then renames it to `snap.{lsn}`, and
//!   only then removes the older ones. A `.generating` file is therefore
//!   never a finished snapshot, and the finished one before it is still
//!   there. But sled picks the newest `snap.*` name when it opens, the
//!   `.generating` one included, and refuses to open ("corrupted data") when
//!   it is empty or cut short, as a crash or a full disk leaves it. Removing
//!   it loses nothing: sled reads the finished snapshot and the log after it.
//!
//! Only names known to be crash leftovers are removed, and only once sled
//! has refused to open because of them (so a directory another process has
//! open, whose snapshot may be in progress, is never touched: sled refuses
//! that one for its lock first). Every removal is logged.

use std::path::{Path, PathBuf};

/// Remove the crash leftovers in the sled directory `path`; what was removed.
pub(crate) fn remove(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(path) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with("snap.") && name.ends_with(".generating") {
            let bytes = entry.metadata().map_or(0, |metadata| metadata.len());
            std::fs::remove_file(entry.path())?;
            tracing::warn!(file = name, bytes, "removed a sled snapshot a crash left unfinished");
            removed.push(entry.path());
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use crate::{ApiKey, Store};

    #[test]
    fn a_snapshot_a_crash_left_empty_does_not_keep_the_store_from_opening() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("data");
        let key = ApiKey {
            id: "k1".into(),
            label: "acknowledged".into(),
            secret_sha256: "00".repeat(32),
            created_at: 1,
            revoked_at: None,
        };
        let blob = {
            let store = Store::open(&path).expect("open");
            store.put_api_key("acme", &key).expect("acknowledged once on disk");
            let blob = store.put_blob(b"a component").expect("blob");
            store.durable().expect("on disk");
            blob
        };
        // What a crash during snapshot generation on a full disk leaves: an
        // empty snapshot named after every finished one, which sled picks.
        std::fs::write(path.join("snap.FFFFFFFFFFFFFFFF.generating"), b"").expect("write");
        let store = Store::open(&path).expect("opens again");
        assert_eq!(
            store.api_key("acme", "k1").expect("read"),
            Some(key),
            "every acknowledged write is there"
        );
        assert_eq!(store.blob(&blob).expect("read").as_deref(), Some(&b"a component"[..]));
        assert!(!path.join("snap.FFFFFFFFFFFFFFFF.generating").exists(), "the leftover is gone");
    }
}
