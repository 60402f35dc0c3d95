//! Drawing: one frame from the [`App`], nothing else. Text that came from a container is
//! already escaped in the snapshot (names, plan lines); colour is dropped under `NO_COLOR`.

use super::app::{App, Confirm, Tab};
use super::model::Snapshot;
use crate::redact::shown;
use crate::report::time;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, HighlightSpacing, Paragraph, Row, Table, TableState, Tabs,
};
use ratatui::Frame;
use std::time::SystemTime;

/// Colours on or off (`NO_COLOR`), decided once by the caller.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    pub color: bool,
}

impl Look {
    pub fn detect() -> Self {
        Look {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }
    fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }
}

const HELP: &str = "1-4 tabs  ↑/↓ select, or scroll plan/events  PgUp/PgDn page plan/events  a attach  l logs  e shell  r replace  p apply  ? help  q quit";

pub fn draw(f: &mut Frame, app: &App, look: Look, now: SystemTime) {
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let titles = Tab::ALL.iter().map(|t| t.title());
    let tabs = Tabs::new(titles)
        .select(app.tab)
        .highlight_style(look.selected())
        .divider("|");
    f.render_widget(tabs, top);
    match (&app.snapshot, app.tab()) {
        (_, Tab::Events) => events(f, app, body),
        (None, _) => f.render_widget(Paragraph::new("observing…"), body),
        (Some(s), Tab::Instances) => instances(f, app, s, look, body, now),
        (Some(s), Tab::Auth) => auth(f, app, s, look, body),
        (Some(s), Tab::Plan) => plan(f, app, s, body),
    }
    f.render_widget(Paragraph::new(status_line(app, look)), bottom);
    if app.help {
        help(f, body);
    }
}

fn status_line(app: &App, look: Look) -> Line<'static> {
    if let Some(c) = &app.confirm {
        let what = match c {
            Confirm::Replace(t) => format!("Recreate {t} (apply --replace {t} --target {t})? y/N"),
            Confirm::Apply => format!(
                "Apply the plan shown in tab 3 now ({} pending change(s))? y/N",
                app.snapshot.as_ref().map_or(0, Snapshot::pending)
            ),
        };
        return Line::from(Span::styled(what, look.fg(Color::Yellow)));
    }
    if let Some(n) = &app.notice {
        return Line::from(Span::styled(n.clone(), look.fg(Color::Green)));
    }
    if let Some(e) = &app.error {
        return Line::from(Span::styled(shown(e), look.fg(Color::Red)));
    }
    let project = app
        .snapshot
        .as_ref()
        .map_or(String::new(), |s| format!("project {}  ", s.status.project));
    Line::from(format!("{project}? help  q quit"))
}

/// One row of two lines per instance: its name over its image, and what follows it.
/// The Instances tab's STATE column: `running, up 59 min` on one line.
const STATE_WIDTH: usize = 18;

fn instances(f: &mut Frame, app: &App, s: &Snapshot, look: Look, area: Rect, now: SystemTime) {
    let rows = s.status.instances.iter().zip(&s.containers).map(|(i, c)| {
        let drift = if i.drift.is_empty() {
            vec![Line::from(Span::styled("in sync", look.fg(Color::Green)))]
        } else {
            // The first action on the first line, the rest under it.
            let (first, rest) = i.drift.split_at(1);
            [first.join(", "), rest.join(", ")]
                .into_iter()
                .map(|l| Line::from(Span::styled(l, look.fg(Color::Yellow))))
                .collect()
        };
        let synced = i
            .last_sync
            .map_or_else(|| "never".to_owned(), |t| time::ago(t, now));
        Row::new(vec![
            Cell::from(vec![
                Line::from(shown(&i.container)),
                Line::from(Span::styled(c.image.clone(), look.fg(Color::Cyan))),
            ]),
            Cell::from(shown(&c.host)),
            // Over the row's two lines: `exited (code 1) 0.3 s after start` is more than
            // the column holds at 80 columns.
            Cell::from(
                wrap(&shown(&c.state(i, now)), STATE_WIDTH)
                    .into_iter()
                    .map(Line::from)
                    .collect::<Vec<_>>(),
            ),
            Cell::from(i.agent.clone()),
            Cell::from(synced),
            Cell::from(drift),
        ])
        .height(2)
    });
    let header = Row::new([
        Cell::from(vec![Line::from("INSTANCE"), Line::from("IMAGE")]),
        Cell::from("HOST"),
        Cell::from("STATE"),
        Cell::from("AGENT"),
        Cell::from("LAST SYNC"),
        Cell::from("DRIFT"),
    ])
    .height(2);
    // `running, up 59 min` in full at 80 columns; the names and drift share the rest.
    let widths = [
        Constraint::Fill(1),
        Constraint::Length(5),
        Constraint::Length(STATE_WIDTH as u16),
        Constraint::Length(6),
        Constraint::Length(10),
        Constraint::Fill(1),
    ];
    selectable(f, app, look, area, Table::new(rows, widths), header);
}

