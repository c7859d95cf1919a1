//! The due index of pending timers: an append-only log outside sled, one
//! file per due minute.
//!
//! sled holds about 140 bytes of memory per key whatever its cache size, so a
//! million pending timers as sled keys cost about 150 MiB of resident memory,
//! and draining them ran below 50,000 keys/s. Here a pending timer costs
//! nothing in memory: the process keeps a few counters per minute that has
//! timers, and reads a minute's file sequentially when it falls due.
//!
//! - **Append.** A turn that sets timers appends their entries before the
//!   turn is applied to sled: to their minutes' files, and to one journal.
//!   [`TimerLog::sync`] runs in the same group commit, before sled's flush,
//!   and syncs only the journal: one disk sync however many minutes a commit
//!   touched. So the index is never behind an acknowledged turn, nor, after
//!   a process crash, behind any turn (its appends were written first). After
//!   a power cut it is as durable as sled's own log, which sled may write out
//!   on its own between our syncs.
//!   When the journal grows past [`JOURNAL_LIMIT`], the minute files are
//!   synced and the journal starts over. On open, whatever of the journal
//!   did not reach its minute file is appended to it.
//! - **Never edited.** Cancelling or moving a timer writes nothing here: the
//!   conversation's own `timers` map is the truth, and the engine skips an
//!   entry that map disagrees with (a stale entry) when it falls due.
//! - **Read.** [`TimerLog::due`] hands out entries of past and current
//!   minutes in file order; entries of the current minute that are not due
//!   yet wait in memory (at most one minute's worth).
//! - **Deleted** when every entry of a past minute was handed out and
//!   [`TimerLog::settle`]d, that is, fired and on disk. A crash before that
//!   only means the file is read again after restart and its entries, already
//!   fired, are skipped as stale.
//!
//! Each record is `[length u32][crc32 u32][due_at i64][tenant][conversation][key]`,
//! strings length-prefixed.
//!
//! - **Torn records.** An append that fails (a full disk) cuts its files
//!   back to their last whole record before the turn is refused, so nothing
//!   later is written after a torn record. Should one be there anyway (a
//!   crash mid-append, a damaged disk), readers resynchronise on the next
//!   record whose length and CRC agree: a torn record never hides the ones
//!   after it. On open, a torn tail is cut, and a file damaged in the middle
//!   is rewritten with its whole records only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::codec::{pop_chunk, push_chunk};
use crate::timers::DueTimer;

const MINUTE_MS: i64 = 60_000;

/// Bytes read from a minute's file at a time.
const READ_CHUNK: usize = 256 * 1024;

/// The journal's size at which the minute files are synced and it starts over.
const JOURNAL_LIMIT: u64 = 16 * 1024 * 1024;

/// Minute files kept open for appending.
const OPEN_FILES: usize = 64;

/// How far back from a chunk's end a record that resynchronising has not
/// found yet may start: more than a record takes (ids and keys are short).
const RESYNC_OVERLAP: usize = 4096;

#[derive(Debug)]
pub(crate) struct TimerLog {
    dir: PathBuf,
    state: Mutex<State>,
    /// Written under the state lock; synced without it.
    journal: File,
    /// Held through a sync, so a second caller returns only once the
    /// appends it saw are on disk, not while another sync is still at it.
    syncing: Mutex<()>,
}

#[derive(Debug)]
struct State {
    minutes: BTreeMap<u64, Minute>,
    /// Handed out of the current minute's file, not due yet: `(due_at, entry)`.
    waiting: BTreeSet<(i64, Entry)>,
    journal_len: u64,
    /// The journal has appends not yet synced.
    journal_dirty: bool,
    /// Minute files appended to since the journal last started over.
    unsynced: BTreeSet<u64>,
    open: HashMap<u64, File>,
}

/// What the process knows of one minute's file.
#[derive(Debug, Default, Clone, Copy)]
struct Minute {
    /// Bytes of whole records in the file.
    len: u64,
    /// Bytes handed out (read by `due`).
    read: u64,
    records: u64,
    settled: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    tenant: String,
    conversation: String,
    key: String,
}

/// One entry to append.
pub(crate) struct NewTimer<'a> {
    pub due_at: i64,
    pub tenant: &'a str,
    pub conversation: &'a str,
    pub key: &'a str,
}

