//! The TUI's state machine: the latest [`Snapshot`], the view shown, sort orders, filters,
//! selection, pause and interval, and what each key does to them ([`App::on_key`] returns
//! the [`Action`] the loop must take). It does no I/O, so every key is unit tested.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::poll::{Round, Wants};
use super::snapshot::{Snapshot, Tracker};
use super::view::{self, ClientSort, NodeSort, RetainedSort, SubscriptionSort, View};

/// The intervals `+` and `-` step through.
pub const INTERVAL_STEPS: [Duration; 10] = [
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(30),
    Duration::from_secs(60),
    Duration::from_secs(300),
];

/// Rows moved by PgUp / PgDn.
const PAGE: usize = 10;

/// What the loop must do after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing changed.
    Nothing,
    /// Draw again.
    Redraw,
    /// The poller must be told (interval, pause, what to read); then draw again.
    Control,
    /// Leave.
    Quit,
}

/// What the poller needs to know from the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// Time between polls.
    pub interval: Duration,
    /// No polling while paused.
    pub paused: bool,
    /// What to read besides the counters.
    pub wants: Wants,
}

/// The TUI's state.
#[derive(Debug)]
pub struct App {
    /// The latest snapshot; `None` until the first round.
    pub snapshot: Option<Snapshot>,
    /// Folds rounds into snapshots (rates, history).
    pub tracker: Tracker,
    /// The tab shown.
    pub view: View,
    /// Order of the node table.
    pub node_sort: NodeSort,
    /// Order of the clients view.
    pub client_sort: ClientSort,
    /// Order of the subscriptions view.
    pub subscription_sort: SubscriptionSort,
    /// Order of the retained view.
    pub retained_sort: RetainedSort,
    /// Each view's filter (`/`), by [`View::index`].
    pub filters: [String; 4],
    /// Whether keys are typing the filter.
    pub editing_filter: bool,
    /// Each view's selected row.
    pub selected: [usize; 4],
    /// Each view's first row shown (kept by the renderer between frames).
    pub offsets: [Cell<usize>; 4],
    /// Polling paused.
    pub paused: bool,
    /// Time between polls.
    pub interval: Duration,
    /// The help overlay is shown.
    pub help: bool,
    /// What is watched, for the header ("127.0.0.1:8080 and the nodes it lists").
    pub source: String,
    /// Rounds received.
    pub rounds: u64,
}

impl App {
    /// A fresh UI polling every `interval`; `source` says what is watched.
    pub fn new(interval: Duration, source: String) -> App {
        App {
            snapshot: None,
            tracker: Tracker::new(),
            view: View::default(),
            node_sort: NodeSort::default(),
            client_sort: ClientSort::default(),
            subscription_sort: SubscriptionSort::default(),
            retained_sort: RetainedSort::default(),
            filters: Default::default(),
            editing_filter: false,
            selected: [0; 4],
            offsets: Default::default(),
            paused: false,
            interval,
            help: false,
            source,
            rounds: 0,
        }
    }

    /// Takes in a polling round.
    pub fn on_round(&mut self, round: &Round) {
        let snapshot = self.tracker.update(round);
        // A view whose details were not read this round (the tab just changed) keeps the
        // previous ones until they are.
        let previous = self.snapshot.take();
        let mut snapshot = snapshot;
        if let Some(prev) = previous {
            if snapshot.clients.is_none() && self.view == View::Clients {
                snapshot.clients = prev.clients;
            }
            if snapshot.subscriptions.is_none() && self.view == View::Subscriptions {
                snapshot.subscriptions = prev.subscriptions;
            }
            if snapshot.retained.is_none() && self.view == View::Retained {
                snapshot.retained = prev.retained;
            }
        }
        self.snapshot = Some(snapshot);
        self.rounds += 1;
    }

    /// What the poller must do now.
    pub fn control(&self) -> Control {
        let wants = match self.view {
            View::Overview => Wants::default(),
            View::Clients => Wants {
                clients: true,
                search: self.filters[View::Clients.index()].clone(),
                ..Wants::default()
            },
            View::Subscriptions => Wants {
                subscriptions: true,
                ..Wants::default()
            },
            View::Retained => Wants {
                retained: true,
                ..Wants::default()
            },
        };
        Control {
            interval: self.interval,
            paused: self.paused,
            wants,
        }
    }

    /// The filter of the view shown.
    pub fn filter(&self) -> &str {
        &self.filters[self.view.index()]
    }

