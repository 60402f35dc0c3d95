//! The console's state between frames: which tab, which instance, the last snapshot, the
//! event log and a pending confirmation. Pure: keys go in, an [`Action`] comes out, so the
//! key handling is tested without a terminal.

use super::model::Snapshot;
use std::cell::Cell;
use std::collections::VecDeque;

/// What `p` says when the plan has no changes (nothing is asked).
pub const NOTHING_TO_APPLY: &str = "Nothing to apply: the plan has no changes.";

/// Events kept for the Events tab (older ones are dropped).
const EVENTS_KEPT: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Instances,
    Auth,
    Plan,
    Events,
}

impl Tab {
    pub const ALL: [Tab; 4] = [Tab::Instances, Tab::Auth, Tab::Plan, Tab::Events];
    pub fn title(self) -> &'static str {
        match self {
            Tab::Instances => "1 Instances",
            Tab::Auth => "2 Auth",
            Tab::Plan => "3 Plan",
            Tab::Events => "4 Events",
        }
    }
}

/// A key, reduced to what the console understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Up,
    Down,
    PageUp,
    PageDown,
    CtrlC,
    Enter,
    Other,
}

/// What the loop must do after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    /// Leave the UI and run this session command on the selected container.
    Session(Session, String),
    /// Confirmed: recreate this instance (`WS/ROLE`).
    Replace(String),
    /// Confirmed: apply the plan.
    Apply,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    Attach,
    Logs,
    Shell,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    Replace(String),
    Apply,
}

#[derive(Debug, Default)]
pub struct App {
    pub tab: usize,
    pub selected: usize,
    pub help: bool,
    pub snapshot: Option<Snapshot>,
    /// The last refresh's error (coded), shown in the status line until one succeeds.
    pub error: Option<String>,
    pub events: VecDeque<String>,
    pub confirm: Option<Confirm>,
    /// A word for the status line until the next key (`p` with nothing to apply).
    pub notice: Option<String>,
    /// The Plan tab's first row shown (of its lines wrapped to the screen's width).
    pub plan_top: usize,
    /// What the last drawing of the Plan tab left room for: the greatest `plan_top` that
    /// still fills the page, and the page's height. Keys scroll within it.
    pub plan_fit: Cell<(usize, usize)>,
    /// The Events tab's rows scrolled back from the newest (0: it follows new events).
    pub events_back: usize,
    /// What the last drawing of the Events tab left room for: the greatest `events_back` and
    /// the page's height.
    pub events_fit: Cell<(usize, usize)>,
}

impl App {
    pub fn tab(&self) -> Tab {
        Tab::ALL[self.tab.min(3)]
    }

    pub fn log(&mut self, line: String) {
        if self.events.len() == EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(line);
        // Scrolled back, the rows shown stay put; at the newest, the tab follows.
        if self.events_back > 0 {
            self.events_back += 1;
        }
    }

    pub fn set_snapshot(&mut self, s: Snapshot) {
        let n = s.status.instances.len();
        self.selected = self.selected.min(n.saturating_sub(1));
        self.snapshot = Some(s);
        self.error = None;
    }

    /// The selected instance as `WS/ROLE` and its container name.
    pub fn selection(&self) -> Option<(String, String)> {
        let i = self
            .snapshot
            .as_ref()?
            .status
            .instances
            .get(self.selected)?;
        Some((format!("{}/{}", i.workspace, i.role), i.container.clone()))
    }

    pub fn key(&mut self, key: Key) -> Action {
        self.notice = None;
        if let Some(c) = self.confirm.take() {
            return match (key, c) {
                (Key::Char('y'), Confirm::Replace(t)) => Action::Replace(t),
                (Key::Char('y'), Confirm::Apply) => Action::Apply,
                _ => Action::None,
            };
        }
        match key {
            Key::CtrlC | Key::Char('q') => return Action::Quit,
            Key::Char(c @ '1'..='4') => self.tab = (c as usize) - ('1' as usize),
            Key::Char('?') => self.help = !self.help,
            Key::Up | Key::Down | Key::PageUp | Key::PageDown if self.tab() == Tab::Plan => {
                self.scroll(key);
            }
            Key::Up | Key::Down | Key::PageUp | Key::PageDown if self.tab() == Tab::Events => {
                self.scroll_back(key);
            }
            Key::Up => self.selected = self.selected.saturating_sub(1),
            Key::Down => self.down(),
            Key::Char(c) => return self.on_instance(c),
            Key::PageUp | Key::PageDown | Key::Enter | Key::Other => {}
        }
        Action::None
    }

    /// ↑/↓ a row, PgUp/PgDn a page (less one row, kept for context), within the plan.
    fn scroll(&mut self, key: Key) {
        let (max_top, page) = self.plan_fit.get();
        let step = page.saturating_sub(1).max(1);
        let top = self.plan_top.min(max_top);
        self.plan_top = match key {
            Key::Up => top.saturating_sub(1),
            Key::PageUp => top.saturating_sub(step),
            Key::Down => top + 1,
            _ => top + step,
        }
        .min(max_top);
    }

    /// ↑/↓ a row, PgUp/PgDn a page back into the events or forward to the newest (where the
    /// tab follows new ones again).
    fn scroll_back(&mut self, key: Key) {
        let (max_back, page) = self.events_fit.get();
        let step = page.saturating_sub(1).max(1);
        let back = self.events_back.min(max_back);
        self.events_back = match key {
            Key::Up => back + 1,
            Key::PageUp => back + step,
            Key::Down => back.saturating_sub(1),
            _ => back.saturating_sub(step),
        }
        .min(max_back);
    }

    fn down(&mut self) {
        let n = self
            .snapshot
            .as_ref()
            .map_or(0, |s| s.status.instances.len());
        if self.selected + 1 < n {
            self.selected += 1;
        }
    }

    fn on_instance(&mut self, c: char) -> Action {
        let Some((target, container)) = self.selection() else {
            return Action::None;
        };
        match c {
            'a' => Action::Session(Session::Attach, target),
            'l' => Action::Session(Session::Logs, target),
            'e' => Action::Session(Session::Shell, target),
            'r' => {
                let _ = container;
                self.confirm = Some(Confirm::Replace(target));
                Action::None
            }
            'p' if self.snapshot.as_ref().is_some_and(|s| s.pending() == 0) => {
                self.notice = Some(NOTHING_TO_APPLY.into());
                Action::None
            }
            'p' => {
                self.confirm = Some(Confirm::Apply);
                Action::None
            }
            _ => Action::None,
        }
    }
}
