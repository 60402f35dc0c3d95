//! A container can never reach past its handoff directory (SPEC §4a, issue 9).
//!
//! Each test runs two instances of one project against the real engine and plays the hostile
//! container from the host side of its bind mount (the agent inside could do the same). What
//! an operator would notice is asserted: a victim folder outside `$JACKIN_HOME` stays byte for
//! byte the same, every run exits (a liveness bound, never a clock), the hostile instance gets
//! its error code (E042) while the other one still receives the new host credential (checked
//! inside its container), `status` lists both, and jackin's peak memory stays bounded (read
//! from the OS with `getrusage`).

use crate::common::*;
use rustix::fs::{renameat_with, RenameFlags, CWD};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Applies raced per mode (the issue asks for at least 300).
const RACED_APPLIES: usize = 300;

/// Peak RSS jackin may reach while a 1 TiB sparse file and the other hostile entries sit in
/// a handoff. A normal run stays far below (the binary is a few tens of MiB); reading the
/// sparse file would not.
const RSS_BOUND_KIB: i64 = 256 * 1024;

/// Two kimi instances of one project: `hostile` (whose handoff the test attacks) and
/// `other`, plus a victim folder outside `$JACKIN_HOME` that must never change.
struct Two {
    sb: Sandbox,
    login: KimiLogin,
    hostile: String,
    other: String,
    victim: PathBuf,
}

impl Two {
    fn new(mode: &str, env: &str) -> Two {
        let sb = Sandbox::new();
        let login = sb.kimi_login(".kimi");
        let hostile_ws = sb.workspace("hostile");
        let other_ws = sb.workspace("other");
        let victim = sb.root().join("victim");
        for (rel, body) in [
            ("kimi-code.json", "victim token\n"),
            ("nested/extra.json", "victim nested\n"),
            ("device_id", "victim device\n"),
        ] {
            let p = victim.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        let two = Two {
            hostile: format!("jk-{hostile_ws}-smith"),
            other: format!("jk-{other_ws}-smith"),
            sb,
            login,
            victim,
        };
        two.state(mode, env, &hostile_ws, &other_ws);
        two
    }

    fn state(&self, mode: &str, env: &str, hostile_ws: &str, other_ws: &str) {
        self.sb.write(
            "jackin.toml",
            format!(
                r#"version = 1
project = "{project}"

[settings]
restart = "never"

[auth.kimi]
mode = "{mode}"

[env]
{env}

[roles.smith]
image = "{image}"
agents = ["kimi"]

[workspaces.{hostile_ws}.roles.smith]
[workspaces.{other_ws}.roles.smith]
"#,
                project = self.sb.project(),
                image = agent_image(),
            ),
        );
    }

    /// Switch the auth mode (the instances and env stay as they are, so nothing is recreated).
    fn mode(&self, mode: &str) {
        let path = self.sb.work().join("jackin.toml");
        let body = std::fs::read_to_string(&path).unwrap();
        let start = body.find("mode = \"").unwrap() + 8;
        let end = start + body[start..].find('"').unwrap();
        std::fs::write(&path, format!("{}{mode}{}", &body[..start], &body[end..])).unwrap();
    }

    fn handoff(&self) -> PathBuf {
        self.sb.handoff_dir(&self.hostile, "kimi")
    }

    /// A new host token; returns it.
    fn rotate_host_token(&self, tag: &str) -> String {
        let token = format!("SECRET-{}-token-{tag}", self.sb.project());
        std::fs::write(
            self.login.dir.join("credentials/kimi-code.json"),
            format!("{{\"access_token\":\"{token}\"}}\n"),
        )
        .unwrap();
        token
    }

    /// The token file as the agent in `container` reads it.
    fn token_in(&self, container: &str) -> String {
        exec(
            container,
            &["cat", "/jackin/kimi/credentials/kimi-code.json"],
        )
    }
}

/// Exit 0, or 1 with only the hostile instance's E042: anything else is jackin tripping.
/// Returns whether the race showed (E042).
#[track_caller]
fn converged_or_hostile(run: &Run, hostile: &str) -> bool {
    match run.code {
        0 => false,
        1 => {
            let all = run.all();
            assert!(all.contains("E042") && all.contains(hostile), "{run:?}");
            for code in ["E013", "E040", "E020", "E021"] {
                assert!(!all.contains(code), "{code}: {run:?}");
            }
            true
        }
        _ => panic!("unexpected exit: {run:?}"),
    }
}

/// The largest resident set (KiB) of any child this test process has waited for: jackin's
/// runs and the docker CLI calls the tests make. Read from the OS, not measured by a clock.
#[allow(
    unsafe_code,
    reason = "getrusage(2) is the OS's own peak-RSS figure; neither std nor rustix wraps it"
)]
fn children_peak_rss_kib() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one `rusage` into the pointer it is given; the buffer is
    // zero-initialised and only read after the call reports success.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()) };
    assert_eq!(rc, 0, "getrusage");
    // SAFETY: initialised by the successful call above.
    unsafe { usage.assume_init() }.ru_maxrss
}