    /// The sort order of the view shown, as the sort line says it.
    pub fn sort_label(&self) -> &'static str {
        match self.view {
            View::Overview => self.node_sort.label(),
            View::Clients => self.client_sort.label(),
            View::Subscriptions => self.subscription_sort.label(),
            View::Retained => self.retained_sort.label(),
        }
    }

    /// Rows in the view shown (nodes on the overview), for moving the selection.
    pub fn row_count(&self) -> usize {
        let Some(s) = &self.snapshot else {
            return 0;
        };
        let filter = self.filter();
        match self.view {
            View::Overview => s
                .nodes
                .iter()
                .filter(|n| view::matches(&n.name, filter))
                .count(),
            View::Clients => view::clients(s, self.client_sort, filter).len(),
            View::Subscriptions => view::subscriptions(s, self.subscription_sort, filter).len(),
            View::Retained => view::retained(s, self.retained_sort, filter).len(),
        }
    }

    /// The selected row of the view shown, within its rows.
    pub fn selection(&self) -> usize {
        self.selected[self.view.index()].min(self.row_count().saturating_sub(1))
    }

    /// Seconds since the snapshot shown was polled.
    pub fn age(&self, now: Instant) -> Option<Duration> {
        self.snapshot
            .as_ref()
            .and_then(|s| s.at)
            .map(|at| now.saturating_duration_since(at))
    }

    /// What `key` does.
    pub fn on_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::Nothing;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
            return Action::Quit;
        }
        if self.editing_filter {
            return self.on_filter_key(key);
        }
        if self.help {
            return match key.code {
                KeyCode::Char('q') => Action::Quit,
                _ => {
                    self.help = false;
                    Action::Redraw
                }
            };
        }
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
            KeyCode::Tab | KeyCode::Right => self.show(self.view.next()),
            KeyCode::BackTab | KeyCode::Left => self.show(self.view.previous()),
            KeyCode::Char(c @ '1'..='4') => self.show(View::ALL[(c as u8 - b'1') as usize]),
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-(PAGE as isize)),
            KeyCode::PageDown => self.move_by(PAGE as isize),
            KeyCode::Home | KeyCode::Char('g') => self.move_by(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.move_by(isize::MAX / 2),
            KeyCode::Char('s') => {
                match self.view {
                    View::Overview => self.node_sort = self.node_sort.next(),
                    View::Clients => self.client_sort = self.client_sort.next(),
                    View::Subscriptions => self.subscription_sort = self.subscription_sort.next(),
                    View::Retained => self.retained_sort = self.retained_sort.next(),
                }
                Action::Redraw
            }
            KeyCode::Char('p') | KeyCode::Char(' ') => {
                self.paused = !self.paused;
                Action::Control
            }
            KeyCode::Char('+') | KeyCode::Char('=') => self.step_interval(true),
            KeyCode::Char('-') | KeyCode::Char('_') => self.step_interval(false),
            KeyCode::Char('?') | KeyCode::Char('h') | KeyCode::F(1) => {
                self.help = true;
                Action::Redraw
            }
            KeyCode::Char('/') => {
                self.editing_filter = true;
                Action::Redraw
            }
            _ => Action::Nothing,
        }
    }

    /// A key while the filter is typed.
    fn on_filter_key(&mut self, key: KeyEvent) -> Action {
        let i = self.view.index();
        let changed = match key.code {
            KeyCode::Enter => {
                self.editing_filter = false;
                return Action::Redraw;
            }
            KeyCode::Esc => {
                self.editing_filter = false;
                let had = !self.filters[i].is_empty();
                self.filters[i].clear();
                had
            }
            KeyCode::Backspace => self.filters[i].pop().is_some(),
            KeyCode::Char(c) if !c.is_control() => {
                self.filters[i].push(c);
                true
            }
            _ => false,
        };
        if changed {
            self.selected[i] = 0;
            self.offsets[i].set(0);
        }
        // The clients filter is the API's search: the poller must ask again.
        if changed && self.view == View::Clients {
            Action::Control
        } else {
            Action::Redraw
        }
    }

    /// Shows `view`; the poller must read what it needs.
    fn show(&mut self, view: View) -> Action {
        if self.view == view {
            return Action::Nothing;
        }
        self.view = view;
        Action::Control
    }

    /// Moves the selection by `delta` rows, within the rows there are.
    fn move_by(&mut self, delta: isize) -> Action {
        let rows = self.row_count();
        let i = self.view.index();
        let current = self.selection() as isize;
        let last = rows.saturating_sub(1) as isize;
        let next = current.saturating_add(delta).clamp(0, last.max(0)) as usize;
        if next == self.selected[i] {
            return Action::Nothing;
        }
        self.selected[i] = next;
        Action::Redraw
    }

    /// The next longer (`longer`) or shorter interval of [`INTERVAL_STEPS`].
    fn step_interval(&mut self, longer: bool) -> Action {
        let next = if longer {
            INTERVAL_STEPS.iter().find(|s| **s > self.interval)
        } else {
            INTERVAL_STEPS.iter().rev().find(|s| **s < self.interval)
        };
        match next {
            Some(s) => {
                self.interval = *s;
                Action::Control
            }
            None => Action::Nothing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn app() -> App {
        App::new(Duration::from_secs(1), "test".into())
    }

    #[test]
    fn q_esc_and_ctrl_c_quit() {
        assert_eq!(app().on_key(key(KeyCode::Char('q'))), Action::Quit);
        assert_eq!(app().on_key(key(KeyCode::Esc)), Action::Quit);
        assert_eq!(
            app().on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Action::Quit
        );
    }

    #[test]
    fn tab_and_arrows_switch_views_and_tell_the_poller_what_to_read() {
        let mut a = app();
        assert_eq!(a.control().wants, Wants::default());
        assert_eq!(a.on_key(key(KeyCode::Tab)), Action::Control);
        assert_eq!(a.view, View::Clients);
        assert!(a.control().wants.clients);
        a.on_key(key(KeyCode::Right));
        assert_eq!(a.view, View::Subscriptions);
        assert!(a.control().wants.subscriptions);
        a.on_key(key(KeyCode::Left));
        a.on_key(key(KeyCode::Left));
        assert_eq!(a.view, View::Overview);
        a.on_key(key(KeyCode::Char('4')));
        assert_eq!(a.view, View::Retained);
        assert!(a.control().wants.retained);
        a.on_key(key(KeyCode::BackTab));
        assert_eq!(a.view, View::Subscriptions);
    }

    #[test]
    fn s_cycles_the_sort_of_the_view_shown() {
        let mut a = app();
        assert_eq!(a.sort_label(), "listed");
        a.on_key(key(KeyCode::Char('s')));
        assert_eq!(a.node_sort, NodeSort::Name);
        a.on_key(key(KeyCode::Char('2')));
        assert_eq!(a.sort_label(), "bytes/s");
        a.on_key(key(KeyCode::Char('s')));
        assert_eq!(a.client_sort, ClientSort::BytesTotal);
        a.on_key(key(KeyCode::Char('s')));
        assert_eq!(a.sort_label(), "longest connected");
    }

    #[test]
    fn p_pauses_and_resumes() {
        let mut a = app();
        assert_eq!(a.on_key(key(KeyCode::Char('p'))), Action::Control);
        assert!(a.control().paused);
        a.on_key(key(KeyCode::Char('p')));
        assert!(!a.control().paused);
    }

    #[test]
    fn plus_and_minus_step_the_interval_within_bounds() {
        let mut a = app();
        assert_eq!(a.on_key(key(KeyCode::Char('+'))), Action::Control);
        assert_eq!(a.interval, Duration::from_secs(2));
        a.on_key(key(KeyCode::Char('-')));
        a.on_key(key(KeyCode::Char('-')));
        assert_eq!(a.interval, Duration::from_millis(500));
        for _ in 0..10 {
            a.on_key(key(KeyCode::Char('-')));
        }
        assert_eq!(a.interval, Duration::from_millis(100));
        assert_eq!(a.on_key(key(KeyCode::Char('-'))), Action::Nothing);
        // An interval between the steps goes to the neighbouring step.
        let mut a = App::new(Duration::from_millis(1500), "t".into());
        a.on_key(key(KeyCode::Char('+')));
        assert_eq!(a.interval, Duration::from_secs(2));
    }

    #[test]
    fn help_opens_with_question_mark_and_any_key_closes_it() {
        let mut a = app();
        a.on_key(key(KeyCode::Char('?')));
        assert!(a.help);
        assert_eq!(a.on_key(key(KeyCode::Char('x'))), Action::Redraw);
        assert!(!a.help);
        a.on_key(key(KeyCode::Char('?')));
        assert_eq!(a.on_key(key(KeyCode::Char('q'))), Action::Quit);
    }

    #[test]
    fn the_clients_filter_is_typed_and_sent_as_search() {
        let mut a = app();
        a.on_key(key(KeyCode::Char('2')));
        a.on_key(key(KeyCode::Char('/')));
        assert!(a.editing_filter);
        // q types, it does not quit, while the filter is edited.
        assert_eq!(a.on_key(key(KeyCode::Char('q'))), Action::Control);
        a.on_key(key(KeyCode::Char('x')));
        a.on_key(key(KeyCode::Backspace));
        assert_eq!(a.control().wants.search, "q");
        a.on_key(key(KeyCode::Enter));
        assert!(!a.editing_filter);
        assert_eq!(a.filter(), "q");
        a.on_key(key(KeyCode::Char('/')));
        a.on_key(key(KeyCode::Esc));
        assert_eq!(a.filter(), "");
        assert!(!a.editing_filter);
    }

    #[test]
    fn key_releases_are_ignored() {
        let mut release = key(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(app().on_key(release), Action::Nothing);
    }
}