impl TimerLog {
    /// Open the log in `dir`, creating it, and cut off any record a crash
    /// left half-written.
    pub(crate) fn open(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let journal_path = dir.join("journal");
        let journal = OpenOptions::new().create(true).read(true).append(true).open(&journal_path)?;
        // Whole records only in every minute file first (each read once):
        // the journal's replay compares their ends with its own records.
        let mut minutes = BTreeMap::new();
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if let Some(minute) = minute_of(&path) {
                minutes.insert(minute, repair(&path)?);
            } else if path.extension().is_some_and(|extension| extension == "repair") {
                // A repair a crash cut short; its file was left as it was.
                std::fs::remove_file(&path)?;
            }
        }
        for (minute, known) in replay_journal(dir, &std::fs::read(&journal_path)?)? {
            minutes.insert(minute, known);
        }
        journal.set_len(0)?;
        journal.sync_all()?;
        let state = State {
            minutes,
            waiting: BTreeSet::new(),
            journal_len: 0,
            journal_dirty: false,
            unsynced: BTreeSet::new(),
            open: HashMap::new(),
        };
        Ok(Self { dir: dir.to_owned(), state: Mutex::new(state), journal, syncing: Mutex::new(()) })
    }

    /// Append entries; they are durable after the next [`TimerLog::sync`].
    pub(crate) fn append(&self, timers: &[NewTimer<'_>]) -> std::io::Result<()> {
        if timers.is_empty() {
            return Ok(());
        }
        let mut by_minute: BTreeMap<u64, (Vec<u8>, u64)> = BTreeMap::new();
        for timer in timers {
            let (bytes, count) = by_minute.entry(minute(timer.due_at)).or_default();
            encode(bytes, timer);
            *count += 1;
        }
        let mut state = self.lock();
        let journal: Vec<u8> = by_minute.values().flat_map(|(bytes, _)| bytes.iter().copied()).collect();
        let journal_before = state.journal_len;
        if let Err(error) = write_bytes(&self.journal, &journal) {
            // Nothing after a torn record: cut back to the last whole one.
            state.journal_len = cut_back(&self.journal, journal_before, "journal");
            return Err(error);
        }
        state.journal_len += journal.len() as u64;
        state.journal_dirty = true;
        // The minutes written so far: their length before, and records added.
        let mut written: Vec<(u64, u64, u64)> = Vec::with_capacity(by_minute.len());
        for (minute, (bytes, count)) in by_minute {
            if state.open.len() >= OPEN_FILES && !state.open.contains_key(&minute) {
                state.open.clear();
            }
            let before = state.minutes.get(&minute).map_or(0, |known| known.len);
            let wrote = match state.open.entry(minute) {
                std::collections::hash_map::Entry::Occupied(open) => write_bytes(open.into_mut(), &bytes),
                std::collections::hash_map::Entry::Vacant(slot) => {
                    OpenOptions::new().create(true).append(true).open(self.path(minute)).and_then(|file| {
                        let file = slot.insert(file);
                        write_bytes(file, &bytes)
                    })
                }
            };
            if let Err(error) = wrote {
                written.push((minute, before, 0));
                self.undo(&mut state, written, journal_before);
                return Err(error);
            }
            written.push((minute, before, count));
            let known = state.minutes.entry(minute).or_default();
            known.len += bytes.len() as u64;
            known.records += count;
            state.unsynced.insert(minute);
        }
        Ok(())
    }

    /// Undo a failed append whole: each minute it wrote to (`(minute, length
    /// before, records added)`) cut back, torn record included, and the
    /// journal too, so the files hold whole records only and the journal
    /// matches them.
    fn undo(&self, state: &mut State, written: Vec<(u64, u64, u64)>, journal_before: u64) {
        for (minute, before, count) in written {
            let file = match state.open.remove(&minute) {
                Some(file) => Ok(file),
                None => OpenOptions::new().write(true).open(self.path(minute)),
            };
            // Should a cut fail, read up to the file's real end: the reader
            // steps over a torn record to what follows.
            let len = file.map_or(before, |file| cut_back(&file, before, "minute file"));
            let known = state.minutes.entry(minute).or_default();
            known.len = len;
            known.records -= count;
        }
        state.journal_len = cut_back(&self.journal, journal_before, "journal");
    }

    /// Make every append so far durable.
    pub(crate) fn sync(&self) -> std::io::Result<()> {
        let _syncing = self.syncing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut state = self.lock();
        if !state.journal_dirty {
            return Ok(());
        }
        if state.journal_len < JOURNAL_LIMIT {
            state.journal_dirty = false;
            drop(state);
            // Appends made while this runs are synced by the next call.
            return self.journal.sync_data().inspect_err(|_| self.lock().journal_dirty = true);
        }
        // Start the journal over, once what it covers is in synced minute files.
        for minute in state.unsynced.clone() {
            match File::open(self.path(minute)).and_then(|file| file.sync_data()) {
                Ok(()) => {}
                // Fired and deleted since: nothing left to make durable.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
            state.unsynced.remove(&minute);
        }
        self.journal.set_len(0)?;
        self.journal.sync_data()?;
        state.journal_len = 0;
        state.journal_dirty = false;
        Ok(())
    }

    /// Up to `limit` entries due at or before `now`, oldest minute first.
    /// Each must be [`TimerLog::settle`]d once fired.
    pub(crate) fn due(&self, now: i64, limit: usize) -> std::io::Result<Vec<DueTimer>> {
        let mut state = self.lock();
        let mut due = Vec::new();
        while due.len() < limit {
            let Some(first) = state.waiting.first() else { break };
            if first.0 > now {
                break;
            }
            let (due_at, entry) = state.waiting.pop_first().expect("checked");
            due.push(entry.into_due(due_at));
        }
        let current = minute(now);
        let unread: Vec<u64> = state
            .minutes
            .range(..=current)
            .filter(|(_, known)| known.read < known.len)
            .map(|(minute, _)| *minute)
            .collect();
        for minute in unread {
            if due.len() >= limit {
                break;
            }
            let known = state.minutes[&minute];
            let mut file = match File::open(self.path(minute)) {
                Ok(file) => file,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    // Removed behind our back: say so, and let the rest fire.
                    tracing::error!(minute, "a timer log file went missing; its timers are lost");
                    state.minutes.remove(&minute);
                    continue;
                }
                Err(error) => return Err(error),
            };
            file.seek(SeekFrom::Start(known.read))?;
            let want = usize::try_from(known.len - known.read).unwrap_or(usize::MAX).min(READ_CHUNK);
            let mut bytes = vec![0; want];
            file.read_exact(&mut bytes)?;
            // Whether this chunk runs to the end of the minute's whole records:
            // then a record that does not decode is damage, not a record the
            // chunk cut in two.
            let to_the_end = known.read + want as u64 == known.len;
            let mut offset = 0;
            while due.len() < limit && offset < bytes.len() {
                let Some((due_at, entry, size)) = decode(&bytes[offset..]) else {
                    if offset > 0 && !to_the_end {
                        break; // the next read starts at this record
                    }
                    // Damaged here: go on from the next whole record.
                    let next = resync(&bytes, offset + 1);
                    let skip_to = match next {
                        Some(next) => next,
                        None if to_the_end => bytes.len(),
                        // Keep the chunk's last bytes: a record may start there.
                        None => bytes.len().saturating_sub(RESYNC_OVERLAP).max(offset + 1),
                    };
                    tracing::error!(
                        minute,
                        at = known.read + offset as u64,
                        skipped = skip_to - offset,
                        "damaged timer log record; reading on from the next whole one"
                    );
                    offset = skip_to;
                    continue;
                };
                offset += size;
                if due_at <= now {
                    due.push(entry.into_due(due_at));
                } else {
                    state.waiting.insert((due_at, entry));
                }
            }
            let known = state.minutes.get_mut(&minute).expect("listed");
            known.read += offset as u64;
        }
        Ok(due)
    }

    /// Firing these failed: hand them out again.
    pub(crate) fn release(&self, due: Vec<DueTimer>) {
        let mut state = self.lock();
        for timer in due {
            let entry = Entry { tenant: timer.tenant, conversation: timer.conversation, key: timer.key };
            state.waiting.insert((timer.due_at, entry));
        }
    }

    /// These entries (from [`TimerLog::due`]) have fired and are on disk:
    /// a past minute whose entries all have is deleted.
    pub(crate) fn settle(&self, fired: &[DueTimer], now: i64) -> std::io::Result<()> {
        let mut state = self.lock();
        for timer in fired {
            if let Some(known) = state.minutes.get_mut(&minute(timer.due_at)) {
                known.settled += 1;
            }
        }
        let current = minute(now);
        let done: Vec<u64> = state
            .minutes
            .range(..current)
            .filter(|(_, known)| known.read == known.len && known.settled >= known.records)
            .map(|(minute, _)| *minute)
            .collect();
        for minute in done {
            match std::fs::remove_file(self.path(minute)) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
            state.minutes.remove(&minute);
            state.open.remove(&minute);
        }
        Ok(())
    }

    /// The earliest an entry not yet handed out can be due (the start of its
    /// minute if it is still unread), or `None` if there is none.
    pub(crate) fn next_due(&self) -> Option<i64> {
        let state = self.lock();
        let waiting = state.waiting.first().map(|(due_at, _)| *due_at);
        let unread = state
            .minutes
            .iter()
            .find(|(_, known)| known.read < known.len)
            .map(|(minute, _)| i64::try_from(*minute).unwrap_or(i64::MAX).saturating_mul(MINUTE_MS));
        waiting.into_iter().chain(unread).min()
    }

    /// Entries not yet settled, stale ones included.
    pub(crate) fn pending(&self) -> usize {
        let state = self.lock();
        let count: u64 =
            state.minutes.values().map(|known| known.records.saturating_sub(known.settled)).sum();
        usize::try_from(count).unwrap_or(usize::MAX)
    }

    fn path(&self, minute: u64) -> PathBuf {
        minute_path(&self.dir, minute)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update to the state is a few counters changed together.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Entry {
    fn into_due(self, due_at: i64) -> DueTimer {
        DueTimer { due_at, tenant: self.tenant, conversation: self.conversation, key: self.key }
    }
}

/// The minute a timer is filed under; times before 1970 as if due at the epoch.
fn minute(due_at: i64) -> u64 {
    u64::try_from(due_at.max(0) / MINUTE_MS).unwrap_or(0)
}

/// `{minute}.log`, zero-padded so names sort as minutes do.
fn minute_path(dir: &Path, minute: u64) -> PathBuf {
    dir.join(format!("{minute:020}.log"))
}

fn minute_of(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    name.strip_suffix(".log")?.parse().ok()
}

fn encode(bytes: &mut Vec<u8>, timer: &NewTimer<'_>) {
    let mut payload =
        Vec::with_capacity(24 + timer.tenant.len() + timer.conversation.len() + timer.key.len());
    payload.extend_from_slice(&timer.due_at.to_be_bytes());
    for text in [timer.tenant, timer.conversation, timer.key] {
        push_chunk(&mut payload, text.as_bytes());
    }
    bytes.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(u32::MAX).to_be_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
    bytes.extend_from_slice(&payload);
}

/// One record from the start of `bytes`: `(due_at, entry, bytes used)`, or
/// `None` if it is incomplete or damaged.
fn decode(bytes: &[u8]) -> Option<(i64, Entry, usize)> {
    let length = usize::try_from(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?)).ok()?;
    if length > READ_CHUNK {
        return None; // no record is read whole past a chunk; and a resync stays cheap
    }
    let crc = u32::from_be_bytes(bytes.get(4..8)?.try_into().ok()?);
    let payload = bytes.get(8..8 + length)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    let due_at = i64::from_be_bytes(payload.get(..8)?.try_into().ok()?);
    let mut rest = &payload[8..];
    let mut text = || Some(std::str::from_utf8(pop_chunk(&mut rest)?).ok()?.to_owned());
    let entry = Entry { tenant: text()?, conversation: text()?, key: text()? };
    Some((due_at, entry, 8 + length))
}

/// Bring each minute file up to the journal, and sync it. A minute's file
/// got its journal records in order, so it ends with some first part of them
/// (after a torn tail is cut); the rest are appended. Should a file end with
/// the same bytes by chance, those are the same entries, which is as good.
/// What each minute file the journal touched then holds.
fn replay_journal(dir: &Path, journal: &[u8]) -> std::io::Result<Vec<(u64, Minute)>> {
    // Each minute's journal records, and the offsets where they end.
    let mut by_minute: BTreeMap<u64, (Vec<u8>, Vec<usize>)> = BTreeMap::new();
    let mut offset = 0;
    while offset < journal.len() {
        let Some((due_at, _, size)) = decode(&journal[offset..]) else {
            // A torn record a failed cut left: the records after it count.
            match resync(journal, offset + 1) {
                Some(next) => {
                    offset = next;
                    continue;
                }
                None => break,
            }
        };
        let (bytes, ends) = by_minute.entry(minute(due_at)).or_default();
        bytes.extend_from_slice(&journal[offset..offset + size]);
        ends.push(bytes.len());
        offset += size;
    }
    let mut replayed = Vec::with_capacity(by_minute.len());
    for (minute, (records, ends)) in by_minute {
        let path = minute_path(dir, minute);
        let existing = std::fs::read(&path).unwrap_or_default();
        let (count, whole) = scan(&existing);
        let existing = &existing[..whole];
        let written =
            ends.iter().rev().copied().find(|end| existing.ends_with(&records[..*end])).unwrap_or(0);
        let mut file = OpenOptions::new().create(true).write(true).truncate(false).open(&path)?;
        file.set_len(whole as u64)?;
        file.seek(SeekFrom::End(0))?;
        file.write_all(&records[written..])?;
        file.sync_data()?;
        let appended = ends.iter().filter(|end| **end > written).count() as u64;
        let len = (whole + records.len() - written) as u64;
        replayed.push((minute, Minute { len, records: count + appended, ..Minute::default() }));
    }
    Ok(replayed)
}

/// The first offset at or after `from` where a whole record starts (its
/// length and CRC agree), if any.
fn resync(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len()).find(|start| decode(&bytes[*start..]).is_some())
}

