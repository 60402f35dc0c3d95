//! The agent really gets the login (issue 10): the real Kimi CLI (`kimi-cli` 1.52.0 from
//! PyPI, in an image built by `scripts/real-kimi-image.sh`) runs as the image's non-root
//! user, and its own code — `kimi_cli.config.load_config`, `kimi_cli.auth.oauth.load_tokens`,
//! `get_device_id`, `save_tokens`, `kimi_cli.llm.augment_provider_with_env_vars` — reads what
//! jackin handed over, inside the container, as the user the container runs as.

use crate::common::*;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::Path;
use std::sync::OnceLock;

/// The real-client image (built and cached by tag; about two minutes the first time).
fn real_kimi_image() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| image_from_script("scripts/real-kimi-image.sh", &["kimi"]))
}

/// The same base with the agent binary where the Kimi Code installer puts it
/// (`~/.kimi-code/bin/kimi`, first on PATH).
fn real_kimi_code_image() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| image_from_script("scripts/real-kimi-image.sh", &["kimi-code"]))
}

/// A login as `kimi login` writes it: the model, the OAuth token, the device id.
struct RealLogin {
    token: String,
    device: String,
    model: &'static str,
}

fn real_login(sb: &Sandbox) -> RealLogin {
    let login = RealLogin {
        token: format!("at-{}", sb.project()),
        device: format!("dev{}", sb.project()),
        model: "kimi-code/kimi-for-coding",
    };
    sb.write_home(
        ".kimi/config.toml",
        format!(
            r#"default_model = "{model}"

[models."{model}"]
provider = "managed:kimi-code"
model = "kimi-for-coding"
max_context_size = 262144

[providers."managed:kimi-code"]
type = "kimi"
base_url = "https://api.kimi.com/coding/v1"
api_key = ""
oauth = {{ storage = "file", key = "oauth/kimi-code" }}
"#,
            model = login.model
        ),
    );
    write_token(sb, &login.token);
    sb.write_home(".kimi/device_id", &login.device);
    login
}

fn write_token(sb: &Sandbox, token: &str) {
    sb.write_home(
        ".kimi/credentials/kimi-code.json",
        format!(
            r#"{{"access_token": "{token}", "refresh_token": "rt-{token}", "expires_at": 4102444800.0, "scope": "kimi-code", "token_type": "Bearer", "expires_in": 900.0}}"#
        ),
    );
}

/// One instance of the real image; `user` and `auth` lines go into the role and the global
/// `[auth.kimi]` table.
fn state(sb: &Sandbox, ws: &str, user: &str, auth: &str, env: &str) -> String {
    format!(
        r#"version = 1
project = "{project}"

[auth.kimi]
{auth}

[env]
{env}

[roles.smith]
image = "{image}"
agents = ["kimi"]
{user}

[workspaces.{ws}.roles.smith]
"#,
        project = sb.project(),
        image = real_kimi_image(),
    )
}

/// What the real client reads, as the container's user: default model, access token and
/// device id, one per line.
const READ_LOGIN: &str = "from kimi_cli.config import load_config\nfrom kimi_cli.auth.oauth import load_tokens, get_device_id\nc = load_config()\np = c.providers[c.models[c.default_model].provider]\nt = load_tokens(p.oauth)\nprint(c.default_model)\nprint(t.access_token if t else 'NO-TOKEN')\nprint(get_device_id())";

fn python(container: &str, code: &str) -> String {
    exec(container, &["/opt/kimi/bin/python", "-c", code])
}

#[track_caller]
fn reads_login(container: &str, login: &RealLogin, token: &str) {
    let out = python(container, READ_LOGIN);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, [login.model, token, login.device.as_str()], "{out}");
}

#[test]
fn the_real_kimi_cli_reads_the_handed_off_login_as_the_images_non_root_user() {
    let sb = Sandbox::new();
    let login = real_login(&sb);
    let ws = sb.workspace("real");
    let c = format!("jk-{ws}-smith");
    sb.write("jackin.toml", state(&sb, &ws, "", "mode = \"sync\"", ""));
    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(
        exec(&c, &["id", "-u"]).trim(),
        "1000",
        "the image's own user"
    );
    reads_login(&c, &login, &login.token);
    assert!(
        docker(&["logs", &c]).contains("--yolo"),
        "the agent was launched"
    );
}

