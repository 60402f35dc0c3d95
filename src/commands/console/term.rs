//! The console's hold on the terminal: raw mode, the alternate screen and a hidden cursor
//! while a [`Screen`] lives, all undone when it drops — on return, `?`, panic unwinding (and
//! the panic hook, for a panic that aborts or happens on another thread) — so the operator's
//! shell is never left in raw mode or on the alternate screen.

use crate::session::SessionError;
use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::{stdout, IsTerminal, Stdout};
use std::sync::Once;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

fn failed(detail: impl std::fmt::Display) -> SessionError {
    SessionError::Terminal {
        what: "jackin console".to_owned(),
        detail: detail.to_string(),
    }
}

/// Put the terminal back as the shell had it; safe to call more than once.
pub fn restore() {
    let _ = execute!(stdout(), LeaveAlternateScreen, Show);
    let _ = disable_raw_mode();
}

/// Restore the terminal before the default panic message is printed, so it is readable.
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// The full-screen UI's terminal; dropping it restores the terminal.
pub struct Screen {
    pub term: Term,
}

impl Screen {
    pub fn enter() -> Result<Self, SessionError> {
        if !std::io::stdin().is_terminal() || !stdout().is_terminal() {
            return Err(failed("standard input and output must be a terminal"));
        }
        install_panic_hook();
        enable_raw_mode().map_err(failed)?;
        // From here on a failure must still restore what was switched on.
        let on = execute!(stdout(), EnterAlternateScreen, Hide)
            .map_err(failed)
            .and_then(|()| Terminal::new(CrosstermBackend::new(stdout())).map_err(failed));
        match on {
            Ok(term) => Ok(Screen { term }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    /// Leave the UI for a while (attach, logs, a shell): the terminal as the shell had it.
    pub fn suspend(&mut self) {
        restore();
    }

    /// Back to the UI after [`Screen::suspend`]; the whole screen is drawn again (at the
    /// size the terminal has now). Not `Terminal::clear`: it asks the terminal where its
    /// cursor is and waits for the answer, which is nothing the console needs.
    pub fn resume(&mut self) -> Result<(), SessionError> {
        enable_raw_mode().map_err(failed)?;
        execute!(stdout(), EnterAlternateScreen, Hide).map_err(failed)?;
        let size = self.term.size().map_err(failed)?;
        self.term
            .resize(ratatui::layout::Rect::new(0, 0, size.width, size.height))
            .map_err(failed)
    }

    pub fn draw(&mut self, f: impl FnOnce(&mut ratatui::Frame)) -> Result<(), SessionError> {
        self.term.draw(f).map(|_| ()).map_err(failed)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}
