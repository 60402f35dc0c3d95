//! Operator sessions with one instance: what `exec`, `logs` and `attach` share (SPEC §6).
//!
//! - [`select`]: `WS[/ROLE]` → one instance of the state file (the role may be left out when
//!   the workspace has one instance). It reads the validated file only, like `validate`: no
//!   host env or credentials, so it works in a shell that lacks the secrets `apply` needs.
//! - [`find_container`]: that instance's container, refused unless it is this project's
//!   (labels `jackin.managed=true`, `jackin.project`): a session never opens on a container
//!   jackin does not own.
//! - [`pump`]: the process's output to jackin's stdout/stderr, jackin's stdin to the process,
//!   window size changes (SIGWINCH) to its TTY, ctrl-p ctrl-q ([`DetachKeys`]) to end an
//!   attach, and SIGTERM/SIGHUP/SIGINT/SIGQUIT to a clean return, so a caller's [`RawMode`]
//!   guard always restores the terminal.

use crate::agents::AgentKind;
use crate::desired::Target;
use crate::error::{Code, Coded, Error};
use crate::manifest::Loaded;
use crate::naming::container_name;
use crate::redact::Redactor;
use crate::runtime::{ContainerDetails, Engine, Output, Runtime, RuntimeError, Session};
use crate::words::labels;
use futures_util::StreamExt;
use std::io::{Read, Write};
use std::path::Path;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no instance {target} in the state file{}", list_line("declared", .declared))]
    NoInstance {
        target: String,
        declared: Vec<String>,
        suggestion: Option<String>,
    },
    #[error("workspace {workspace} has {} instances; name one{}", .candidates.len(), list_line("candidates", .candidates))]
    Ambiguous {
        workspace: String,
        candidates: Vec<String>,
    },
    #[error("instance {instance} has no container ({container} does not exist)")]
    NoContainer { instance: String, container: String },
    #[error("container {container} is not project {project}'s ({}); not touching it", match .owner {
        Some(other) => format!("it belongs to jackin project {other}"),
        None => "jackin does not manage it".to_owned(),
    })]
    NotOurs {
        container: String,
        project: String,
        /// The project of a jackin container of another project.
        owner: Option<String>,
    },
    #[error("container {container} of instance {instance} is not running (state: {state})")]
    NotRunning {
        instance: String,
        container: String,
        state: String,
    },
    #[error("{what} needs a terminal: {detail}")]
    Terminal { what: String, detail: String },
    #[error("instance {instance} has no {agent}: its role provisions {}", .agents.join(", "))]
    AgentNotInRole {
        instance: String,
        agent: AgentKind,
        agents: Vec<String>,
    },
    #[error("{agent} of instance {instance} is in auth mode {mode} (set by {set_by}): a login of its own would be replaced or purged by jackin")]
    NotItsOwnLogin {
        instance: String,
        agent: AgentKind,
        mode: crate::agents::AuthMode,
        set_by: String,
        /// The most specific scope, where the fix goes.
        at: String,
    },
}

fn list_line(label: &str, items: &[String]) -> String {
    if items.is_empty() {
        format!("\n{label}: none")
    } else {
        format!("\n{label}: {}", items.join(", "))
    }
}

