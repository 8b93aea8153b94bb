//! What a run prints while it goes, on stdout unless said otherwise: mqtt-stresser's
//! "N worker started" lines, then one `.` per progress report (every received message but each
//! worker's last) and an `E` per failed worker; or, on a terminal, indicatif progress bars
//! (on stderr) for the connect, publish and receive phases. `-no-progress` hides dots and
//! bars; `-json` keeps stdout for the JSON report alone.

use std::io::Write;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use parking_lot::Mutex;

use super::stats::Counters;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// Progress bars (stdout is a terminal).
    Bars,
    /// mqtt-stresser's dots (stdout is not a terminal).
    Dots,
    /// Only the "worker started" lines (`-no-progress`).
    Quiet,
    /// Nothing on stdout but the JSON report (`-json`).
    Json,
}

impl ProgressMode {
    /// The mode for the flags and the kind of stdout.
    pub fn choose(no_progress: bool, json: bool, stdout_is_terminal: bool) -> ProgressMode {
        match (json, no_progress, stdout_is_terminal) {
            (true, _, _) => ProgressMode::Json,
            (false, true, _) => ProgressMode::Quiet,
            (false, false, true) => ProgressMode::Bars,
            (false, false, false) => ProgressMode::Dots,
        }
    }
}

/// The three bars.
struct Bars {
    /// Draws them together.
    multi: MultiProgress,
    /// Connections established.
    connect: ProgressBar,
    /// Messages published.
    publish: ProgressBar,
    /// Messages received.
    receive: ProgressBar,
}

/// What has been printed so far.
struct Printed {
    /// Where lines and dots go.
    out: Box<dyn Write + Send>,
    /// Dots printed.
    dots: u64,
    /// `E`s printed.
    errors: u64,
}

/// The console of a run.
pub struct Console {
    /// How progress is shown.
    mode: ProgressMode,
    /// stdout, and the dots printed on it.
    printed: Mutex<Printed>,
    /// The bars, in [`ProgressMode::Bars`].
    bars: Option<Bars>,
}

/// A bar with a length, or a counter when the length is unknown (`-duration`).
fn bar(multi: &MultiProgress, prefix: &'static str) -> ProgressBar {
    let bar = multi.add(ProgressBar::new(0));
    bar.set_prefix(prefix);
    bar
}

fn style(known_length: bool) -> ProgressStyle {
    let template = if known_length {
        "{prefix:>8} [{bar:40.cyan/blue}] {human_pos:>11}/{human_len:11} {rate:>12}"
    } else {
        "{prefix:>8} {spinner} {human_pos:>11} {rate:>12}"
    };
    ProgressStyle::with_template(template)
        .expect("valid template")
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        )
        .progress_chars("=> ")
}

impl Console {
    /// A console writing to `out` (stdout).
    pub fn new(mode: ProgressMode, out: Box<dyn Write + Send>) -> Console {
        let bars = (mode == ProgressMode::Bars).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let connect = bar(&multi, "connect");
            let publish = bar(&multi, "publish");
            let receive = bar(&multi, "receive");
            Bars {
                multi,
                connect,
                publish,
                receive,
            }
        });
        Console {
            mode,
            printed: Mutex::new(Printed {
                out,
                dots: 0,
                errors: 0,
            }),
            bars,
        }
    }

    /// The mode.
    pub fn mode(&self) -> ProgressMode {
        self.mode
    }

    /// Sets the bars' lengths: connections, messages to publish and to receive (`None`: not
    /// known in advance; 0 hides the bar).
    pub fn set_lengths(&self, connections: u64, publish: Option<u64>, receive: Option<u64>) {
        let Some(b) = &self.bars else { return };
        b.connect.set_style(style(true));
        b.connect.set_length(connections);
        for (bar, len) in [(&b.publish, publish), (&b.receive, receive)] {
            match len {
                Some(0) => {
                    bar.finish_and_clear();
                    b.multi.remove(bar);
                }
                Some(n) => {
                    bar.set_style(style(true));
                    bar.set_length(n);
                }
                None => bar.set_style(style(false)),
            }
        }
    }

    /// Prints a line such as "100 worker started" (not in JSON mode).
    pub fn line(&self, text: &str) {
        match (&self.bars, self.mode) {
            (_, ProgressMode::Json) => {}
            (Some(b), _) => {
                let _ = b.multi.println(text);
            }
            (None, _) => {
                let mut p = self.printed.lock();
                let _ = writeln!(p.out, "{text}");
                let _ = p.out.flush();
            }
        }
    }

    /// Prints a notice such as "Test timeout. ..." (on stderr in JSON mode).
    pub fn notice(&self, text: &str) {
        if self.mode == ProgressMode::Json {
            eprintln!("{text}");
        } else {
            self.line(text);
        }
    }

    /// Redraws progress from `counters`.
    pub fn tick(&self, counters: &Counters) {
        match (&self.bars, self.mode) {
            (Some(b), _) => {
                b.connect.set_position(Counters::get(&counters.connected));
                b.publish.set_position(Counters::get(&counters.published));
                b.receive.set_position(Counters::get(&counters.received));
            }
            (None, ProgressMode::Dots) => self.print_dots(counters),
            _ => {}
        }
    }

    fn print_dots(&self, counters: &Counters) {
        const DOTS: [u8; 4096] = [b'.'; 4096];
        let mut p = self.printed.lock();
        let dots = Counters::get(&counters.dots);
        let errors = Counters::get(&counters.errors);
        let mut pending = dots.saturating_sub(p.dots);
        while pending > 0 {
            let n = pending.min(DOTS.len() as u64) as usize;
            let _ = p.out.write_all(&DOTS[..n]);
            pending -= n as u64;
        }
        for _ in p.errors..errors {
            let _ = p.out.write_all(b"E");
        }
        p.dots = p.dots.max(dots);
        p.errors = p.errors.max(errors);
        let _ = p.out.flush();
    }

    /// Final redraw: the last dots, or the bars left in their final state.
    pub fn finish(&self, counters: &Counters) {
        self.tick(counters);
        if let Some(b) = &self.bars {
            b.connect.finish();
            b.publish.finish();
            b.receive.finish();
        }
    }
}
