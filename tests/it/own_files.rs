//! jackin's own files (SPEC §4a): `$JACKIN_HOME` and everything jackin makes in it are private
//! whatever the umask; a home another user could write into, a planted symlink or a bad
//! fingerprint key is a clear error that changes nothing.

use crate::common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A sandbox with a Kimi login and a one-instance state for workspace `base…`.
fn setup(base: &str) -> (Sandbox, String) {
    let sb = Sandbox::new();
    sb.kimi_login(".kimi");
    let ws = sb.workspace(base);
    sb.write("jackin.toml", minimal_kimi_state(&sb, &ws));
    (sb, ws)
}

#[test]
fn a_group_writable_jackin_home_is_refused_with_chmod_700_and_nothing_is_written() {
    let (sb, ws) = setup("ghome");
    let home = sb.jackin_home();
    chmod(&home, 0o770);
    let headline = format!(
        "error[E044]: jackin's own directory {} is not private: it has mode 0770, writable by group\n",
        home.display()
    );
    for cmd in ["plan", "status", "apply"] {
        let run = sb.jackin(&[cmd]);
        run.expect_code(1);
        assert!(run.stderr.starts_with(&headline), "{cmd}: {run:?}");
        assert!(
            run.stderr
                .contains(&format!("→ what to try: chmod 700 {}", home.display())),
            "{cmd}: {run:?}"
        );
    }
    let w = sb.jackin_spawn(&["watch"], &[]);
    w.wait_for_output(&headline, Duration::from_secs(60));
    drop(w);
    sb.assert_untouched(&ws);
    assert_eq!(
        fs::read_dir(&home).unwrap().count(),
        0,
        "no key, no locks, no data"
    );
    assert_eq!(
        fs::metadata(&home).unwrap().mode() & 0o7777,
        0o770,
        "left as found"
    );
}

