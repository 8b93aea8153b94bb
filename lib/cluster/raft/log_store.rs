//! The raft log, the vote and the latest snapshot in one redb file (`<raft-dir>/raft.redb`),
//! written durably before openraft is told they are: a node that restarts never forgets a
//! vote or an entry it acknowledged. Entries are JSON (route commands are small and rare).
// openraft's StorageError is large; it is openraft's type, returned as openraft asks.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{
    AnyError, Entry, ErrorSubject, ErrorVerb, LogId, OptionalSend, RaftLogReader, StorageError,
    StorageIOError, Vote,
};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::TypeConfig;
use crate::cluster::ClusterError;

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// Keys of the meta table.
const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const PURGED: &str = "purged";
/// The latest snapshot (see [`super::state_machine`]).
pub const SNAPSHOT: &str = "snapshot";

type Result<T> = std::result::Result<T, StorageError<u64>>;

/// The raft file, shared by the log store and the state machine (which keeps its snapshot
/// there).
#[derive(Clone)]
pub struct RaftFile {
    db: Arc<Database>,
    path: PathBuf,
}

fn io(subject: ErrorSubject<u64>, verb: ErrorVerb, e: impl std::fmt::Display) -> StorageError<u64> {
    StorageIOError::new(subject, verb, AnyError::error(e.to_string())).into()
}

impl RaftFile {
    /// Opens or creates `<dir>/raft.redb`; errors name the file.
    pub fn open(dir: &Path) -> std::result::Result<RaftFile, ClusterError> {
        let path = dir.join("raft.redb");
        let err = |reason: String| ClusterError::RaftStore {
            path: path.clone(),
            reason,
        };
        std::fs::create_dir_all(dir)
            .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
        let db = Database::create(&path).map_err(|e| err(e.to_string()))?;
        let file = RaftFile {
            db: Arc::new(db),
            path: path.clone(),
        };
        let txn = file.db.begin_write().map_err(|e| err(e.to_string()))?;
        {
            txn.open_table(LOG).map_err(|e| err(e.to_string()))?;
            txn.open_table(META).map_err(|e| err(e.to_string()))?;
        }
        txn.commit().map_err(|e| err(e.to_string()))?;
        Ok(file)
    }

    /// The file's path, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A JSON value of the meta table.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let subject = || ErrorSubject::Store;
        let txn = self
            .db
            .begin_read()
            .map_err(|e| io(subject(), ErrorVerb::Read, e))?;
        let table = txn
            .open_table(META)
            .map_err(|e| io(subject(), ErrorVerb::Read, e))?;
        match table
            .get(key)
            .map_err(|e| io(subject(), ErrorVerb::Read, e))?
        {
            None => Ok(None),
            Some(v) => serde_json::from_slice(v.value()).map(Some).map_err(|e| {
                io(
                    subject(),
                    ErrorVerb::Read,
                    format!("{key} in {}: {e}", self.path.display()),
                )
            }),
        }
    }

    /// Writes a JSON value into the meta table, durably.
    pub fn put<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        blocking(|| self.put_now(key, value))
    }

    fn put_now<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let subject = || ErrorSubject::Store;
        let bytes = serde_json::to_vec(value).map_err(|e| io(subject(), ErrorVerb::Write, e))?;
        let txn = self
            .db
            .begin_write()
            .map_err(|e| io(subject(), ErrorVerb::Write, e))?;
        {
            let mut table = txn
                .open_table(META)
                .map_err(|e| io(subject(), ErrorVerb::Write, e))?;
            table
                .insert(key, bytes.as_slice())
                .map_err(|e| io(subject(), ErrorVerb::Write, e))?;
        }
        txn.commit().map_err(|e| io(subject(), ErrorVerb::Write, e))
    }
}

/// Runs a write with its fsync off the async workers' hot path (the runtime moves other
/// tasks elsewhere meanwhile).
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// The log store handed to openraft (also its log reader).
#[derive(Clone)]
pub struct LogStore {
    file: RaftFile,
}

impl LogStore {
    /// The log of `file`.
    pub fn new(file: RaftFile) -> LogStore {
        LogStore { file }
    }

