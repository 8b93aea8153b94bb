//! Drawing the whole screen with ratatui, from an [`App`] alone (no I/O), so it is tested on
//! ratatui's `TestBackend`:
//!
//! ```text
//!  comqtt-top │ c01 │ comqtt 0.1.0 │ up 3h12m │ nodes 1/1 alive │ every 1s │ updated 0.2s ago
//!  watching 127.0.0.1:8080 and the nodes it lists
//! ┌Nodes──────────────────────────────────────────────────────────────────────────────────┐
//! │NODE  STATUS  LDR  CLIENTS  MSGS IN/s  MSGS OUT/s  BYTES IN/s ... MEMORY  THR  UPTIME  │
//! │c01   up      *         12        250         500  12.0 KiB/s ... 15 MiB   6   3h12m   │
//! │TOTAL 1/1 alive         12        250         500  ...                                 │
//! │c02 (127.0.0.1:8081): unreachable: Connection refused (os error 111), for 12s          │
//! └───────────────────────────────────────────────────────────────────────────────────────┘
//!  1 Overview │ 2 Clients │ 3 Subscriptions │ 4 Retained                 sort: listed
//! ┌Messages per second, last 60 s──────────────────────┐┌Node c01──────────────────────────┐
//! │  (chart of messages in/s and out/s)                ││  (the selected node's figures)   │
//! └────────────────────────────────────────────────────┘└──────────────────────────────────┘
//!  q quit  Tab view  ↑↓ select  s sort  / filter  p pause  +/- interval  ? help
//! ```

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Axis, Block, Cell, Chart, Clear, Dataset, GraphType, LegendPosition, Paragraph, Row, Table,
    TableState, Tabs, Wrap,
};

use super::app::App;
use super::format;
use super::history::WINDOW;
use super::snapshot::{NodeStatus, NodeView, Snapshot};
use super::view::{self, View};

/// Node table rows shown at most (the table scrolls beyond).
const MAX_NODE_ROWS: u16 = 12;
/// Node error lines shown at most under the table.
const MAX_ERROR_LINES: usize = 4;

/// The columns of the node table: title and width.
const NODE_COLUMNS: [(&str, u16); 16] = [
    ("NODE", 16),
    ("STATUS", 11),
    ("LDR", 3),
    ("CLIENTS", 8),
    ("MSGS IN/s", 9),
    ("MSGS OUT/s", 10),
    ("BYTES IN/s", 11),
    ("BYTES OUT/s", 11),
    ("DROP/s", 7),
    ("SUBS", 7),
    ("RETAINED", 8),
    ("INFLIGHT", 8),
    ("QUEUED", 7),
    ("MEMORY", 10),
    ("THR", 4),
    ("UPTIME", 8),
];

/// Draws the screen.
pub fn draw(frame: &mut Frame, app: &App, now: Instant) {
    let area = frame.area();
    let errors = app
        .snapshot
        .as_ref()
        .map_or(0, |s| error_lines(s).len().min(MAX_ERROR_LINES)) as u16;
    let node_rows = app
        .snapshot
        .as_ref()
        .map_or(1, |s| s.nodes.len() as u16)
        .clamp(1, MAX_NODE_ROWS);
    // Borders, header, nodes, totals, errors.
    let nodes_height = 2 + 1 + node_rows + 1 + errors;
    let [header, nodes, tabs, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(nodes_height),
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, app, now);
    draw_nodes(frame, nodes, app);
    draw_tabs(frame, tabs, app);
    match &app.snapshot {
        None => frame.render_widget(
            Paragraph::new(format!("connecting to {} …", app.source))
                .block(Block::bordered())
                .alignment(Alignment::Center),
            body,
        ),
        Some(s) => match app.view {
            View::Overview => draw_overview(frame, body, app, s, now),
            View::Clients => draw_clients(frame, body, app, s),
            View::Subscriptions => draw_subscriptions(frame, body, app, s),
            View::Retained => draw_retained(frame, body, app, s),
        },
    }
    draw_footer(frame, footer, app);
    if app.help {
        draw_help(frame, area);
    }
}

