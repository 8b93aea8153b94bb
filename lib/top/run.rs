//! Running comqtt-top. [`once`] polls twice (one interval apart, for the rates) and returns
//! the snapshot for `--once` / `--json`. [`interactive`] runs the TUI on three threads of
//! control that never wait on each other: the UI loop (this thread: draws, handles keys),
//! an input thread (reads the terminal), and a polling task on a small tokio runtime (HTTP
//! requests); the last two send [`Event`]s to the UI loop over one channel, and the UI tells
//! the poller what it needs through a `watch` channel of [`Control`].

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event as TermEvent, KeyEvent};
use tokio::sync::watch;

use super::app::{Action, App, Control};
use super::error::TopError;
use super::options::{Settings, request_timeout};
use super::poll::{Poller, Round, Targets, Wants};
use super::render;
use super::snapshot::{Snapshot, Tracker};
use super::terminal::{self, TerminalSession};

/// How often the screen is drawn without news (the "updated … ago" figure).
const IDLE_REDRAW: Duration = Duration::from_millis(500);
/// How long the input thread waits for a key before checking whether to stop.
const INPUT_POLL: Duration = Duration::from_millis(100);
/// Set (to anything) to make the TUI panic after its first round: the tests check that the
/// terminal is restored and the message printed.
pub const TEST_PANIC_ENV: &str = "COMQTT_TOP_TEST_PANIC";

/// What the UI loop reacts to.
#[derive(Debug)]
pub enum Event {
    /// A key was pressed.
    Key(KeyEvent),
    /// The terminal was resized.
    Resize,
    /// A polling round ended.
    Round(Box<Round>),
    /// SIGTERM, SIGHUP or SIGINT: leave as `q` does.
    Signal,
    /// The terminal could not be read.
    InputFailed(String),
}

/// What is watched, in words, for the header.
pub fn source(targets: &Targets) -> String {
    match targets {
        Targets::Discover(a) => format!("{a} and the nodes it lists"),
        Targets::Fixed(v) => v
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A runtime for the HTTP requests: one worker is plenty for a few nodes.
fn runtime() -> Result<tokio::runtime::Runtime, TopError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("comqtt-top-poll")
        .enable_all()
        .build()
        .map_err(|e| TopError::Client(format!("starting the tokio runtime: {e}")))
}

/// One snapshot: two rounds `settings.interval` apart, the second measured against the
/// first. Fails if no node answers (the error names every address and why).
pub fn once(settings: &Settings) -> Result<Snapshot, TopError> {
    runtime()?.block_on(async {
        let mut poller = Poller::new(
            settings.targets.clone(),
            settings.token.clone(),
            request_timeout(settings.interval),
        )?;
        let mut tracker = Tracker::new();
        let wants = Wants::everything();
        let first = poller.round(&wants).await;
        if !first.any_answered() {
            return Err(TopError::NoNodeReachable(first.failures()));
        }
        tracker.update(&first);
        tokio::time::sleep(settings.interval).await;
        let second = poller.round(&wants).await;
        if !second.any_answered() {
            return Err(TopError::NoNodeReachable(second.failures()));
        }
        Ok(tracker.update(&second))
    })
}

/// The TUI, until `q` (or Esc, Ctrl-C, a signal). The terminal is restored on every way out.
pub fn interactive(settings: &Settings) -> Result<(), TopError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TopError::Terminal(
            "the TUI needs a terminal: use --once or --json for a snapshot".to_string(),
        ));
    }
    let runtime = runtime()?;
    let mut app = App::new(settings.interval, source(&settings.targets));
    let poller = Poller::new(
        settings.targets.clone(),
        settings.token.clone(),
        request_timeout(settings.interval),
    )?;
    let (events, inbox) = mpsc::channel::<Event>();
    let (control, control_rx) = watch::channel(app.control());
    let mut session = TerminalSession::enter()?;
    let stop = Arc::new(AtomicBool::new(false));
    let input = {
        let (events, stop) = (events.clone(), stop.clone());
        std::thread::Builder::new()
            .name("comqtt-top-input".into())
            .spawn(move || read_input(&events, &stop))?
    };
    runtime.spawn(poll(poller, control_rx, events.clone()));
    runtime.spawn(signals(events));
    let result = ui_loop(&mut session, &mut app, &inbox, &control);
    drop(session);
    stop.store(true, Ordering::SeqCst);
    let _ = input.join();
    runtime.shutdown_timeout(Duration::from_millis(200));
    result
}

/// Draws, then waits for events, until the app says quit.
fn ui_loop(
    session: &mut TerminalSession,
    app: &mut App,
    inbox: &mpsc::Receiver<Event>,
    control: &watch::Sender<Control>,
) -> Result<(), TopError> {
    let test_panic = std::env::var_os(TEST_PANIC_ENV).is_some();
    loop {
        if terminal::panicked() {
            return Err(TopError::Panicked);
        }
        session
            .terminal()
            .draw(|frame| render::draw(frame, app, Instant::now()))?;
        if test_panic && app.rounds > 0 {
            panic!("{TEST_PANIC_ENV} is set: panicking on purpose after the first round");
        }
        let first = match inbox.recv_timeout(IDLE_REDRAW) {
            Ok(e) => e,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => {
                return Err(TopError::Terminal("the input thread stopped".to_string()));
            }
        };
        // Everything that is waiting, then one draw.
        for event in std::iter::once(first).chain(inbox.try_iter()) {
            match event {
                Event::Key(key) => match app.on_key(key) {
                    Action::Quit => return Ok(()),
                    Action::Control => {
                        control.send_replace(app.control());
                    }
                    Action::Redraw | Action::Nothing => {}
                },
                Event::Resize => {}
                Event::Round(round) => app.on_round(&round),
                Event::Signal => return Ok(()),
                Event::InputFailed(e) => return Err(TopError::Terminal(e)),
            }
        }
    }
}

/// Reads keys and resizes until `stop` is set or the UI loop is gone.
fn read_input(events: &mpsc::Sender<Event>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let event = match event::poll(INPUT_POLL) {
            Ok(false) => continue,
            Ok(true) => match event::read() {
                Ok(TermEvent::Key(key)) => Event::Key(key),
                Ok(TermEvent::Resize(..)) => Event::Resize,
                Ok(_) => continue,
                Err(e) => Event::InputFailed(format!("reading the terminal: {e}")),
            },
            Err(e) => Event::InputFailed(format!("reading the terminal: {e}")),
        };
        let failed = matches!(event, Event::InputFailed(_));
        if events.send(event).is_err() || failed {
            return;
        }
    }
}

/// Polls every interval (at once when the UI changes what it needs), not while paused; ends
/// when the UI loop is gone.
async fn poll(
    mut poller: Poller,
    mut control: watch::Receiver<Control>,
    events: mpsc::Sender<Event>,
) {
    loop {
        let now = control.borrow_and_update().clone();
        if now.paused {
            if control.changed().await.is_err() {
                return;
            }
            continue;
        }
        poller.set_timeout(request_timeout(now.interval));
        let started = tokio::time::Instant::now();
        let round = poller.round(&now.wants).await;
        if events.send(Event::Round(Box::new(round))).is_err() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep_until(started + now.interval) => {}
            changed = control.changed() => if changed.is_err() { return },
        }
    }
}

/// SIGTERM, SIGHUP and SIGINT end the TUI as `q` does (so the terminal is restored).
async fn signals(events: mpsc::Sender<Event>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
        signal(SignalKind::interrupt()),
    ) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = hup.recv() => {}
        _ = int.recv() => {}
    }
    let _ = events.send(Event::Signal);
}
