//! SPEC v3 §3b: a refreshable login held by several holders is said before it bites, and a
//! login the agent blanked (the stub a client leaves after a failed refresh) is shown as
//! logged out and never fought over with the same spent host login.

use crate::common::*;

/// One role in two workspaces, kimi in sync from the same `~/.kimi`.
fn two_instances(sb: &Sandbox, a: &str, b: &str) -> String {
    format!(
        "version = 1\nproject = \"{}\"\n[roles.smith]\nimage = \"{}\"\nagents = [\"kimi\"]\n[workspaces.{a}.roles.smith]\n[workspaces.{b}.roles.smith]\n",
        sb.project(),
        agent_image()
    )
}

#[test]
fn two_instances_holding_one_refreshable_login_are_named_with_the_ways_out() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let (a, b) = (sb.workspace("one"), sb.workspace("two"));
    sb.write("jackin.toml", two_instances(&sb, &a, &b));
    let said = |text: &str| {
        text.contains(&format!(
            "the kimi login in {} can refresh itself and is synced to 2 instances (jk-{a}-smith, jk-{b}-smith)",
            login.dir.display()
        )) && text.contains("the first refresh logs the others and the host out")
            && text.contains("`jackin login WS/ROLE kimi`")
            && text.contains("use api_key (KIMI_API_KEY)")
    };
    let plan = sb.jackin(&["plan"]);
    plan.expect_ok();
    assert!(said(&plan.all()), "{plan:?}");
    let apply = sb.jackin(&["apply"]);
    apply.expect_ok();
    assert!(said(&apply.all()), "{apply:?}");
    login.assert_not_leaked(&apply.all());
    let status = sb.jackin(&["status", "--output", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert!(
        doc["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| said(w.as_str().unwrap())),
        "{status:?}"
    );

    let doctor = sb.jackin(&["doctor"]);
    assert!(
        doctor.stdout.contains(&format!(
            "can refresh itself, and is synced to jk-{a}-smith, jk-{b}-smith: the first refresh logs the others and the host out"
        )) && doctor.stdout.contains("`jackin login WS/ROLE kimi`"),
        "{doctor:?}"
    );

    // A login without a refresh token (an API key saved by the client) is not a shared grant.
    let keyed = r#"{"access_token":"SECRET-static-key"}"#;
    std::fs::write(login.dir.join("credentials/kimi-code.json"), keyed).unwrap();
    let plan = sb.jackin(&["plan"]);
    assert!(!plan.all().contains("can refresh itself"), "{plan:?}");
}

#[test]
fn a_login_the_agent_blanked_is_logged_out_and_the_spent_host_login_is_not_copied_again() {
    let sb = Sandbox::new();
    let login = sb.kimi_login(".kimi");
    let ws = sb.workspace("spent");
    let c = format!("jk-{ws}-smith");
    sb.write("jackin.toml", minimal_kimi_state(&sb, &ws));
    sb.jackin(&["apply"]).expect_ok();
    let started = inspect(&c, "{{.State.StartedAt}}");

    // The agent's refresh failed ("refresh token was already used"): it blanks its tokens.
    let stub = r#"{"access_token": "", "refresh_token": "", "expires_at": 0}"#;
    sh(
        &c,
        &format!("printf '%s' '{stub}' > /jackin/kimi/credentials/kimi-code.json"),
    );
    let logged_out = format!("jk-{ws}-smith: kimi is logged out in the container (kimi/credentials/kimi-code.json holds no token)");
    let plan = sb.jackin(&["plan", "--detailed-exitcode"]);
    plan.expect_code(0);
    assert!(plan.all().contains(&logged_out), "{plan:?}");
    assert!(
        plan.stdout
            .contains("keep kimi/credentials/kimi-code.json: logged out inside the container"),
        "{plan:?}"
    );
    for _ in 0..2 {
        let run = sb.jackin(&["apply"]);
        run.expect_ok();
        assert!(run.all().contains(&logged_out), "{run:?}");
        assert!(!run.stdout.contains("copy kimi/"), "{run:?}");
    }
    assert_eq!(inspect(&c, "{{.State.StartedAt}}"), started, "no restart");
    assert_eq!(
        exec(&c, &["cat", "/jackin/kimi/credentials/kimi-code.json"]),
        stub
    );
    let status = sb.jackin(&["status"]);
    assert!(status.all().contains(&logged_out), "{status:?}");

    // A host re-login is a new grant: it replaces the stub, and the warning goes.
    let relogin = r#"{"access_token":"at-new","refresh_token":"rt-new","expires_at":4102444800}"#;
    std::fs::write(login.dir.join("credentials/kimi-code.json"), relogin).unwrap();
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout
            .contains("copy kimi/credentials/kimi-code.json: changed on host"),
        "{run:?}"
    );
    assert!(!run.all().contains("logged out"), "{run:?}");
    assert_eq!(
        exec(&c, &["cat", "/jackin/kimi/credentials/kimi-code.json"]),
        relogin
    );
}