fn auth(f: &mut Frame, app: &App, s: &Snapshot, look: Look, area: Rect) {
    let mut agents: Vec<_> = s.auth.iter().flatten().map(|c| c.agent).collect();
    agents.sort();
    agents.dedup();
    let rows = s.status.instances.iter().zip(&s.auth).map(|(i, cells)| {
        let mut row = vec![Cell::from(format!(
            "{}/{}",
            shown(&i.workspace),
            shown(&i.role)
        ))];
        for a in &agents {
            row.push(match cells.iter().find(|c| c.agent == *a) {
                Some(c) => Cell::from(vec![
                    Line::from(format!("{} · {}", c.mode, c.login)),
                    Line::from(Span::styled(c.set_by.clone(), look.fg(Color::Cyan))),
                    Line::from(shown(&c.source)),
                ]),
                None => Cell::from("-"),
            });
        }
        let problems: Vec<Line> = i
            .problems
            .iter()
            .map(|p| {
                Line::from(Span::styled(
                    format!("{}: {}", p.code, shown(&p.hint)),
                    look.fg(Color::Red),
                ))
            })
            .collect();
        row.push(Cell::from(problems));
        Row::new(row).height(3)
    });
    let mut header = vec!["INSTANCE".to_owned()];
    header.extend(agents.iter().map(|a| a.to_string().to_uppercase()));
    header.push("PROBLEMS".to_owned());
    let mut widths = vec![Constraint::Length(16)];
    widths.extend(agents.iter().map(|_| Constraint::Fill(2)));
    widths.push(Constraint::Fill(1));
    selectable(
        f,
        app,
        look,
        area,
        Table::new(rows, widths),
        Row::new(header),
    );
}

/// A table of instances, one per row, the selected one marked (`>`, also without colour),
/// its header bold: the Instances and Auth tabs.
fn selectable(f: &mut Frame, app: &App, look: Look, area: Rect, table: Table, header: Row) {
    let table = table
        .header(header.style(Style::default().add_modifier(Modifier::BOLD)))
        .row_highlight_style(look.selected())
        .highlight_symbol("> ")
        .highlight_spacing(HighlightSpacing::Always)
        .block(Block::default().borders(Borders::TOP));
    let mut state = TableState::default().with_selected(Some(app.selected));
    f.render_stateful_widget(table, area, &mut state);
}

/// The plan's lines, wrapped to the width, from `app.plan_top` on; when they do not fit, the
/// rows shown and how many there are in the top right (↑/↓, PgUp/PgDn scroll).
fn plan(f: &mut Frame, app: &App, s: &Snapshot, area: Rect) {
    let block = Block::default().borders(Borders::TOP);
    let inner = block.inner(area);
    let rows: Vec<String> = s
        .plan
        .iter()
        .flat_map(|l| wrap(l, usize::from(inner.width)))
        .collect();
    let page = usize::from(inner.height);
    let max_top = rows.len().saturating_sub(page);
    app.plan_fit.set((max_top, page));
    let top = app.plan_top.min(max_top);
    let block = if max_top == 0 {
        block
    } else {
        let last = (top + page).min(rows.len());
        block.title(Line::from(format!(" {}-{last} of {} ", top + 1, rows.len())).right_aligned())
    };
    let shown: Vec<Line> = rows.into_iter().skip(top).map(Line::from).collect();
    f.render_widget(Paragraph::new(shown).block(block), area);
}

/// `line` cut into rows of at most `width` characters, at the last space that fits (dropped)
/// or, in a word longer than a row, at the width; an empty line is one empty row. The plan's
/// text is escaped to one column per character, so characters are columns.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut rest: Vec<char> = line.chars().collect();
    let mut rows = Vec::new();
    while rest.len() > width {
        // A space after a word, not one of the indentation.
        let (row, skip) = match (1..=width)
            .rev()
            .find(|&i| rest[i] == ' ' && rest[i - 1] != ' ')
        {
            Some(i) => (i, 1),
            None => (width, 0),
        };
        rows.push(rest[..row].iter().collect());
        rest.drain(..row + skip);
    }
    rows.push(rest.into_iter().collect());
    rows
}

/// The events, newest last, `app.events_back` rows back from the newest; when they do not fit,
/// the rows shown and how many there are in the top right (↑/↓, PgUp/PgDn scroll).
fn events(f: &mut Frame, app: &App, area: Rect) {
    let block = Block::default().borders(Borders::TOP);
    let page = usize::from(block.inner(area).height);
    let n = app.events.len();
    let max_back = n.saturating_sub(page);
    app.events_fit.set((max_back, page));
    let back = app.events_back.min(max_back);
    let first = n.saturating_sub(page + back);
    let block = if max_back == 0 {
        block
    } else {
        let last = n - back;
        block.title(Line::from(format!(" {}-{last} of {n} ", first + 1)).right_aligned())
    };
    let lines: Vec<Line> = app
        .events
        .iter()
        .skip(first)
        .take(page)
        .map(|l| Line::from(shown(l)))
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn help(f: &mut Frame, area: Rect) {
    let w = area.width.min(44);
    let h = area.height.min(12);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    let text: Vec<Line> = HELP.split("  ").map(Line::from).collect();
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(" help ")),
        r,
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn plan_lines_wrap_at_spaces_and_cut_long_words() {
        assert_eq!(super::wrap("", 5), vec![""]);
        assert_eq!(super::wrap("ab cd ef", 5), vec!["ab cd", "ef"]);
        assert_eq!(super::wrap("  abcdefgh", 4), vec!["  ab", "cdef", "gh"]);
        assert_eq!(super::wrap("abc", 3), vec!["abc"]);
    }
}
