//! The subscriber connection's loop: reads whole buffers of packets, counts the messages,
//! times them (payload stamp or send log), answers QoS 1 and 2 (PUBACK; PUBREC, then PUBCOMP
//! for PUBREL) with one write per wake-up, and stops when its tally is complete, when nothing
//! arrives for `-timeout` after the publishers finished, or when the run is cancelled.

use std::pin::pin;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::sleep_until;

use super::client::{ClientError, Link};
use super::context::RunContext;
use super::stats::{Counters, Failure, LatencySamples, Outcome, SendLog};
use super::tally::Tally;
use crate::mqtt::{Packet, PubReply, QoS};

/// What a subscriber got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Messages received.
    pub count: u64,
    /// When the last one arrived.
    pub last_at: Option<Instant>,
    /// Why it stopped before its tally completed.
    pub failure: Option<Failure>,
}

fn lost(e: impl std::fmt::Display) -> Failure {
    Failure::new(Outcome::ConnectionLost, e.to_string())
}

/// Receives on `link` (already subscribed) until `tally` is complete. `send_log` times
/// payloads without a stamp by arrival order (one publisher per subscriber only).
pub async fn receive(
    link: &mut Link,
    tally: &Tally,
    send_log: Option<&SendLog>,
    ctx: &RunContext,
) -> Received {
    let mut cancel = ctx.cancel.watcher();
    let mut state = tally.watch();
    let mut samples = LatencySamples::new(ctx.latency.clone());
    let payload = &ctx.options.payload;
    let stamped = payload.is_stamped();
    let idle = ctx.options.timeout;
    let start = Instant::now();
    let far = start + Duration::from_secs(10 * 365 * 86_400);
    let mut idle_timer = pin!(sleep_until(far.into()));
    let mut idle_armed = false;
    let ping_every = link.ping_every;
    let mut ping = pin!(sleep_until(ping_every.map_or(far, |p| start + p).into()));
    let mut count = 0u64;
    let mut last_at = None;

    let failure = loop {
        {
            let s = *state.borrow_and_update();
            if s.complete {
                break None;
            }
            if s.publishers_left == 0 && !idle_armed {
                idle_armed = true;
                idle_timer.as_mut().reset((Instant::now() + idle).into());
            }
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
                let now = Instant::now();
                let now_ns = ctx.clock.ns_at(now);
                let mut batch = 0u64;
                let mut broken = None;
                loop {
                    let packet = match link.next_packet() {
                        Ok(Some(p)) => p,
                        Ok(None) => break,
                        Err(e) => {
                            broken = Some(lost(e));
                            break;
                        }
                    };
                    let reply = match packet {
                        Packet::Publish(p) => {
                            let sent_at = if stamped {
                                payload.read_stamp(&p.payload)
                            } else {
                                send_log.and_then(|log| log.sent_at(count + batch))
                            };
                            if let Some(ns) = sent_at
                                && ns <= now_ns
                            {
                                samples.push(now_ns - ns);
                            }
                            batch += 1;
                            match p.qos {
                                QoS::AtMostOnce => None,
                                QoS::AtLeastOnce => Some(Packet::PubAck(PubReply::new(p.packet_id))),
                                QoS::ExactlyOnce => Some(Packet::PubRec(PubReply::new(p.packet_id))),
                            }
                        }
                        Packet::PubRel(rel) => Some(Packet::PubComp(PubReply::new(rel.packet_id))),
                        Packet::Disconnect(d) => {
                            broken = Some(lost(ClientError::Disconnected(d.reason)));
                            break;
                        }
                        _ => None, // PINGRESP
                    };
                    if let Some(reply) = reply
                        && let Err(e) = link.queue(&reply)
                    {
                        broken = Some(lost(e));
                        break;
                    }
                }
                if batch > 0 {
                    count += batch;
                    last_at = Some(now);
                    let dots = tally.add_received(batch);
                    Counters::add(&ctx.counters.received, batch);
                    Counters::add(&ctx.counters.dots, dots);
                    if idle_armed {
                        idle_timer.as_mut().reset((now + idle).into());
                    }
                }
                if broken.is_some() {
                    break broken;
                }
            }
            written = link.writer.write_buf(&mut link.wbuf), if !link.wbuf.is_empty() => {
                match written {
                    Ok(0) => break Some(lost(ClientError::Closed)),
                    Err(e) => break Some(lost(ClientError::Io(e))),
                    Ok(_) => {}
                }
                if link.wbuf.is_empty()
                    && let Err(e) = link.writer.flush().await
                {
                    break Some(lost(ClientError::Io(e)));
                }
            }
            Ok(()) = state.changed() => {}
            _ = &mut idle_timer, if idle_armed => {
                break Some(Failure::new(
                    Outcome::TimeoutExceeded,
                    format!("no message for {idle:?} after publishing ended ({count} received)"),
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
    samples.flush();
    Received {
        count,
        last_at,
        failure,
    }
}
