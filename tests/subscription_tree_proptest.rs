//! Property tests of the subscription tree against a simple reference: a list of
//! (client, filter) pairs matched one by one with `topic::matches`. Random subscribe and
//! unsubscribe sequences over wide trees (few level names, many combinations) and deep ones
//! (thousands of levels) must agree on every match, count and listing, and never overflow.

use std::collections::BTreeSet;
use std::sync::Arc;

use comqtt::broker::session::Outbox;
use comqtt::broker::subscriptions::{Matches, Subscriber, SubscriptionTree};
use comqtt::mqtt::topic::matches;
use comqtt::mqtt::{MqttString, QoS, SubscriptionOptions};
use proptest::prelude::*;

/// A topic filter of up to `depth` levels from a small alphabet, `#` only last.
fn filter(depth: usize) -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(vec!["a", "b", "", "+"]), 1..=depth),
        any::<bool>(),
    )
        .prop_map(|(mut levels, hash)| {
            if hash {
                levels.push("#");
            }
            levels.join("/")
        })
}

/// A topic name of up to `depth` levels (sometimes starting with `$`).
fn topic(depth: usize) -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(vec!["a", "b", ""]), 1..=depth),
        any::<bool>(),
    )
        .prop_map(|(levels, dollar)| {
            let t = levels.join("/");
            if dollar { format!("$a/{t}") } else { t }
        })
}

#[derive(Debug, Clone)]
enum Op {
    Subscribe(usize, String),
    Unsubscribe(usize, String),
}

fn ops(depth: usize) -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0..4usize, filter(depth)).prop_map(|(c, f)| Op::Subscribe(c, f)),
            1 => (0..4usize, filter(depth)).prop_map(|(c, f)| Op::Unsubscribe(c, f)),
        ],
        0..60,
    )
}

/// Runs `ops` on the tree and on the reference, then compares both on every topic.
fn check(ops: &[Op], topics: &[String]) -> Result<(), TestCaseError> {
    let outboxes: Vec<Arc<Outbox>> = (0..4)
        .map(|i| Arc::new(Outbox::new(MqttString::from(format!("c{i}")), 10)))
        .collect();
    let mut tree = SubscriptionTree::default();
    let mut reference: BTreeSet<(usize, String)> = BTreeSet::new();
    for op in ops {
        match op {
            Op::Subscribe(c, f) => {
                let new = tree.subscribe(
                    f,
                    Subscriber {
                        outbox: outboxes[*c].clone(),
                        options: SubscriptionOptions::qos(QoS::AtLeastOnce),
                        identifier: None,
                    },
                );
                prop_assert_eq!(
                    new,
                    reference.insert((*c, f.clone())),
                    "subscribe {} {}",
                    c,
                    f
                );
            }
            Op::Unsubscribe(c, f) => {
                let removed = tree.unsubscribe(f, &outboxes[*c]);
                prop_assert_eq!(
                    removed,
                    reference.remove(&(*c, f.clone())),
                    "unsubscribe {} {}",
                    c,
                    f
                );
            }
        }
        prop_assert_eq!(tree.len(), reference.len());
    }
    for t in topics {
        let mut m = Matches::default();
        tree.matches(t, &mut m);
        let mut got: Vec<String> = m
            .subscribers
            .iter()
            .map(|s| s.outbox.client_id.to_string())
            .collect();
        got.sort();
        let mut want: Vec<String> = reference
            .iter()
            .filter(|(_, f)| matches(f, t))
            .map(|(c, _)| format!("c{c}"))
            .collect();
        want.sort();
        prop_assert_eq!(got, want, "topic {:?}", t);
    }
    let mut listed: Vec<(String, usize)> = tree.summary();
    listed.sort();
    let mut want: Vec<(String, usize)> = Vec::new();
    for (_, f) in &reference {
        match want.iter_mut().find(|(w, _)| w == f) {
            Some(entry) => entry.1 += 1,
            None => want.push((f.clone(), 1)),
        }
    }
    want.sort();
    prop_assert_eq!(listed, want);
    for f in reference.iter().map(|(_, f)| f) {
        prop_assert!(tree.has_filter(f));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn wide_trees_agree_with_the_reference(ops in ops(5), topics in prop::collection::vec(topic(6), 1..40)) {
        check(&ops, &topics)?;
    }

    #[test]
    fn deep_trees_agree_with_the_reference(ops in ops(3000), topics in prop::collection::vec(topic(3000), 1..10)) {
        check(&ops, &topics)?;
    }
}

#[test]
fn the_deepest_filters_mqtt_can_carry_neither_overflow_nor_disagree() {
    // On a thread with a small stack: nothing may recurse per level.
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let deep_a = vec!["a"; 32_768].join("/");
            let deep_plus = vec!["+"; 32_768].join("/");
            let slashes = "/".repeat(65_534);
            let ops = vec![
                Op::Subscribe(0, deep_a.clone()),
                Op::Subscribe(1, deep_plus.clone()),
                Op::Subscribe(2, slashes.clone()),
                Op::Subscribe(3, format!("{deep_a}/#")),
            ];
            let topics = vec![deep_a.clone(), slashes.clone(), format!("{deep_a}/b")];
            check(&ops, &topics).expect("agrees");
            let mut unsub = ops.clone();
            unsub.extend([
                Op::Unsubscribe(0, deep_a.clone()),
                Op::Unsubscribe(2, slashes.clone()),
            ]);
            check(&unsub, &topics).expect("agrees");
        })
        .expect("thread")
        .join()
        .expect("no overflow");
}