/// Leave only whole records in a minute file: cut a torn tail, and rewrite a
/// file damaged in the middle without the damage (beside, then renamed).
/// What the file then holds.
fn repair(path: &Path) -> std::io::Result<Minute> {
    let bytes = std::fs::read(path)?;
    let (records, whole) = scan(&bytes);
    if whole == bytes.len() {
        return Ok(Minute { len: whole as u64, records, ..Minute::default() });
    }
    let mut kept = Vec::with_capacity(bytes.len());
    let mut offset = 0;
    while offset < bytes.len() {
        match decode(&bytes[offset..]) {
            Some((_, _, size)) => {
                kept.extend_from_slice(&bytes[offset..offset + size]);
                offset += size;
            }
            None => match resync(&bytes, offset + 1) {
                Some(next) => offset = next,
                None => break,
            },
        }
    }
    let (records, _) = scan(&kept);
    let repaired = Minute { len: kept.len() as u64, records, ..Minute::default() };
    if kept.len() == whole {
        tracing::warn!(file = %path.display(), cut = bytes.len() - whole, "cut a torn timer record");
        OpenOptions::new().write(true).open(path)?.set_len(whole as u64)?;
        return Ok(repaired);
    }
    tracing::warn!(
        file = %path.display(),
        dropped = bytes.len() - kept.len(),
        kept = kept.len(),
        "rewrote a timer log file without its damaged records"
    );
    let partial = path.with_extension("repair");
    let mut file = File::create(&partial)?;
    file.write_all(&kept)?;
    file.sync_data()?;
    std::fs::rename(&partial, path)?;
    Ok(repaired)
}

