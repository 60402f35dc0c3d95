//! Integration-test harness, shared by every module of the `it` test binary.
//!
//! - [`agent_image`]: the local busybox agent image (built once per test process).
//! - [`Sandbox`]: a fake `$HOME`, `$JACKIN_HOME` and working directory, a unique Docker
//!   project name, and a `jackin` runner. Dropping it removes the project's containers.
//! - [`TreeSnapshot`]: bytes + metadata of a folder, to prove host folders stay unchanged.
//! - Docker helpers that go through the `docker` CLI, so tests observe the engine
//!   independently of the code under test.
//! - [`wait_until`]: poll observable state with a deadline (never fixed sleeps).
//! - [`registry::Registry`]: a loopback registry serving one local image, for real pulls.
//! - [`schema::assert_matches_schema`]: JSON output against the checked-in `schemas/` (no Docker).
//! - [`pty::Pty`]: a pseudo-terminal the test owns, for `jackin attach`/`exec` on a terminal.
//! - [`screen::Screen`]: `jackin attach` rendered by a terminal emulator (what a full-screen
//!   agent shows).
//! - [`provider::FakeProvider`]: the fake AI provider inside an agent's container (SPEC §10).

pub mod provider;
pub mod pty;
pub mod registry;
pub mod schema;
pub mod screen;
pub mod second_engine;

pub use pty::{plain, Pty};

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io::ErrorKind;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How long a single `jackin` run may take before the test fails (it is killed).
pub const JACKIN_TIMEOUT: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------
// Agent image
// ---------------------------------------------------------------------------

/// The tag of the local test agent image, `jackin-test-agent:<sha256 of the script, 12 hex>`,
/// as `scripts/agent-image.sh --test` names and prints it (the one place that rule lives).
/// Runs the script once per test process (a no-op when the image is current); panics with its
/// output on failure.
pub fn agent_image() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| image_from_script("scripts/agent-image.sh", &["--test"]))
}

/// Runs `bash SCRIPT ARGS` (`script` relative to the repository, stdin null), which builds
/// or finds an image and prints its tag last on stdout; returns that tag. Panics with the
/// exit status, stderr and stdout when the script fails or prints no tag.
#[track_caller]
pub fn image_from_script(script: &str, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = Command::new("bash")
        .arg(&script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{} failed ({}):\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}",
        script.display(),
        out.status
    );
    let tag = stdout.lines().last().unwrap_or("").trim().to_string();
    assert!(
        !tag.is_empty(),
        "{} printed no tag; stderr:\n{stderr}",
        script.display()
    );
    tag
}

/// The smallest one-instance state: workspace `ws` × role `smith` (the agent image, kimi
/// with default auth, sync). `tests/it/bad_input.rs` asserts positions in it: `image` is line 7.
pub fn minimal_kimi_state(sb: &Sandbox, ws: &str) -> String {
    format!(
        "version = 1\nproject = \"{}\"\n\n[roles.smith]\nimage = \"{}\"\nagents = [\"kimi\"]\n\n[workspaces.{ws}.roles.smith]\n",
        sb.project(),
        agent_image()
    )
}

/// A one-instance state file: workspace `ws` × role `smith` (the agent image, kimi only,
/// launched with `model`), `auth` lines under a global `[auth.kimi]` table (no table when
/// empty), and `extra` TOML appended.
pub fn kimi_state(sb: &Sandbox, ws: &str, model: &str, auth: &str, extra: &str) -> String {
    let auth = if auth.is_empty() {
        String::new()
    } else {
        format!("[auth.kimi]\n{auth}\n\n")
    };
    format!(
        r#"version = 1
project = "{project}"

{auth}[roles.smith]
image = "{image}"
agents = ["kimi"]

[roles.smith.kimi]
model = "{model}"

[workspaces.{ws}]
workdir = "/workspace"

[workspaces.{ws}.roles.smith]
{extra}
"#,
        project = sb.project(),
        image = agent_image(),
    )
}