/// The two header lines: what is watched, versions, uptime, nodes alive, interval, age.
fn draw_header(frame: &mut Frame, area: Rect, app: &App, now: Instant) {
    let sep = || Span::raw(" │ ").dark_gray();
    let mut spans = vec![Span::styled(" comqtt-top ", Style::new().bold().reversed())];
    if let Some(s) = &app.snapshot {
        spans.push(sep());
        let title = match s.nodes.as_slice() {
            [one] => one.name.clone(),
            nodes => match nodes.iter().find(|n| n.leader) {
                Some(leader) => format!("cluster of {} (leader {})", nodes.len(), leader.name),
                None => format!("cluster of {}", nodes.len()),
            },
        };
        spans.push(Span::raw(title).bold());
        let versions = s.versions();
        if !versions.is_empty() {
            spans.push(sep());
            spans.push(Span::raw(versions.join(", ")));
        }
        if let Some(up) = s.uptime() {
            spans.push(sep());
            spans.push(Span::raw(format!("up {}", format::duration(up))));
        }
        spans.push(sep());
        let alive = format!("nodes {}/{} alive", s.nodes_alive, s.nodes_total);
        spans.push(if s.nodes_alive < s.nodes_total {
            Span::raw(alive).yellow().bold()
        } else {
            Span::raw(alive).green()
        });
    }
    spans.push(sep());
    spans.push(Span::raw(format!(
        "every {}",
        format::duration_ms(app.interval)
    )));
    if let Some(age) = app.age(now) {
        spans.push(sep());
        spans.push(Span::raw(format!("updated {:.1}s ago", age.as_secs_f64())).dark_gray());
    }
    if app.paused {
        spans.push(Span::raw("  "));
        spans.push(Span::styled(
            " PAUSED ",
            Style::new().black().on_yellow().bold(),
        ));
    }
    let mut second = vec![Span::raw(format!(" watching {}", app.source)).dark_gray()];
    if let Some(e) = app
        .snapshot
        .as_ref()
        .and_then(|s| s.discovery_error.as_ref())
    {
        second.push(Span::raw("  "));
        second.push(Span::raw(format!("⚠ {e} (showing the last node list)")).yellow());
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(spans), Line::from(second)]),
        area,
    );
}

/// A right-aligned cell.
fn num(text: String) -> Cell<'static> {
    Cell::from(Line::from(text).right_aligned())
}

/// The style of a STATUS cell.
fn status_style(status: NodeStatus) -> Style {
    match status {
        NodeStatus::Up => Style::new().green(),
        NodeStatus::Restarted | NodeStatus::Leaving => Style::new().yellow().bold(),
        NodeStatus::Unreachable | NodeStatus::Dead => Style::new().red().bold(),
        NodeStatus::NoApi => Style::new().dark_gray(),
    }
}

/// One node's row of the table.
fn node_row(n: &NodeView) -> Row<'static> {
    let mut cells = vec![
        Cell::from(n.name.clone()),
        Cell::from(Span::styled(n.status.label(), status_style(n.status))),
        Cell::from(if n.leader { "*" } else { "" }),
    ];
    match &n.stats {
        Some(s) => {
            let r = n.rates.as_ref();
            let rate = |f: fn(&super::rate::Rates) -> f64| {
                r.map_or("-".to_string(), |r| format::rate(f(r)))
            };
            let brate = |f: fn(&super::rate::Rates) -> f64| {
                r.map_or("-".to_string(), |r| format::bytes_rate(f(r)))
            };
            cells.extend([
                num(format::count(s.clients_connected)),
                num(rate(|r| r.messages_in)),
                num(rate(|r| r.messages_out)),
                num(brate(|r| r.bytes_in)),
                num(brate(|r| r.bytes_out)),
                num(rate(|r| r.dropped)),
                num(format::count(s.subscriptions)),
                num(format::count(s.retained)),
                num(format::count(s.inflight)),
                num(n.queued.map_or("-".to_string(), format::count)),
                num(format::bytes(s.memory_alloc)),
                num(s.threads.to_string()),
                num(format::duration(s.uptime)),
            ]);
        }
        None => cells.extend((0..13).map(|_| num("-".to_string()))),
    }
    Row::new(cells)
}

/// The totals row.
fn totals_row(s: &Snapshot) -> Row<'static> {
    let t = &s.totals;
    let r = t.rates.as_ref();
    let rate =
        |f: fn(&super::rate::Rates) -> f64| r.map_or("-".to_string(), |r| format::rate(f(r)));
    let brate =
        |f: fn(&super::rate::Rates) -> f64| r.map_or("-".to_string(), |r| format::bytes_rate(f(r)));
    Row::new(vec![
        Cell::from("TOTAL"),
        Cell::from(format!("{}/{} alive", s.nodes_alive, s.nodes_total)),
        Cell::from(""),
        num(format::count(t.clients_connected)),
        num(rate(|r| r.messages_in)),
        num(rate(|r| r.messages_out)),
        num(brate(|r| r.bytes_in)),
        num(brate(|r| r.bytes_out)),
        num(rate(|r| r.dropped)),
        num(format::count(t.subscriptions)),
        num(format::count(t.retained)),
        num(format::count(t.inflight)),
        num(format::count(t.queued)),
        num(format::bytes(t.memory)),
        num(t.threads.to_string()),
        Cell::from(""),
    ])
    .style(Style::new().bold())
}

/// `name (addr): error, for Ns` of every node with an error.
fn error_lines(s: &Snapshot) -> Vec<Line<'static>> {
    s.nodes
        .iter()
        .filter_map(|n| {
            let e = n.error.as_ref()?;
            let mut who = n.name.clone();
            if let Some(h) = &n.http
                && *h != n.name
            {
                who.push_str(&format!(" ({h})"));
            }
            let mut text = format!("{who}: {e}");
            if let Some(secs) = n.unreachable_for {
                text.push_str(&format!(", for {}; retrying", format::duration(secs)));
            }
            let style = if n.status.answered() {
                Style::new().yellow()
            } else {
                Style::new().red()
            };
            Some(Line::from(Span::styled(text, style)))
        })
        .collect()
}