impl Coded for SessionError {
    fn code(&self) -> Code {
        match self {
            SessionError::NoInstance { .. } => Code::E060,
            SessionError::Ambiguous { .. } => Code::E061,
            SessionError::NoContainer { .. } => Code::E062,
            SessionError::NotOurs { .. } => Code::E022,
            SessionError::NotRunning { .. } => Code::E063,
            SessionError::Terminal { .. } => Code::E064,
            SessionError::AgentNotInRole { .. } => Code::E065,
            SessionError::NotItsOwnLogin { .. } => Code::E066,
        }
    }
    fn hint(&self) -> Option<String> {
        Some(match self {
            SessionError::NoInstance {
                suggestion: Some(s),
                ..
            } => format!("did you mean {s}? Instances are WORKSPACE/ROLE, as declared under [workspaces.WS.roles.ROLE]"),
            SessionError::NoInstance { .. } => {
                "instances are WORKSPACE/ROLE, as declared under [workspaces.WS.roles.ROLE]; check -f".into()
            }
            SessionError::Ambiguous { candidates, .. } => format!(
                "add the role: {}",
                candidates.first().map_or("WS/ROLE", String::as_str)
            ),
            SessionError::NoContainer { instance, .. } => {
                format!("run `jackin apply --target {instance}` to create it")
            }
            SessionError::NotOurs { .. } => {
                "jackin only opens sessions with its own containers: rename or remove that container yourself, or check -f and the project name".into()
            }
            SessionError::NotRunning { instance, .. } => format!(
                "`jackin apply --target {instance}` starts it; `jackin logs {instance}` shows why it stopped"
            ),
            SessionError::Terminal { .. } => {
                "run it from an interactive terminal; without one, `jackin logs --follow` shows the agent's output and `jackin exec` runs commands".into()
            }
            SessionError::AgentNotInRole { instance, agents, .. } => format!(
                "name one of {} (e.g. `jackin login {instance} {}`), or add the agent to the role's `agents`",
                agents.join(", "),
                agents.first().map_or("AGENT", String::as_str)
            ),
            SessionError::NotItsOwnLogin { agent, at, .. } => format!(
                "set `mode = \"ignore\"` in [{at}] (jackin then forwards nothing and keeps {agent}'s own login across recreates), run `jackin apply`, then `jackin login` again"
            ),
        })
    }
}

/// The instance a session is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub workspace: String,
    pub role: String,
    pub container: String,
    /// The agent the container launches.
    pub agent: AgentKind,
}

impl Selected {
    /// `WS/ROLE`.
    pub fn instance(&self) -> String {
        format!("{}/{}", self.workspace, self.role)
    }
}

/// The one instance `target` names in the (validated) state file.
pub fn select(loaded: &Loaded, target: &Target) -> Result<Selected, SessionError> {
    let m = &loaded.manifest;
    let all: Vec<(&String, &String)> = m
        .workspaces
        .iter()
        .flat_map(|(ws, w)| w.roles.keys().map(move |r| (ws, r)))
        .collect();
    let matching: Vec<(&String, &String)> = all
        .iter()
        .copied()
        .filter(|(ws, r)| target.matches(ws, r))
        .collect();
    let name = |(ws, r): (&String, &String)| format!("{ws}/{r}");
    match matching.as_slice() {
        [(ws, role)] => {
            let agent = crate::desired::launched_agent(m, ws, role);
            Ok(Selected {
                workspace: (*ws).clone(),
                role: (*role).clone(),
                container: container_name(ws, role),
                agent,
            })
        }
        [] => {
            let wanted = match &target.role {
                Some(r) => format!("{}/{r}", target.workspace),
                None => target.workspace.clone(),
            };
            let declared: Vec<String> = all.iter().copied().map(name).collect();
            let suggestion = declared
                .iter()
                .chain(m.workspaces.keys())
                .map(|c| (strsim::jaro_winkler(&wanted, c), c))
                .filter(|(score, _)| *score > 0.8)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, c)| c.clone());
            Err(SessionError::NoInstance {
                target: wanted,
                declared,
                suggestion,
            })
        }
        many => Err(SessionError::Ambiguous {
            workspace: target.workspace.clone(),
            candidates: many.iter().copied().map(name).collect(),
        }),
    }
}

/// A redactor of every env value the state file declares that resolves here (literals, set
/// `$NAME`s, readable `{ file }`s), for the engine's text. Best effort by design: a session
/// must not fail because a credential `apply` needs is missing from this shell.
pub fn redactor(loaded: &Loaded, home: &Path) -> Redactor {
    let m = &loaded.manifest;
    let lookup = |name: &str| std::env::var(name).ok();
    let tables = std::iter::once(&m.env)
        .chain(m.roles.values().map(|r| &r.env))
        .chain(m.workspaces.values().map(|w| &w.env))
        .chain(
            m.workspaces
                .values()
                .flat_map(|w| w.roles.values().map(|d| &d.env)),
        );
    let values = tables.flat_map(|t| t.values()).filter_map(|v| {
        crate::desired::resolve_env_value(v, &loaded.base_dir, home, &lookup)
            .1
            .ok()
            .flatten()
    });
    Redactor::new(values.collect::<Vec<_>>())
}