#[test]
fn a_token_refresh_inside_the_container_is_kept_and_a_host_relogin_then_wins() {
    let sb = Sandbox::new();
    let login = real_login(&sb);
    let ws = sb.workspace("rotate");
    let c = format!("jk-{ws}-smith");
    sb.write("jackin.toml", state(&sb, &ws, "", "mode = \"sync\"", ""));
    sb.jackin(&["apply"]).expect_ok();
    let started = inspect(&c, "{{.State.StartedAt}}");

    // The agent refreshes its token the way kimi-cli does (temp file, rename).
    python(
        &c,
        "from kimi_cli.config import load_config\nfrom kimi_cli.auth.oauth import load_tokens, save_tokens\nc = load_config()\nref = c.providers[c.models[c.default_model].provider].oauth\nt = load_tokens(ref)\nt.access_token = 'at-refreshed-inside'\nsave_tokens(ref, t)",
    );
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.stdout
            .contains("keep kimi/credentials/kimi-code.json: changed inside the container"),
        "{run:?}"
    );
    assert_eq!(inspect(&c, "{{.State.StartedAt}}"), started, "no restart");
    reads_login(&c, &login, "at-refreshed-inside");

    write_token(&sb, "at-host-relogin");
    sb.jackin(&["apply"]).expect_ok();
    reads_login(&c, &login, "at-host-relogin");
}

#[test]
fn ignore_keeps_the_agents_own_sessions_and_api_key_keeps_its_own_login_with_a_warning() {
    let sb = Sandbox::new();
    real_login(&sb);
    let ws = sb.workspace("modes");
    let c = format!("jk-{ws}-smith");
    let key = format!("sk-{}", sb.project());
    let env = format!(
        "KIMI_API_KEY = \"{key}\"\nKIMI_BASE_URL = \"https://kimi.invalid/v1\"\nKIMI_MODEL_NAME = \"m\""
    );
    sb.write("jackin.toml", state(&sb, &ws, "", "mode = \"sync\"", &env));
    sb.jackin(&["apply"]).expect_ok();
    sh(&c, "mkdir -p $KIMI_SHARE_DIR/sessions/s1 && echo hi > $KIMI_SHARE_DIR/sessions/s1/context.jsonl");

    sb.write(
        "jackin.toml",
        state(&sb, &ws, "", "mode = \"ignore\"", &env),
    );
    sb.jackin(&["apply"]).expect_ok();
    let left = sh(&c, "cd $KIMI_SHARE_DIR && find . -type f | sort");
    assert_eq!(left.trim(), "./sessions/s1/context.jsonl", "{left}");

    // api_key: the agent logs in by itself; jackin keeps that login and warns.
    sb.write(
        "jackin.toml",
        state(&sb, &ws, "", "mode = \"api_key\"", &env),
    );
    sb.jackin(&["apply"]).expect_ok();
    python(
        &c,
        "from kimi_cli.config import OAuthRef\nfrom kimi_cli.auth.oauth import save_tokens, OAuthToken\nsave_tokens(OAuthRef(storage='file', key='oauth/kimi-code'), OAuthToken(access_token='at-own', refresh_token='rt', expires_at=4102444800.0, scope='kimi-code', token_type='Bearer'))",
    );
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(
        run.all().contains("has its own kimi login at credentials")
            && run.all().contains("may use it instead of KIMI_API_KEY"),
        "{run:?}"
    );
    let status = sb.jackin(&["status"]);
    assert!(
        status.stdout.contains("warning:")
            && status
                .stdout
                .contains("has its own kimi login at credentials"),
        "status warns too: {status:?}"
    );
    assert!(sh(&c, "cat $KIMI_SHARE_DIR/credentials/kimi-code.json").contains("at-own"));
    let seen = python(
        &c,
        "from kimi_cli.config import LLMProvider, LLMModel\nfrom kimi_cli.llm import augment_provider_with_env_vars as a\np = LLMProvider(type='kimi', base_url='', api_key='')\nm = LLMModel(provider='', model='', max_context_size=1)\na(p, m)\nprint(p.api_key.get_secret_value())",
    );
    assert_eq!(seen.trim(), key);
}

#[test]
fn a_uid_the_image_does_not_know_still_reads_its_login() {
    let sb = Sandbox::new();
    let login = real_login(&sb);
    let ws = sb.workspace("uid");
    let c = format!("jk-{ws}-smith");
    sb.write(
        "jackin.toml",
        state(&sb, &ws, "user = \"4242:4242\"", "mode = \"sync\"", ""),
    );
    sb.jackin(&["apply"]).expect_ok();
    assert_eq!(exec(&c, &["id", "-u"]).trim(), "4242");
    reads_login(&c, &login, &login.token);
}

