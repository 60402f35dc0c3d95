//! Sessions: a process's terminal streams (`attach`, `exec`, `logs`), for the operator
//! commands. Every byte the engine sends passes the redactor before it reaches output.

use super::{Runtime, RuntimeError};
use crate::redact::Redactor;
use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::query_parameters::{
    AttachContainerOptions, LogsOptions, ResizeContainerTTYOptions, ResizeExecOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use tokio::io::AsyncWrite;

/// One piece of what a session's process writes. A container with a TTY has one stream,
/// delivered as `Stdout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
    /// The log ended inside a line that bollard's line framing of a TTY log cannot hand back
    /// (its decoder drops an unterminated last line). Always the stream's last item.
    UnterminatedEnd,
}

pub type OutputStream = Pin<Box<dyn Stream<Item = Result<Output, RuntimeError>> + Send>>;

/// An attached process: its output, and a writer to its stdin (shut it down for EOF).
pub struct Session {
    pub output: OutputStream,
    pub input: Pin<Box<dyn AsyncWrite + Send>>,
}

/// Whether an exec has ended, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecState {
    pub running: bool,
    pub exit_code: Option<i64>,
}

impl Runtime {
    /// Start `cmd` in a running container, attached to its stdin, stdout and stderr, as the
    /// container's user, with its env and working directory (the engine's defaults for an
    /// exec). `size` (rows, columns) is the TTY's size from the start on engines with API
    /// 1.42 or later (older ones ignore it: resize after the start). Returns the exec's ID
    /// (to resize it and read its exit code) and its streams.
    pub async fn exec(
        &self,
        container: &str,
        cmd: Vec<String>,
        tty: bool,
        size: Option<(u16, u16)>,
    ) -> Result<(String, Session), RuntimeError> {
        let opts = ExecConfig {
            attach_stdin: Some(true),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(tty),
            cmd: Some(cmd),
            console_size: size
                .filter(|_| tty)
                .map(|(rows, cols)| vec![usize::from(rows), usize::from(cols)]),
            ..Default::default()
        };
        let op = format!("exec in {container}");
        let created = self.count(&op, self.docker.create_exec(container, opts).await)?;
        let start = StartExecOptions {
            detach: false,
            tty,
            output_capacity: None,
        };
        let started = self.count(&op, self.docker.start_exec(&created.id, Some(start)).await)?;
        match started {
            StartExecResults::Attached { output, input } => Ok((
                created.id,
                Session {
                    output: self.session_output(op, output),
                    input,
                },
            )),
            StartExecResults::Detached => Err(RuntimeError::Api {
                op,
                detail: "the engine started the exec without attaching its streams".into(),
            }),
        }
    }

    /// Whether the exec still runs, and its exit code once it has ended.
    pub async fn exec_state(&self, exec_id: &str) -> Result<ExecState, RuntimeError> {
        let r = self.docker.inspect_exec(exec_id).await;
        let inspect = self.count("inspect exec", r)?;
        Ok(ExecState {
            running: inspect.running.unwrap_or(false),
            exit_code: inspect.exit_code,
        })
    }

    /// Set an exec's TTY size.
    pub async fn resize_exec(
        &self,
        exec_id: &str,
        rows: u16,
        cols: u16,
    ) -> Result<(), RuntimeError> {
        let opts = ResizeExecOptionsBuilder::new()
            .h(i32::from(rows))
            .w(i32::from(cols))
            .build();
        let r = self.docker.resize_exec(exec_id, opts).await;
        self.count("resize exec", r)
    }

    /// Attach to a running container's main process: its terminal (stdin, stdout, stderr).
    /// Detaching is the caller's business: the input it sends never holds the engine's
    /// detach sequence, and dropping the session leaves the container running.
    pub async fn attach(&self, container: &str) -> Result<Session, RuntimeError> {
        let opts = AttachContainerOptions {
            stdin: true,
            stdout: true,
            stderr: true,
            stream: true,
            logs: false,
            detach_keys: None,
        };
        let op = format!("attach to {container}");
        let attached = self.count(
            &op,
            self.docker.attach_container(container, Some(opts)).await,
        )?;
        Ok(Session {
            output: self.session_output(op, attached.output),
            input: attached.input,
        })
    }

    /// Set a container's TTY size.
    pub async fn resize(&self, container: &str, rows: u16, cols: u16) -> Result<(), RuntimeError> {
        let opts = ResizeContainerTTYOptions {
            h: i32::from(rows),
            w: i32::from(cols),
        };
        let r = self.docker.resize_container_tty(container, opts).await;
        self.count(&format!("resize {container}"), r)
    }

    /// A container's output (stdout and stderr; one stream for a TTY), all of it or the last
    /// `tail` lines, then, with `follow`, what it writes until it stops.
    pub fn logs(&self, container: &str, follow: bool, tail: Option<u64>) -> OutputStream {
        let opts = LogsOptions {
            follow,
            stdout: true,
            stderr: true,
            tail: tail.map_or_else(|| "all".to_owned(), |n| n.to_string()),
            ..Default::default()
        };
        self.calls.fetch_add(1, Ordering::Relaxed);
        let stream = self.docker.logs(container, Some(opts));
        let redactor = self.redactor.clone();
        let op = format!("logs of {container}");
        Box::pin(stream.filter_map(move |item| {
            let out = match item {
                // bollard frames a TTY log by lines and reports an unterminated last line as
                // this I/O error (tokio-util's decode_eof); its bytes are gone by now.
                Err(bollard::errors::Error::IOError { err })
                    if err.to_string() == "bytes remaining on stream" =>
                {
                    Some(Ok(Output::UnterminatedEnd))
                }
                other => map_output(other, &op, &redactor),
            };
            std::future::ready(out)
        }))
    }

    fn session_output(
        &self,
        op: String,
        stream: Pin<Box<dyn Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>>,
    ) -> OutputStream {
        let redactor = self.redactor.clone();
        Box::pin(
            stream.filter_map(move |item| std::future::ready(map_output(item, &op, &redactor))),
        )
    }
}

/// One item of an engine output stream; `None` for echoes of stdin.
fn map_output(
    item: Result<LogOutput, bollard::errors::Error>,
    op: &str,
    redactor: &Redactor,
) -> Option<Result<Output, RuntimeError>> {
    match item {
        Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
            Some(Ok(Output::Stdout(message)))
        }
        Ok(LogOutput::StdErr { message }) => Some(Ok(Output::Stderr(message))),
        Ok(LogOutput::StdIn { .. }) => None,
        Err(e) => Some(Err(RuntimeError::Api {
            op: op.to_owned(),
            detail: redactor.redact(&e.to_string()),
        })),
    }
}