    fn last_entry_id(&self) -> Result<Option<LogId<u64>>> {
        let txn = self
            .file
            .db
            .begin_read()
            .map_err(|e| io(ErrorSubject::Logs, ErrorVerb::Read, e))?;
        let table = txn
            .open_table(LOG)
            .map_err(|e| io(ErrorSubject::Logs, ErrorVerb::Read, e))?;
        let last = table
            .last()
            .map_err(|e| io(ErrorSubject::Logs, ErrorVerb::Read, e))?;
        match last {
            None => Ok(None),
            Some((_, v)) => {
                let entry: Entry<TypeConfig> = serde_json::from_slice(v.value())
                    .map_err(|e| io(ErrorSubject::Logs, ErrorVerb::Read, e))?;
                Ok(Some(entry.log_id))
            }
        }
    }
}

fn bounds<RB: RangeBounds<u64>>(range: &RB) -> (u64, Option<u64>) {
    let start = match range.start_bound() {
        Bound::Included(s) => *s,
        Bound::Excluded(s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(e) => Some(e.saturating_add(1)),
        Bound::Excluded(e) => Some(*e),
        Bound::Unbounded => None,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>> {
        let err = |e: &dyn std::fmt::Display| io(ErrorSubject::Logs, ErrorVerb::Read, e);
        let txn = self.file.db.begin_read().map_err(|e| err(&e))?;
        let table = txn.open_table(LOG).map_err(|e| err(&e))?;
        let (start, end) = bounds(&range);
        let rows = match end {
            Some(end) if end <= start => return Ok(Vec::new()),
            Some(end) => table.range(start..end),
            None => table.range(start..),
        }
        .map_err(|e| err(&e))?;
        let mut out = Vec::new();
        for row in rows {
            let (_, v) = row.map_err(|e| err(&e))?;
            out.push(serde_json::from_slice(v.value()).map_err(|e| err(&e))?);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>> {
        let purged: Option<LogId<u64>> = self.file.get(PURGED)?;
        let last = self.last_entry_id()?.or(purged);
        Ok(LogState {
            last_purged_log_id: purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<()> {
        self.file.put(VOTE, vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>> {
        self.file.get(VOTE)
    }

    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<()> {
        self.file.put(COMMITTED, &committed)
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>> {
        Ok(self.file.get::<Option<LogId<u64>>>(COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let err = |e: &dyn std::fmt::Display| io(ErrorSubject::Logs, ErrorVerb::Write, e);
        let entries: Vec<Entry<TypeConfig>> = entries.into_iter().collect();
        let done = blocking(|| {
            let mut txn = self.file.db.begin_write().map_err(|e| err(&e))?;
            txn.set_durability(Durability::Immediate)
                .map_err(|e| err(&e))?;
            {
                let mut table = txn.open_table(LOG).map_err(|e| err(&e))?;
                for entry in &entries {
                    let bytes = serde_json::to_vec(entry).map_err(|e| err(&e))?;
                    table
                        .insert(entry.log_id.index, bytes.as_slice())
                        .map_err(|e| err(&e))?;
                }
            }
            txn.commit().map_err(|e| err(&e))
        });
        callback.log_io_completed(
            done.as_ref()
                .map(|_| ())
                .map_err(|e| std::io::Error::other(e.to_string())),
        );
        done
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<()> {
        let err = |e: &dyn std::fmt::Display| io(ErrorSubject::Logs, ErrorVerb::Delete, e);
        let txn = self.file.db.begin_write().map_err(|e| err(&e))?;
        {
            let mut table = txn.open_table(LOG).map_err(|e| err(&e))?;
            table
                .retain_in(log_id.index.., |_, _| false)
                .map_err(|e| err(&e))?;
        }
        txn.commit().map_err(|e| err(&e))
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<()> {
        self.file.put(PURGED, &log_id)?;
        let err = |e: &dyn std::fmt::Display| io(ErrorSubject::Logs, ErrorVerb::Delete, e);
        let txn = self.file.db.begin_write().map_err(|e| err(&e))?;
        {
            let mut table = txn.open_table(LOG).map_err(|e| err(&e))?;
            table
                .retain_in(..=log_id.index, |_, _| false)
                .map_err(|e| err(&e))?;
        }
        txn.commit().map_err(|e| err(&e))
    }
}