/// The selected instance's container, if it is this project's.
pub async fn find_container(
    runtime: &Runtime,
    project: &str,
    sel: &Selected,
) -> Result<ContainerDetails, Error> {
    let Some(details) = runtime.inspect_container(&sel.container).await? else {
        return Err(SessionError::NoContainer {
            instance: sel.instance(),
            container: sel.container.clone(),
        }
        .into());
    };
    if !labels::is_ours(&details.labels, project) {
        return Err(SessionError::NotOurs {
            container: sel.container.clone(),
            project: project.to_owned(),
            owner: labels::project_of(&details.labels).map(str::to_owned),
        }
        .into());
    }
    Ok(details)
}

/// `exec` and `attach` need the container running.
pub fn require_running(sel: &Selected, details: &ContainerDetails) -> Result<(), SessionError> {
    if details.running {
        Ok(())
    } else {
        Err(SessionError::NotRunning {
            instance: sel.instance(),
            container: sel.container.clone(),
            state: details.state.clone(),
        })
    }
}

// ---------------------------------------------------------------------------
// The terminal
// ---------------------------------------------------------------------------

/// jackin's terminal in raw mode while this lives: every key goes to the container as typed
/// (ctrl-c included), and the container's TTY does the echoing and line editing. Dropping it
/// restores the mode from before, on every path out: return, `?`, panic unwinding, and the
/// signals [`pump`] turns into a return.
pub struct RawMode(());