/// jackin as a regular user (uid 4343): `user = "host"` runs the container as that uid,
/// which can then read what jackin wrote; without it, the image's uid 1000 could not, and
/// the plan says so with both uids and the fix.
#[test]
fn jackin_as_a_regular_user_hands_over_with_user_host_and_explains_the_mismatch_without() {
    let sb = Sandbox::new();
    let login = real_login(&sb);
    let ws = sb.workspace("nonroot");
    let c = format!("jk-{ws}-smith");
    // The sandbox becomes the regular user's: its folders, and an engine socket it may use.
    const UID: u32 = 4343;
    std::fs::set_permissions(sb.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for dir in [sb.home(), sb.jackin_home(), sb.work()] {
        chown_tree(&dir, UID);
    }
    let sock_dir = sb.root().join("engine");
    std::fs::create_dir(&sock_dir).unwrap();
    let sock = sock_dir.join("docker.sock");
    let _proxy = DockerProxy::start(&sock);
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    let host = format!("unix://{}", sock.display());
    let as_user = [
        "setpriv",
        "--reuid=4343",
        "--regid=4343",
        "--clear-groups",
        "--",
    ];

    sb.write("jackin.toml", state(&sb, &ws, "", "mode = \"sync\"", ""));
    chown_tree(&sb.work(), UID);
    let run = sb
        .jackin_spawn_under(&as_user, &["apply"], &[("DOCKER_HOST", &host)])
        .wait(JACKIN_TIMEOUT);
    run.expect_code(1);
    assert!(
        run.all()
            .contains("the container runs as uid 1000, but jackin runs as uid 4343"),
        "{run:?}"
    );
    assert!(
        run.all().contains("user = \\\"host\\\"") || run.all().contains("user = \"host\""),
        "{run:?}"
    );
    assert!(!container_exists(&c), "nothing was created");

    sb.write(
        "jackin.toml",
        state(&sb, &ws, "user = \"host\"", "mode = \"sync\"", ""),
    );
    chown_tree(&sb.work(), UID);
    sb.jackin_spawn_under(&as_user, &["apply"], &[("DOCKER_HOST", &host)])
        .wait(JACKIN_TIMEOUT)
        .expect_ok();
    assert_eq!(exec(&c, &["id", "-u"]).trim(), "4343");
    reads_login(&c, &login, &login.token);
}

fn chown_tree(path: &Path, uid: u32) {
    chown(path, Some(uid), Some(uid)).unwrap();
    if std::fs::symlink_metadata(path).unwrap().is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid);
        }
    }
}

#[test]
fn kimi_code_launches_from_its_own_folder_and_finds_its_login_under_kimi_code_home() {
    let sb = Sandbox::new();
    let token = format!("at-code-{}", sb.project());
    sb.write_home(".kimi-code/config.toml", "default_model = \"k\"\n");
    sb.write_home(
        ".kimi-code/credentials/kimi-code.json",
        format!("{{\"access_token\": \"{token}\"}}"),
    );
    sb.write_home(".kimi-code/device_id", "dev-code");
    let ws = sb.workspace("code");
    let c = format!("jk-{ws}-smith");
    sb.write(
        "jackin.toml",
        format!(
            "version = 1\nproject = \"{p}\"\n[roles.smith]\nimage = \"{img}\"\nagents = [\"kimi-code\"]\n[workspaces.{ws}.roles.smith]\n",
            p = sb.project(),
            img = real_kimi_code_image(),
        ),
    );
    sb.jackin(&["apply"]).expect_ok();
    assert!(container_running(&c));
    let logs = docker(&["logs", &c]);
    assert!(
        logs.contains("kimi-recorder: /home/agent/.kimi-code/bin/kimi") && logs.contains("--yolo"),
        "the image's own binary launched: {logs}"
    );
    let seen = sh(
        &c,
        "echo $KIMI_CODE_HOME; cat \"$KIMI_CODE_HOME/credentials/kimi-code.json\"; id -u",
    );
    assert!(seen.starts_with("/jackin/kimi-code\n"), "{seen}");
    assert!(
        seen.contains(&token) && seen.trim_end().ends_with("1000"),
        "{seen}"
    );
    assert!(
        exec(&c, &["ls", "/home/agent/.kimi-code/bin"]).contains("kimi"),
        "the handoff hides nothing the image installed"
    );
}

/// kimi-cli's own request path, as `KimiCLI.create` (`src/kimi_cli/app.py`) takes it when
/// config.toml defines no model (api_key mode: jackin purged the synced one): a provider of
/// type `kimi` with an empty base URL, the env overrides, `create_llm`, then one generation.
/// Prints the reply, or `LLM not set` when kimi would start with no model.
const ONE_REQUEST: &str = r#"
import asyncio
from pydantic import SecretStr
from kimi_cli.config import LLMModel, LLMProvider
from kimi_cli.llm import augment_provider_with_env_vars, create_llm
from kosong import generate
from kosong.message import Message
model = LLMModel(provider="", model="", max_context_size=100_000)
provider = LLMProvider(type="kimi", base_url="", api_key=SecretStr(""))
augment_provider_with_env_vars(provider, model)
llm = create_llm(provider, model)
if llm is None:
    print("LLM not set")