/// Cut a file back to `len` after a failed append; the file's length after.
/// Shrinking needs no space, so on a full disk it works; should it fail
/// anyway, readers resynchronise past the torn record.
fn cut_back(file: &File, len: u64, what: &str) -> u64 {
    match file.set_len(len) {
        Ok(()) => len,
        Err(error) => {
            tracing::error!(%error, what, "could not cut a failed timer log append back");
            file.metadata().map_or(len, |metadata| metadata.len())
        }
    }
}

/// `file.write_all(bytes)`; in the store's tests, it can be made to write
/// only a first part and then fail as a full disk would (`tests::disk_full_at`).
fn write_bytes(mut file: &File, bytes: &[u8]) -> std::io::Result<()> {
    #[cfg(test)]
    if let Some(room) = tests::room_left() {
        file.write_all(&bytes[..room.min(bytes.len())])?;
        return Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left on device (test)"));
    }
    file.write_all(bytes)
}

/// How many whole records `bytes` starts with, and how many bytes they take.
fn scan(bytes: &[u8]) -> (u64, usize) {
    let (mut records, mut offset) = (0, 0);
    while let Some((_, _, size)) = decode(&bytes[offset..]) {
        records += 1;
        offset += size;
    }
    (records, offset)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        /// `(writes to let through, bytes the failing one writes)`.
        static DISK_FULL_AT: Cell<Option<(u32, usize)>> = const { Cell::new(None) };
    }

    /// The disk fills on this thread's write number `write` (0 the next),
    /// after `room` bytes of it.
    fn disk_full_at(write: u32, room: usize) {
        DISK_FULL_AT.with(|full| full.set(Some((write, room))));
    }

    pub(super) fn room_left() -> Option<usize> {
        DISK_FULL_AT.with(|full| match full.get()? {
            (0, room) => {
                full.set(None);
                Some(room)
            }
            (write, room) => {
                full.set(Some((write - 1, room)));
                None
            }
        })
    }

    #[test]
    fn a_failed_append_leaves_no_torn_record_and_later_appends_fire() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let log = TimerLog::open(dir.path()).expect("open");
            log.append(&[timer(60_000, "before")]).expect("append");
            let whole = std::fs::metadata(log.path(1)).expect("file").len();
            // The disk fills in the middle of the minute file's write.
            disk_full_at(1, 5);
            let refused = log.append(&[timer(61_000, "refused")]).expect_err("the disk is full");
            assert_eq!(refused.kind(), std::io::ErrorKind::StorageFull);
            assert_eq!(
                std::fs::metadata(log.path(1)).expect("file").len(),
                whole,
                "cut back to whole records"
            );
            // In the second minute of an append that spans two: the first
            // minute's records come out too.
            disk_full_at(2, 5);
            log.append(&[timer(61_500, "refused-first-minute"), timer(125_000, "refused-second-minute")])
                .expect_err("the disk is full");
            assert_eq!(std::fs::metadata(log.path(1)).expect("file").len(), whole, "minute 1 cut back too");
            assert_eq!(log.pending(), 1, "only what was written whole counts");
            // And in the middle of the journal's.
            disk_full_at(0, 3);
            log.append(&[timer(62_000, "refused-too")]).expect_err("the disk is full");
            // Space comes back: the next turn's timers are appended and fire.
            log.append(&[timer(63_000, "after")]).expect("append");
            log.sync().expect("sync");
            assert_eq!(keys(&log.due(64_000, 10).expect("due")), ["before", "after"]);
        }
        // Nothing torn in the journal or the minute for a restart to trip on.
        let log = TimerLog::open(dir.path()).expect("reopen");
        assert_eq!(keys(&log.due(64_000, 10).expect("due")), ["before", "after"]);
    }

    #[test]
    fn a_torn_record_hides_none_of_the_records_after_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let log = TimerLog::open(dir.path()).expect("open");
            log.append(&[timer(60_000, "one")]).expect("append");
            // Half a record that was never cut back, and appends after it.
            let mut file = OpenOptions::new().append(true).open(log.path(1)).expect("open");
            file.write_all(&[0, 0, 0, 40, 1, 2, 3]).expect("write");
            log.append(&[timer(61_000, "two"), timer(62_000, "three")]).expect("append");
            let real = std::fs::metadata(log.path(1)).expect("file").len();
            log.lock().minutes.get_mut(&1).expect("minute 1").len = real;
            log.sync().expect("sync");
            assert_eq!(keys(&log.due(63_000, 10).expect("due")), ["one", "two", "three"], "read in process");
        }
        // A restart rewrites the file without the damage and keeps the rest.
        let log = TimerLog::open(dir.path()).expect("reopen");
        assert_eq!(log.pending(), 3);
        assert_eq!(keys(&log.due(63_000, 10).expect("due")), ["one", "two", "three"], "read after a restart");
    }

    fn timer<'a>(due_at: i64, key: &'a str) -> NewTimer<'a> {
        NewTimer { due_at, tenant: "acme", conversation: "telegram:42", key }
    }

    fn keys(due: &[DueTimer]) -> Vec<&str> {
        due.iter().map(|timer| timer.key.as_str()).collect()
    }

    #[test]
    fn entries_come_out_when_due_oldest_minute_first_and_past_minutes_go_once_settled() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = TimerLog::open(dir.path()).expect("open");
        log.append(&[timer(130_000, "b"), timer(65_000, "a"), timer(125_000, "later-in-b")]).expect("append");
        assert_eq!(log.pending(), 3);
        assert_eq!(log.next_due(), Some(60_000), "the start of the first minute with entries");

        let first = log.due(126_000, 10).expect("due");
        assert_eq!(keys(&first), ["a", "later-in-b"], "b is in this minute but not due");
        assert_eq!(log.next_due(), Some(130_000), "exact once its minute has been read");
        log.settle(&first, 126_000).expect("settle");
        assert!(!log.path(1).exists(), "minute 1 fired and settled: gone");
        assert!(log.path(2).exists(), "minute 2 is still current");

        let second = log.due(130_000, 10).expect("due");
        assert_eq!(keys(&second), ["b"]);
        assert!(log.due(130_000, 10).expect("due").is_empty(), "handed out once");
        log.settle(&second, 181_000).expect("settle");
        assert_eq!((log.pending(), log.next_due()), (0, None));
        assert!(!log.path(2).exists());
    }

    #[test]
    fn a_reopened_log_hands_out_what_was_not_settled_and_cuts_a_torn_tail() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let log = TimerLog::open(dir.path()).expect("open");
            log.append(&[timer(60_000, "fired"), timer(61_000, "not-yet")]).expect("append");
            log.sync().expect("sync");
            let handed = log.due(60_500, 10).expect("due");
            assert_eq!(keys(&handed), ["fired"]);
            // A crash: nothing settled, and half a record at the end.
            let mut file = OpenOptions::new().append(true).open(log.path(1)).expect("open");
            file.write_all(&[0, 0, 0, 40, 1, 2]).expect("write");
        }
        let log = TimerLog::open(dir.path()).expect("reopen");
        assert_eq!(log.pending(), 2, "the torn record is not an entry");
        assert_eq!(
            keys(&log.due(61_000, 10).expect("due")),
            ["fired", "not-yet"],
            "read again from the start"
        );
        log.append(&[timer(62_000, "after-the-cut")]).expect("append");
        assert_eq!(keys(&log.due(62_000, 10).expect("due")), ["after-the-cut"]);
    }

    #[test]
    fn a_page_limit_is_respected_and_the_rest_follows() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = TimerLog::open(dir.path()).expect("open");
        let names: Vec<String> = (0..5).map(|index| format!("t{index}")).collect();
        let timers: Vec<NewTimer<'_>> = names.iter().map(|name| timer(1_000, name)).collect();
        log.append(&timers).expect("append");
        assert_eq!(keys(&log.due(90_000, 2).expect("due")), ["t0", "t1"]);
        assert_eq!(keys(&log.due(90_000, 10).expect("due")), ["t2", "t3", "t4"]);
    }

    #[test]
    fn the_journal_restores_appends_a_minute_file_lost_and_only_those() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (first, both) = {
            let log = TimerLog::open(dir.path()).expect("open");
            log.append(&[timer(60_000, "one")]).expect("append");
            let first = std::fs::read(log.path(1)).expect("read");
            log.append(&[timer(61_000, "two"), timer(200_000, "other-minute")]).expect("append");
            log.sync().expect("sync: the journal is on disk");
            (first, std::fs::read(log.path(1)).expect("read"))
        };
        // Power lost: one minute file kept only its first record, another none.
        std::fs::write(minute_path(dir.path(), 1), &first).expect("write");
        std::fs::remove_file(minute_path(dir.path(), 3)).expect("remove");
        let log = TimerLog::open(dir.path()).expect("reopen");
        assert_eq!(std::fs::read(log.path(1)).expect("read"), both, "restored, nothing twice");
        assert_eq!(log.pending(), 3);
        assert_eq!(keys(&log.due(200_000, 10).expect("due")), ["one", "two", "other-minute"]);
    }
}
