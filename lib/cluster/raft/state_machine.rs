//! The raft state machine: route commands applied to the shared [`RouteTable`], and
//! snapshots of it. The latest snapshot is kept in the raft file, so a restarted node starts
//! from it and openraft replays only the entries after it.
// openraft's StorageError is large; it is openraft's type, returned as openraft asks.
#![allow(clippy::result_large_err)]

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    AnyError, Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend,
    RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::log_store::{RaftFile, SNAPSHOT};
use super::{RaftMember, TypeConfig};
use crate::cluster::routes::{RouteResponse, RouteTable, RoutesSnapshot};

type Result<T> = std::result::Result<T, StorageError<u64>>;

/// The replicated data that the rest of the node reads.
#[derive(Debug, Default)]
pub struct Replicated {
    /// The route table.
    pub routes: RwLock<RouteTable>,
    /// Bumped after every applied batch, so waiters can re-read the table.
    pub version: watch::Sender<u64>,
}

impl Replicated {
    /// A table that waiters can watch.
    pub fn new() -> Arc<Replicated> {
        Arc::new(Replicated::default())
    }
}

/// A snapshot as stored and sent.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    meta: SnapshotMeta<u64, RaftMember>,
    routes: RoutesSnapshot,
}

/// The last applied log id and the membership in force.
type Applied = (Option<LogId<u64>>, StoredMembership<u64, RaftMember>);

/// The state machine handed to openraft.
#[derive(Clone)]
pub struct StateMachine {
    file: RaftFile,
    data: Arc<Replicated>,
    /// What was applied last, and the membership in force.
    applied: Arc<RwLock<Applied>>,
}

fn io(verb: ErrorVerb, e: impl std::fmt::Display) -> StorageError<u64> {
    StorageIOError::new(
        ErrorSubject::StateMachine,
        verb,
        AnyError::error(e.to_string()),
    )
    .into()
}

impl StateMachine {
    /// The state machine of `file`, starting from its stored snapshot if there is one.
    pub fn open(file: RaftFile, data: Arc<Replicated>) -> Result<StateMachine> {
        let sm = StateMachine {
            file,
            data,
            applied: Arc::default(),
        };
        if let Some(stored) = sm.file.get::<Stored>(SNAPSHOT)? {
            *sm.data.routes.write() = RouteTable::from_snapshot(&stored.routes);
            *sm.applied.write() = (stored.meta.last_log_id, stored.meta.last_membership.clone());
            sm.data.version.send_modify(|v| *v += 1);
        }
        Ok(sm)
    }

    fn stored(&self) -> Result<Option<Stored>> {
        self.file.get(SNAPSHOT)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>> {
        // Both under their locks at once (in `apply`'s order): the routes are exactly those
        // of the last applied entry.
        let (routes, (last_applied, membership)) = {
            let routes = self.data.routes.read();
            let applied = self.applied.read();
            (routes.snapshot(), applied.clone())
        };
        let snapshot_id = match last_applied {
            Some(l) => format!("{}-{}", l.leader_id, l.index),
            None => "empty".to_string(),
        };
        let stored = Stored {
            meta: SnapshotMeta {
                last_log_id: last_applied,
                last_membership: membership,
                snapshot_id,
            },
            routes,
        };
        // A snapshot installed meanwhile may be newer: never replace it with an older one.
        let newer_stored = self
            .stored()?
            .is_some_and(|s| s.meta.last_log_id > stored.meta.last_log_id);
        if !newer_stored {
            self.file.put(SNAPSHOT, &stored)?;
        }
        let bytes = serde_json::to_vec(&stored.routes).map_err(|e| io(ErrorVerb::Write, e))?;
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, RaftMember>)> {
        Ok(self.applied.read().clone())
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<RouteResponse>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        {
            let mut routes = self.data.routes.write();
            let mut applied = self.applied.write();
            for entry in entries {
                applied.0 = Some(entry.log_id);
                match entry.payload {
                    EntryPayload::Blank => out.push(RouteResponse::default()),
                    EntryPayload::Normal(cmd) => out.push(RouteResponse {
                        changed: routes.apply(&cmd),
                    }),
                    EntryPayload::Membership(m) => {
                        applied.1 = StoredMembership::new(Some(entry.log_id), m);
                        out.push(RouteResponse::default());
                    }
                }
            }
        }
        self.data.version.send_modify(|v| *v += 1);
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, RaftMember>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<()> {
        let routes: RoutesSnapshot =
            serde_json::from_slice(snapshot.get_ref()).map_err(|e| io(ErrorVerb::Read, e))?;
        *self.data.routes.write() = RouteTable::from_snapshot(&routes);
        *self.applied.write() = (meta.last_log_id, meta.last_membership.clone());
        self.file.put(
            SNAPSHOT,
            &Stored {
                meta: meta.clone(),
                routes,
            },
        )?;
        self.data.version.send_modify(|v| *v += 1);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>> {
        let Some(stored) = self.stored()? else {
            return Ok(None);
        };
        let bytes = serde_json::to_vec(&stored.routes).map_err(|e| io(ErrorVerb::Read, e))?;
        Ok(Some(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}
