//! Golden rules, end to end: no secret value ever appears in any output, and the host's
//! credential folders are byte-for-byte and metadata unchanged after every command.

use crate::common::*;

#[test]
fn secrets_never_appear_and_the_host_never_changes_across_every_command() {
    let sb = Sandbox::new();
    let kimi = sb.kimi_login(".kimi");
    sb.write_home(".claude/.credentials.json", "SECRET-claude-credentials");
    sb.write_home(".claude.json", "SECRET-claude-json");
    sb.write_home("secrets/openai", "SECRET-from-file\n");
    let ws = sb.workspace("secret");
    let literal = "SECRET-literal-value";
    let from_env = "SECRET-from-env";
    let rotated = "SECRET-rotated-env";
    let state = |extra: &str| {
        format!(
            r#"version = 1
project = "{p}"
[env]
LITERAL = "{literal}"
FROM_ENV = "${{JT_SECRET}}"
OPENAI_API_KEY = {{ file = "~/secrets/openai" }}
[roles.smith]
image = "{img}"
agents = ["kimi", "claude"]
[roles.smith.env]
ROLE_SECRET = "SECRET-role-layer"
[workspaces.{ws}.roles.smith]
{extra}"#,
            p = sb.project(),
            img = agent_image(),
        )
    };
    sb.write("jackin.toml", state(""));
    let mut secrets: Vec<String> = kimi.markers().iter().map(|s| s.to_string()).collect();
    secrets.extend(
        [
            literal,
            from_env,
            rotated,
            "SECRET-from-file",
            "SECRET-role-layer",
            "SECRET-claude-credentials",
            "SECRET-claude-json",
        ]
        .map(String::from),
    );
    let host = sb.home();
    let check = |label: &str, run: &Run| {
        for s in &secrets {
            assert!(
                !run.all().contains(s.as_str()),
                "{label}: {s} leaked:\n{run:?}"
            );
        }
    };

    let mut env = vec![("JT_SECRET", from_env)];
    let commands: Vec<Vec<&str>> = vec![
        vec!["validate"],
        vec!["schema"],
        vec!["plan"],
        vec!["plan", "--output", "json"],
        vec!["apply", "--output", "json"],
        vec!["apply"],
        vec!["status"],
        vec!["status", "--output", "json"],
    ];
    for args in &commands {
        let before = snapshot(&host);
        let run = sb.jackin_env(args, &env);
        run.expect_ok();
        check(&args.join(" "), &run);
        assert_eq!(
            snapshot(&host),
            before,
            "`jackin {}` changed the host",
            args.join(" ")
        );
    }

    // A rotated value: the recreate reason names the variable, never its values.
    env = vec![("JT_SECRET", rotated)];
    let plan = sb.jackin_env(&["plan"], &env);
    check("plan after rotation", &plan);
    assert!(plan.stdout.contains("env changed: FROM_ENV"), "{plan:?}");
    let apply = sb.jackin_env(&["apply", "--output", "json"], &env);
    apply.expect_ok();
    check("apply after rotation", &apply);
    crate::common::schema::assert_events_match_schema(&apply.stdout);

    // Errors: a credential mode with its variable unset, with every other secret in play.
    sb.write(
        "jackin.toml",
        state(&format!(
            "[workspaces.{ws}.roles.smith.auth.claude]\nmode = \"api_key\"\n"
        )),
    );
    let before = snapshot(&host);
    for args in [
        vec!["plan"],
        vec!["apply", "--output", "json"],
        vec!["status"],
    ] {
        let run = sb.jackin_env(&args, &env);
        run.expect_code(1);
        assert!(run.stderr.contains("error[E010]"), "{run:?}");
        check(&format!("error from {}", args.join(" ")), &run);
    }
    assert_eq!(snapshot(&host), before, "errors changed the host");
}

/// An engine that repeats what it was sent when it refuses it (the real one does so for an
/// env value it cannot take): enough of the API for one apply, answering the create with the
/// request body in its error, as text the engine controls.
struct EchoingEngine {
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl EchoingEngine {
    fn start() -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    continue;
                }
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let path = request.split_whitespace().nth(1).unwrap_or("");
                let (status, reply) = if path.contains("/containers/create") {
                    let echoed = String::from_utf8_lossy(&body).replace('"', "'");
                    (
                        "400 Bad Request",
                        format!("{{\"message\":\"invalid spec: {echoed}\"}}"),
                    )
                } else if path.contains("/containers/json") {
                    ("200 OK", "[]".to_owned())
                } else if path.contains("/images/") {
                    ("200 OK", "{\"Id\":\"sha256:feed\"}".to_owned())
                } else {
                    (
                        "200 OK",
                        "{\"ApiVersion\":\"1.41\",\"Version\":\"20.10.24\"}".to_owned(),
                    )
                };
                let mut conn = conn;
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nApi-Version: 1.41\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
        EchoingEngine { socket, _dir: dir }
    }
}

#[test]
fn env_values_the_engine_repeats_in_an_error_are_redacted() {
    let sb = Sandbox::new();
    let ws = sb.workspace("echo");
    let env = "[env]\nTOKEN = \"SECRET-echoed-literal\"\nFROM_ENV = \"$JT_ECHO\"\n";
    sb.write(
        "jackin.toml",
        kimi_state(&sb, &ws, "kimi-k2", r#"mode = "ignore""#, env),
    );
    let engine = EchoingEngine::start();
    let host = format!("unix://{}", engine.socket.display());
    for output in ["text", "json"] {
        let run = sb.jackin_env(
            &["apply", "--output", output],
            &[("DOCKER_HOST", &host), ("JT_ECHO", "SECRET-echoed-env")],
        );
        run.expect_code(1);
        let all = run.all();
        assert!(
            all.contains("invalid spec") && all.contains("[redacted]"),
            "{run:?}"
        );
        for secret in ["SECRET-echoed-literal", "SECRET-echoed-env"] {
            assert!(!all.contains(secret), "{secret} leaked: {run:?}");
        }
    }
}
