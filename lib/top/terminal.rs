//! The terminal while the TUI runs: raw mode, the alternate screen, a hidden cursor, and the
//! promise that all three are undone however the TUI ends. [`TerminalSession`] restores the
//! terminal when dropped (normal exit, an error returned, a panic unwinding through it), and
//! a panic hook restores it before the panic message is printed, so the message lands on the
//! normal screen and the shell is usable afterwards. A panic on another thread also marks the
//! session as failed ([`panicked`]), so the UI loop stops instead of drawing on a restored
//! terminal.

use std::io::{self, Stdout, stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// Whether the terminal is in raw mode on the alternate screen now.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// Whether a panic happened while it was.
static PANICKED: AtomicBool = AtomicBool::new(false);
/// The panic hook is installed once.
static HOOK: Once = Once::new();

/// Undoes raw mode, the alternate screen and the hidden cursor (if they are in force).
pub fn restore() -> io::Result<()> {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return Ok(());
    }
    // Raw mode first: it has the larger effect on the shell afterwards.
    let raw = disable_raw_mode();
    let screen = execute!(stdout(), Show, LeaveAlternateScreen);
    raw.and(screen)
}

/// Whether a panic happened while the TUI ran.
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// Restores the terminal before the default hook prints the panic.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.load(Ordering::SeqCst) {
                PANICKED.store(true, Ordering::SeqCst);
                let _ = restore();
            }
            previous(info);
        }));
    });
}

/// The terminal in TUI mode; restored when dropped.
pub struct TerminalSession {
    /// What ratatui draws on.
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl TerminalSession {
    /// Raw mode, alternate screen, hidden cursor.
    pub fn enter() -> io::Result<TerminalSession> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let entered = execute!(stdout(), EnterAlternateScreen, Hide)
            .and_then(|()| Terminal::new(CrosstermBackend::new(stdout())));
        match entered {
            Ok(terminal) => Ok(TerminalSession { terminal }),
            Err(e) => {
                let _ = restore();
                Err(e)
            }
        }
    }

    /// The ratatui terminal to draw on.
    pub fn terminal(&mut self) -> &mut Terminal<CrosstermBackend<Stdout>> {
        &mut self.terminal
    }
}

impl Drop for TerminalSession {
    fn drop(&mut self) {
        let _ = restore();
    }
}