// ---------------------------------------------------------------------------
// Process results
// ---------------------------------------------------------------------------

/// The result of one `jackin` run.
#[derive(Clone)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// stdout followed by stderr.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Panics (printing both streams) unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "unexpected exit code: {self:?}");
        self
    }

    #[track_caller]
    pub fn expect_ok(&self) -> &Self {
        self.expect_code(0)
    }

    /// Panics unless jackin failed (exit 1) with `error[code]` and stderr says each of `says`.
    #[track_caller]
    pub fn expect_error(&self, code: &str, says: &[&str]) -> &Self {
        self.expect_code(1);
        let headline = format!("error[{code}]");
        let missing: Vec<&str> = std::iter::once(headline.as_str())
            .chain(says.iter().copied())
            .filter(|s| !self.stderr.contains(s))
            .collect();
        assert!(missing.is_empty(), "stderr lacks {missing:?}: {self:?}");
        self
    }
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "exit code {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            self.code, self.stdout, self.stderr
        )
    }
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

/// Reads a child's stream to the end on a thread, into a shared buffer.
fn collect(mut stream: impl Read + Send + 'static) -> (Arc<Mutex<Vec<u8>>>, JoinHandle<()>) {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&buf);
    let handle = std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => sink.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
    });
    (buf, handle)
}

fn text(buf: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&buf.lock().unwrap()).into_owned()
}

/// A `jackin` process running in the background (e.g. `jackin watch`).
/// Dropping it kills the process.
pub struct Spawned {
    child: Child,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Spawned {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the process printed on stdout so far.
    pub fn stdout(&self) -> String {
        text(&self.stdout)
    }

    /// Everything the process printed on stderr so far.
    pub fn stderr(&self) -> String {
        text(&self.stderr)
    }

    /// stdout followed by stderr, so far.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout(), self.stderr())
    }