// ---------------------------------------------------------------------------
// The racer: RENAME_EXCHANGE between a managed directory and a link to the victim
// ---------------------------------------------------------------------------

struct Racer {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<u64>,
}

impl Racer {
    /// Swap `dir/name` with `dir/.swap` (a symlink to `victim`) as fast as possible, as an
    /// agent looping `renameat2(RENAME_EXCHANGE)` would; re-plant the link whenever jackin
    /// replaced it. Returns the number of successful swaps when stopped.
    fn start(dir: PathBuf, name: &'static str, victim: PathBuf) -> Racer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let (a, b) = (dir.join(name), dir.join(".swap"));
            let mut swaps = 0u64;
            let mut junk = 0u64;
            while !flag.load(Ordering::Relaxed) {
                let is_link = |p: &Path| {
                    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
                };
                if !is_link(&a) && !is_link(&b) {
                    if std::fs::symlink_metadata(&b).is_ok() {
                        junk += 1;
                        let _ = std::fs::rename(&b, dir.join(format!(".junk-{junk}")));
                    }
                    let _ = symlink(&victim, &b);
                }
                if renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE).is_ok() {
                    swaps += 1;
                }
            }
            // Leave the directory where the agent expects it.
            if std::fs::symlink_metadata(&a).is_ok_and(|m| m.file_type().is_symlink()) {
                let _ = renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE);
            }
            let _ = std::fs::remove_file(&b);
            swaps
        });
        Racer { stop, handle }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("racer thread")
    }
}

/// Sync, with the host changing every apply (every seventh apply deletes a host file, so the
/// purge path races too, and the next one brings it back).
#[test]
fn racing_symlink_swaps_never_reach_the_victim_in_sync() {
    let two = Two::new("sync", "");
    two.sb.jackin(&["apply"]).expect_ok();
    let victim = snapshot(&two.victim);
    let racer = Racer::start(two.handoff(), "credentials", two.victim.clone());
    let nested = two.login.dir.join("credentials/nested/extra.json");
    let mut hit = 0;
    for i in 0..RACED_APPLIES {
        two.rotate_host_token(&i.to_string());
        match i % 7 {
            0 => std::fs::remove_file(&nested).unwrap(),
            1 => std::fs::write(&nested, format!("{{\"n\":{i}}}\n")).unwrap(),
            _ => {}
        }
        hit += usize::from(converged_or_hostile(
            &two.sb.jackin(&["apply"]),
            &two.hostile,
        ));
    }
    let swaps = racer.stop();
    eprintln!("sync: {RACED_APPLIES} applies raced, {swaps} swaps, {hit} reported E042");
    assert!(swaps > RACED_APPLIES as u64, "the race ran: {swaps} swaps");
    assert_eq!(snapshot(&two.victim), victim, "the victim folder changed");
    let token = two.rotate_host_token("final");
    two.sb.jackin(&["apply"]).expect_ok();
    for c in [&two.hostile, &two.other] {
        assert!(two.token_in(c).contains(&token), "{c} has the last token");
    }
}