#[test]
fn a_symlinked_data_dir_is_refused_and_nothing_is_written_through_it() {
    let (sb, ws) = setup("sdata");
    let elsewhere = sb.root().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let data = sb.jackin_home().join("data");
    std::os::unix::fs::symlink(&elsewhere, &data).unwrap();
    let run = sb.jackin(&["apply"]);
    run.expect_code(1);
    assert!(
        run.stderr.starts_with(&format!(
            "error[E044]: jackin's own directory {} is not private: it is a symlink",
            data.display()
        )),
        "{run:?}"
    );
    assert!(
        run.stderr.contains("→ what to try: replace the symlink"),
        "{run:?}"
    );
    assert!(!container_exists(&format!("jk-{ws}-smith")), "no container");
    assert_eq!(
        fs::read_dir(&elsewhere).unwrap().count(),
        0,
        "nothing written through"
    );
    assert!(fs::symlink_metadata(&data)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn a_lock_file_symlink_is_refused_and_its_target_is_unchanged() {
    let (sb, ws) = setup("slock");
    let victim = sb.write_home("victim.txt", "do not overwrite\n");
    let locks = sb.jackin_home().join("locks");
    fs::create_dir(&locks).unwrap();
    chmod(&locks, 0o700);
    let lock = locks.join(format!("{}.lock", sb.project()));
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    let before = snapshot(sb.home());
    let run = sb.jackin(&["apply"]);
    run.expect_code(1);
    assert!(
        run.stderr.starts_with(&format!(
            "error[E044]: refusing to use lock file {}: it is a symlink\n",
            lock.display()
        )),
        "{run:?}"
    );
    assert!(
        run.stderr
            .contains(&format!("→ what to try: remove {}", lock.display())),
        "{run:?}"
    );
    assert_eq!(fs::read_to_string(&victim).unwrap(), "do not overwrite\n");
    assert_eq!(snapshot(sb.home()), before, "nothing under $HOME changed");
    sb.assert_untouched(&ws);
}

/// Makes the key with a `plan` (which writes nothing else), then damages it with `damage`.
fn with_damaged_key(base: &str, damage: impl FnOnce(&Path)) -> (Sandbox, String, Vec<u8>) {
    let (sb, ws) = setup(base);
    sb.jackin(&["plan"]).expect_ok();
    let key = sb.jackin_home().join("key");
    damage(&key);
    let bytes = fs::read(&key).unwrap();
    (sb, ws, bytes)
}

#[test]
fn a_truncated_key_is_refused_and_no_container_is_created() {
    let (sb, ws, damaged) = with_damaged_key("shortkey", |key| {
        let bytes = fs::read(key).unwrap();
        fs::write(key, &bytes[..5]).unwrap();
    });
    let key = sb.jackin_home().join("key");
    for cmd in ["plan", "apply"] {
        let run = sb.jackin(&[cmd]);
        run.expect_code(1);
        assert!(
            run.stderr.starts_with(&format!(
                "error[E045]: the fingerprint key {} is 5 bytes long, not 32; jackin will not use it\n",
                key.display()
            )),
            "{cmd}: {run:?}"
        );
        assert!(
            run.stderr.contains(&format!(
                "→ what to try: remove {} to make a new key; fingerprints in saved plans will change",
                key.display()
            )),
            "{cmd}: {run:?}"
        );
    }
    assert_eq!(fs::read(&key).unwrap(), damaged, "not regenerated");
    sb.assert_untouched(&ws);
}

#[test]
fn a_key_readable_by_others_is_refused_and_no_container_is_created() {
    let (sb, ws, bytes) = with_damaged_key("openkey", |key| chmod(key, 0o644));
    let key = sb.jackin_home().join("key");
    let run = sb.jackin(&["apply"]);
    run.expect_code(1);
    assert!(
        run.stderr.starts_with(&format!(
            "error[E045]: the fingerprint key {} has mode 0644, not 0600",
            key.display()
        )),
        "{run:?}"
    );
    assert_eq!(fs::read(&key).unwrap(), bytes);
    assert_eq!(
        fs::metadata(&key).unwrap().mode() & 0o7777,
        0o644,
        "not repaired"
    );
    sb.assert_untouched(&ws);
}

/// Every entry under `root` (and `root` itself): (relative path, mode & 07777, is dir).
fn walk(root: &Path) -> Vec<(String, u32, bool)> {
    snapshot(root)
        .0
        .into_iter()
        .map(|(rel, e)| {
            assert!(e.kind != Kind::Symlink, "{rel} is a symlink");
            (rel, e.mode & 0o7777, e.kind == Kind::Dir)
        })
        .collect()
}

#[test]
fn under_umask_000_apply_keeps_jackin_home_0700_and_its_files_0600() {
    let (sb, ws) = setup("umask");
    // jackin creates $JACKIN_HOME itself.
    fs::remove_dir(sb.jackin_home()).unwrap();
    let wrapper = ["sh", "-c", "umask 000 && exec \"$@\"", "sh"];
    let run = sb
        .jackin_spawn_under(&wrapper, &["apply"], &[])
        .wait(JACKIN_TIMEOUT);
    run.expect_ok();
    assert!(container_running(&format!("jk-{ws}-smith")));

    let tree = walk(&sb.jackin_home());
    let paths: Vec<&str> = tree.iter().map(|(p, _, _)| p.as_str()).collect();
    for must in ["key", "locks", "data"] {
        assert!(paths.contains(&must), "{must} missing from {paths:?}");
    }
    assert!(
        paths.iter().any(|p| p.ends_with("handoff/kimi/device_id")),
        "handoff written: {paths:?}"
    );
    let wrong: Vec<String> = tree
        .iter()
        .filter(|(_, mode, dir)| *mode != if *dir { 0o700 } else { 0o600 })
        .map(|(p, mode, _)| format!("{p} {mode:04o}"))
        .collect();
    assert!(wrong.is_empty(), "not 0700/0600 under umask 000: {wrong:?}");

    // A second pass under the same umask finds its own home private and changes nothing.
    let again = sb
        .jackin_spawn_under(&wrapper, &["apply"], &[])
        .wait(JACKIN_TIMEOUT);
    again.expect_ok();
    assert_eq!(walk(&sb.jackin_home()), tree);
}
