//! [`Sandbox`]: a fake `$HOME`, `$JACKIN_HOME` and working directory, a unique project, a
//! `jackin` runner; dropping it removes what the project made on this engine.

use super::*;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
pub(super) fn random_hex(len: usize) -> String {
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