/// `api_key` and `ignore` purge what jackin forwarded: each raced purge follows a raced sync
/// that forwarded the files again.
fn racing_purges(mode: &str, env: &str) {
    let two = Two::new("sync", env);
    two.sb.jackin(&["apply"]).expect_ok();
    let victim = snapshot(&two.victim);
    let racer = Racer::start(two.handoff(), "credentials", two.victim.clone());
    let mut hit = 0;
    for i in 0..RACED_APPLIES {
        let purging = i % 2 == 1;
        two.mode(if purging { mode } else { "sync" });
        two.rotate_host_token(&i.to_string());
        hit += usize::from(converged_or_hostile(
            &two.sb.jackin(&["apply"]),
            &two.hostile,
        ));
    }
    let swaps = racer.stop();
    eprintln!("{mode}: {RACED_APPLIES} applies raced, {swaps} swaps, {hit} reported E042");
    assert!(swaps > RACED_APPLIES as u64, "the race ran: {swaps} swaps");
    assert_eq!(snapshot(&two.victim), victim, "the victim folder changed");
    two.mode(mode);
    two.sb.jackin(&["apply"]).expect_ok();
    let left = exec(&two.other, &["ls", "-A", "/jackin/kimi"]);
    assert!(
        !left.contains("config.toml"),
        "{mode} purged the other: {left}"
    );
}

#[test]
fn racing_symlink_swaps_never_reach_the_victim_in_api_key() {
    racing_purges(
        "api_key",
        "KIMI_API_KEY = \"sk-hostile-test\"\nKIMI_BASE_URL = \"https://kimi.invalid/v1\"\nKIMI_MODEL_NAME = \"m\"",
    );
}

#[test]
fn racing_symlink_swaps_never_reach_the_victim_in_ignore() {
    racing_purges("ignore", "");
}

#[test]
fn racing_symlink_swaps_never_reach_the_victim_during_watch() {
    let two = Two::new("sync", "");
    two.sb.jackin(&["apply"]).expect_ok();
    let victim = snapshot(&two.victim);
    let mut watch = two
        .sb
        .jackin_spawn(&["watch", "--debounce-ms", "20", "--resync-secs", "1"], &[]);
    watch.wait_for_output("watching", Duration::from_secs(60));
    let racer = Racer::start(two.handoff(), "credentials", two.victim.clone());
    let other = two.sb.handoff_dir(&two.other, "kimi");
    for i in 0..100 {
        let token = two.rotate_host_token(&format!("w{i}"));
        wait_until(
            "watch hands the token to the other instance",
            Duration::from_secs(60),
            || {
                std::fs::read_to_string(other.join("credentials/kimi-code.json"))
                    .is_ok_and(|t| t.contains(&token))
            },
        );
    }
    let swaps = racer.stop();
    assert!(swaps > 100, "the race ran: {swaps} swaps");
    eprintln!("watch: 100 rotations converged under the race, {swaps} swaps");
    assert!(!watch.exited(), "watch keeps going: {}", watch.all());
    watch.signal(libc::SIGTERM);
    watch.wait(JACKIN_TIMEOUT).expect_ok();
    assert_eq!(snapshot(&two.victim), victim, "the victim folder changed");
}

// ---------------------------------------------------------------------------
// Static hostile entries
// ---------------------------------------------------------------------------

