//! comqttctl's tables: each reply of the admin service as aligned columns.

use serde_json::Value;

use super::CtlCommand;

/// Aligned columns under a header.
fn columns(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            width[i] = width[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}  ", w = width[i]));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) if s.is_empty() => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// The reply of `command` as text.
pub fn render(command: &CtlCommand, v: &Value) -> String {
    let empty = Vec::new();
    let list = v.as_array().unwrap_or(&empty);
    match command {
        CtlCommand::Members => columns(
            &[
                "NAME", "STATUS", "RAFT", "LEADER", "GOSSIP", "GRPC", "HTTP", "MQTT",
            ],
            list.iter()
                .map(|m| {
                    let name = text(&m["name"]);
                    vec![
                        if m["self"].as_bool() == Some(true) {
                            format!("{name}*")
                        } else {
                            name
                        },
                        text(&m["status"]),
                        text(&m["raft_role"]),
                        if m["leader"].as_bool() == Some(true) {
                            "yes".into()
                        } else {
                            "".into()
                        },
                        text(&m["gossip"]),
                        text(&m["grpc"]),
                        text(&m["http"]),
                        text(&m["mqtt"]),
                    ]
                })
                .collect(),
        ),
        CtlCommand::Raft => {
            let f = &v["forwarded"];
            format!(
                "node:      {}\nstate:     {}\nleader:    {}\nterm:      {}\nlog:       last index {}, applied {}\nvoters:    {}\nlearners:  {}\nroutes:    {} filters\nforwarded: {} queued, {} acknowledged, {} resent, {} dropped, {} publisher pauses\n",
                text(&v["node"]),
                text(&v["state"]),
                text(&v["leader"]),
                text(&v["term"]),
                text(&v["last_log_index"]),
                text(&v["last_applied"]),
                text(&v["voters"]),
                text(&v["learners"]),
                text(&v["routes"]),
                text(&f["queued"]),
                text(&f["acknowledged"]),
                text(&f["resent"]),
                text(&f["dropped"]),
                text(&f["congested"]),
            )
        }
        CtlCommand::Join { .. } => format!("gossip sent to {}\n", text(&v["introduced"])),
        CtlCommand::Leave { .. } => format!("{} left the cluster\n", text(&v["left"])),
        CtlCommand::Reload { .. } => {
            let one = [v.clone()];
            let nodes = v["nodes"].as_array().map_or(&one[..], |n| &n[..]);
            columns(
                &[
                    "NODE",
                    "RESULT",
                    "APPLIED",
                    "RESTART NEEDED",
                    "CLIENTS REASSESSED",
                ],
                nodes
                    .iter()
                    .map(|n| match n.get("error") {
                        Some(e) => vec![
                            text(&n["node"]),
                            format!("refused: {}", text(e)),
                            String::new(),
                            String::new(),
                            String::new(),
                        ],
                        None => vec![
                            text(&n["node"]),
                            "reloaded".into(),
                            text(&n["applied"]),
                            text(&n["restart_needed"]),
                            text(&n["clients_reassessed"]),
                        ],
                    })
                    .collect(),
            )
        }
        CtlCommand::Inspect { what, .. } => match what.as_str() {
            "routes" => columns(
                &["FILTER", "NODES"],
                v.as_object()
                    .map(|o| o.iter().map(|(f, n)| vec![f.clone(), text(n)]).collect())
                    .unwrap_or_default(),
            ),
            "subscriptions" => columns(
                &["FILTER", "SUBSCRIBERS"],
                list.iter()
                    .map(|s| vec![text(&s["filter"]), text(&s["count"])])
                    .collect(),
            ),
            "client" => {
                let mut out = String::new();
                if let Some(o) = v.as_object() {
                    for (k, val) in o {
                        out.push_str(&format!("{k:<15} {}\n", text(val)));
                    }
                }
                out
            }
            _ => columns(
                &[
                    "CLIENT", "ONLINE", "REMOTE", "USER", "PROTOCOL", "FILTERS", "QUEUED",
                    "INFLIGHT",
                ],
                list.iter()
                    .map(|c| {
                        vec![
                            text(&c["id"]),
                            text(&c["online"]),
                            text(&c["remote"]),
                            text(&c["username"]),
                            text(&c["protocol"]),
                            text(&c["filters"]),
                            text(&c["queued"]),
                            text(&c["inflight"]),
                        ]
                    })
                    .collect(),
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_are_aligned_columns_with_this_node_starred() {
        let v = json!([
            {"name": "c01", "status": "alive", "raft_role": "voter", "leader": true, "gossip": "127.0.0.1:7946", "grpc": "127.0.0.1:17946", "http": null, "mqtt": "127.0.0.1:1883", "self": true},
            {"name": "c02", "status": "dead", "raft_role": "", "leader": false, "gossip": "127.0.0.1:7947", "grpc": "127.0.0.1:17947", "http": "127.0.0.1:8081", "mqtt": null, "self": false}
        ]);
        let out = render(&CtlCommand::Members, &v);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("NAME  STATUS  RAFT   LEADER"), "{out}");
        assert!(lines[1].starts_with("c01*  alive   voter  yes"), "{out}");
        assert!(lines[2].starts_with("c02   dead    -"), "{out}");
    }
}