    /// Waits until the combined output contains `needle`.
    #[track_caller]
    pub fn wait_for_output(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.all().contains(needle) {
            if Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {needle:?} in the output of pid {}:\n\
                     --- stdout ---\n{}\n--- stderr ---\n{}",
                    self.pid(),
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a signal (e.g. `libc::SIGINT`, `libc::SIGTERM`).
    pub fn signal(&self, sig: i32) {
        signal(self.child.id(), sig);
    }

    /// Whether the process has exited.
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Waits for the process to exit (panics after `timeout`, killing it).
    #[track_caller]
    pub fn wait(mut self, timeout: Duration) -> Run {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "pid {} did not exit within {timeout:?}:\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.child.id(),
                    self.stdout(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Run {
            code: exit_code(status),
            stdout: self.stdout(),
            stderr: self.stderr(),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------
// Sandbox
// ---------------------------------------------------------------------------

fn random_hex(len: usize) -> String {
    // RandomState is seeded from the OS per instance: enough for unique names.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    let hex = format!("{:016x}", h.finish());
    hex[..len.min(16)].to_string()
}

/// A fake `$HOME`, `$JACKIN_HOME` and working directory under one temp dir, and a unique
/// project name. Dropping it removes every container labelled with the project.
pub struct Sandbox {
    root: tempfile::TempDir,
    project: String,
    names: AtomicUsize,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let project = format!("jt{}x{}{}", std::process::id(), n, random_hex(4));
        let root = tempfile::Builder::new()
            .prefix(&format!("{project}-"))
            .tempdir()
            .expect("create sandbox temp dir");
        for dir in ["home", "jackin_home", "work"] {
            fs::create_dir(root.path().join(dir)).expect("create sandbox dir");
        }
        // jackin refuses a `$JACKIN_HOME` that group or others can write (E044), whatever
        // the umask the tests run under: make it private, as jackin itself would.
        fs::set_permissions(
            root.path().join("jackin_home"),
            fs::Permissions::from_mode(0o700),
        )
        .expect("chmod 700 sandbox JACKIN_HOME");
        Sandbox {
            root,
            project,
            names: AtomicUsize::new(0),
        }
    }

    /// Unique project name (`jt{pid}x{counter}{hex}`): lowercase alphanumerics.
    pub fn project(&self) -> &str {
        &self.project
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// The fake `$HOME`.
    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// `$JACKIN_HOME`.
    pub fn jackin_home(&self) -> PathBuf {
        self.root.path().join("jackin_home")
    }

    /// `$JACKIN_HOME/locks/{project}.lock` (the one-apply-at-a-time lock), its folder created.
    pub fn lock_path(&self) -> PathBuf {
        let dir = self.jackin_home().join("locks");
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(format!("{}.lock", self.project()))
    }

    /// The working directory `jackin` runs in, where state files go.
    pub fn work(&self) -> PathBuf {
        self.root.path().join("work")
    }

    /// A workspace name unique on this Docker engine (container names are global):
    /// `{base}{project}`, plus a counter from the second call with the same sandbox on.
    /// Valid per `[a-z0-9][a-z0-9-]*` when `base` is.
    pub fn workspace(&self, base: &str) -> String {
        let n = self.names.fetch_add(1, Ordering::Relaxed);
        if n == 0 {
            format!("{base}{}", self.project)
        } else {
            format!("{base}{}n{n}", self.project)
        }
    }

    /// Writes `contents` to `work/<rel>`, creating parent directories. Returns the path.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        write_file(&self.work().join(rel), contents.as_ref())
    }

    /// Writes `contents` to `home/<rel>`, creating parent directories. Returns the path.
    pub fn write_home(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        write_file(&self.home().join(rel), contents.as_ref())
    }

    /// Panics unless jackin left no trace for workspace `ws`: no container `jk-{ws}-smith`
    /// and no handoff state (`$JACKIN_HOME/data`).
    #[track_caller]
    pub fn assert_untouched(&self, ws: &str) {
        assert!(!container_exists(&format!("jk-{ws}-smith")), "no container");
        assert!(
            !self.jackin_home().join("data").exists(),
            "no handoff state"
        );
    }

    /// `$JACKIN_HOME/data/{container}/handoff/{agent}` (SPEC §4).
    pub fn handoff_dir(&self, container: &str, agent: &str) -> PathBuf {
        self.jackin_home()
            .join("data")
            .join(container)
            .join("handoff")
            .join(agent)
    }

    /// `jackin ARGS`, or `WRAPPER... jackin ARGS` when `wrapper` is not empty, in `work/`
    /// with the sandbox's environment; stdin null, stdout and stderr piped (set others to
    /// run it on a pseudo-terminal).
    pub fn command(&self, wrapper: &[&str], args: &[&str], env: &[(&str, &str)]) -> Command {
        let jackin = env!("CARGO_BIN_EXE_jackin");
        let mut cmd = match wrapper.split_first() {
            None => Command::new(jackin),
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(jackin);
                c
            }
        };
        cmd.args(args).current_dir(self.work());
        // Nothing from the developer's own jackin setup may leak in.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("JACKIN_") {
                cmd.env_remove(key);
            }
        }
        cmd.env("HOME", self.home())
            .env("JACKIN_HOME", self.jackin_home())
            .env("NO_COLOR", "1")
            .env_remove("CLICOLOR_FORCE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Runs `jackin ARGS` in `work/` with the sandbox's HOME and JACKIN_HOME.
    #[track_caller]
    pub fn jackin(&self, args: &[&str]) -> Run {
        self.jackin_env(args, &[])
    }

    /// Like [`Sandbox::jackin`], with extra environment variables.
    #[track_caller]
    pub fn jackin_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.jackin_spawn(args, env).wait(JACKIN_TIMEOUT)
    }

    /// Runs `jackin ARGS` with `input` on its stdin (then end of input).
    #[track_caller]
    pub fn jackin_input(&self, args: &[&str], input: &[u8]) -> Run {
        let mut child = self
            .command(&[], args, &[])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run jackin {args:?}: {e}"));
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        // A writer thread: jackin may print before it reads, and pipes are finite.
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&input);
        });
        let (stdout, out_reader) = collect(child.stdout.take().unwrap());
        let (stderr, err_reader) = collect(child.stderr.take().unwrap());
        let run = Spawned {
            child,
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
        }
        .wait(JACKIN_TIMEOUT);
        writer.join().unwrap();
        run
    }