else:
    result = asyncio.run(generate(llm.chat_provider, "", [], [Message(role="user", content="hi")]))
    print(result.message.extract_text())
"#;

#[test]
fn api_key_mode_makes_kimi_clis_own_request_with_the_key_the_base_url_and_the_roles_model() {
    use crate::common::provider::{self, FakeProvider};
    let sb = Sandbox::new();
    real_login(&sb);
    let ws = sb.workspace("kimikey");
    let c = format!("jk-{ws}-smith");
    let key = format!("sk-kimi-{}", sb.project());
    let env = format!(
        "KIMI_API_KEY = \"{key}\"\nKIMI_BASE_URL = \"https://api.moonshot.ai/v1\"\n{}",
        provider::env_toml()
    );
    let body = state(&sb, &ws, "", "mode = \"api_key\"", &env)
        + "[roles.smith.kimi]\nmodel = \"kimi-k2-turbo-preview\"\n";
    sb.write("jackin.toml", body);
    let run = sb.jackin(&["apply"]);
    run.expect_ok();
    assert!(!run.all().contains(&key), "{run:?}");
    // The role's model reaches the client as KIMI_MODEL_NAME, not as a --model alias.
    let args = exec(&c, &["cat", "/tmp/agent.args"]);
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        ["kimi", "--yolo"],
        "{args}"
    );

    provider::give_certificates(&c);
    let fake = FakeProvider::start(&c);
    assert_eq!(python(&c, ONE_REQUEST).trim(), provider::REPLY);
    let sent =
        fake.matching(|r| provider::is(r, "POST", "api.moonshot.ai", "/v1/chat/completions"));
    assert_eq!(sent.len(), 1, "{}", fake.summary());
    assert_eq!(
        provider::header(&sent[0], "authorization"),
        format!("Bearer {key}")
    );
    assert_eq!(sent[0]["body"]["model"], "kimi-k2-turbo-preview");

    // The key alone builds no model in kimi-cli (what jackin refuses below, with E010).
    let key_alone = exec(
        &c,
        &[
            "sh",
            "-c",
            "unset KIMI_BASE_URL; exec /opt/kimi/bin/python -c \"$0\"",
            ONE_REQUEST,
        ],
    );
    assert_eq!(key_alone.trim(), "LLM not set");

    // Without the base URL jackin refuses, naming it, before anything changes.
    let no_url = state(
        &sb,
        &ws,
        "",
        "mode = \"api_key\"",
        &format!("KIMI_API_KEY = \"{key}\""),
    ) + "[roles.smith.kimi]\nmodel = \"kimi-k2-turbo-preview\"\n";
    sb.write("jackin.toml", no_url);
    sb.jackin(&["plan"])
        .expect_error("E010", &["KIMI_BASE_URL is empty or unset"]);
}

#[test]
fn a_model_the_synced_config_does_not_define_is_that_instances_error_naming_the_aliases() {
    let sb = Sandbox::new();
    let login = real_login(&sb);
    let (bad, good) = (sb.workspace("badmodel"), sb.workspace("goodmodel"));
    let body = format!(
        "{}[roles.smith.kimi]\nmodel = \"kimi-k2\"\n[roles.other]\nimage = \"{}\"\nagents = [\"kimi\"]\n[roles.other.kimi]\nmodel = \"{}\"\n[workspaces.{good}.roles.other]\n",
        state(&sb, &bad, "", "mode = \"sync\"", ""),
        real_kimi_image(),
        login.model
    );
    sb.write("jackin.toml", body);
    let says = [
        "error[E050]",
        "kimi is launched with model `kimi-k2`",
        "[models] has: kimi-code/kimi-for-coding",
        "set `model` under [roles.smith.kimi] to one of the aliases",
    ];
    let plan = sb.jackin(&["plan"]);
    plan.expect_code(1);
    for s in says {
        assert!(plan.all().contains(s), "{s}: {plan:?}");
    }
    let run = sb.jackin(&["apply"]);
    run.expect_code(1);
    for s in says {
        assert!(run.all().contains(s), "{s}: {run:?}");
    }
    assert!(!container_exists(&format!("jk-{bad}-smith")), "{run:?}");
    // The other instance, whose model the config defines, converged.
    let c = format!("jk-{good}-other");
    assert!(container_running(&c), "{run:?}");
    reads_login(&c, &login, &login.token);
}
