//! The rows of SPEC §4's table not covered in kimi_apply.rs, each seen from inside the
//! container: repair, kept deletions, container-owned files, host logout.

use crate::common::*;

struct Setup {
    sb: Sandbox,
    login: KimiLogin,
    c: String,
}

/// A synced kimi instance, applied once.
fn applied() -> Setup {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let ws = sb.workspace("rules");
    sb.write("jackin.toml", minimal_kimi_state(&sb, &ws));
    sb.jackin(&["apply"]).expect_ok();
    Setup {
        c: format!("jk-{ws}-smith"),
        sb,
        login,
    }
}

fn kimi(rel: &str) -> String {
    format!("/jackin/kimi/{rel}")
}

#[test]
fn a_handed_off_file_deleted_in_the_container_is_repaired_from_the_unchanged_host() {
    let Setup { sb, login, c } = applied();
    exec(&c, &["rm", &kimi("device_id")]);
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout
            .contains("copy kimi/device_id: missing from handoff"),
        "{run:?}"
    );
    assert_eq!(exec(&c, &["cat", &kimi("device_id")]), login.device_id);
}

#[test]
fn a_host_deletion_keeps_the_file_when_the_container_changed_it() {
    let Setup { sb, login, c } = applied();
    sh(
        &c,
        &format!("echo rotated > {}", kimi("credentials/nested/extra.json")),
    );
    std::fs::remove_file(login.dir.join("credentials/nested/extra.json")).unwrap();
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout.contains("keep kimi/credentials/nested/extra.json: deleted on host, but changed inside the container"),
        "{run:?}"
    );
    assert_eq!(
        exec(&c, &["cat", &kimi("credentials/nested/extra.json")]),
        "rotated\n"
    );
}

#[test]
fn files_the_container_created_are_left_alone_in_sync_mode() {
    let Setup { sb, login, c } = applied();
    sh(
        &c,
        &format!("echo state > {}", kimi("credentials/session.json")),
    );
    std::fs::write(login.dir.join("config.toml"), "changed on host\n").unwrap();
    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(
        exec(&c, &["cat", &kimi("credentials/session.json")]),
        "state\n"
    );
    assert_eq!(
        exec(&c, &["cat", &kimi("config.toml")]),
        "changed on host\n"
    );
    sb.jackin(&["plan", "--detailed-exitcode"]).expect_code(0);
}

#[test]
fn a_host_logout_keeps_the_existing_handoff_and_says_so() {
    let Setup { sb, login, c } = applied();
    std::fs::remove_file(login.dir.join("config.toml")).unwrap();
    let run = sb.jackin(&["plan", "--detailed-exitcode"]);
    run.expect_code(0);
    assert!(run.stdout.contains("note: no kimi login in"), "{run:?}");
    assert!(
        run.stdout.contains("keeping the existing handoff"),
        "{run:?}"
    );
    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(
        exec(&c, &["cat", &kimi("device_id")]),
        login.device_id,
        "handoff kept"
    );
}

#[test]
fn no_login_and_an_empty_handoff_warns_that_the_agent_starts_logged_out() {
    let sb = Sandbox::new();
    let ws = sb.workspace("nologin");
    sb.write("jackin.toml", minimal_kimi_state(&sb, &ws));
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains("kimi starts logged out"),
        "{run:?}"
    );
    assert!(container_running(&format!("jk-{ws}-smith")));
}
