//! SUBACKs held until the cluster has committed their routes. In a cluster a SUBACK that
//! grants a filter means "what is published after this on any node reaches you", so it waits
//! until the filter's route is in the replicated route table. If that cannot happen in time
//! (no raft quorum), the filters still waiting are answered with a failure code instead: the
//! SUBACK is already encoded in the connection's held output, and each of its reason codes is
//! the one byte at a known place from its end, so failing a filter is overwriting that byte.

use std::time::Instant;

use bytes::BytesMut;

/// One SUBACK in the held output, with the filters it grants that are not routed yet.
#[derive(Debug)]
struct HeldSuback {
    /// Offset in the held output just past the SUBACK.
    end: usize,
    /// Number of reason codes it carries (its last bytes).
    reasons: usize,
    /// (index of the reason code, filter) of the granted filters still waiting.
    waiting: Vec<(usize, String)>,
}

/// The SUBACKs of one connection waiting for routes, and until when they wait.
#[derive(Debug)]
pub struct RouteWait {
    /// When the filters still waiting fail.
    pub deadline: Instant,
    subacks: Vec<HeldSuback>,
}

impl RouteWait {
    /// Waits until `deadline`.
    pub fn new(deadline: Instant) -> RouteWait {
        RouteWait {
            deadline,
            subacks: Vec::new(),
        }
    }

    /// A SUBACK that ends at `end` in the held output, with `reasons` reason codes, waits for
    /// the routes of `waiting` ((reason index, filter) pairs).
    pub fn add(&mut self, end: usize, reasons: usize, waiting: Vec<(usize, String)>) {
        self.subacks.push(HeldSuback {
            end,
            reasons,
            waiting,
        });
    }

    /// Forgets the filters that are routed now; true once none waits.
    pub fn settle(&mut self, routed: impl Fn(&str) -> bool) -> bool {
        for s in &mut self.subacks {
            s.waiting.retain(|(_, f)| !routed(f));
        }
        self.subacks.retain(|s| !s.waiting.is_empty());
        self.subacks.is_empty()
    }

    /// Answers every filter still waiting with `code` in its SUBACK in `held`; returns those
    /// filters (their subscriptions must be undone).
    pub fn fail(self, held: &mut BytesMut, code: u8) -> Vec<String> {
        let mut failed = Vec::new();
        for s in self.subacks {
            let first = s.end.saturating_sub(s.reasons);
            for (i, filter) in s.waiting {
                if let Some(byte) = held.get_mut(first + i).filter(|_| first + i < s.end) {
                    *byte = code;
                }
                failed.push(filter);
            }
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::{Packet, Protocol, ReasonCode, SubAck, decode};

    #[test]
    fn filters_that_do_not_get_routed_fail_in_place() {
        let mut held = BytesMut::new();
        Packet::PingResp.encode(Protocol::V5, &mut held).unwrap();
        let suback = SubAck {
            packet_id: 7,
            reasons: vec![ReasonCode(1), ReasonCode(0), ReasonCode(1)],
            properties: Default::default(),
        };
        Packet::SubAck(suback)
            .encode(Protocol::V5, &mut held)
            .unwrap();
        let end = held.len();
        Packet::PingResp.encode(Protocol::V5, &mut held).unwrap();
        let mut wait = RouteWait::new(Instant::now());
        wait.add(end, 3, vec![(0, "a".into()), (2, "c".into())]);
        assert!(!wait.settle(|f| f == "a"));
        let failed = wait.fail(&mut held, ReasonCode::UNSPECIFIED_ERROR.0);
        assert_eq!(failed, ["c"]);
        let _ = decode(&mut held, Protocol::V5, usize::MAX).unwrap();
        match decode(&mut held, Protocol::V5, usize::MAX).unwrap() {
            Some(Packet::SubAck(a)) => assert_eq!(
                a.reasons,
                [ReasonCode(1), ReasonCode(0), ReasonCode::UNSPECIFIED_ERROR]
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            decode(&mut held, Protocol::V5, usize::MAX).unwrap(),
            Some(Packet::PingResp)
        ));
    }
}
