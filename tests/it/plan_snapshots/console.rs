//! `jackin console`'s four tabs drawn at 80×24 (ratatui's test backend, no colour) from the
//! same fixed observed state as the plan snapshots: two instances, one whose kimi mode is the
//! global `sync`, one set to `ignore` by its workspace×role table, with a host login change
//! pending.

use super::Fixture;
use jackin::commands::console::app::{App, Key};
use jackin::commands::console::model::Snapshot;
use jackin::commands::console::view::{draw, Look};
use jackin::observed::Observed;
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::{Duration, SystemTime};

const STATE: &str = "version = 1\nproject = \"snap\"\n[auth.kimi]\nmode = \"sync\"\n[roles.smith]\nimage = \"agent:1\"\nagents = [\"kimi\"]\n[roles.smith.kimi]\nmodel = \"k1\"\n[workspaces.app.roles.smith]\n[workspaces.api.roles.smith]\n[workspaces.api.roles.smith.auth.kimi]\nmode = \"ignore\"\n";

fn app() -> App {
    app_of(STATE, |o| {
        // `api` was stopped by a `docker stop` that had to kill it; `app` is up since 3
        // minutes before `now` (as the list's `Up 3 minutes` reads, listed at `now`).
        let api = o.containers.get_mut("jk-api-smith").unwrap();
        (api.running, api.state, api.exit_code) = (false, "exited".into(), Some(137));
        o.containers.get_mut("jk-app-smith").unwrap().up_since = Some(1_800_000_060 - 180);
    })
}

/// The console on `state`, applied, with a host login change since, and Docker as `docker`
/// edits it.
fn app_of(state: &str, docker: impl FnOnce(&mut Observed)) -> App {
    let f = Fixture::new();
    let d = f.desired(state);
    f.apply_files(&d);
    f.write("home/.kimi/config.toml", "model = 2\n");
    let mut o = f.observe(&d, Some(&d), true);
    docker(&mut o);
    let p = f.plan(&d, &o);
    let taken = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let mut snap = Snapshot::from_parts(&p, &o, &d, taken);
    // The temp dir differs per run: show the source folder as the operator's home would.
    for cell in snap.auth.iter_mut().flatten() {
        if let Some(rest) = cell
            .source
            .strip_prefix(&f.root().join("home").display().to_string())
        {
            cell.source = format!("~{rest}");
        }
    }
    // The ledger holds the real time of `apply_files`: pin it three minutes before `now`.
    for i in &mut snap.status.instances {
        i.last_sync = i.last_sync.map(|_| 1_800_000_060 - 180);
    }
    let mut app = App::default();
    app.set_snapshot(snap);
    app.log("12:00:00 refresh (start): 2 instance(s), 1 pending change(s)".into());
    app.log(
        "12:00:07 refresh (host login ~/.kimi/config.toml): 2 instance(s), 1 pending change(s)"
            .into(),
    );
    app
}

fn screen(app: &App) -> String {
    let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_060);
    term.draw(|f| draw(f, app, Look { color: false }, now))
        .unwrap();
    term.backend().to_string()
}

fn tab(key: char) -> String {
    let mut a = app();
    a.key(Key::Char(key));
    screen(&a)
}

#[test]
fn console_instances_tab() {
    insta::assert_snapshot!(tab('1'));
}

#[test]
fn console_auth_tab() {
    insta::assert_snapshot!(tab('2'));
}

#[test]
fn console_plan_tab() {
    insta::assert_snapshot!(tab('3'));
}

#[test]
fn console_events_tab() {
    insta::assert_snapshot!(tab('4'));
}

#[test]
fn console_replace_asks_first_and_anything_but_y_cancels() {
    let mut a = app();
    a.key(Key::Down);
    a.key(Key::Char('r'));
    insta::assert_snapshot!(screen(&a));
    assert_eq!(
        a.key(Key::Char('n')),
        jackin::commands::console::app::Action::None
    );
    a.key(Key::Char('p'));
    assert_eq!(
        a.key(Key::Char('y')),
        jackin::commands::console::app::Action::Apply
    );
}

#[test]
fn console_help() {
    let mut a = app();
    a.key(Key::Char('?'));
    insta::assert_snapshot!(screen(&a));
}

/// Nine instances with a change each: more plan than an 80×24 screen holds. PgDn shows the
/// next page (one row of the last kept), ↑ goes back a row, ↓ past the end stays at the end.
#[test]
fn console_plan_tab_scrolls() {
    let mut state = STATE.replace(
        "[workspaces.api.roles.smith.auth.kimi]\nmode = \"ignore\"\n",
        "",
    );
    for w in 1..=7 {
        state.push_str(&format!("[workspaces.w{w}.roles.smith]\n"));
    }
    let mut a = app_of(&state, |_| {});
    a.key(Key::Char('3'));
    let first = screen(&a);
    a.key(Key::PageDown);
    let paged = screen(&a);
    a.key(Key::Up);
    let up = screen(&a);
    for _ in 0..40 {
        a.key(Key::Down);
    }
    let end = screen(&a);
    insta::assert_snapshot!(format!("{first}\n{paged}\n{up}\n{end}"));
}

/// Thirty refreshes: more events than an 80×24 screen holds. The tab shows the newest; PgUp a
/// page back (as far as the oldest), a new event leaves the rows shown where they are, ↓ a row
/// forward, and ↓ past the newest stays there (following new events again).
#[test]
fn console_events_tab_scrolls() {
    let mut a = app();
    for i in 0..30 {
        a.log(format!(
            "12:01:{i:02} refresh (docker event): 2 instance(s)"
        ));
    }
    a.key(Key::Char('4'));
    let newest = screen(&a);
    a.key(Key::PageUp);
    let back = screen(&a);
    // A new event while scrolled back: the rows shown stay put.
    a.log("12:02:00 refresh (resync): 2 instance(s)".into());
    assert!(screen(&a).contains(" 1-21 of 33 "), "{}", screen(&a));
    a.key(Key::Down);
    let down = screen(&a);
    for _ in 0..40 {
        a.key(Key::Down);
    }
    let end = screen(&a);
    assert!(
        end.contains(" 13-33 of 33 ") && end.contains("12:02:00 refresh (resync)"),
        "back at the newest: {end}"
    );
    insta::assert_snapshot!(format!("{newest}\n{back}\n{down}"));
}

/// An agent that exited at once: its state (`exited (code 1) 0.3 s after start`) is wrapped
/// over its row's two lines, not cut, at 80 columns.
#[test]
fn console_instances_tab_an_agent_that_exited_at_once() {
    let mut a = app_of(STATE, |o| {
        let api = o.containers.get_mut("jk-api-smith").unwrap();
        (api.running, api.state, api.exit_code) = (false, "exited".into(), Some(1));
        api.quick_exit = Some(jackin::observed::QuickExit {
            exit_code: 1,
            after_ms: 300,
            started_at: "2027-01-15T08:00:00Z".into(),
            finished_at: "2027-01-15T08:00:00.3Z".into(),
            lines: vec!["unknown flag --bogus".into()],
        });
    });
    a.key(Key::Char('1'));
    let s = screen(&a);
    assert!(
        s.contains("exited (code 1)") && s.contains("0.3 s after start"),
        "{s}"
    );
}