impl RawMode {
    pub fn enable(what: &str) -> Result<Self, SessionError> {
        crossterm::terminal::enable_raw_mode().map_err(|e| SessionError::Terminal {
            what: what.to_owned(),
            detail: format!("cannot switch it to raw mode: {e}"),
        })?;
        Ok(RawMode(()))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// The terminal's size as (rows, columns), when jackin has one.
pub fn terminal_size() -> Option<(u16, u16)> {
    crossterm::terminal::size()
        .ok()
        .filter(|&(cols, rows)| cols > 0 && rows > 0)
        .map(|(cols, rows)| (rows, cols))
}

/// Docker's default detach sequence, ctrl-p ctrl-q, found in the input stream. Like the
/// docker CLI, a ctrl-p is held back until the next byte shows whether it starts the
/// sequence; the sequence itself is never forwarded.
#[derive(Debug, Default)]
pub struct DetachKeys {
    held: bool,
}

const CTRL_P: u8 = 0x10;
const CTRL_Q: u8 = 0x11;

impl DetachKeys {
    /// The bytes of `input` to forward, and whether the sequence completed (nothing after it
    /// is forwarded then).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len() + 1);
        for &b in input {
            if self.held {
                self.held = false;
                if b == CTRL_Q {
                    return (out, true);
                }
                out.push(CTRL_P);
            }
            if b == CTRL_P {
                self.held = true;
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

// ---------------------------------------------------------------------------
// The pump
// ---------------------------------------------------------------------------

/// What a session's TTY is, to resize it.
#[derive(Debug, Clone)]
pub enum Tty {
    Exec(String),
    Container(String),
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The process's output ended (it exited, or the engine closed the session).
    Closed,
    /// The operator typed the detach keys.
    Detached,
    /// jackin's stdout or stderr went away (a closed pipe).
    OutputGone,
    /// jackin got this signal.
    Signal(i32),
}

/// Resize `tty` to jackin's terminal. A fresh exec may not have its TTY yet, so the first
/// resize is retried a few times, as the docker CLI does.
pub async fn resize(runtime: &Runtime, tty: &Tty, attempts: u32) {
    let Some((rows, cols)) = terminal_size() else {
        return;
    };
    for attempt in 0..attempts.max(1) {
        let r = match tty {
            Tty::Exec(id) => runtime.resize_exec(id, rows, cols).await,
            Tty::Container(id) => runtime.resize(id, rows, cols).await,
        };
        if r.is_ok() {
            return;
        }
        if attempt + 1 < attempts {
            tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
        }
    }
}

/// jackin's stdin in chunks, read on a thread of its own (a blocking read cannot be
/// cancelled; the thread ends with the process). The channel closes at end of input.
fn stdin_chunks() -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 8192];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.blocking_send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    });
    rx
}

/// Forward stdin to the process; at end of input shut its stdin (a TTY-less `exec` sees
/// EOF). With `detach`, stop at the detach keys and say so.
async fn forward_input(
    mut rx: mpsc::Receiver<Vec<u8>>,
    mut input: std::pin::Pin<Box<dyn AsyncWrite + Send>>,
    mut detach: Option<oneshot::Sender<()>>,
) {
    let mut keys = DetachKeys::default();
    while let Some(chunk) = rx.recv().await {
        let (bytes, detached) = if detach.is_some() {
            keys.feed(&chunk)
        } else {
            (chunk, false)
        };
        if !bytes.is_empty()
            && (input.write_all(&bytes).await.is_err() || input.flush().await.is_err())
        {
            return;
        }
        if detached {
            if let Some(tx) = detach.take() {
                let _ = tx.send(());
            }
            return;
        }
    }
    let _ = input.shutdown().await;
}

async fn next_signal(s: &mut Option<Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

fn write_out(w: &mut impl Write, bytes: &[u8]) -> bool {
    w.write_all(bytes).and_then(|()| w.flush()).is_ok()
}

/// Run a session until its output ends, the operator detaches (with `detach`), jackin's
/// output goes away or a terminating signal arrives. With `tty`, the TTY follows jackin's
/// window size on every SIGWINCH.
pub async fn pump(
    runtime: &Runtime,
    session: Session,
    tty: Option<&Tty>,
    detach: bool,
) -> Result<Ended, Error> {
    let Session { mut output, input } = session;
    let (detach_tx, mut detach_rx) = oneshot::channel();
    let forward = tokio::spawn(forward_input(
        stdin_chunks(),
        input,
        detach.then_some(detach_tx),
    ));
    let listen = |kind: SignalKind| signal(kind).ok();
    let mut winch = tty.and_then(|_| listen(SignalKind::window_change()));
    let mut term = listen(SignalKind::terminate());
    let mut hup = listen(SignalKind::hangup());
    let mut int = listen(SignalKind::interrupt());
    let mut quit = listen(SignalKind::quit());
    let mut detach_armed = detach;
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let ended = loop {
        tokio::select! {
            item = output.next() => match item {
                None => break Ok(Ended::Closed),
                Some(Ok(Output::Stdout(b))) => {
                    if !write_out(&mut stdout, &b) {
                        break Ok(Ended::OutputGone);
                    }
                }
                Some(Ok(Output::Stderr(b))) => {
                    if !write_out(&mut stderr, &b) {
                        break Ok(Ended::OutputGone);
                    }
                }
                Some(Ok(Output::UnterminatedEnd)) => {}
                Some(Err(e)) => break Err(Error::from(e)),
            },
            r = &mut detach_rx, if detach_armed => {
                if r.is_ok() {
                    break Ok(Ended::Detached);
                }
                // Input ended without the keys: keep showing the output.
                detach_armed = false;
            }
            () = next_signal(&mut winch) => {
                if let Some(t) = tty {
                    resize(runtime, t, 1).await;
                }
            }
            () = next_signal(&mut term) => break Ok(Ended::Signal(libc::SIGTERM)),
            () = next_signal(&mut hup) => break Ok(Ended::Signal(libc::SIGHUP)),
            () = next_signal(&mut int) => break Ok(Ended::Signal(libc::SIGINT)),
            () = next_signal(&mut quit) => break Ok(Ended::Signal(libc::SIGQUIT)),
        }
    };
    forward.abort();
    ended
}

/// `jackin logs`: the container's output to stdout/stderr. Ends with the stream, or when
/// jackin's output goes away.
pub async fn copy_logs(
    mut stream: crate::runtime::OutputStream,
) -> Result<(Ended, bool), RuntimeError> {
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let mut unterminated = false;
    while let Some(item) = stream.next().await {
        let ok = match item? {
            Output::Stdout(b) => write_out(&mut stdout, &b),
            Output::Stderr(b) => write_out(&mut stderr, &b),
            Output::UnterminatedEnd => {
                unterminated = true;
                true
            }
        };
        if !ok {
            return Ok((Ended::OutputGone, unterminated));
        }
    }
    Ok((Ended::Closed, unterminated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(toml: &str) -> Loaded {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jackin.toml");
        std::fs::write(&path, toml).unwrap();
        let loaded = crate::manifest::load(Some(&path), dir.path()).unwrap();
        crate::manifest::validate(&loaded).unwrap();
        loaded
    }

    const STATE: &str = r#"
version = 1
project = "p"
[roles.smith]
image = "img"
agents = ["kimi", "claude"]
[roles.jones]
image = "img"
agents = ["codex"]
[workspaces.solo.roles.smith]
agent = "claude"
[workspaces.pair.roles.smith]
[workspaces.pair.roles.jones]
"#;

    fn target(s: &str) -> Target {
        s.parse().unwrap()
    }

    #[test]
    fn a_workspace_with_one_instance_needs_no_role() {
        let l = loaded(STATE);
        let s = select(&l, &target("solo")).unwrap();
        assert_eq!(s.instance(), "solo/smith");
        assert_eq!(s.container, "jk-solo-smith");
        assert_eq!(s.agent, AgentKind::Claude);
        assert_eq!(select(&l, &target("solo/smith")).unwrap(), s);
        let j = select(&l, &target("pair/jones")).unwrap();
        assert_eq!(
            (j.container.as_str(), j.agent),
            ("jk-pair-jones", AgentKind::Codex)
        );
    }

    #[test]
    fn a_workspace_with_several_instances_lists_them() {
        let err = select(&loaded(STATE), &target("pair")).unwrap_err();
        assert_eq!(err.code(), Code::E061);
        let text = crate::error::render(&err);
        assert!(text.contains("pair/jones, pair/smith"), "{text}");
        assert!(text.contains("add the role: pair/jones"), "{text}");
    }

    #[test]
    fn an_unknown_instance_lists_the_declared_ones_and_suggests_the_closest() {
        let l = loaded(STATE);
        let err = select(&l, &target("pair/smyth")).unwrap_err();
        assert_eq!(err.code(), Code::E060);
        let text = crate::error::render(&err);
        assert!(text.contains("no instance pair/smyth"), "{text}");
        assert!(
            text.contains("declared: pair/jones, pair/smith, solo/smith"),
            "{text}"
        );
        assert!(text.contains("did you mean pair/smith?"), "{text}");
        let err = select(&l, &target("nowhere")).unwrap_err();
        assert_eq!(err.code(), Code::E060);
    }

    #[test]
    fn ctrl_p_ctrl_q_detaches_and_is_never_forwarded() {
        let mut k = DetachKeys::default();
        assert_eq!(k.feed(b"ab\x10\x11cd"), (b"ab".to_vec(), true));
        // Split across reads.
        let mut k = DetachKeys::default();
        assert_eq!(k.feed(b"x\x10"), (b"x".to_vec(), false));
        assert_eq!(k.feed(b"\x11"), (vec![], true));
        // A ctrl-p followed by anything else is forwarded, late.
        let mut k = DetachKeys::default();
        assert_eq!(k.feed(b"\x10"), (vec![], false));
        assert_eq!(k.feed(b"a\x10\x10"), (b"\x10a\x10".to_vec(), false));
        assert_eq!(k.feed(b"\x11"), (vec![], true));
        // ctrl-q alone is just a byte.
        let mut k = DetachKeys::default();
        assert_eq!(k.feed(b"\x11\x03"), (b"\x11\x03".to_vec(), false));
    }
}