/// Apply once, let `plant` attack the hostile handoff, change the host token, apply again.
/// Returns the second run and the new token, after checking what holds in every case: the
/// run exits, the other instance (and the hostile one: its other files still converge) has
/// the new token, nothing outside `$JACKIN_HOME` changed, memory stayed bounded, and
/// `status` lists both instances.
fn attacked(plant: impl FnOnce(&Two, &Path)) -> (Two, Run, String) {
    let two = Two::new("sync", "");
    two.sb.jackin(&["apply"]).expect_ok();
    plant(&two, &two.handoff());
    let token = two.rotate_host_token("after");
    let outside = (snapshot(&two.victim), snapshot(two.sb.home()));
    let run = two.sb.jackin(&["apply"]);
    assert!(
        children_peak_rss_kib() < RSS_BOUND_KIB,
        "peak RSS {} KiB",
        children_peak_rss_kib()
    );
    assert_eq!(
        (snapshot(&two.victim), snapshot(two.sb.home())),
        outside,
        "something outside $JACKIN_HOME changed"
    );
    for c in [&two.other, &two.hostile] {
        assert!(two.token_in(c).contains(&token), "{c}: {run:?}");
    }
    let status = two.sb.jackin(&["status"]);
    status.expect_ok();
    for c in [&two.other, &two.hostile] {
        assert!(status.stdout.contains(c.as_str()), "{status:?}");
    }
    (two, run, token)
}

/// The hostile instance fails with E042 naming `path`, the other converges, and status
/// shows the problem.
#[track_caller]
fn kept_and_reported(two: &Two, run: &Run, path: &str, what: &str) {
    run.expect_code(1);
    let line = format!("kimi handoff entry {path} is {what}; jackin keeps it and never reads it");
    assert!(run.all().contains(&line), "{run:?}");
    assert!(
        run.stderr.contains("error[E041]: 1 of the planned"),
        "{run:?}"
    );
    let status = two.sb.jackin(&["status"]);
    assert!(
        status.stdout.contains(&format!("error[E042]: {line}")),
        "{status:?}"
    );
}

/// Replace whatever is at `path` with a FIFO.
fn fifo_at(path: &Path) {
    let _ = std::fs::remove_file(path);
    mkfifo(path);
}

#[test]
fn a_fifo_at_a_managed_path_is_kept_reported_and_never_opened_for_reading() {
    let (two, run, _) = attacked(|_, h| fifo_at(&h.join("device_id")));
    kept_and_reported(&two, &run, "device_id", "a FIFO");
}

#[test]
fn a_fifo_where_the_host_changed_is_replaced_by_the_host_copy() {
    let (two, run, token) = attacked(|_, h| fifo_at(&h.join("credentials/kimi-code.json")));
    run.expect_ok();
    assert!(
        run.stdout
            .contains("kimi/credentials/kimi-code.json was a FIFO; the host copy replaces it"),
        "{run:?}"
    );
    let file = two.handoff().join("credentials/kimi-code.json");
    assert!(std::fs::symlink_metadata(&file).unwrap().is_file());
    assert!(std::fs::read_to_string(file).unwrap().contains(&token));
}

#[test]
fn a_fifo_swapped_in_and_out_during_applies_never_hangs_them() {
    let two = Two::new("sync", "");
    two.sb.jackin(&["apply"]).expect_ok();
    let h = two.handoff();
    fifo_at(&h.join(".fifo"));
    let racer = Racer::start(h.clone(), "device_id", two.victim.clone());
    // A second racer thread swaps a FIFO with the token file the host keeps changing.
    let fifo_racer = {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (a, b) = (h.join("credentials/kimi-code.json"), h.join(".fifo"));
        let handle = std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !flag.load(Ordering::Relaxed) {
                if renameat_with(CWD, &a, CWD, &b, RenameFlags::EXCHANGE).is_ok() {
                    swaps += 1;
                }
            }
            swaps
        });
        Racer { stop, handle }
    };
    for i in 0..60 {
        two.rotate_host_token(&i.to_string());
        let _ = converged_or_hostile(&two.sb.jackin(&["apply"]), &two.hostile);
    }
    assert!(fifo_racer.stop() > 0 && racer.stop() > 0, "the races ran");
}

