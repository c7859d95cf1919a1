//! Atomic multi-key writes, without sled's `apply_batch`.
//!
//! sled makes its own batches atomic by rolling its log buffer before and
//! after each one, so every batch costs two extra log writes, each synced to
//! disk by a background thread that wakes its idle siblings to hand over the
//! work. At a few thousand turns a second that was most of the store's CPU.
//!
//! A [`Batch`] of more than one write goes in three steps instead:
//!
//! 1. the whole batch is recorded under a redo key, `r/{seq}`, in a single
//!    insert (sled's single-key writes are atomic);
//! 2. its writes are applied one by one;
//! 3. the redo record is removed.
//!
//! sled recovers a prefix of its log (it stops at the first torn message),
//! and a thread's writes reach the log in the order it makes them. So after
//! a crash either the redo record was removed, and every write before that
//! removal survived, or it is still there, and [`Store::open`] applies it
//! again before anything reads the store. Writes set final values, so
//! applying one twice is harmless.
//!
//! Readers may see a batch half-applied while it is being written, which
//! sled's batches did not allow. Nothing depends on that: a conversation's
//! writes are made under its turn lock, and everything that reads a
//! conversation to change it takes that lock first.

use sled::IVec;

use crate::codec::{pop_chunk, push_chunk};
use crate::database::Trees;
use crate::visibility::Reserved;
use crate::{Store, StoreError, keys};

/// Writes that land together or not at all; see [`Store::write`].
#[derive(Debug, Default)]
pub(crate) struct Batch {
    writes: Vec<(IVec, Option<IVec>)>,
    /// The size of its redo record.
    encoded_len: usize,
    /// The event records it carries, hidden from the log's readers until
    /// it is applied (or dropped unapplied).
    reserved: Vec<Reserved>,
}

impl Batch {
    pub(crate) fn insert(&mut self, key: impl Into<IVec>, value: impl Into<IVec>) {
        self.push(key.into(), Some(value.into()));
    }

    /// Keep an event record's reservation until the batch is applied.
    pub(crate) fn hold(&mut self, reserved: Reserved) {
        self.reserved.push(reserved);
    }

    pub(crate) fn remove(&mut self, key: impl Into<IVec>) {
        self.push(key.into(), None);
    }

    fn push(&mut self, key: IVec, value: Option<IVec>) {
        self.encoded_len += 9 + key.len() + value.as_ref().map_or(0, |value| value.len());
        self.writes.push((key, value));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The size of its redo record, in bytes.
    pub(crate) fn encoded_len(&self) -> usize {
        self.encoded_len
    }

    /// `[key length u32][key][0 = remove | 1 = insert][value length u32][value]`, repeated.
    fn encode(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.encoded_len);
        for (key, value) in &self.writes {
            push_chunk(&mut bytes, key);
            match value {
                Some(value) => {
                    bytes.push(1);
                    push_chunk(&mut bytes, value);
                }
                None => bytes.push(0),
            }
        }
        bytes
    }

    fn decode(mut bytes: &[u8]) -> Option<Self> {
        let mut batch = Self::default();
        while !bytes.is_empty() {
            let key = IVec::from(pop_chunk(&mut bytes)?);
            let (&tag, rest) = bytes.split_first()?;
            bytes = rest;
            let value = match tag {
                0 => None,
                1 => Some(IVec::from(pop_chunk(&mut bytes)?)),
                _ => return None,
            };
            batch.push(key, value);
        }
        Some(batch)
    }
}

impl Store {
    /// Apply `batch` to the `turns` tree atomically (as far as a crash can
    /// tell), not yet synced.
    pub(crate) fn apply(&self, mut batch: Batch) -> Result<(), StoreError> {
        self.database.write(|trees| {
            if batch.writes.len() <= 1 {
                // None, or one: sled makes a single write atomic by itself.
                return match batch.writes.pop() {
                    Some((key, value)) => apply_one(trees, &key, value),
                    None => Ok(()),
                };
            }
            let redo = keys::redo(trees.db.generate_id()?);
            trees.turns.insert(&redo, batch.encode())?;
            for (key, value) in batch.writes {
                apply_one(trees, &key, value)?;
            }
            trees.turns.remove(&redo)?;
            Ok(())
        })
    }
}

/// Finish the batches a crash (or a failed write) interrupted: apply every
/// redo record left behind, in the order they were written, and make that
/// durable; how many. Runs before the database serves anything.
pub(crate) fn replay(trees: &Trees) -> Result<usize, StoreError> {
    let mut replayed = 0;
    for record in trees.turns.scan_prefix(keys::REDO_PREFIX) {
        let (redo, bytes) = record?;
        let batch = Batch::decode(&bytes)
            .ok_or_else(|| StoreError::Unfinished { key: String::from_utf8_lossy(&redo).into_owned() })?;
        for (key, value) in batch.writes {
            apply_one(trees, &key, value)?;
        }
        trees.turns.remove(&redo)?;
        replayed += 1;
    }
    if replayed > 0 {
        trees.db.flush()?;
    }
    Ok(replayed)
}

fn apply_one(trees: &Trees, key: &[u8], value: Option<IVec>) -> sled::Result<()> {
    match value {
        Some(value) => trees.turns.insert(key, value)?,
        None => trees.turns.remove(key)?,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch() -> Batch {
        let mut batch = Batch::default();
        batch.insert(b"t/a".to_vec(), b"one".to_vec());
        batch.remove(b"t/b".to_vec());
        batch.insert(b"t/c".to_vec(), Vec::new());
        batch
    }

    #[test]
    fn a_batch_round_trips_through_its_redo_record() {
        let decoded = Batch::decode(&batch().encode()).expect("decodes");
        assert_eq!(decoded.writes, batch().writes);
        assert!(Batch::decode(&batch().encode()[..5]).is_none(), "a cut record is refused");
    }

    #[test]
    fn an_interrupted_batch_is_finished_on_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let store = Store::open(dir.path()).expect("open");
            store.trees().unwrap().turns.insert(b"t/b", b"stale".as_slice()).expect("insert");
            // A crash after the redo record and the first write, before the rest.
            store.trees().unwrap().turns.insert(keys::redo(7), batch().encode()).expect("insert");
            store.trees().unwrap().turns.insert(b"t/a", b"one".as_slice()).expect("insert");
            store.flush().expect("flush");
        }
        let store = Store::open(dir.path()).expect("opens again");
        assert_eq!(store.trees().unwrap().turns.get(b"t/a").unwrap().as_deref(), Some(b"one".as_slice()));
        assert_eq!(store.trees().unwrap().turns.get(b"t/b").unwrap(), None);
        assert_eq!(store.trees().unwrap().turns.get(b"t/c").unwrap().as_deref(), Some(b"".as_slice()));
        assert_eq!(
            store.trees().unwrap().turns.scan_prefix(keys::REDO_PREFIX).count(),
            0,
            "the record is gone"
        );
    }

    #[test]
    fn a_finished_batch_leaves_no_redo_record() {
        let store = Store::temporary().expect("store");
        store.apply(batch()).expect("apply");
        assert_eq!(store.trees().unwrap().turns.get(b"t/a").unwrap().as_deref(), Some(b"one".as_slice()));
        assert_eq!(store.trees().unwrap().turns.scan_prefix(keys::REDO_PREFIX).count(), 0);
    }
}
