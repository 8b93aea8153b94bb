//! The snapshot without a TUI: `--once` prints it as plain-text tables (nodes and totals,
//! errors, top clients, subscriptions, retained messages), `--json` as the [`Snapshot`]'s JSON.
//! Text lists are cut at [`TEXT_ROWS`] rows each; the JSON has every row read.

use std::fmt::Write;

use super::format;
use super::snapshot::{NodeView, Snapshot};
use super::view::{self, ClientSort, NodeSort, RetainedSort, SubscriptionSort};

/// Rows of each list in the text snapshot.
pub const TEXT_ROWS: usize = 20;

/// The snapshot as pretty-printed JSON (every figure, rates as floating-point numbers).
pub fn json(snapshot: &Snapshot) -> String {
    serde_json::to_string_pretty(snapshot).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Columns padded to their widest cell; `right` columns are right-aligned.
fn table(out: &mut String, columns: &[(&str, bool)], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = columns.iter().map(|(t, _)| t.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, ((cell, w), (_, right))) in cells.iter().zip(&widths).zip(columns).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = w.saturating_sub(cell.chars().count());
            if *right {
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(columns.iter().map(|(t, _)| *t).collect());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// "… N more (all in --json)" when a list was cut.
fn more(out: &mut String, total: usize) {
    if total > TEXT_ROWS {
        let _ = writeln!(out, "… {} more (all in --json)", total - TEXT_ROWS);
    }
}

/// A node's row of the text table.
fn node_cells(n: &NodeView) -> Vec<String> {
    let mut cells = vec![
        n.name.clone(),
        n.status.label().to_string(),
        if n.leader { "*" } else { "" }.to_string(),
        n.http.clone().unwrap_or_else(|| "-".to_string()),
    ];
    match &n.stats {
        Some(s) => {
            let r = n.rates.as_ref();
            let rate =
                |f: fn(&super::rate::Rates) -> f64| r.map_or("-".into(), |r| format::rate(f(r)));
            let brate = |f: fn(&super::rate::Rates) -> f64| {
                r.map_or("-".into(), |r| format::bytes_rate(f(r)))
            };
            cells.extend([
                s.clients_connected.to_string(),
                rate(|r| r.messages_in),
                rate(|r| r.messages_out),
                brate(|r| r.bytes_in),
                brate(|r| r.bytes_out),
                rate(|r| r.dropped),
                s.subscriptions.to_string(),
                s.retained.to_string(),
                s.inflight.to_string(),
                n.queued.map_or("-".into(), |q| q.to_string()),
                format::bytes(s.memory_alloc),
                s.threads.to_string(),
                format::duration(s.uptime),
            ]);
        }
        None => cells.extend((0..13).map(|_| "-".to_string())),
    }
    cells
}

/// The plain-text snapshot.
pub fn plain(s: &Snapshot) -> String {
    let mut out = String::new();
    let rates_over = s
        .nodes
        .iter()
        .find_map(|n| n.rates_over_ms)
        .map(|ms| format!(", rates over {:.1} s", ms as f64 / 1000.0))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "comqtt-top snapshot at {}{rates_over}",
        format::utc(s.time)
    );
    let mut summary = vec![format!("nodes {}/{} alive", s.nodes_alive, s.nodes_total)];
    let versions = s.versions();
    if !versions.is_empty() {
        summary.push(versions.join(", "));
    }
    if let Some(up) = s.uptime() {
        summary.push(format!("up {}", format::duration(up)));
    }
    let _ = writeln!(out, "{}", summary.join(" · "));
    if let Some(e) = &s.discovery_error {
        let _ = writeln!(out, "warning: {e} (the last node list was used)");
    }
    out.push('\n');
    let columns = [
        ("NODE", false),
        ("STATUS", false),
        ("LEADER", false),
        ("HTTP", false),
        ("CLIENTS", true),
        ("MSGS IN/s", true),
        ("MSGS OUT/s", true),
        ("BYTES IN/s", true),
        ("BYTES OUT/s", true),
        ("DROP/s", true),
        ("SUBS", true),
        ("RETAINED", true),
        ("INFLIGHT", true),
        ("QUEUED", true),
        ("MEMORY", true),
        ("THREADS", true),
        ("UPTIME", true),
    ];
    let mut rows: Vec<Vec<String>> = view::nodes(s, NodeSort::Listed)
        .into_iter()
        .map(node_cells)
        .collect();
    let t = &s.totals;
    let r = t.rates.as_ref();
    let rate = |f: fn(&super::rate::Rates) -> f64| r.map_or("-".into(), |r| format::rate(f(r)));
    let brate =
        |f: fn(&super::rate::Rates) -> f64| r.map_or("-".into(), |r| format::bytes_rate(f(r)));
    rows.push(vec![
        "TOTAL".into(),
        format!("{}/{} alive", s.nodes_alive, s.nodes_total),
        String::new(),
        String::new(),
        t.clients_connected.to_string(),
        rate(|r| r.messages_in),
        rate(|r| r.messages_out),
        brate(|r| r.bytes_in),
        brate(|r| r.bytes_out),
        rate(|r| r.dropped),
        t.subscriptions.to_string(),
        t.retained.to_string(),
        t.inflight.to_string(),
        t.queued.to_string(),
        format::bytes(t.memory),
        t.threads.to_string(),
        String::new(),
    ]);
    table(&mut out, &columns, &rows);
    let _ = writeln!(
        out,
        "messages since start: {} received, {} sent, {} dropped; bytes: {} received, {} sent",
        t.messages_received,
        t.messages_sent,
        t.messages_dropped,
        format::bytes(t.bytes_received),
        format::bytes(t.bytes_sent)
    );
    let errors: Vec<String> = s
        .nodes
        .iter()
        .filter_map(|n| {
            let e = n.error.as_ref()?;
            Some(match &n.http {
                Some(h) if *h != n.name => format!("  {} ({h}): {e}", n.name),
                _ => format!("  {}: {e}", n.name),
            })
        })
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "\nerrors:\n{}", errors.join("\n"));
    }
    if let Some(clients) = &s.clients {
        let rows = view::clients(s, ClientSort::BytesRate, "");
        let _ = writeln!(
            out,
            "\nclients: {} of {}{}, by bytes/s",
            rows.len(),
            clients.total,
            if clients.truncated {
                " (the first 1000 per node read)"
            } else {
                ""
            }
        );
        let columns = [
            ("CLIENT ID", false),
            ("NODE", false),
            ("USER", false),
            ("ADDRESS", false),
            ("STATE", false),
            ("CONNECTED", true),
            ("BYTES IN/s", true),
            ("BYTES OUT/s", true),
            ("BYTES IN", true),
            ("BYTES OUT", true),
            ("INFLIGHT", true),
            ("QUEUED", true),
            ("SUBS", true),
        ];
        let cells: Vec<Vec<String>> = rows
            .iter()
            .take(TEXT_ROWS)
            .map(|c| {
                let rate = |r: Option<f64>| r.map_or("-".to_string(), format::bytes_rate);
                vec![
                    c.id.clone(),
                    c.node.clone(),
                    c.username.clone(),
                    c.ip.clone(),
                    if c.online { "online" } else { "offline" }.to_string(),
                    if c.online {
                        format::duration(c.connected_for)
                    } else {
                        "-".to_string()
                    },
                    rate(c.bytes_in_rate),
                    rate(c.bytes_out_rate),
                    c.bytes_received.to_string(),
                    c.bytes_sent.to_string(),
                    c.inflight.to_string(),
                    c.queued.to_string(),
                    c.subscriptions.to_string(),
                ]
            })
            .collect();
        table(&mut out, &columns, &cells);
        more(&mut out, rows.len());
    }
    if s.subscriptions.is_some() {
        let rows = view::subscriptions(s, SubscriptionSort::Count, "");
        let subscribers: u64 = rows.iter().map(|r| r.count).sum();
        let _ = writeln!(
            out,
            "\nsubscriptions: {} filters, {subscribers} subscribers",
            rows.len()
        );
        let cells: Vec<Vec<String>> = rows
            .iter()
            .take(TEXT_ROWS)
            .map(|r| vec![r.filter.clone(), r.count.to_string(), r.nodes.to_string()])
            .collect();
        table(
            &mut out,
            &[("FILTER", false), ("SUBSCRIBERS", true), ("NODES", true)],
            &cells,
        );
        more(&mut out, rows.len());
    }
    if let Some(retained) = &s.retained {
        let rows = view::retained(s, RetainedSort::Topic, "");
        let _ = writeln!(out, "\nretained: {} messages", retained.total);
        let cells: Vec<Vec<String>> = rows
            .iter()
            .take(TEXT_ROWS)
            .map(|r| {
                let preview: String = r.preview.chars().take(40).collect();
                vec![
                    r.topic.clone(),
                    r.qos.to_string(),
                    r.size.to_string(),
                    r.client_id.clone(),
                    r.node.clone(),
                    if r.encoding == "base64" {
                        format!("base64:{preview}")
                    } else {
                        preview.replace(['\n', '\r', '\t'], " ")
                    },
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                ("TOPIC", false),
                ("QOS", true),
                ("SIZE", true),
                ("PUBLISHER", false),
                ("NODE", false),
                ("PAYLOAD", false),
            ],
            &cells,
        );
        more(&mut out, rows.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned() {
        let mut out = String::new();
        table(
            &mut out,
            &[("NAME", false), ("N", true)],
            &[
                vec!["a".into(), "1".into()],
                vec!["longer".into(), "100".into()],
            ],
        );
        assert_eq!(out, "NAME      N\na         1\nlonger  100\n");
    }
}
