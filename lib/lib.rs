//! comqtt: a clustered MQTT 3.1 / 3.1.1 / 5.0 broker suite.
//!
//! The library holds everything; the four binaries under `bins/` only parse arguments and
//! wire these modules together.
//!
//! | module | owns |
//! | --- | --- |
//! | [`mqtt`] | the codec: packets, properties, reason codes, topic names and filters |
//! | [`auth`] | who may connect and what each client may publish or subscribe: blacklist, datasources (file, Redis, MySQL, PostgreSQL, HTTP), ACLs |
//! | [`bench`](mod@bench) | the load generator behind `comqtt-bench` (mqtt-stresser compatible, latency percentiles) |
//! | [`broker`] | sessions, subscription tree, retained messages, QoS flows, wills, `$SYS` |
//! | [`bridge`] | broker events sent on to Kafka (`bridge-way: 1`), never in the way of MQTT |
//! | [`http`] | the HTTP API: stats, clients, retained, blacklist, publish, `/metrics`, health |
//! | [`listener`] | TCP (and later WebSocket, TLS) listeners feeding connections to the broker |
//! | [`top`] | the state and rendering behind `comqtt-top`: HTTP polling of every node, rates, the ratatui screen, `--once`/`--json` snapshots |
//! | [`storage`] | persistence: the group-commit store and its embedded (redb) backend |
//! | [`shutdown`] | the shutdown signal every task selects on |
//! | [`ctl`] | `comqttctl`: its command line and tables over the cluster's admin service |
//! | [`config`] | the YAML configuration (original schema) merged with defaults and flags |
//! | [`logging`] | console and rotating-file logs (text or JSON) from the `log:` block |
//! | [`cluster`] | gossip membership, the raft-replicated route table, forwarding between nodes, session takeover, the admin service |
//! | [`cli`] | Go-style command-line compatibility shared by the binaries |

pub mod auth;
pub mod bench;
pub mod bridge;
pub mod broker;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod ctl;
pub mod http;
pub mod listener;
pub mod logging;
pub mod mqtt;
pub mod reload;
pub mod shutdown;
pub mod storage;
pub mod top;
