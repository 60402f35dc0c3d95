//! `ssh://` engines (SPEC v3 §9), reached as the docker CLI reaches them: the system `ssh` (its
//! config, agent and known hosts) running `docker system dial-stdio` on the host, one HTTP
//! connection per `ssh` process.
//!
//! One SSH connection per host for the run: a master (`ssh -M -N`, this process's child, killed
//! when the client is dropped) holds a control socket under `$JACKIN_HOME/run/ssh`, and every
//! dial is a session multiplexed over it (`ControlMaster=no`), so the handshake and the
//! authentication happen once. sshd allows 10 sessions per connection by default
//! (`MaxSessions`, measured in `bench/remote-list.py`): at most [`SESSIONS`] dials are open
//! at once, and the HTTP clients ([`super::transport`]) reuse idle ones.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Sessions open at once over one connection (below sshd's default `MaxSessions` of 10).
pub const SESSIONS: usize = 8;

/// How long the master may take to connect and authenticate before the host is unreachable
/// (the run's `--host-timeout` bounds it too).
const CONNECT_TIMEOUT_SECS: u32 = 10;

/// Control sockets made by this process so far (each master gets its own).
static MASTERS: AtomicUsize = AtomicUsize::new(0);

/// `ssh://[user@]host[:port]`, split as `ssh` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `[user@]host`.
    pub login: String,
    pub port: Option<u16>,
}

impl Destination {
    /// The destination of an `ssh://` address; the error says what is wrong with it.
    pub fn parse(address: &str) -> Result<Destination, String> {
        let rest = address
            .strip_prefix("ssh://")
            .ok_or_else(|| format!("{address} is not an ssh:// address"))?;
        let rest = rest.split('/').next().unwrap_or_default();
        let (login, port) = match rest.rsplit_once(':') {
            Some((login, port)) => {
                let port = port
                    .parse()
                    .map_err(|_| format!("{address}: the port is not a number"))?;
                (login, Some(port))
            }
            None => (rest, None),
        };
        if login.is_empty() || login.ends_with('@') || login.starts_with('-') {
            return Err(format!("{address} names no host"));
        }
        Ok(Destination {
            login: login.to_owned(),
            port,
        })
    }

    /// `ssh` with `options`, then this destination and `remote` (the command to run there).
    fn command(&self, options: &[&str], remote: &[&str]) -> Command {
        let mut c = Command::new("ssh");
        c.args(["-o", "BatchMode=yes"]);
        c.args(options);
        if let Some(port) = self.port {
            c.args(["-p", &port.to_string()]);
        }
        c.arg("--").arg(&self.login).args(remote);
        c.stdin(Stdio::null()).stdout(Stdio::null());
        c.stderr(Stdio::piped()).kill_on_drop(true);
        c
    }
}

/// The master connection of one host and the dials over it.
pub struct Dialer {
    destination: Destination,
    control: PathBuf,
    /// Held only to be killed (and so disconnected) when the last client of this host is
    /// dropped.
    _master: Child,
    permits: Arc<Semaphore>,
}

impl Dialer {
    /// Connect the master for `address`, its control socket in `dir` (made 0700). Returns
    /// once it is authenticated; the error is what `ssh` said.
    pub async fn connect(address: &str, dir: &Path) -> Result<Dialer, String> {
        let destination = Destination::parse(address)?;
        crate::paths::create_private_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let n = MASTERS.fetch_add(1, Ordering::Relaxed);
        let control = dir.join(format!("{}-{n}", std::process::id()));
        // A socket of an earlier process with this process's ID is stale.
        let _ = std::fs::remove_file(&control);
        let timeout = format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}");
        let path = control.display().to_string();
        let options = [
            "-M",
            "-N",
            "-S",
            &path,
            "-o",
            "ControlPersist=no",
            "-o",
            &timeout,
        ];
        let mut master = destination
            .command(&options, &[])
            .spawn()
            .map_err(|e| format!("cannot run ssh: {e}"))?;
        wait_for_socket(&mut master, &control).await?;
        Ok(Dialer {
            destination,
            control,
            _master: master,
            permits: Arc::new(Semaphore::new(SESSIONS)),
        })
    }

    /// A session running `docker system dial-stdio` on the host: a byte stream to its engine.
    pub async fn dial(&self) -> io::Result<SshStream> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        let path = self.control.display().to_string();
        let options = ["-S", &path, "-o", "ControlMaster=no"];
        let mut child = self
            .destination
            .command(&options, &["docker", "system", "dial-stdio"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(io::Error::other("ssh gave no pipes"));
        };
        Ok(SshStream {
            _child: child,
            stdin,
            stdout,
            _permit: permit,
        })
    }
}

impl Drop for Dialer {
    fn drop(&mut self) {
        // The master is killed with its handle; its socket goes with it.
        let _ = std::fs::remove_file(&self.control);
    }
}

/// Until the master's control socket exists (it is made once the connection is
/// authenticated), or the master ended: then what it said is the error.
async fn wait_for_socket(master: &mut Child, control: &Path) -> Result<(), String> {
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        if control.exists() {
            return Ok(());
        }
        if let Ok(Some(status)) = master.try_wait() {
            let mut said = String::new();
            if let Some(mut err) = master.stderr.take() {
                let _ = (&mut err).take(4096).read_to_string(&mut said).await;
            }
            let said = said.trim();
            return Err(if said.is_empty() {
                format!("ssh exited ({status})")
            } else {
                format!("ssh: {said}")
            });
        }
        // The socket appears after a network round trip or more: a short, growing pause.
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(50));
    }
}

/// One `docker system dial-stdio` session: its stdout read, its stdin written.
pub struct SshStream {
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for SshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stdin).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdin).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::Destination;

    #[test]
    fn an_ssh_address_is_a_login_and_a_port() {
        let d = |a: &str| Destination::parse(a);
        assert_eq!(
            d("ssh://ops@gpu-1"),
            Ok(Destination {
                login: "ops@gpu-1".into(),
                port: None
            })
        );
        assert_eq!(
            d("ssh://gpu-1:2222"),
            Ok(Destination {
                login: "gpu-1".into(),
                port: Some(2222)
            })
        );
        assert!(d("ssh://gpu-1:ssh").is_err());
        assert!(d("ssh://").is_err());
        assert!(d("ssh://ops@").is_err());
        assert!(d("ssh://-oProxyCommand=x").is_err(), "never an ssh option");
    }
}