    /// Starts `jackin ARGS` in the background (for `watch`, or lock contention).
    pub fn jackin_spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Spawned {
        self.jackin_spawn_under(&[], args, env)
    }

    /// Like [`Sandbox::jackin_spawn`], run through `wrapper` (a program that ends by
    /// exec-ing its arguments, so signals still reach jackin).
    pub fn jackin_spawn_under(
        &self,
        wrapper: &[&str],
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Spawned {
        let mut child = self
            .command(wrapper, args, env)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run jackin {args:?}: {e}"));
        let (stdout, out_reader) = collect(child.stdout.take().unwrap());
        let (stderr, err_reader) = collect(child.stderr.take().unwrap());
        Spawned {
            child,
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
        }
    }

    /// Writes a fake Kimi login under `home/<dir_rel_home>` (e.g. `.kimi`): `config.toml`,
    /// `credentials/kimi-code.json`, `credentials/nested/extra.json`, `device_id`, each
    /// holding a unique secret-looking marker that must never appear in jackin's output.
    pub fn kimi_login(&self, dir_rel_home: &str) -> KimiLogin {
        let dir = self.home().join(dir_rel_home);
        let p = &self.project;
        let tag = random_hex(6);
        let login = KimiLogin {
            config: format!("SECRET-{p}-config-{tag}"),
            token: format!("SECRET-{p}-token-{tag}"),
            nested: format!("SECRET-{p}-nested-{tag}"),
            device_id: format!("SECRET-{p}-device-{tag}"),
            dir,
        };
        let d = &login.dir;
        write_file(
            &d.join("config.toml"),
            format!(
                "default_model = \"kimi-k2\"\n[providers.kimi]\napi_key = \"{}\"\n",
                login.config
            )
            .as_bytes(),
        );
        write_file(
            &d.join("credentials/kimi-code.json"),
            format!(
                "{{\"access_token\":\"{}\",\"refresh_token\":\"{}-r\",\"expires_at\":4102444800}}\n",
                login.token, login.token
            )
            .as_bytes(),
        );
        write_file(
            &d.join("credentials/nested/extra.json"),
            format!("{{\"secret\":\"{}\"}}\n", login.nested).as_bytes(),
        );
        write_file(&d.join("device_id"), login.device_id.as_bytes());
        for f in [
            "config.toml",
            "credentials/kimi-code.json",
            "credentials/nested/extra.json",
            "device_id",
        ] {
            fs::set_permissions(d.join(f), fs::Permissions::from_mode(0o600)).unwrap();
        }
        for dir in [
            d.clone(),
            d.join("credentials"),
            d.join("credentials/nested"),
        ] {
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).unwrap();
        }
        login
    }
}

