//! The publisher connection's loop. It encodes as many PUBLISH packets as it may (window of
//! unacknowledged QoS 1/2 messages, `-rate` pacing, `-pause-between-messages`, up to
//! [`BATCH_BYTES`]) into the write buffer, writes them with one write, and reads the
//! acknowledgements (PUBACK; PUBREC answered with PUBREL, then PUBCOMP) in the same task.

use std::pin::pin;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::sleep_until;

use super::client::{ClientError, Link};
use super::context::RunContext;
use super::payload::PayloadWriter;
use super::stats::{Counters, Failure, Outcome, SendLog};
use crate::mqtt::{MqttString, Packet, PubReply, Publish, PublishProperties, QoS};

/// Bytes encoded ahead before a write.
const BATCH_BYTES: usize = 64 * 1024;

/// What a publisher sends.
#[derive(Debug, Clone)]
pub struct PublishPlan {
    /// Topic of every message.
    pub topic: MqttString,
    /// QoS of every message.
    pub qos: QoS,
    /// Retain flag of every message.
    pub retain: bool,
    /// How many messages; `None` in `-duration` mode.
    pub messages: Option<u64>,
    /// How long to publish in `-duration` mode.
    pub duration: Option<Duration>,
    /// Messages per second, if paced.
    pub rate: Option<f64>,
    /// Pause after each message (then one message at a time).
    pub pause: Duration,
    /// Most QoS 1/2 messages unacknowledged at once.
    pub max_inflight: u16,
    /// How long acknowledgements may stall.
    pub ack_timeout: Duration,
}

impl PublishPlan {
    /// The plan the options give for `topic`.
    pub fn from_context(ctx: &RunContext, topic: String) -> PublishPlan {
        let o = &ctx.options;
        PublishPlan {
            topic: topic.into(),
            qos: o.publisher_qos,
            retain: o.retain,
            messages: o.duration.is_none().then_some(o.messages),
            duration: o.duration,
            rate: o.rate,
            pause: o.pause,
            max_inflight: o.max_inflight,
            ack_timeout: o.timeout,
        }
    }
}

/// What a publisher did.
#[derive(Debug, Clone)]
pub struct Published {
    /// Messages written.
    pub sent: u64,
    /// QoS 1/2 messages acknowledged (QoS 0: equal to `sent` once written).
    pub acknowledged: u64,
    /// When the first message was encoded.
    pub started: Instant,
    /// When the last one was written or acknowledged.
    pub finished: Instant,
    /// Why it stopped early.
    pub failure: Option<Failure>,
}

/// Packet identifiers of unacknowledged messages: a 65,536-bit set.
struct PacketIds {
    /// Bit `id` set while `id` is in use.
    used: Box<[u64; 1024]>,
    /// Last identifier handed out.
    last: u16,
    /// How many are in use.
    count: usize,
}

impl PacketIds {
    fn new() -> PacketIds {
        PacketIds {
            used: Box::new([0; 1024]),
            last: 0,
            count: 0,
        }
    }

    /// A free identifier (the caller keeps `count` below 65,535).
    fn acquire(&mut self) -> u16 {
        loop {
            self.last = if self.last == u16::MAX {
                1
            } else {
                self.last + 1
            };
            let (word, bit) = (self.last as usize / 64, self.last as usize % 64);
            if self.used[word] & (1 << bit) == 0 {
                self.used[word] |= 1 << bit;
                self.count += 1;
                return self.last;
            }
        }
    }

    /// Frees `id`; false if it was not in use (a stray acknowledgement).
    fn release(&mut self, id: u16) -> bool {
        let (word, bit) = (id as usize / 64, id as usize % 64);
        if self.used[word] & (1 << bit) == 0 {
            return false;
        }
        self.used[word] &= !(1 << bit);
        self.count -= 1;
        true
    }
}

fn lost(e: impl std::fmt::Display) -> Failure {
    Failure::new(Outcome::ConnectionLost, e.to_string())
}