#[test]
fn a_socket_at_a_managed_path_is_kept_and_reported() {
    let (two, run, _) = attacked(|_, h| {
        std::fs::remove_file(h.join("device_id")).unwrap();
        let listener = std::os::unix::net::UnixListener::bind(h.join("device_id")).unwrap();
        std::mem::forget(listener); // the socket file stays for the test's life
    });
    kept_and_reported(&two, &run, "device_id", "a socket");
}

#[test]
fn a_1_tib_sparse_file_is_never_read_and_memory_stays_bounded() {
    let (two, run, _) = attacked(|_, h| {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(h.join("device_id"))
            .unwrap();
        f.set_len(1 << 40).unwrap();
    });
    kept_and_reported(&two, &run, "device_id", "a file larger than 16 MiB");
    eprintln!(
        "peak RSS of any child so far: {} KiB",
        children_peak_rss_kib()
    );
}

/// 3,000 directories deep, built through handles (the path is too long for one call).
fn deep_tree(at: &Path) {
    std::fs::create_dir_all(at).unwrap();
    let mut cur = std::fs::File::open(at).unwrap();
    for _ in 0..3000 {
        let _ = rustix::fs::mkdirat(&cur, "d", rustix::fs::Mode::RWXU);
        let fd = rustix::fs::openat(
            &cur,
            "d",
            rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::RDONLY,
            rustix::fs::Mode::empty(),
        )
        .unwrap();
        cur = std::fs::File::from(fd);
    }
}

#[test]
fn a_3000_deep_tree_costs_nothing_where_the_rules_do_not_look_and_is_kept_where_they_do() {
    let (two, run, _) = attacked(|_, h| {
        deep_tree(&h.join("sessions"));
        std::fs::remove_file(h.join("device_id")).unwrap();
        deep_tree(&h.join("device_id"));
    });
    kept_and_reported(&two, &run, "device_id", "a directory");
    assert!(!run.all().contains("sessions"), "{run:?}");
    // --purge-removed takes the whole tree away once the instance is gone.
    let body = std::fs::read_to_string(two.sb.work().join("jackin.toml")).unwrap();
    let hostile_ws = two
        .hostile
        .trim_start_matches("jk-")
        .trim_end_matches("-smith");
    let body = body.replace(&format!("[workspaces.{hostile_ws}.roles.smith]\n"), "");
    two.sb.write("jackin.toml", body);
    two.sb.jackin(&["apply", "--purge-removed"]).expect_ok();
    let inst = two.sb.jackin_home().join("data").join(&two.hostile);
    assert!(!inst.exists(), "the instance folder is gone");
}

#[test]
fn a_symlink_at_a_managed_path_is_kept_and_never_followed() {
    let (two, run, _) = attacked(|two, h| {
        std::fs::remove_file(h.join("device_id")).unwrap();
        symlink(two.victim.join("device_id"), h.join("device_id")).unwrap();
    });
    kept_and_reported(&two, &run, "device_id", "a symbolic link");
}

#[test]
fn a_symlink_where_the_host_changed_is_replaced_not_written_through() {
    let (two, run, token) = attacked(|two, h| {
        std::fs::remove_file(h.join("credentials/kimi-code.json")).unwrap();
        symlink(
            two.victim.join("kimi-code.json"),
            h.join("credentials/kimi-code.json"),
        )
        .unwrap();
    });
    run.expect_ok();
    assert!(
        run.stdout
            .contains("was a symbolic link; the host copy replaces it"),
        "{run:?}"
    );
    let file = two.handoff().join("credentials/kimi-code.json");
    assert!(std::fs::read_to_string(file).unwrap().contains(&token));
}