/// `docker LIST_ARGS` lists names or IDs; `docker REMOVE_ARGS` each of them. Best effort.
fn docker_remove_listed(list_args: &[&str], remove_args: &[&str]) {
    let Ok(out) = Command::new("docker")
        .args(list_args)
        .stdin(Stdio::null())
        .output()
    else {
        return;
    };
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !names.is_empty() {
        let _ = Command::new("docker")
            .args(remove_args)
            .args(&names)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let label = format!("label=jackin.project={}", self.project);
        docker_remove_listed(&["ps", "-aq", "--filter", &label], &["rm", "-f"]);
        // Images jackin built for `build` roles (`jackin/{project}-{role}:ctx-…`), by tag:
        // the same content builds the same image ID for other projects, whose tags stay.
        let images = format!("reference=jackin/{}-*", self.project);
        docker_remove_listed(
            &[
                "images",
                "--filter",
                &images,
                "--format",
                "{{.Repository}}:{{.Tag}}",
            ],
            &["image", "rm"],
        );
        // Handoff files are written 0600 / dirs 0700 and may be owned by the container
        // user: make the tree removable for TempDir's own cleanup.
        let _ = Command::new("chmod")
            .args(["-R", "u+rwX"])
            .arg(self.root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn write_file(path: &Path, contents: &[u8]) -> PathBuf {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
    }
    fs::write(path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path.to_path_buf()
}

/// A fake host Kimi login written by [`Sandbox::kimi_login`].
#[derive(Clone, Debug)]
pub struct KimiLogin {
    /// The login folder (`home/<dir_rel_home>`).
    pub dir: PathBuf,
    /// Marker inside `config.toml`.
    pub config: String,
    /// Marker inside `credentials/kimi-code.json`.
    pub token: String,
    /// Marker inside `credentials/nested/extra.json`.
    pub nested: String,
    /// The whole content of `device_id`.
    pub device_id: String,
}

impl KimiLogin {
    /// Relative paths of the files written, sorted.
    pub const FILES: [&'static str; 4] = [
        "config.toml",
        "credentials/kimi-code.json",
        "credentials/nested/extra.json",
        "device_id",
    ];

    pub fn markers(&self) -> [&str; 4] {
        [&self.config, &self.token, &self.nested, &self.device_id]
    }

    /// Panics if any secret marker occurs in `text` (e.g. `run.all()`).
    #[track_caller]
    pub fn assert_not_leaked(&self, text: &str) {
        for m in self.markers() {
            assert!(
                !text.contains(m),
                "secret marker {m:?} leaked into output:\n{text}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Tree snapshots
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

/// Bytes and metadata of one entry (atime and ctime are deliberately left out:
/// reading changes atime; ctime cannot be preserved by anyone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntrySnapshot {
    pub kind: Kind,
    pub size: u64,
    /// Full `st_mode` (type and permission bits).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime_ns: i128,
    /// SHA-256 of the content (files only).
    pub sha256: Option<String>,
    /// Link target (symlinks only; never followed).
    pub link_target: Option<PathBuf>,
}

/// Every entry under a folder (the folder itself is `"."`), keyed by relative path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeSnapshot(pub BTreeMap<String, EntrySnapshot>);

/// Snapshots `path` (which must exist) recursively, without following symlinks.
pub fn snapshot(path: impl AsRef<Path>) -> TreeSnapshot {
    let root = path.as_ref();
    let mut map = BTreeMap::new();
    snapshot_into(root, root, &mut map);
    TreeSnapshot(map)
}

fn snapshot_into(root: &Path, path: &Path, map: &mut BTreeMap<String, EntrySnapshot>) {
    let meta = fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("snapshot: stat {}: {e}", path.display()));
    let ft = meta.file_type();
    let kind = if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else {
        Kind::Other
    };
    let sha256 = (kind == Kind::File).then(|| {
        let bytes =
            fs::read(path).unwrap_or_else(|e| panic!("snapshot: read {}: {e}", path.display()));
        hex::encode(Sha256::digest(&bytes))
    });
    let link_target = (kind == Kind::Symlink).then(|| fs::read_link(path).unwrap());
    let rel = match path.strip_prefix(root).unwrap() {
        p if p.as_os_str().is_empty() => ".".to_string(),
        p => p.to_string_lossy().into_owned(),
    };
    map.insert(
        rel,
        EntrySnapshot {
            kind,
            size: meta.len(),
            mode: meta.mode(),
            uid: meta.uid(),
            gid: meta.gid(),
            mtime_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
            sha256,
            link_target,
        },
    );
    if kind == Kind::Dir {
        let mut children: Vec<PathBuf> = fs::read_dir(path)
            .unwrap_or_else(|e| panic!("snapshot: list {}: {e}", path.display()))
            .map(|e| e.unwrap().path())
            .collect();
        children.sort();
        for child in children {
            snapshot_into(root, &child, map);
        }
    }
}

// ---------------------------------------------------------------------------
// Docker, observed through the CLI
// ---------------------------------------------------------------------------

/// Runs `docker ARGS`; panics with its output unless it succeeds. Returns stdout.
#[track_caller]
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"));
    assert!(
        out.status.success(),
        "docker {args:?} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `docker ARGS`; whether it succeeded (output discarded).
pub fn docker_ok(args: &[&str]) -> bool {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// `docker exec CONTAINER CMD...`; stdout (panics on failure).
#[track_caller]
pub fn exec(container: &str, cmd: &[&str]) -> String {
    let mut args = vec!["exec", container];
    args.extend_from_slice(cmd);
    docker(&args)
}

/// `docker exec CONTAINER sh -c SCRIPT`; stdout (panics on failure).
#[track_caller]
pub fn sh(container: &str, script: &str) -> String {
    exec(container, &["sh", "-c", script])
}

/// `docker inspect -f TEMPLATE CONTAINER`, trimmed (panics on failure).
#[track_caller]
pub fn inspect(container: &str, template: &str) -> String {
    docker(&["inspect", "-f", template, container])
        .trim()
        .to_string()
}

/// Whether a container with exactly this name exists (any state).
pub fn container_exists(name: &str) -> bool {
    docker_ok(&["container", "inspect", name])
}

/// Whether the container exists and is running.
pub fn container_running(name: &str) -> bool {
    Command::new("docker")
        .args(["container", "inspect", "-f", "{{.State.Running}}", name])
        .stdin(Stdio::null())
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "true")
        .unwrap_or(false)
}

/// Polls `cond` every 50 ms until it holds; panics naming `desc` after `timeout`.
#[track_caller]
pub fn wait_until(desc: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting until {desc}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------
// A proxy to the engine
// ---------------------------------------------------------------------------

/// A unix-socket proxy to the real engine that can be taken down (listener and live
/// connections, like a dockerd restart) and brought back at the same path.
pub struct DockerProxy {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<UnixStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

fn engine_socket() -> PathBuf {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if h.starts_with("unix://") => PathBuf::from(&h["unix://".len()..]),
        _ => PathBuf::from("/var/run/docker.sock"),
    }
}

impl DockerProxy {
    pub fn start(path: &Path) -> Self {
        let _ = fs::remove_file(path);
        let listener = UnixListener::bind(path).expect("bind proxy socket");
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<UnixStream>>> = Arc::default();
        let (stop2, conns2) = (Arc::clone(&stop), Arc::clone(&conns));
        let acceptor = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let Ok(engine) = UnixStream::connect(engine_socket()) else {
                            continue;
                        };
                        let mut held = conns2.lock().unwrap();
                        held.push(client.try_clone().unwrap());
                        held.push(engine.try_clone().unwrap());
                        pipe(client.try_clone().unwrap(), engine.try_clone().unwrap());
                        pipe(engine, client);
                    }
                    // Polling the stop flag: std's listener has no other way to be woken.
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => break,
                }
            }
        });
        DockerProxy {
            path: path.to_path_buf(),
            stop,
            conns,
            acceptor: Some(acceptor),
        }
    }

    /// The engine "goes away": no new connections, and every open one is cut.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.acceptor.take() {
            t.join().unwrap();
        }
        let _ = fs::remove_file(&self.path);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for DockerProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn pipe(mut from: UnixStream, mut to: UnixStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

/// Send signal `sig` (e.g. `libc::SIGTERM`) to process `pid`.
pub fn signal(pid: u32, sig: i32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a pid");
    let sig = rustix::process::Signal::from_named_raw(sig).expect("a named signal");
    rustix::process::kill_process(pid, sig).expect("kill");
}

/// Make a FIFO at `path` (what a hostile container or operator might leave).
pub fn mkfifo(path: &Path) {
    use rustix::fs::{mknodat, FileType, Mode, CWD};
    mknodat(CWD, path, FileType::Fifo, Mode::RUSR | Mode::WUSR, 0).expect("mkfifo");
}