/// The node table, its totals row and the errors of nodes that did not answer.
fn draw_nodes(frame: &mut Frame, area: Rect, app: &App) {
    let block = Block::bordered().title(" Nodes ".bold());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(s) = &app.snapshot else {
        return;
    };
    let errors = error_lines(s);
    let shown_errors = errors.len().min(MAX_ERROR_LINES) as u16;
    let [table_area, errors_area] =
        Layout::vertical([Constraint::Min(2), Constraint::Length(shown_errors)]).areas(inner);
    let filter = &app.filters[View::Overview.index()];
    let nodes: Vec<&NodeView> = view::nodes(s, app.node_sort)
        .into_iter()
        .filter(|n| view::matches(&n.name, filter))
        .collect();
    let [rows_area, totals_area] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(table_area);
    let widths: Vec<Constraint> = NODE_COLUMNS
        .iter()
        .map(|(_, w)| Constraint::Length(*w))
        .collect();
    let header = Row::new(NODE_COLUMNS.iter().map(|(t, _)| {
        if t.starts_with("NODE") || t.starts_with("STATUS") || *t == "LDR" {
            Cell::from(*t)
        } else {
            num(t.to_string())
        }
    }))
    .style(Style::new().bold().underlined());
    let table = Table::new(nodes.iter().map(|n| node_row(n)), widths.clone())
        .header(header)
        .row_highlight_style(Style::new().reversed());
    let i = View::Overview.index();
    let mut state = TableState::default().with_offset(app.offsets[i].get());
    if app.view == View::Overview && !nodes.is_empty() {
        state.select(Some(app.selection().min(nodes.len() - 1)));
    }
    frame.render_stateful_widget(table, rows_area, &mut state);
    if app.view == View::Overview {
        app.offsets[i].set(state.offset());
    }
    frame.render_widget(Table::new([totals_row(s)], widths), totals_area);
    let mut lines = errors;
    if lines.len() > MAX_ERROR_LINES {
        let more = lines.len() - (MAX_ERROR_LINES - 1);
        lines.truncate(MAX_ERROR_LINES - 1);
        lines.push(Line::from(format!("… and {more} more")).red());
    }
    frame.render_widget(Paragraph::new(lines), errors_area);
}

/// The tabs and, on the right, the sort order and filter of the view shown.
fn draw_tabs(frame: &mut Frame, area: Rect, app: &App) {
    let [left, right] =
        Layout::horizontal([Constraint::Min(40), Constraint::Length(60)]).areas(area);
    let titles = View::ALL
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{} {}", i + 1, v.title()));
    frame.render_widget(
        Tabs::new(titles)
            .select(app.view.index())
            .highlight_style(Style::new().bold().reversed())
            .divider("│"),
        left,
    );
    let mut spans = vec![Span::raw(format!("sort: {}", app.sort_label()))];
    let filter = app.filter();
    if app.editing_filter || !filter.is_empty() {
        spans.push(Span::raw("  filter: "));
        let cursor = if app.editing_filter { "▏" } else { "" };
        spans.push(Span::raw(format!("{filter}{cursor}")).yellow().bold());
    }
    spans.push(Span::raw(" "));
    frame.render_widget(Paragraph::new(Line::from(spans).right_aligned()), right);
}

/// The chart of the last minute's message rates, and the selected node's figures.
fn draw_overview(frame: &mut Frame, area: Rect, app: &App, s: &Snapshot, now: Instant) {
    let [chart_area, details_area] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(area);
    let history = app.tracker.history();
    let at = s.at.unwrap_or(now);
    let ins = history.series(at, |p| p.messages_in);
    let outs = history.series(at, |p| p.messages_out);
    let peak = nice_ceiling(history.peak());
    let last = |v: &[(f64, f64)]| v.last().map_or("-".to_string(), |p| format::rate(p.1));
    let datasets = vec![
        Dataset::default()
            .name(format!("in {}/s", last(&ins)))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().green())
            .data(&ins),
        Dataset::default()
            .name(format!("out {}/s", last(&outs)))
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::new().cyan())
            .data(&outs),
    ];
    let window = WINDOW.as_secs_f64();
    let chart = Chart::new(datasets)
        .legend_position(Some(LegendPosition::TopLeft))
        .block(Block::bordered().title(format!(
            " Messages per second, last {} s ",
            WINDOW.as_secs()
        )))
        .x_axis(
            Axis::default()
                .bounds([-window, 0.0])
                .labels([
                    format!("-{}s", WINDOW.as_secs()),
                    "-30s".to_string(),
                    "now".to_string(),
                ])
                .style(Style::new().dark_gray()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, peak])
                .labels([
                    "0".to_string(),
                    format::rate(peak / 2.0),
                    format::rate(peak),
                ])
                .style(Style::new().dark_gray()),
        );
    if history.is_empty() {
        let inner = Block::bordered()
            .title(format!(
                " Messages per second, last {} s ",
                WINDOW.as_secs()
            ))
            .inner(chart_area);
        frame.render_widget(chart, chart_area);
        frame.render_widget(
            Paragraph::new("rates appear after the second poll").alignment(Alignment::Center),
            inner.centered_vertically(Constraint::Length(1)),
        );
    } else {
        frame.render_widget(chart, chart_area);
    }
    draw_node_details(frame, details_area, app, s);
}

