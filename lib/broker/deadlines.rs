//! Deadline indexes: keys (client ids, topics) by when something about them is due, soonest
//! first, so that housekeeping looks only at what is due. Items may be stale: the owner of the
//! index decides from the keyed thing itself what, if anything, is due.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::mqtt::MqttString;

/// Keys by deadline.
pub type Deadlines = BTreeSet<(Instant, MqttString)>;

/// Takes out the keys due by `now`, soonest first.
pub fn take_due(index: &mut Deadlines, now: Instant) -> Vec<MqttString> {
    let mut due = Vec::new();
    while index.first().is_some_and(|(at, _)| *at <= now) {
        if let Some((_, key)) = index.pop_first() {
            due.push(key);
        }
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_what_is_due_is_taken_soonest_first() {
        let now = Instant::now();
        let mut index = Deadlines::new();
        for (secs, key) in [(3, "c"), (1, "a"), (10, "later"), (2, "b")] {
            index.insert((now + Duration::from_secs(secs), MqttString::from(key)));
        }
        let due = take_due(&mut index, now + Duration::from_secs(3));
        assert_eq!(due, ["a", "b", "c"].map(MqttString::from));
        assert_eq!(index.len(), 1);
    }
}