#[test]
fn a_symlinked_credentials_folder_is_replaced_by_a_real_one() {
    let (two, run, token) = attacked(|two, h| {
        std::fs::rename(h.join("credentials"), h.join("old-credentials")).unwrap();
        symlink(&two.victim, h.join("credentials")).unwrap();
    });
    run.expect_ok();
    let creds = two.handoff().join("credentials");
    assert!(std::fs::symlink_metadata(&creds).unwrap().is_dir());
    assert!(std::fs::read_to_string(creds.join("kimi-code.json"))
        .unwrap()
        .contains(&token));
}

#[test]
fn an_installer_symlink_where_the_rules_do_not_look_changes_nothing() {
    let (_, run, _) = attacked(|_, h| {
        std::fs::create_dir_all(h.join("bin")).unwrap();
        symlink("/usr/local/lib/kimi/kimi", h.join("bin/kimi")).unwrap();
        symlink("/", h.join("root-link")).unwrap();
    });
    run.expect_ok();
    assert!(!run.all().contains("bin/kimi"), "{run:?}");
}

#[test]
fn names_that_are_not_utf8_are_synced_as_bytes_and_container_ones_change_nothing() {
    let two = Two::new("sync", "");
    let host_name = b"caf\xe9.json";
    let host_file = two
        .login
        .dir
        .join("credentials")
        .join(std::ffi::OsStr::from_bytes(host_name));
    std::fs::write(&host_file, b"{\"latin1\":true}\n").unwrap();
    let run = two.sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout.contains("kimi/credentials/caf\\xe9.json"),
        "{run:?}"
    );
    let listed = exec(&two.other, &["ls", "/jackin/kimi/credentials"]);
    assert!(listed.contains("caf"), "{listed}");
    let synced = std::fs::read(
        two.sb
            .handoff_dir(&two.other, "kimi")
            .join("credentials")
            .join(std::ffi::OsStr::from_bytes(host_name)),
    )
    .unwrap();
    assert_eq!(synced, b"{\"latin1\":true}\n");

    // The container makes names of its own that are not UTF-8, one of them one lossy
    // conversion away from the host's.
    let h = two.handoff();
    for name in [&b"caf\xef.json"[..], b"\xff\xfe", b"sessions"] {
        std::fs::write(
            h.join("credentials")
                .join(std::ffi::OsStr::from_bytes(name)),
            b"x",
        )
        .unwrap();
    }
    let started = inspect(&two.hostile, "{{.State.StartedAt}}");
    let plan = two.sb.jackin(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 0, "no change, no restart: {plan:?}");
    two.sb.jackin(&["apply"]).expect_ok();
    assert_eq!(inspect(&two.hostile, "{{.State.StartedAt}}"), started);
    assert!(h
        .join("credentials")
        .join(std::ffi::OsStr::from_bytes(b"\xff\xfe"))
        .exists());
}

#[test]
fn watch_reports_a_lasting_handoff_problem_once_and_keeps_converging_the_rest() {
    let two = Two::new("sync", "");
    two.sb.jackin(&["apply"]).expect_ok();
    fifo_at(&two.handoff().join("device_id"));
    let mut watch = two
        .sb
        .jackin_spawn(&["watch", "--debounce-ms", "20", "--resync-secs", "1"], &[]);
    watch.wait_for_output("watching", Duration::from_secs(60));
    let other = two.sb.handoff_dir(&two.other, "kimi");
    for i in 0..5 {
        let token = two.rotate_host_token(&format!("p{i}"));
        wait_until(
            "the other instance converges",
            Duration::from_secs(60),
            || {
                std::fs::read_to_string(other.join("credentials/kimi-code.json"))
                    .is_ok_and(|t| t.contains(&token))
            },
        );
    }
    assert!(!watch.exited(), "watch keeps going: {}", watch.all());
    watch.signal(libc::SIGTERM);
    let run = watch.wait(JACKIN_TIMEOUT);
    let reported = run
        .all()
        .matches("kimi handoff entry device_id is a FIFO")
        .count();
    // Once in the first pass's plan and once as that pass's failure; never again.
    assert!(
        (1..=2).contains(&reported),
        "reported {reported} times: {run:?}"
    );
}