/// A round number at or above `v` for the chart's top (at least 1).
fn nice_ceiling(v: f64) -> f64 {
    if !v.is_finite() || v <= 1.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * magnitude >= v {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

/// The figures of the node selected in the table (↑↓ on the overview).
fn draw_node_details(frame: &mut Frame, area: Rect, app: &App, s: &Snapshot) {
    let filter = &app.filters[View::Overview.index()];
    let nodes: Vec<&NodeView> = view::nodes(s, app.node_sort)
        .into_iter()
        .filter(|n| view::matches(&n.name, filter))
        .collect();
    let Some(n) = nodes.get(app.selection().min(nodes.len().saturating_sub(1))) else {
        frame.render_widget(Block::bordered().title(" Node "), area);
        return;
    };
    let pair = |k: &str, v: String| {
        Line::from(vec![
            Span::raw(format!("{k:<18}")).dark_gray(),
            Span::raw(v),
        ])
    };
    let mut lines = vec![pair(
        "status",
        format!(
            "{}{}",
            n.status.label(),
            n.listed_status
                .as_deref()
                .map(|l| format!(" (listed {l})"))
                .unwrap_or_default()
        ),
    )];
    if let Some(h) = &n.http {
        lines.push(pair("http", h.clone()));
    }
    if let Some(st) = &n.stats {
        let r = n.rates.unwrap_or_default();
        let has = n.rates.is_some();
        let rate = |v: f64| {
            if has {
                format::rate(v)
            } else {
                "-".to_string()
            }
        };
        lines.extend([
            pair("version", st.version.clone()),
            pair("started", format::utc(st.started)),
            pair("uptime", format::duration(st.uptime)),
            pair(
                "clients",
                format!(
                    "{} connected, {} offline sessions, max {}",
                    st.clients_connected, st.clients_disconnected, st.clients_maximum
                ),
            ),
            pair(
                "connections",
                format!("{} since start, {}/s", st.clients_total, rate(r.connects)),
            ),
            pair(
                "messages",
                format!(
                    "{} in, {} out, {} dropped",
                    format::count(st.messages_received),
                    format::count(st.messages_sent),
                    format::count(st.messages_dropped)
                ),
            ),
            pair(
                "packets/s",
                format!("{} in, {} out", rate(r.packets_in), rate(r.packets_out)),
            ),
            pair(
                "bytes",
                format!(
                    "{} in, {} out",
                    format::bytes(st.bytes_received),
                    format::bytes(st.bytes_sent)
                ),
            ),
            pair(
                "memory, threads",
                format!("{}, {}", format::bytes(st.memory_alloc), st.threads),
            ),
        ]);
        if let Some(ms) = n.rates_over_ms {
            lines.push(pair("rates over", format!("{ms} ms")));
        }
    }
    if let Some(e) = &n.error {
        lines.push(pair("error", e.clone()).red());
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::bordered().title(format!(" Node {} ", n.name).bold()))
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// A table view: title, header, rows, selection kept in the app.
fn draw_table(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    title: String,
    columns: &[(&str, Constraint, bool)],
    rows: Vec<Row<'static>>,
) {
    let header = Row::new(columns.iter().map(|(t, _, right)| {
        if *right {
            num(t.to_string())
        } else {
            Cell::from(*t)
        }
    }))
    .style(Style::new().bold().underlined());
    let empty = rows.is_empty();
    let table = Table::new(rows, columns.iter().map(|(_, c, _)| *c))
        .header(header)
        .block(Block::bordered().title(title.bold()))
        .row_highlight_style(Style::new().reversed());
    let i = app.view.index();
    let mut state = TableState::default().with_offset(app.offsets[i].get());
    if !empty {
        state.select(Some(app.selection()));
    }
    frame.render_stateful_widget(table, area, &mut state);
    app.offsets[i].set(state.offset());
}

/// Shown while a view's data has not arrived yet.
fn draw_waiting(frame: &mut Frame, area: Rect, what: &str) {
    frame.render_widget(
        Paragraph::new(format!("reading {what} …"))
            .alignment(Alignment::Center)
            .block(Block::bordered()),
        area,
    );
}

/// The width of a text column: its widest cell or title, at most `max` (at least its title).
fn widest<'a>(cells: impl Iterator<Item = &'a str>, title: &str, max: u16) -> u16 {
    let title = title.chars().count() as u16;
    let widest = cells.map(|c| c.chars().count() as u16).max().unwrap_or(0);
    widest.max(title).min(max.max(title))
}

/// The clients view.
fn draw_clients(frame: &mut Frame, area: Rect, app: &App, s: &Snapshot) {
    let Some(all) = &s.clients else {
        return draw_waiting(frame, area, "clients");
    };
    let rows = view::clients(s, app.client_sort, app.filter());
    let several_nodes = s.nodes.len() > 1;
    let mut columns: Vec<(&str, Constraint, bool)> = Vec::new();
    if several_nodes {
        columns.push(("NODE", Constraint::Length(12), false));
    }
    columns.extend([
        ("CLIENT ID", Constraint::Min(16), false),
        ("USER", Constraint::Length(12), false),
        ("ADDRESS", Constraint::Length(21), false),
        ("MQTT", Constraint::Length(5), false),
        ("STATE", Constraint::Length(7), false),
        ("CONNECTED", Constraint::Length(9), true),
        ("BYTES IN/s", Constraint::Length(11), true),
        ("BYTES OUT/s", Constraint::Length(11), true),
        ("BYTES IN", Constraint::Length(10), true),
        ("BYTES OUT", Constraint::Length(10), true),
        ("INFLIGHT", Constraint::Length(8), true),
        ("QUEUED", Constraint::Length(7), true),
        ("SUBS", Constraint::Length(5), true),
    ]);
    let shown = rows.len();
    let table_rows = rows
        .into_iter()
        .map(|c| {
            let mut cells = Vec::new();
            if several_nodes {
                cells.push(Cell::from(c.node.clone()));
            }
            let state = if c.online {
                Span::raw("online").green()
            } else {
                Span::raw("offline").dark_gray()
            };
            let rate = |r: Option<f64>| r.map_or("-".to_string(), format::bytes_rate);
            cells.extend([
                Cell::from(c.id.clone()),
                Cell::from(c.username.clone()),
                Cell::from(c.ip.clone()),
                Cell::from(protocol(c.protocol_version)),
                Cell::from(state),
                num(if c.online {
                    format::duration(c.connected_for)
                } else {
                    "-".to_string()
                }),
                num(rate(c.bytes_in_rate)),
                num(rate(c.bytes_out_rate)),
                num(format::bytes(c.bytes_received)),
                num(format::bytes(c.bytes_sent)),
                num(format::count(c.inflight)),
                num(format::count(c.queued)),
                num(c.subscriptions.to_string()),
            ]);
            Row::new(cells)
        })
        .collect();
    let mut title = format!(" Clients: {shown} of {}", all.total);
    if all.truncated {
        title.push_str(&format!(
            " (the first {} per node are read)",
            super::poll::MAX_PAGES * 100
        ));
    }
    title.push_str(&format!(", by {} ", app.client_sort.label()));
    draw_table(frame, area, app, title, &columns, table_rows);
}

/// `3.1`, `3.1.1` or `5.0` for a protocol level.
fn protocol(level: u8) -> String {
    match level {
        3 => "3.1".to_string(),
        4 => "3.1.1".to_string(),
        5 => "5.0".to_string(),
        other => other.to_string(),
    }
}

/// The subscriptions view.
fn draw_subscriptions(frame: &mut Frame, area: Rect, app: &App, s: &Snapshot) {
    let Some(all) = &s.subscriptions else {
        return draw_waiting(frame, area, "subscriptions");
    };
    let rows = view::subscriptions(s, app.subscription_sort, app.filter());
    let subscribers: u64 = rows.iter().map(|r| r.count).sum();
    let title = format!(
        " Subscriptions: {} of {} filters, {subscribers} subscribers, by {} ",
        rows.len(),
        all.len(),
        app.subscription_sort.label()
    );
    let filter_width = widest(
        rows.iter().map(|r| r.filter.as_str()),
        "FILTER",
        area.width.saturating_sub(24),
    );
    let columns = [
        ("FILTER", Constraint::Length(filter_width), false),
        ("SUBSCRIBERS", Constraint::Length(11), true),
        ("NODES", Constraint::Length(6), true),
        ("", Constraint::Fill(1), false),
    ];
    let table_rows = rows
        .into_iter()
        .map(|r| {
            Row::new(vec![
                Cell::from(r.filter.clone()),
                num(format::count(r.count)),
                num(r.nodes.to_string()),
            ])
        })
        .collect();
    draw_table(frame, area, app, title, &columns, table_rows);
}

/// The retained view.
fn draw_retained(frame: &mut Frame, area: Rect, app: &App, s: &Snapshot) {
    let Some(all) = &s.retained else {
        return draw_waiting(frame, area, "retained messages");
    };
    let rows = view::retained(s, app.retained_sort, app.filter());
    let mut title = format!(" Retained: {} of {}", rows.len(), all.total);
    if all.truncated {
        title.push_str(&format!(
            " (the first {} per node are read)",
            super::poll::MAX_PAGES * 100
        ));
    }
    title.push_str(&format!(", by {} ", app.retained_sort.label()));
    let topic_width = widest(
        rows.iter().map(|r| r.topic.as_str()),
        "TOPIC",
        area.width / 2,
    );
    let columns = [
        ("TOPIC", Constraint::Length(topic_width), false),
        ("QOS", Constraint::Length(3), true),
        ("SIZE", Constraint::Length(10), true),
        ("PUBLISHER", Constraint::Length(16), false),
        ("NODE", Constraint::Length(12), false),
        ("PAYLOAD", Constraint::Min(20), false),
    ];
    let table_rows = rows
        .into_iter()
        .map(|r| {
            let payload = if r.encoding == "base64" {
                Span::raw(format!("base64:{}", r.preview)).dark_gray()
            } else {
                Span::raw(r.preview.replace(['\n', '\r', '\t'], " "))
            };
            Row::new(vec![
                Cell::from(r.topic.clone()),
                num(r.qos.to_string()),
                num(format::bytes(r.size as u64)),
                Cell::from(r.client_id.clone()),
                Cell::from(r.node.clone()),
                Cell::from(payload),
            ])
        })
        .collect();
    draw_table(frame, area, app, title, &columns, table_rows);
}

/// The key hints (or the filter being typed).
fn draw_footer(frame: &mut Frame, area: Rect, app: &App) {
    let key = |k: &'static str| Span::styled(k, Style::new().bold().reversed());
    let line = if app.editing_filter {
        Line::from(vec![
            Span::raw(" filter: "),
            Span::raw(format!("{}▏", app.filter())).yellow().bold(),
            Span::raw("   "),
            key("Enter"),
            Span::raw(" keep  "),
            key("Esc"),
            Span::raw(" clear"),
        ])
    } else {
        let mut spans = Vec::new();
        for (k, what) in [
            ("q", "quit"),
            ("Tab", "view"),
            ("↑↓", "select"),
            ("s", "sort"),
            ("/", "filter"),
            ("p", if app.paused { "resume" } else { "pause" }),
            ("+/-", "interval"),
            ("?", "help"),
        ] {
            spans.push(Span::raw(" "));
            spans.push(key(k));
            spans.push(Span::raw(format!(" {what} ")));
        }
        Line::from(spans)
    };
    frame.render_widget(Paragraph::new(line), area);
}

/// The help text: keys, then what the columns mean.
pub const HELP: &str = "\
Keys
  q  Esc  Ctrl-C       quit
  Tab  →  /  ⇧Tab  ←   next / previous view; 1-4 jump to a view
  ↑ ↓  PgUp PgDn       select a row (Home / End: first / last)
  s                    cycle the sort order (Overview: the node table)
  /                    filter the rows of the view (Enter keeps it, Esc clears it)
  p                    pause / resume polling
  + / -                poll less / more often
  ?                    this help (any key closes it)

Node table
  STATUS       up, restarted (since the last poll: no rates this time), leaving,
               unreachable (with the error below the table), dead, no HTTP API
  LDR          * on the raft leader
  CLIENTS      clients connected now
  MSGS IN/s    PUBLISH packets received per second; MSGS OUT/s: sent
  BYTES IN/s   bytes read from clients per second; BYTES OUT/s: written
  DROP/s       messages dropped per second (queue limits, expiry, too large)
  SUBS         subscriptions; RETAINED: retained messages
  INFLIGHT     outbound QoS 1/2 messages not yet acknowledged
  QUEUED       messages waiting in client outboxes
  MEMORY, THR  resident memory and threads of the node's process
Rates are counter differences between two polls over the time between them.
TOTAL adds up the nodes that answered.";

/// The help overlay.
fn draw_help(frame: &mut Frame, area: Rect) {
    let lines = HELP.lines().count() as u16 + 2;
    let popup = area.centered(Constraint::Length(92), Constraint::Length(lines));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(Text::from(HELP))
            .block(Block::bordered().title(" Help ".bold()))
            .style(
                Style::new()
                    .fg(Color::White)
                    .add_modifier(Modifier::empty()),
            ),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::api::{Client, FilterCount, Overall, Page, Retained};
    use crate::top::poll::{Member, NodeData, NodeReport, Outcome, Round};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use std::time::{Duration, SystemTime};

    fn overall(received: u64, sent: u64) -> Overall {
        Overall {
            version: "comqtt 0.1.0".into(),
            started: 1_000,
            time: 1_100,
            uptime: 3 * 3600 + 12 * 60,
            clients_connected: 12,
            messages_received: received,
            messages_sent: sent,
            bytes_received: received * 100,
            bytes_sent: sent * 100,
            subscriptions: 34,
            retained: 5,
            inflight: 2,
            memory_alloc: 15 * 1024 * 1024,
            threads: 6,
            ..Overall::default()
        }
    }

    fn answered(name: &str, http: &str, at: Instant, data: NodeData) -> NodeReport {
        NodeReport {
            member: Member {
                name: Some(name.into()),
                http: Some(http.parse().unwrap()),
                listed_status: Some("alive".into()),
                leader: name == "c01",
            },
            at,
            outcome: Outcome::Answered(Box::new(data)),
        }
    }

    fn unreachable(http: &str, at: Instant) -> NodeReport {
        NodeReport {
            member: Member {
                name: None,
                http: Some(http.parse().unwrap()),
                listed_status: None,
                leader: false,
            },
            at,
            outcome: Outcome::Failed(crate::top::TopError::Unreachable {
                addr: http.into(),
                reason: "Connection refused (os error 111)".into(),
            }),
        }
    }

    fn data(received: u64, sent: u64) -> NodeData {
        NodeData {
            overall: overall(received, sent),
            queued: Some(7),
            clients: Some(Page {
                items: vec![
                    Client {
                        id: "sensor-1".into(),
                        ip: "127.0.0.1:5000".into(),
                        online: true,
                        protocol_version: 5,
                        connected_at: 1_050,
                        bytes_received: received * 10,
                        bytes_sent: 10,
                        topic_filters: vec!["a/#".into()],
                        ..Client::default()
                    },
                    Client {
                        id: "pump-2".into(),
                        online: true,
                        protocol_version: 4,
                        connected_at: 1_090,
                        ..Client::default()
                    },
                ],
                total: 2,
                page: 1,
                page_size: 2,
            }),
            subscriptions: Some(vec![
                FilterCount {
                    filter: "sensors/+/temp".into(),
                    count: 3,
                },
                FilterCount {
                    filter: "$share/g/jobs".into(),
                    count: 1,
                },
            ]),
            retained: Some(Page {
                items: vec![Retained {
                    topic: "status/pump-2".into(),
                    payload: "online".into(),
                    encoding: "utf8".into(),
                    qos: 1,
                    client_id: "pump-2".into(),
                    created: None,
                }],
                total: 1,
                page: 1,
                page_size: 1,
            }),
            detail_error: None,
        }
    }

    fn round(at: Instant, nodes: Vec<NodeReport>) -> Round {
        Round {
            at,
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_100),
            nodes,
            discovery_error: None,
        }
    }

    /// An app after two rounds 1 s apart: c01 received 250 and sent 500 messages in between,
    /// 127.0.0.1:1 never answered.
    fn app_with_two_rounds() -> (App, Instant) {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(1);
        let mut app = App::new(Duration::from_secs(1), "127.0.0.1:8080".into());
        app.on_round(&round(
            t0,
            vec![
                answered("c01", "127.0.0.1:8080", t0, data(1_000, 2_000)),
                unreachable("127.0.0.1:1", t0),
            ],
        ));
        app.on_round(&round(
            t1,
            vec![
                answered("c01", "127.0.0.1:8080", t1, data(1_250, 2_500)),
                unreachable("127.0.0.1:1", t1),
            ],
        ));
        (app, t1)
    }

    fn screen(app: &App, now: Instant) -> String {
        let mut terminal = Terminal::new(TestBackend::new(160, 45)).unwrap();
        terminal.draw(|f| draw(f, app, now)).unwrap();
        let buffer = terminal.backend().buffer();
        let mut out = String::new();
        for y in 0..buffer.area.height {
            for x in 0..buffer.area.width {
                out.push_str(buffer[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
        screen
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{screen}"))
    }

    #[test]
    fn node_table_shows_gauges_and_rates_of_each_node_and_the_totals() {
        let (app, now) = app_with_two_rounds();
        let s = screen(&app, now);
        let header = line_with(&s, "MSGS IN/s");
        for column in [
            "NODE",
            "STATUS",
            "CLIENTS",
            "BYTES OUT/s",
            "QUEUED",
            "MEMORY",
            "UPTIME",
        ] {
            assert!(header.contains(column), "{column} missing: {header}");
        }
        let row = line_with(&s, "│c01 ");
        let cells: Vec<&str> = row.trim_matches('│').split_whitespace().collect();
        // name, status, leader, clients, msgs in/s, msgs out/s, bytes in/s, bytes out/s, ...
        assert_eq!(&cells[..5], ["c01", "up", "*", "12", "250"], "{row}");
        assert_eq!(cells[5], "500", "{row}");
        assert!(
            row.contains("24.4 KiB/s") && row.contains("48.8 KiB/s"),
            "{row}"
        );
        assert!(row.contains("15.0 MiB") && row.contains("3h12m"), "{row}");
        let total = line_with(&s, "TOTAL");
        assert!(
            total.contains("1/2 alive") && total.contains("250"),
            "{total}"
        );
        // The unreachable node has a row and its error, and the header counts it.
        let down = line_with(&s, "│127.0.0.1:1 ");
        assert!(down.contains("unreachable"), "{down}");
        assert!(
            s.contains(
                "127.0.0.1:1: unreachable: Connection refused (os error 111), for 0s; retrying"
            ),
            "{s}"
        );
        assert!(line_with(&s, "comqtt-top").contains("nodes 1/2 alive"));
        assert!(line_with(&s, "comqtt-top").contains("comqtt 0.1.0"));
    }

    #[test]
    fn overview_has_the_rate_chart_and_the_selected_node() {
        let (app, now) = app_with_two_rounds();
        let s = screen(&app, now);
        assert!(s.contains("Messages per second, last 60 s"), "{s}");
        assert!(s.contains("in 250/s") && s.contains("out 500/s"), "{s}");
        assert!(s.contains("Node c01"), "{s}");
        assert!(line_with(&s, "rates over").contains("1000 ms"));
    }

    #[test]
    fn before_the_first_round_it_says_where_it_connects() {
        let app = App::new(Duration::from_secs(1), "127.0.0.1:8080".into());
        let s = screen(&app, Instant::now());
        assert!(s.contains("connecting to 127.0.0.1:8080"), "{s}");
    }

    #[test]
    fn clients_view_lists_clients_with_their_byte_rates() {
        let (mut app, now) = app_with_two_rounds();
        app.on_key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
        let s = screen(&app, now);
        assert!(s.contains("Clients: 2 of 2"), "{s}");
        let row = line_with(&s, "sensor-1");
        // 2,500 more bytes received in 1 s.
        assert!(
            row.contains("2.4 KiB/s") && row.contains("online") && row.contains("5.0"),
            "{row}"
        );
        // Sorted by bytes/s: the busy client first.
        assert!(s.find("sensor-1").unwrap() < s.find("pump-2").unwrap());
        app.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE));
        app.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::NONE));
        let s = screen(&app, now);
        assert!(s.contains("by longest connected"), "{s}");
    }

    #[test]
    fn subscriptions_and_retained_views() {
        let (mut app, now) = app_with_two_rounds();
        app.on_key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::NONE));
        let s = screen(&app, now);
        let row = line_with(&s, "sensors/+/temp");
        assert!(row.trim_end_matches('│').trim_end().ends_with('1'), "{row}");
        assert!(row.contains(" 3 "), "{row}");
        assert!(s.contains("2 of 2 filters, 4 subscribers"), "{s}");
        app.on_key(KeyEvent::new(KeyCode::Char('4'), KeyModifiers::NONE));
        let s = screen(&app, now);
        let row = line_with(&s, "status/pump-2");
        assert!(row.contains("online") && row.contains("6 B"), "{row}");
    }

    #[test]
    fn a_filter_narrows_the_rows_and_is_shown() {
        let (mut app, now) = app_with_two_rounds();
        app.on_key(KeyEvent::new(KeyCode::Char('2'), KeyModifiers::NONE));
        app.on_key(KeyEvent::new(KeyCode::Char('/'), KeyModifiers::NONE));
        for c in "PUMP".chars() {
            app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        let s = screen(&app, now);
        assert!(s.contains("filter: PUMP"), "{s}");
        assert!(s.contains("pump-2") && !s.contains("sensor-1"), "{s}");
    }

    #[test]
    fn paused_and_help_are_shown() {
        let (mut app, now) = app_with_two_rounds();
        app.on_key(KeyEvent::new(KeyCode::Char('p'), KeyModifiers::NONE));
        app.on_key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE));
        let s = screen(&app, now);
        assert!(s.contains("PAUSED"), "{s}");
        assert!(s.contains("cycle the sort order"), "{s}");
        assert!(s.contains("resume"), "{s}");
    }

    #[test]
    fn discovery_errors_and_listed_nodes_without_api() {
        let t0 = Instant::now();
        let mut app = App::new(Duration::from_secs(1), "127.0.0.1:8080".into());
        let mut r = round(
            t0,
            vec![
                answered("c01", "127.0.0.1:8080", t0, data(1, 1)),
                NodeReport {
                    member: Member {
                        name: Some("c03".into()),
                        http: None,
                        listed_status: Some("dead".into()),
                        leader: false,
                    },
                    at: t0,
                    outcome: Outcome::NoApi,
                },
            ],
        );
        r.discovery_error = Some("reading the node list: boom".into());
        app.on_round(&r);
        let s = screen(&app, t0);
        assert!(line_with(&s, "│c03 ").contains("dead"), "{s}");
        assert!(s.contains("reading the node list: boom"), "{s}");
        assert!(line_with(&s, "comqtt-top").contains("cluster of 2 (leader c01)"));
    }

    #[test]
    fn small_terminals_are_drawn_without_panicking() {
        let (mut app, now) = app_with_two_rounds();
        for view in ['1', '2', '3', '4', '?'] {
            app.on_key(KeyEvent::new(KeyCode::Char(view), KeyModifiers::NONE));
            for (w, h) in [(80, 24), (40, 10), (10, 3), (1, 1)] {
                let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
                terminal.draw(|f| draw(f, &app, now)).unwrap();
            }
        }
    }

    #[test]
    fn nice_ceilings() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(2_400.0), 2_500.0);
    }
}