/// Publishes `plan` on `link`; `send_log` notes send times for payloads without a stamp.
pub async fn publish(
    link: &mut Link,
    plan: &PublishPlan,
    ctx: &RunContext,
    send_log: Option<&SendLog>,
) -> Published {
    let mut cancel = ctx.cancel.watcher();
    let mut payloads = PayloadWriter::new(ctx.options.payload.clone());
    let qos = plan.qos;
    let window = if qos == QoS::AtMostOnce {
        usize::MAX
    } else {
        usize::from(
            plan.max_inflight
                .min(link.receive_maximum)
                .clamp(1, u16::MAX - 1),
        )
    };
    let one_at_a_time = !plan.pause.is_zero();
    let limit = plan.messages.unwrap_or(u64::MAX);
    let started = Instant::now();
    let until = plan.duration.map(|d| started + d);
    let far = started + Duration::from_secs(10 * 365 * 86_400);

    let mut ids = PacketIds::new();
    let mut sent = 0u64;
    let mut acknowledged = 0u64;
    let mut counted = 0u64;
    let mut stop_sending = false;
    let mut resume_at: Option<Instant> = None; // end of a pause
    let mut finished = started;
    let mut wake = pin!(sleep_until(far.into()));
    let mut ack_deadline = pin!(sleep_until(far.into()));
    let mut ack_armed = false;
    let ping_every = link.ping_every;
    let mut ping = pin!(sleep_until(ping_every.map_or(far, |p| started + p).into()));

    let failure: Option<Failure> = 'run: loop {
        // Encode what may go now.
        let now = Instant::now();
        if until.is_some_and(|u| now >= u) {
            stop_sending = true;
        }
        let mut wake_at = if stop_sending { None } else { until };
        // One timestamp for the whole batch: it leaves in one write anyway.
        let stamp = ctx.clock.ns_at(now);
        while !stop_sending && sent < limit && ids.count < window && link.wbuf.len() < BATCH_BYTES {
            if one_at_a_time {
                if ids.count > 0 || !link.wbuf.is_empty() {
                    break;
                }
                if let Some(t) = resume_at {
                    if now < t {
                        wake_at = Some(wake_at.map_or(t, |w| w.min(t)));
                        break;
                    }
                    resume_at = None;
                }
            }
            if let Some(rate) = plan.rate {
                let due = started + Duration::from_secs_f64(sent as f64 / rate);
                if due > now {
                    wake_at = Some(wake_at.map_or(due, |w| w.min(due)));
                    break;
                }
            }
            let packet_id = if qos == QoS::AtMostOnce {
                0
            } else {
                ids.acquire()
            };
            let publish = Publish {
                dup: false,
                qos,
                retain: plan.retain,
                topic: plan.topic.clone(),
                packet_id,
                properties: PublishProperties::default(),
                payload: payloads.next(sent, stamp),
            };
            if let Err(e) = link.queue(&Packet::Publish(publish)) {
                break 'run Some(Failure::new(Outcome::ConnectionLost, e.to_string()));
            }
            if let Some(log) = send_log {
                log.sent(sent, stamp);
            }
            sent += 1;
            if one_at_a_time {
                break;
            }
        }
        if sent >= limit {
            stop_sending = true;
        }
        Counters::add(&ctx.counters.published, sent - counted);
        counted = sent;
        if ids.count > 0 && !ack_armed {
            ack_armed = true;
            ack_deadline.as_mut().reset((now + plan.ack_timeout).into());
        }
        if stop_sending && ids.count == 0 && link.wbuf.is_empty() {
            break None;
        }
        if let Some(t) = wake_at {
            wake.as_mut().reset(t.into());
        }
        link.prepare_read();

        tokio::select! {
            biased;
            _ = cancel.wait() => break Some(ctx.cancel.failure()),
            read = link.reader.read_buf(&mut link.rbuf) => {
                match read {
                    Ok(0) => break Some(lost(ClientError::Closed)),
                    Err(e) => break Some(lost(ClientError::Io(e))),
                    Ok(_) => {}
                }
                let before = ids.count;
                loop {
                    let packet = match link.next_packet() {
                        Ok(Some(p)) => p,
                        Ok(None) => break,
                        Err(e) => break 'run Some(lost(e)),
                    };
                    match packet {
                        Packet::PubAck(ack) if qos == QoS::AtLeastOnce && ids.release(ack.packet_id) => acknowledged += 1,
                        Packet::PubRec(rec) if qos == QoS::ExactlyOnce => {
                            if !rec.reason.is_success() {
                                // Refused: the exchange ends here [MQTT-4.3.3].
                                if ids.release(rec.packet_id) {
                                    acknowledged += 1;
                                }
                            } else if let Err(e) = link.queue(&Packet::PubRel(PubReply::new(rec.packet_id))) {
                                break 'run Some(lost(e));
                            }
                        }
                        Packet::PubComp(comp) if qos == QoS::ExactlyOnce && ids.release(comp.packet_id) => acknowledged += 1,
                        Packet::Disconnect(d) => break 'run Some(lost(ClientError::Disconnected(d.reason))),
                        _ => {} // PINGRESP, or something a publisher does not care about
                    }
                }
                if ids.count < before {
                    let now = Instant::now();
                    finished = now;
                    if ids.count == 0 {
                        ack_armed = false;
                        if one_at_a_time {
                            resume_at = Some(now + plan.pause);
                        }
                    } else {
                        ack_deadline.as_mut().reset((now + plan.ack_timeout).into());
                    }
                }
            }
            written = link.writer.write_buf(&mut link.wbuf), if !link.wbuf.is_empty() => {
                match written {
                    Ok(0) => break Some(lost(ClientError::Closed)),
                    Err(e) => break Some(lost(ClientError::Io(e))),
                    Ok(_) => {}
                }
                if link.wbuf.is_empty() {
                    if let Err(e) = link.writer.flush().await {
                        break Some(lost(ClientError::Io(e)));
                    }
                    if qos == QoS::AtMostOnce {
                        let now = Instant::now();
                        finished = now;
                        acknowledged = sent;
                        if one_at_a_time {
                            resume_at = Some(now + plan.pause);
                        }
                    }
                }
            }
            _ = &mut wake, if wake_at.is_some() => {}
            _ = &mut ack_deadline, if ack_armed => {
                break Some(Failure::new(
                    Outcome::TimeoutExceeded,
                    format!("{} messages not acknowledged within {:?}", ids.count, plan.ack_timeout),
                ));
            }
            _ = &mut ping, if ping_every.is_some() => {
                if let Err(e) = link.queue(&Packet::PingReq) {
                    break Some(lost(e));
                }
                ping.as_mut().reset((Instant::now() + ping_every.unwrap_or_default()).into());
            }
        }
    };
    Counters::add(&ctx.counters.published, sent - counted);
    if failure.is_some() && finished == started {
        finished = Instant::now();
    }
    Published {
        sent,
        acknowledged,
        started,
        finished,
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_ids_are_never_zero_and_are_reused_once_free() {
        let mut ids = PacketIds::new();
        let a = ids.acquire();
        let b = ids.acquire();
        assert_eq!((a, b, ids.count), (1, 2, 2));
        assert!(ids.release(a));
        assert!(!ids.release(a));
        ids.last = u16::MAX - 1;
        assert_eq!(ids.acquire(), u16::MAX);
        assert_eq!(ids.acquire(), 1, "wraps past 0 to the freed 1");
        assert_eq!(ids.acquire(), 3, "2 is still in use");
    }
}
