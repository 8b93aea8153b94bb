//! What a node parks in the shared Redis store for the persistent sessions of a node it could
//! not reach, against a real `redis-server`: a message the receiving node had recorded as
//! handled (durably, with its session records) is not parked again for a session that was
//! that node's, whether the session is still there or another node took it over from the
//! dead one (by the node's marks as they were when the session moved: what a frozen node
//! commits after that is not in the session); a message past that mark, or for a session that
//! moved away while its node was alive, is parked as before. Parking a handled message again is how a QoS 2 message was
//! delivered twice after a node's `kill -9`.

mod common;

use common::free_port;
use common::redis::RedisServer;
use comqtt::mqtt::MqttString;
use comqtt::storage::record::SessionRecord;
use comqtt::storage::redis::{RedisOptions, RedisStore};
use comqtt::storage::{Backend, Change, Parcel, ParkOutcome, Sent, parked_field};

fn store(port: u16, node: &str) -> RedisStore {
    RedisStore::open(RedisOptions {
        addr: format!("127.0.0.1:{port}"),
        username: String::new(),
        password: String::new(),
        db: 0,
        prefix: "comqtt".into(),
        node: Some(node.into()),
    })
    .expect("open the Redis store")
}

fn record() -> SessionRecord {
    SessionRecord {
        expiry_interval: 3600,
        last_seen: 0,
        online: true,
        protocol_level: 5,
        will: None,
    }
}

/// Node `node` takes session `id` (its record names `node` as the owner).
fn claim(store: &mut RedisStore, id: &str) {
    store
        .apply(
            &[Change::SessionClaimed {
                client_id: MqttString::from(id),
                record: record(),
            }],
            true,
        )
        .expect("write the session");
}

/// Node a's message number `seq` of process 7, sent to node b, parked for session `id`
/// (which must still be b's unless `anyone`).
fn parcel(id: &str, seq: u64, anyone: bool) -> Parcel {
    Parcel {
        client_id: id.into(),
        owner: (!anyone).then(|| "b".to_string()),
        field: parked_field(1, "a", 7, seq, "b", true),
        value: b"a delivery record".to_vec(),
        sent: Some(Sent {
            to: "b".into(),
            sender: "a".into(),
            epoch: 7,
            seq,
        }),
    }
}

#[test]
fn a_message_its_node_handled_is_not_parked_for_that_nodes_sessions() {
    let redis = RedisServer::start(free_port());
    let (mut a, mut b, mut c) = (
        store(redis.port, "a"),
        store(redis.port, "b"),
        store(redis.port, "c"),
    );
    // Node b holds sessions s1, s2 and s3, and handled a's messages up to number 10.
    claim(&mut b, "s1");
    claim(&mut b, "s2");
    claim(&mut b, "s3");
    b.apply(
        &[Change::Handled {
            sender: "a".into(),
            epoch: 7,
            seq: 10,
        }],
        true,
    )
    .expect("record the mark");

    // b died; node c took s2 over from it (an orphan: in `moved:b`), and s3 moved to c
    // while b was alive (a handover: not in `moved:b`).
    claim(&mut c, "s2");
    c.apply(
        &[Change::SessionMoved {
            client_id: MqttString::from("s2"),
            from: "b".into(),
        }],
        true,
    )
    .expect("record the move");
    claim(&mut c, "s3");

    let outcomes = a
        .park(&[
            parcel("s1", 9, false),
            parcel("s1", 10, false),
            parcel("s1", 11, false),
            parcel("s2", 9, true),
            parcel("s2", 12, true),
            parcel("s3", 9, false),
            parcel("gone", 9, false),
        ])
        .expect("park");
    assert_eq!(
        outcomes,
        vec![
            // Handled by b for its own session: b has it (or completed it).
            ParkOutcome::Had,
            ParkOutcome::Had,
            // Past the mark: b never had it.
            ParkOutcome::Parked,
            // Handled by b, and the session went from dead b to c with b's records.
            ParkOutcome::Had,
            ParkOutcome::Parked,
            // Moved away from b while b was alive: b's mark says nothing about it.
            ParkOutcome::Moved(Some("c".into())),
            ParkOutcome::Gone,
        ]
    );
    // b was only frozen: it resumes and commits what it had handled meanwhile (its mark goes
    // to 20) after c took s2 over. s2 did not get those through b, so they are parked for it;
    // s1, still b's, has them.
    b.apply(
        &[Change::Handled {
            sender: "a".into(),
            epoch: 7,
            seq: 20,
        }],
        true,
    )
    .expect("record the late mark");
    assert_eq!(
        a.park(&[parcel("s2", 15, true), parcel("s1", 15, false)])
            .expect("park"),
        vec![ParkOutcome::Parked, ParkOutcome::Had]
    );
    // c reads session s5 of b's (to take it over) while b still commits: the marks that
    // count for s5 are b's as they were when c read it (20), not when c committed the move
    // (30), so 25, committed by b after c's read, is parked for s5.
    claim(&mut b, "s5");
    assert!(c.load_session("s5").expect("read").is_some());
    b.apply(
        &[Change::Handled {
            sender: "a".into(),
            epoch: 7,
            seq: 30,
        }],
        true,
    )
    .expect("record a mark after c's read");
    claim(&mut c, "s5");
    c.apply(
        &[Change::SessionMoved {
            client_id: MqttString::from("s5"),
            from: "b".into(),
        }],
        true,
    )
    .expect("record the move");
    assert_eq!(
        a.park(&[parcel("s5", 25, true), parcel("s5", 20, true)])
            .expect("park"),
        vec![ParkOutcome::Parked, ParkOutcome::Had]
    );
    // A message a had not sent to b (it was queued when b went away) is parked whatever b's
    // mark says, and so is one for a share group (b gave the group's copy to the member it
    // chose): the parker asks nothing of the mark for them.
    let mut unsent = parcel("s1", 5, false);
    unsent.field = parked_field(1, "a", 7, 5, "b", false);
    unsent.sent = None;
    assert_eq!(a.park(&[unsent]).expect("park"), vec![ParkOutcome::Parked]);
    // Node a restarted (process 8) and b handled its new messages: that mark says nothing of
    // process 7's.
    b.apply(
        &[Change::Handled {
            sender: "a".into(),
            epoch: 8,
            seq: 100,
        }],
        true,
    )
    .expect("record the mark");
    assert_eq!(
        a.park(&[parcel("s4", 9, true)]).expect("park"),
        vec![ParkOutcome::Gone],
        "no such session"
    );
    claim(&mut b, "s4");
    assert_eq!(
        a.park(&[parcel("s4", 9, false)]).expect("park"),
        vec![ParkOutcome::Parked]
    );
    // Only what was parked is there to be taken in.
    let mut s2: Vec<String> = redis
        .cli(&["HKEYS", "comqtt:ifm:s2"])
        .lines()
        .map(str::to_string)
        .collect();
    s2.sort();
    assert_eq!(
        s2,
        vec![
            parked_field(1, "a", 7, 12, "b", true),
            parked_field(1, "a", 7, 15, "b", true)
        ]
    );
    let mut s1: Vec<String> = redis
        .cli(&["HKEYS", "comqtt:ifm:s1"])
        .lines()
        .map(str::to_string)
        .collect();
    s1.sort();
    assert_eq!(
        s1,
        vec![
            parked_field(1, "a", 7, 5, "b", false),
            parked_field(1, "a", 7, 11, "b", true)
        ]
    );
}
