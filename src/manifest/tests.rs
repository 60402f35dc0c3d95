//! Behaviour tests for loading and validation: each asserts the message an operator sees,
//! position included, for TOML and YAML where positions matter.

use super::*;
use crate::agents::{AgentKind, AuthMode};
use crate::error::{render, Coded};
use model::{AuthSpec, EnvValue};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A temp folder `…/proj/` (a valid default project name) holding `files`.
struct Repo {
    _tmp: TempDir,
    root: PathBuf,
}

fn repo(files: &[(&str, &str)]) -> Repo {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("proj");
    for (name, text) in files {
        let path = root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    std::fs::create_dir_all(&root).unwrap();
    Repo { _tmp: tmp, root }
}

/// Load from the repo root (optionally with `-f arg`) and validate; the error as displayed.
fn error_of(files: &[(&str, &str)], arg: Option<&str>) -> (String, ManifestError) {
    let r = repo(files);
    let err = load(arg.map(Path::new), &r.root)
        .and_then(|l| validate(&l))
        .expect_err("expected an error");
    (err.to_string(), err)
}

fn msg(files: &[(&str, &str)]) -> String {
    error_of(files, None).0
}

/// A state that fails validation (E004) with message `text` and the fix `hint`.
#[track_caller]
fn invalid(files: &[(&str, &str)], text: &str, hint: &str) {
    let (shown, err) = error_of(files, None);
    assert_eq!(shown, text);
    assert_eq!(err.code(), crate::error::Code::E004);
    assert_eq!(err.hint().unwrap(), hint);
}

fn ok(files: &[(&str, &str)], arg: Option<&str>) -> Loaded {
    let r = repo(files);
    let loaded = load(arg.map(Path::new), &r.root).unwrap_or_else(|e| panic!("{}", render(&e)));
    validate(&loaded).unwrap_or_else(|e| panic!("{}", render(&e)));
    loaded
}

const BASE_TOML: &str = r#"version = 1
[roles.smith]
image = "img"
agents = ["kimi", "claude"]
[workspaces.app.roles.smith]
"#;

const BASE_YAML: &str = "version: 1
roles:
  smith:
    image: img
    agents: [kimi, claude]
workspaces:
  app:
    roles:
      smith: {}
";

// ---- the SPEC §2 sample --------------------------------------------------------------

const SPEC_SAMPLE: &str = r#"version = 1
project = "acme"            # owner label on every container; default: name of the file's folder

[settings]
restart = "on-handoff-change"   # on-handoff-change | never

[auth.kimi]                 # GLOBAL scope, one table per agent
mode = "sync"               # sync | api_key | oauth_token | ignore   (default: sync)
source = "~/.kimi"          # sync source folder (default: the agent's, see §3)
# shorthand:  auth.codex = "api_key"

[env]                       # GLOBAL operator env layer
KIMI_API_KEY = "${ACME_KIMI_KEY}"   # "$NAME"/"${NAME}" = read from jackin's own environment;
LOG_FORMAT = "json"                 # anything else is a literal; "$$" is a literal "$"
OPENAI_API_KEY = { file = "~/.secrets/openai" }   # file contents, trailing newline trimmed

[roles.agent-smith]
image = "ghcr.io/acme/agent-smith:1.4"           # or: build = { context = "roles/smith", dockerfile = "Dockerfile" }
agents = ["kimi", "claude"]                      # credentials are provisioned for ALL of them
user = "1000:1000"                               # optional container user
[roles.agent-smith.kimi]
model = "kimi-k2"                                # passed as the agent's model flag
[roles.agent-smith.env]
LOG_LEVEL = "info"

[workspaces.my-app]
workdir = "/workspace/my-app"
mounts = [ { src = "~/src/my-app", dst = "/workspace/my-app", readonly = false } ]
agent = "kimi"                                   # which agent the containers launch (default: role's first)
[workspaces.my-app.auth.claude]                  # WORKSPACE scope
mode = "ignore"
[workspaces.my-app.env]
LOG_LEVEL = "debug"
[workspaces.my-app.roles.agent-smith]            # declares the instance my-app × agent-smith
agent = "kimi"                                   # optional per-instance override
[workspaces.my-app.roles.agent-smith.auth.kimi]  # WORKSPACE × ROLE scope
mode = "sync"
source = "~/.kimi-work"
[workspaces.my-app.roles.agent-smith.env]
EXTRA = "1"
"#;

#[test]
fn the_spec_sample_loads_and_validates() {
    let loaded = ok(&[("jackin.toml", SPEC_SAMPLE)], None);
    let m = &loaded.manifest;
    assert_eq!(loaded.project, "acme");
    assert_eq!(
        m.auth.get(AgentKind::Kimi).unwrap().source(),
        Some("~/.kimi")
    );
    assert_eq!(
        m.env["OPENAI_API_KEY"],
        EnvValue::File(model::EnvFile {
            file: "~/.secrets/openai".into()
        })
    );
    let ws = &m.workspaces["my-app"];
    assert_eq!(ws.mounts[0].dst, "/workspace/my-app");
    assert_eq!(
        ws.roles["agent-smith"]
            .auth
            .get(AgentKind::Kimi)
            .unwrap()
            .source(),
        Some("~/.kimi-work")
    );
    assert_eq!(
        m.roles["agent-smith"]
            .agent_settings(AgentKind::Kimi)
            .unwrap()
            .model
            .as_deref(),
        Some("kimi-k2")
    );
    // A table declared by a header is located at its name inside the header.
    let header = SPEC_SAMPLE
        .lines()
        .position(|l| l.starts_with("[workspaces.my-app.roles.agent-smith.auth.kimi]"))
        .unwrap();
    assert_eq!(
        loaded
            .locate(&[
                "workspaces",
                "my-app",
                "roles",
                "agent-smith",
                "auth",
                "kimi"
            ])
            .unwrap()
            .to_string(),
        format!("jackin.toml:{}:43", header + 1)
    );
}

#[test]
fn shorthand_auth_mode_and_env_file_parse_in_both_formats() {
    let toml =
        format!("{BASE_TOML}[auth]\ncodex = \"api_key\"\n[env]\nK = {{ file = \"k.txt\" }}\n");
    let yaml = format!("{BASE_YAML}auth:\n  codex: api_key\nenv:\n  K:\n    file: k.txt\n");
    for (name, text) in [("jackin.toml", toml), ("jackin.yaml", yaml)] {
        let m = ok(&[(name, &text)], None).manifest;
        assert_eq!(
            m.auth.codex,
            Some(AuthSpec::Mode(AuthMode::ApiKey)),
            "{name}"
        );
        assert_eq!(
            m.env["K"],
            EnvValue::File(model::EnvFile {
                file: "k.txt".into()
            })
        );
    }
}

#[test]
fn base_dir_and_default_project_come_from_the_files_folder() {
    let loaded = ok(&[("jackin.toml", BASE_TOML)], None);
    assert_eq!(loaded.project, "proj");
    assert!(loaded.base_dir.ends_with("proj"));
    assert_eq!(loaded.files.len(), 1);
}

// ---- finding the file ----------------------------------------------------------------

#[test]
fn no_state_file_is_e001_naming_the_candidates() {
    let (text, err) = error_of(&[], None);
    assert!(
        text.starts_with("no jackin.toml, jackin.yaml or jackin.yml in "),
        "{text}"
    );
    assert_eq!(err.code(), crate::error::Code::E001);
}

#[test]
fn two_state_files_in_one_folder_is_an_error_naming_both() {
    let (text, err) = error_of(
        &[("jackin.toml", BASE_TOML), ("jackin.yml", BASE_YAML)],
        None,
    );
    assert!(text.ends_with(": jackin.toml, jackin.yml"), "{text}");
    assert_eq!(
        err.hint().unwrap(),
        "keep only one of them, or pick one with `-f FILE`"
    );
}

#[test]
fn missing_f_file_is_e001() {
    let (text, err) = error_of(&[], Some("nope.toml"));
    assert_eq!(text, "nope.toml: no such file or directory");
    assert_eq!(err.code(), crate::error::Code::E001);
}

// ---- syntax, unknown keys, wrong types -----------------------------------------------

#[test]
fn toml_syntax_error_is_e002_with_position() {
    let (text, err) = error_of(&[("jackin.toml", "version = 1\n[roles\n")], None);
    assert!(text.starts_with("jackin.toml:2:"), "{text}");
    assert_eq!(err.code(), crate::error::Code::E002);
}

#[test]
fn yaml_syntax_error_is_e002_with_position() {
    let (text, err) = error_of(&[("jackin.yaml", "version: 1\nroles: [\n")], None);
    assert!(text.starts_with("jackin.yaml:"), "{text}");
    assert_eq!(err.code(), crate::error::Code::E002);
}

#[test]
fn unknown_key_points_at_the_key_and_suggests_the_closest() {
    let toml = format!("{BASE_TOML}[roles.smith.kimi]\nmodle = \"k2\"\n");
    let (text, err) = error_of(&[("jackin.toml", &toml)], None);
    assert_eq!(
        text,
        "jackin.toml:7:1: unknown key `modle` in roles.smith.kimi; did you mean `model`? expected one of: model"
    );
    assert_eq!(err.code(), crate::error::Code::E003);
    assert_eq!(
        err.hint().unwrap(),
        "run `jackin schema` to see every key and its allowed values"
    );

    let yaml = "version: 1\nroles:\n  smith:\n    image: img\n    kimi:\n      modle: k2\n";
    assert_eq!(
        msg(&[("jackin.yaml", yaml)]),
        "jackin.yaml:6:7: unknown key `modle` in roles.smith.kimi; did you mean `model`? expected one of: model"
    );
}

#[test]
fn unknown_top_level_key_lists_all_keys() {
    let text = msg(&[("jackin.toml", "verison = 1\n")]);
    assert_eq!(
        text,
        "jackin.toml:1:1: unknown key `verison` in the top level; did you mean `version`? expected one of: version, project, settings, hosts, auth, env, roles, workspaces"
    );
}

#[test]
fn bad_enum_value_points_at_the_value_and_suggests() {
    let toml = format!("{BASE_TOML}[auth.kimi]\nmode = \"apikey\"\n");
    assert_eq!(
        msg(&[("jackin.toml", &toml)]),
        "jackin.toml:7:8: unknown value `apikey` for auth.kimi.mode; did you mean `api_key`? expected one of: sync, api_key, oauth_token, ignore"
    );
    let yaml = format!("{BASE_YAML}auth:\n  kimi:\n    mode: apikey\n");
    assert_eq!(
        msg(&[("jackin.yaml", &yaml)]),
        "jackin.yaml:12:11: unknown value `apikey` for auth.kimi.mode; did you mean `api_key`? expected one of: sync, api_key, oauth_token, ignore"
    );
}

#[test]
fn unknown_agent_in_a_role_is_an_unknown_value() {
    let toml = "version = 1\n[roles.smith]\nimage = \"i\"\nagents = [\"kimi\", \"claud\"]\n";
    assert_eq!(
        msg(&[("jackin.toml", toml)]),
        "jackin.toml:4:19: unknown value `claud` for roles.smith.agents[1]; did you mean `claude`? expected one of: kimi, claude, codex, amp, opencode, grok, kimi-code"
    );
}

#[test]
fn wrong_type_on_an_env_value_never_prints_the_value() {
    let toml = format!("{BASE_TOML}[env]\nTOKEN = 123456789\n");
    let text = msg(&[("jackin.toml", &toml)]);
    assert!(!text.contains("123456789"), "{text}");
    assert_eq!(
        text,
        "jackin.toml:7:9: wrong type for env.TOKEN: expected a string or a table `{ file = \"path\" }`, found an integer"
    );
    let yaml = format!("{BASE_YAML}env:\n  TOKEN: [s3cr3t]\n");
    let text = msg(&[("jackin.yaml", &yaml)]);
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(
        text.starts_with(
            "jackin.yaml:11:10: wrong type for env.TOKEN: expected a string or a table"
        ),
        "{text}"
    );
}

/// `smith:` with nothing under it is a YAML instance with defaults, as serde_yaml's own check
/// took it (the merge step then refused it, unlocated, as "the top level"). An empty value
/// where a string belongs is still an error, shown at its key.
#[test]
fn a_yaml_empty_value_is_an_empty_table_or_list_but_never_a_string() {
    let yaml = BASE_YAML.replace("      smith: {}", "      smith:");
    let loaded = ok(&[("jackin.yaml", &yaml)], None);
    assert_eq!(loaded.instance_count(), 1);
    let yaml = BASE_YAML.replace("agents: [kimi, claude]", "agents:");
    assert_eq!(
        msg(&[("jackin.yaml", &yaml)]),
        "jackin.yaml:5:5: roles.smith.agents: list at least one agent (kimi, claude, codex, amp, opencode, grok, kimi-code)"
    );
    let yaml = format!("{BASE_YAML}env:\n  TOKEN:\n");
    assert_eq!(
        msg(&[("jackin.yaml", &yaml)]),
        "jackin.yaml:11:3: wrong type for env.TOKEN: expected a string or a table `{ file = \"path\" }`, found null"
    );
}

/// serde_yaml's own type check was lenient (a number read as a string), so these once passed
/// the per-file check and failed only after the merge: "wrong type for the top level", no
/// file, no line. Both formats now go through one strict check with the key's position.
#[test]
fn a_yaml_type_error_deep_in_the_file_is_located_at_its_key() {
    let yaml = BASE_YAML.replace(
        "    image: img\n",
        "    image: img\n    kimi:\n      model: 12\n",
    );
    assert_eq!(
        msg(&[("jackin.yaml", &yaml)]),
        "jackin.yaml:6:14: wrong type for roles.smith.kimi.model: expected a string, found an integer"
    );
    let yaml = BASE_YAML.replace("version: 1", "version: !!str 1");
    assert_eq!(
        msg(&[("jackin.yaml", &yaml)]),
        "jackin.yaml:1:16: wrong type for version: expected u32, found a string"
    );
}

/// A JSON deserializer fills a struct from an array, field by field; no state-file format
/// does, so `smith: []` or `[[workspaces.app]]` is a wrong type, not an empty table.
#[test]
fn an_array_where_a_table_belongs_is_a_wrong_type_in_both_formats() {
    let yaml = BASE_YAML.replace("      smith: {}", "      smith: []");
    assert_eq!(
        msg(&[("jackin.yaml", &yaml)]),
        "jackin.yaml:9:14: wrong type for workspaces.app.roles.smith: expected a table, found an array"
    );
    let toml = BASE_TOML.replace("[workspaces.app.roles.smith]", "[[workspaces.app]]");
    assert_eq!(
        msg(&[("jackin.toml", &toml)]),
        "jackin.toml:5:1: wrong type for workspaces.app: expected a table, found an array"
    );
}

// ---- -f DIR ----------------------------------------------------------------------------

#[test]
fn a_directory_merges_toml_and_yaml_files_and_locates_in_the_right_file() {
    let a = "version = 1\n[roles.smith]\nimage = \"img\"\nagents = [\"kimi\"]\n";
    let b = "workspaces:\n  app:\n    workdir: /w\n    roles:\n      smith: {}\n";
    let loaded = ok(
        &[
            ("conf/a.toml", a),
            ("conf/b.yaml", b),
            ("conf/notes.md", "x"),
        ],
        Some("conf"),
    );
    assert_eq!(loaded.files.len(), 2);
    assert!(loaded.files[0].ends_with("a.toml") && loaded.files[1].ends_with("b.yaml"));
    assert_eq!(loaded.project, "conf");
    assert!(loaded.base_dir.ends_with("conf"));
    assert_eq!(
        loaded.manifest.workspaces["app"].workdir.as_deref(),
        Some("/w")
    );
    assert_eq!(
        loaded
            .locate(&["roles", "smith", "image"])
            .unwrap()
            .to_string(),
        "conf/a.toml:3:1"
    );
    assert_eq!(
        loaded
            .locate(&["workspaces", "app", "workdir"])
            .unwrap()
            .to_string(),
        "conf/b.yaml:3:5"
    );
}

#[test]
fn a_leaf_defined_in_two_files_is_e005_naming_both() {
    let a = "version = 1\n[workspaces.a]\nworkdir = \"/x\"\n";
    let b = "workspaces:\n  a:\n    workdir: /y\n";
    let (text, err) = error_of(&[("a.toml", a), ("b.yaml", b)], Some("."));
    assert_eq!(
        text,
        "b.yaml:3:5: key `workspaces.a.workdir` is defined in both a.toml:3:1 and b.yaml:3:5"
    );
    assert_eq!(err.code(), crate::error::Code::E005);
    assert!(err.hint().unwrap().contains("only one file"));
}

#[test]
fn each_file_of_a_directory_is_type_checked_with_its_own_positions() {
    let (text, _) = error_of(
        &[
            ("a.toml", "version = 1\n"),
            ("b.yaml", "roles:\n  r:\n    imag: x\n"),
        ],
        Some("."),
    );
    assert_eq!(
        text,
        "b.yaml:3:5: unknown key `imag` in roles.r; did you mean `image`? expected one of: image, build, agents, user, env, kimi, claude, codex, amp, opencode, grok, kimi-code"
    );
}

// ---- semantic rules --------------------------------------------------------------------

#[test]
fn version_must_be_present_and_1() {
    let toml = BASE_TOML.replace("version = 1", "version = 2");
    let (text, err) = error_of(&[("jackin.toml", &toml)], None);
    assert_eq!(
        text,
        "jackin.toml:1:1: version: unsupported version 2; it must be 1"
    );
    assert_eq!(err.code(), crate::error::Code::E004);
    let yaml = BASE_YAML.replace("version: 1\n", "");
    assert_eq!(
        msg(&[("jackin.yaml", &yaml)]),
        "jackin.yaml: `version` is missing; it must be 1"
    );
}

#[test]
fn names_must_be_lowercase_dns_like() {
    let toml = "version = 1\n[roles.Smith]\nimage = \"i\"\nagents = [\"kimi\"]\n[workspaces.my_app.roles.Smith]\n";
    assert_eq!(
        msg(&[("jackin.toml", toml)]),
        "2 problems in the desired-state file\n\
         jackin.toml:2:8: roles.Smith: invalid role name; use lowercase letters, digits and `-`, starting with a letter or digit\n\
         jackin.toml:5:13: workspaces.my_app: invalid workspace name; use lowercase letters, digits and `-`, starting with a letter or digit"
    );
}

#[test]
fn project_name_must_fit_a_lock_file_name() {
    let toml = BASE_TOML.replace("version = 1", "version = 1\nproject = \"a b\"");
    assert_eq!(
        msg(&[("jackin.toml", &toml)]),
        "jackin.toml:2:1: project: invalid project name `a b`: use letters, digits, `.`, `_` and `-`, starting with a letter or digit"
    );
}

#[test]
fn a_folder_name_unfit_for_a_project_asks_to_set_project() {
    let r = repo(&[("my app/jackin.toml", BASE_TOML)]);
    let err = validate(&load(Some(Path::new("my app/jackin.toml")), &r.root).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "my app/jackin.toml: the folder name `my app` is not a valid project name (letters, digits, `.`, `_` and `-`, starting with a letter or digit)"
    );
    assert_eq!(
        err.hint().unwrap(),
        "set `project = \"my-project\"` in the state file"
    );
}

#[test]
fn a_role_needs_exactly_one_of_image_and_build() {
    let both = BASE_TOML.replace(
        "image = \"img\"",
        "image = \"img\"\nbuild = { context = \".\" }",
    );
    assert_eq!(
        msg(&[("jackin.toml", &both)]),
        "jackin.toml:4:1: roles.smith: set exactly one of `image` and `build`, not both"
    );
    let neither = "version: 1\nroles:\n  smith:\n    agents: [kimi]\n";
    assert_eq!(
        msg(&[("jackin.yaml", neither)]),
        "jackin.yaml:3:3: roles.smith: needs `image` or `build`"
    );
}

#[test]
fn agents_must_be_non_empty_and_unique() {
    let empty = BASE_TOML.replace("[\"kimi\", \"claude\"]", "[]");
    assert_eq!(
        msg(&[("jackin.toml", &empty)]),
        "jackin.toml:4:1: roles.smith.agents: list at least one agent (kimi, claude, codex, amp, opencode, grok, kimi-code)"
    );
    let dup = BASE_YAML.replace("[kimi, claude]", "[kimi, claude, kimi]");
    assert_eq!(
        msg(&[("jackin.yaml", &dup)]),
        "jackin.yaml:5:28: roles.smith.agents: `kimi` is listed twice"
    );
}

#[test]
fn the_launched_agent_must_be_one_of_the_roles_agents() {
    let toml = BASE_TOML.replace("[workspaces.app.roles.smith]", "[workspaces.app]\nagent = \"codex\"\n[workspaces.app.roles.smith]\n[workspaces.b.roles.smith]\nagent = \"grok\"");
    assert_eq!(
        msg(&[("jackin.toml", &toml)]),
        "2 problems in the desired-state file\n\
         jackin.toml:6:1: workspaces.app.agent: `codex` is not in roles.smith.agents (kimi, claude) (instance workspaces.app.roles.smith)\n\
         jackin.toml:9:1: workspaces.b.roles.smith.agent: `grok` is not in roles.smith.agents (kimi, claude)"
    );
}

#[test]
fn an_instance_override_exempts_it_from_the_workspace_agent() {
    let toml = BASE_TOML.replace(
        "[workspaces.app.roles.smith]",
        "[workspaces.app]\nagent = \"codex\"\n[workspaces.app.roles.smith]\nagent = \"kimi\"",
    );
    ok(&[("jackin.toml", &toml)], None);
}

#[test]
fn oauth_token_is_rejected_for_every_agent_but_claude_naming_the_scope() {
    let toml = format!(
        "{BASE_TOML}[workspaces.app.roles.smith.auth.kimi]\nmode = \"oauth_token\"\n[workspaces.app.roles.smith.auth.claude]\nmode = \"oauth_token\"\n[auth]\ncodex = \"oauth_token\"\n"
    );
    let (text, err) = error_of(&[("jackin.toml", &toml)], None);
    assert_eq!(
        text,
        "2 problems in the desired-state file\n\
         jackin.toml:7:1: workspaces.app.roles.smith.auth.kimi: auth mode 'oauth_token' is not supported for kimi; supported: sync, api_key, ignore\n\
         jackin.toml:11:1: auth.codex: auth mode 'oauth_token' is not supported for codex; supported: sync, api_key, ignore"
    );
    assert_eq!(err.code(), crate::error::Code::E004);
    let yaml = format!("{BASE_YAML}  other:\n    auth:\n      grok:\n        mode: oauth_token\n        source: ~/.grok\n");
    assert_eq!(
        msg(&[("jackin.yaml", &yaml)]),
        "jackin.yaml:13:9: workspaces.other.auth.grok: auth mode 'oauth_token' is not supported for grok; supported: sync, api_key, ignore"
    );
}

const KIMI_CODE_TOML: &str = r#"version = 1
[roles.smith]
image = "img"
agents = ["kimi-code"]
[workspaces.app.roles.smith]
"#;

#[test]
fn kimi_code_is_written_with_its_dash_in_roles_auth_and_settings() {
    let toml = format!(
        "{KIMI_CODE_TOML}[roles.smith.kimi-code]\nmodel = \"kimi-k2\"\n[auth]\nkimi-code = \"api_key\"\n"
    );
    let loaded = ok(&[("jackin.toml", &toml)], None);
    let m = &loaded.manifest;
    assert_eq!(m.roles["smith"].agents, [AgentKind::KimiCode]);
    assert_eq!(
        m.auth.get(AgentKind::KimiCode),
        Some(&AuthSpec::Mode(AuthMode::ApiKey))
    );
    assert_eq!(
        m.roles["smith"]
            .agent_settings(AgentKind::KimiCode)
            .and_then(|s| s.model.as_deref()),
        Some("kimi-k2")
    );
    let yaml = "version: 1\nroles:\n  smith:\n    image: img\n    agents: [kimi-code]\n    kimi-code:\n      model: k2\nauth:\n  kimi-code: api_key\nworkspaces:\n  app:\n    roles:\n      smith: {}\n";
    ok(&[("jackin.yaml", yaml)], None);
}

#[test]
fn kimi_code_in_api_key_mode_needs_a_model_naming_the_scope_and_the_fix() {
    let toml = format!(
        "{KIMI_CODE_TOML}[workspaces.app.roles.smith.auth.kimi-code]\nmode = \"api_key\"\n"
    );
    invalid(
        &[("jackin.toml", &toml)],
        "jackin.toml:7:1: workspaces.app.roles.smith: kimi-code uses auth mode 'api_key' (set by workspaces.app.roles.smith.auth.kimi-code) but has no model; in that mode kimi-code reads its model from KIMI_MODEL_NAME next to KIMI_MODEL_API_KEY",
        "set `model = \"…\"` under [roles.smith.kimi-code] (jackin passes it as KIMI_MODEL_NAME), or set KIMI_MODEL_NAME in one of the instance's env tables",
    );
    // A model, or the operator's own KIMI_MODEL_NAME in any env layer of the instance: fine.
    ok(
        &[(
            "jackin.toml",
            &format!("{toml}[roles.smith.kimi-code]\nmodel = \"k2\"\n"),
        )],
        None,
    );
    ok(
        &[(
            "jackin.toml",
            &format!("{toml}[workspaces.app.env]\nKIMI_MODEL_NAME = \"$M\"\n"),
        )],
        None,
    );
    // Another workspace's env does not count; sync (the default) passes no model at all.
    let other = format!("{toml}[workspaces.other.env]\nKIMI_MODEL_NAME = \"k2\"\n");
    assert!(msg(&[("jackin.toml", &other)]).contains("has no model"));
    ok(&[("jackin.toml", KIMI_CODE_TOML)], None);
}

#[test]
fn a_source_next_to_a_non_sync_mode_is_accepted() {
    let toml = format!("{BASE_TOML}[auth.kimi]\nmode = \"ignore\"\nsource = \"~/.kimi-x\"\n");
    ok(&[("jackin.toml", &toml)], None);
}

#[test]
fn an_instance_must_reference_a_declared_role() {
    let toml = format!("{BASE_TOML}[workspaces.app.roles.smyth]\n");
    let (text, _) = error_of(&[("jackin.toml", &toml)], None);
    assert_eq!(
        text,
        "jackin.toml:6:23: workspaces.app.roles.smyth: no role `smyth` is declared; did you mean `smith`? declared roles: smith"
    );
    let yaml = BASE_YAML.replace("      smith: {}", "      smyth: {}");
    assert_eq!(
        msg(&[("jackin.yaml", &yaml)]),
        "jackin.yaml:9:7: workspaces.app.roles.smyth: no role `smyth` is declared; did you mean `smith`? declared roles: smith"
    );
}

#[test]
fn two_instances_with_one_container_name_are_an_error_naming_both() {
    let toml =
        format!("{BASE_TOML}[workspaces.app-1.roles.smith]\n[workspaces.app1.roles.smith]\n");
    assert_eq!(
        msg(&[("jackin.toml", &toml)]),
        "jackin.toml:7:24: workspaces.app1.roles.smith and workspaces.app-1.roles.smith both map to container name `jk-app1-smith`"
    );
}

#[test]
fn mount_destinations_must_be_absolute_clean_unique_and_clear_of_handoff_dirs() {
    let toml = BASE_TOML.replace(
        "[workspaces.app.roles.smith]",
        "[workspaces.app]\nworkdir = \"w\"\nmounts = [\n  { src = \"a\", dst = \"rel\" },\n  { src = \"b\", dst = \"/x/../etc\" },\n  { src = \"c\", dst = \"/data\" },\n  { src = \"d\", dst = \"/data/\" },\n  { src = \"e\", dst = \"/jackin/claude/x\" },\n  { src = \"f\", dst = \"/home/agent\" },\n]\n[workspaces.app.roles.smith]",
    );
    assert_eq!(
        msg(&[("jackin.toml", &toml)]),
        "5 problems in the desired-state file\n\
         jackin.toml:6:1: workspaces.app.workdir: `w` must be an absolute path\n\
         jackin.toml:8:16: workspaces.app.mounts[0].dst: `rel` must be an absolute path\n\
         jackin.toml:9:16: workspaces.app.mounts[1].dst: `/x/../etc` must not contain `..`\n\
         jackin.toml:11:16: workspaces.app.mounts[3].dst: `/data/` is already mounted by mounts[2]\n\
         jackin.toml:12:16: workspaces.app.mounts[4].dst: `/jackin/claude/x` is inside claude's handoff directory /jackin/claude, where jackin mounts credentials"
    );
    let yaml = BASE_YAML.replace(
        "  app:\n",
        "  app:\n    mounts:\n      - src: k\n        dst: /jackin/kimi\n",
    );
    assert_eq!(
        msg(&[("jackin.yaml", &yaml)]),
        "jackin.yaml:10:9: workspaces.app.mounts[0].dst: `/jackin/kimi` is inside kimi's handoff directory /jackin/kimi, where jackin mounts credentials"
    );
}

#[test]
fn env_names_are_checked_in_all_four_layers_and_values_never_shown() {
    let toml = format!(
        "{BASE_TOML}[env]\nJACKIN_HOME = \"v1\"\n[roles.smith.env]\n\"1BAD\" = \"v2\"\n[workspaces.app.env]\nDOCKER_HOST = \"v3\"\n[workspaces.app.roles.smith.env]\n\"A-B\" = \"v4\"\n"
    );
    let text = msg(&[("jackin.toml", &toml)]);
    assert_eq!(
        text,
        "4 problems in the desired-state file\n\
         jackin.toml:7:1: env.JACKIN_HOME: `JACKIN_HOME` is reserved for jackin\n\
         jackin.toml:9:1: roles.smith.env.1BAD: invalid env name: use letters, digits and `_`, not starting with a digit\n\
         jackin.toml:11:1: workspaces.app.env.DOCKER_HOST: `DOCKER_HOST` is reserved for jackin\n\
         jackin.toml:13:1: workspaces.app.roles.smith.env.A-B: invalid env name: use letters, digits and `_`, not starting with a digit"
    );
    for v in ["v1", "v2", "v3", "v4"] {
        assert!(!text.contains(&format!("\"{v}\"")), "{text}");
    }
}

#[test]
fn validation_collects_problems_from_every_file_of_a_directory() {
    let a = "version = 1\n[roles.smith]\nimage = \"i\"\nagents = []\n";
    let b = "workspaces:\n  app:\n    workdir: rel\n    roles:\n      smith: {}\n";
    let (text, err) = error_of(&[("a.toml", a), ("b.yaml", b)], Some("."));
    assert_eq!(
        text,
        "2 problems in the desired-state file\n\
         a.toml:4:1: roles.smith.agents: list at least one agent (kimi, claude, codex, amp, opencode, grok, kimi-code)\n\
         b.yaml:3:5: workspaces.app.workdir: `rel` must be an absolute path"
    );
    assert!(render(&err).starts_with("error[E004]: 2 problems"));
}

// ---- [v3] hosts (SPEC §9) ------------------------------------------------------------

const HOSTS_TOML: &str = r#"version = 1
[hosts.gpu-1]
docker = "ssh://ops@gpu-1"
[hosts.gpu-2]
docker = "tcp://gpu-2:2376"
tls = { ca = "certs/ca.pem", cert = "~/certs/cert.pem", key = "/etc/gpu/key.pem" }
[roles.smith]
image = "img"
agents = ["kimi"]
[roles.neo]
image = "img"
agents = ["kimi"]
[workspaces.app]
host = "gpu-1"
[workspaces.app.roles.smith]
[workspaces.app.roles.neo]
host = "gpu-2"
[workspaces.web.roles.smith]
"#;

const HOSTS_YAML: &str = "version: 1
hosts:
  gpu-1:
    docker: ssh://ops@gpu-1
  gpu-2:
    docker: tcp://gpu-2:2376
    tls: { ca: certs/ca.pem, cert: ~/certs/cert.pem, key: /etc/gpu/key.pem }
roles:
  smith: { image: img, agents: [kimi] }
  neo: { image: img, agents: [kimi] }
workspaces:
  app:
    host: gpu-1
    roles:
      smith: {}
      neo:
        host: gpu-2
  web:
    roles:
      smith: {}
";

/// Workspace × role beats workspace beats `local`, each with the key path that said so.
#[test]
fn an_instances_host_is_its_own_else_its_workspaces_else_local_in_both_formats() {
    let path = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    for (name, text) in [("jackin.toml", HOSTS_TOML), ("jackin.yaml", HOSTS_YAML)] {
        let m = ok(&[(name, text)], None).manifest;
        assert_eq!(
            m.host_of("app", "neo"),
            (
                "gpu-2",
                path(&["workspaces", "app", "roles", "neo", "host"])
            ),
            "{name}"
        );
        assert_eq!(
            m.host_of("app", "smith"),
            ("gpu-1", path(&["workspaces", "app", "host"])),
            "{name}"
        );
        assert_eq!(m.host_of("web", "smith"), ("local", vec![]), "{name}");
        assert_eq!(m.hosts["gpu-1"].docker, "ssh://ops@gpu-1", "{name}");
        assert_eq!(m.hosts["gpu-1"].tls, None, "{name}");
        let tls = m.hosts["gpu-2"].tls.as_ref().expect("tls");
        assert_eq!(
            (tls.ca.as_str(), tls.cert.as_str(), tls.key.as_str()),
            ("certs/ca.pem", "~/certs/cert.pem", "/etc/gpu/key.pem"),
            "{name}"
        );
    }
}

/// Declaring a host is not using it; naming `local` is naming the default.
#[test]
fn an_unused_host_and_an_explicit_local_are_fine() {
    let toml = format!(
        "{BASE_TOML}host = \"local\"\n[hosts.spare]\ndocker = \"unix:///run/spare.sock\"\n"
    );
    let m = ok(&[("jackin.toml", &toml)], None).manifest;
    assert_eq!(m.host_of("app", "smith").0, "local");
}

#[test]
fn host_names_follow_workspace_rules_and_local_cannot_be_declared() {
    let toml = format!("{BASE_TOML}[hosts.GPU_1]\ndocker = \"ssh://gpu\"\n[hosts.local]\ndocker = \"unix:///var/run/docker.sock\"\n");
    assert_eq!(
        msg(&[("jackin.toml", &toml)]),
        "2 problems in the desired-state file\n\
         jackin.toml:6:8: hosts.GPU_1: invalid host name; use lowercase letters, digits and `-`, starting with a letter or digit\n\
         jackin.toml:8:8: hosts.local: `local` is the engine DOCKER_HOST names and cannot be declared"
    );
    let yaml = format!("{BASE_YAML}hosts:\n  local:\n    docker: ssh://ops@gpu-1\n");
    invalid(
        &[("jackin.yaml", &yaml)],
        "jackin.yaml:11:3: hosts.local: `local` is the engine DOCKER_HOST names and cannot be declared",
        "remove [hosts.local]: instances without `host` already run on it; to make it another engine, set DOCKER_HOST, or declare that engine under another name",
    );
}

#[test]
fn an_unknown_host_is_an_error_naming_the_closest_declared_one() {
    let toml = HOSTS_TOML
        .replace("host = \"gpu-1\"", "host = \"gpu1\"")
        .replace("host = \"gpu-2\"", "host = \"lcoal\"");
    assert_eq!(
        msg(&[("jackin.toml", &toml)]),
        "2 problems in the desired-state file\n\
         jackin.toml:14:1: workspaces.app.host: no host `gpu1` is declared; did you mean `gpu-1`? declared hosts: local, gpu-1, gpu-2\n\
         jackin.toml:17:1: workspaces.app.roles.neo.host: no host `lcoal` is declared; did you mean `local`? declared hosts: local, gpu-1, gpu-2"
    );
    let yaml = HOSTS_YAML.replace("host: gpu-2", "host: big-box");
    invalid(
        &[("jackin.yaml", &yaml)],
        "jackin.yaml:17:9: workspaces.app.roles.neo.host: no host `big-box` is declared; declared hosts: local, gpu-1, gpu-2",
        "declare it as [hosts.big-box] with `docker = \"ssh://…\"`, or name one of the declared hosts",
    );
}

#[test]
fn a_hosts_address_needs_a_scheme_the_docker_cli_takes() {
    let toml = format!(
        "{BASE_TOML}[hosts.a]\ndocker = \"http://a:2375\"\n[hosts.b]\ndocker = \"ops@b\"\n[hosts.c]\ndocker = \"ssh://\"\n[hosts.d]\ndocker = \"unix://run/docker.sock\"\n[hosts.e]\ndocker = \"https://e:2376\"\n"
    );
    let schemes = "the address must start with ssh://, tcp://, https:// or unix:///";
    invalid(
        &[("jackin.toml", &toml)],
        &format!(
            "4 problems in the desired-state file\n\
             jackin.toml:7:1: hosts.a.docker: unsupported scheme `http://`; {schemes}\n\
             jackin.toml:9:1: hosts.b.docker: the address has no scheme; {schemes}\n\
             jackin.toml:11:1: hosts.c.docker: `ssh://` names no engine; {schemes}\n\
             jackin.toml:13:1: hosts.d.docker: a unix socket address takes an absolute path (`unix:///…`); {schemes}"
        ),
        // One fix for all four, so it is shown.
        "write it as DOCKER_HOST would, e.g. `ssh://ops@gpu-1`, `tcp://gpu-1:2376` or `unix:///var/run/docker.sock`",
    );
    let yaml = format!("{BASE_YAML}hosts:\n  a:\n    docker: tcp//a:2376\n");
    assert_eq!(
        msg(&[("jackin.yaml", &yaml)]),
        format!("jackin.yaml:12:5: hosts.a.docker: the address has no scheme; {schemes}")
    );
    // `docker` is required: a type error, like any missing key.
    let (text, err) = error_of(&[("jackin.toml", &format!("{BASE_TOML}[hosts.a]\n"))], None);
    assert_eq!(text, "jackin.toml:6:1: missing key `docker` in hosts.a");
    assert_eq!(err.code(), crate::error::Code::E003);
}

#[test]
fn tls_is_only_for_tcp_and_https_engines() {
    let tls = "tls = { ca = \"ca.pem\", cert = \"cert.pem\", key = \"key.pem\" }";
    let toml = format!(
        "{BASE_TOML}[hosts.a]\ndocker = \"ssh://ops@a\"\n{tls}\n[hosts.b]\ndocker = \"unix:///b.sock\"\n{tls}\n[hosts.c]\ndocker = \"https://c:2376\"\n{tls}\n"
    );
    assert_eq!(
        msg(&[("jackin.toml", &toml)]),
        "2 problems in the desired-state file\n\
         jackin.toml:8:1: hosts.a.tls: TLS is for tcp:// and https:// engines; this one is reached with ssh://\n\
         jackin.toml:11:1: hosts.b.tls: TLS is for tcp:// and https:// engines; this one is reached with unix:///"
    );
    let yaml = format!(
        "{BASE_YAML}hosts:\n  a:\n    docker: ssh://a\n    tls: {{ ca: x, cert: y, key: z }}\n"
    );
    invalid(
        &[("jackin.yaml", &yaml)],
        "jackin.yaml:13:5: hosts.a.tls: TLS is for tcp:// and https:// engines; this one is reached with ssh://",
        "remove `tls` from [hosts.a], or reach the engine over tcp://",
    );
    // All three files are required, and a typo is suggested.
    let toml = format!("{BASE_TOML}[hosts.a]\ndocker = \"tcp://a:2376\"\ntls = {{ ca = \"x\", cert = \"y\", kye = \"z\" }}\n");
    assert_eq!(
        msg(&[("jackin.toml", &toml)]),
        "jackin.toml:8:31: unknown key `kye` in hosts.a.tls; did you mean `key`? expected one of: ca, cert, key"
    );
}

// ---- [v2] NUL bytes and input limits -------------------------------------------------

#[test]
fn a_nul_in_a_literal_env_value_is_e004_naming_the_variable_never_the_value() {
    let toml =
        format!("{BASE_TOML}[workspaces.app.roles.smith.env]\nTOKEN = \"s3cr3t\\u0000tail\"\n");
    let yaml = format!("{BASE_YAML}env:\n  TOKEN: \"s3cr3t\\0tail\"\n");
    for (file, text, at) in [
        ("jackin.toml", toml.as_str(), "jackin.toml:7:1"),
        ("jackin.yaml", yaml.as_str(), "jackin.yaml:11:3"),
    ] {
        let (shown, err) = error_of(&[(file, text)], None);
        let scope = if file.ends_with("toml") {
            "workspaces.app.roles.smith.env.TOKEN"
        } else {
            "env.TOKEN"
        };
        assert_eq!(
            shown,
            format!("{at}: {scope}: the value contains a NUL byte, which an environment variable cannot hold")
        );
        assert_eq!(err.code(), crate::error::Code::E004);
        let rendered = render(&err);
        assert!(
            !rendered.contains("s3cr3t") && !rendered.contains("tail"),
            "{rendered}"
        );
    }
}

#[test]
fn a_fifo_named_like_the_state_file_is_e006_not_a_missing_file() {
    let r = repo(&[]);
    mkfifo(&r.root.join("jackin.toml"));
    let err = load(None, &r.root).unwrap_err();
    assert_eq!(err.to_string(), "jackin.toml is a FIFO, not a regular file");
    assert_eq!(err.code(), crate::error::Code::E006);
}

#[test]
fn a_fifo_in_a_directory_set_is_an_error_not_skipped() {
    let r = repo(&[("a.toml", BASE_TOML)]);
    mkfifo(&r.root.join("b.yaml"));
    std::fs::create_dir(r.root.join("old.toml")).unwrap();
    let err = load(Some(Path::new(".")), &r.root).unwrap_err();
    assert_eq!(err.to_string(), "b.yaml is a FIFO, not a regular file");
}

#[test]
fn nesting_past_64_levels_is_e006_with_the_line() {
    let deep =
        |open: &str, close: &str, n: usize| format!("{}1{}", open.repeat(n), close.repeat(n));
    // Table `env` is level 1, so the 64th bracket of X's value is level 65.
    let toml = format!("{BASE_TOML}[env]\nX = {}\n", deep("[", "]", 64));
    let (text, err) = error_of(&[("jackin.toml", &toml)], None);
    assert_eq!(
        text,
        "jackin.toml nests more than 64 levels deep at line 7, column 68; the limit is 64"
    );
    assert_eq!(err.code(), crate::error::Code::E006);
    assert_eq!(
        err.hint().unwrap(),
        "flatten the structure: a state file needs about 6 levels"
    );
    let yaml = format!("{BASE_YAML}env: {}\n", deep("[", "]", 65));
    let (text, err) = error_of(&[("jackin.yaml", &yaml)], None);
    assert_eq!(
        text,
        "jackin.yaml nests more than 64 levels deep at line 10, column 70; the limit is 64"
    );
    assert_eq!(err.code(), crate::error::Code::E006);
    // 64 levels are a type error, not a limit.
    let yaml = format!("{BASE_YAML}env: {}\n", deep("[", "]", 64));
    assert_eq!(
        error_of(&[("jackin.yaml", &yaml)], None).1.code(),
        crate::error::Code::E003
    );
}

#[test]
fn a_yaml_alias_bomb_is_e006_before_anything_expands_it() {
    let wide = vec!["1"; 1000].join(",");
    let refs = |name: &str| vec![format!("*{name}"); 1000].join(",");
    let yaml = format!(
        "{BASE_YAML}x: &a [{wide}]\ny: &b [{}]\nz: [{}]\n",
        refs("a"),
        refs("b")
    );
    let (text, err) = error_of(&[("jackin.yaml", &yaml)], None);
    assert!(
        text.starts_with(
            "jackin.yaml expands to more than 4194304 values through YAML aliases at line 12"
        ),
        "{text}"
    );
    assert_eq!(err.code(), crate::error::Code::E006);
}

// ---- linear time on large input ---------------------------------------------------

/// A 256 KiB key above 100k values: the source map stores each key once, and a position
/// costs no more than a short line's (before, each value copied the key: 25 GiB of copying).
#[test]
fn a_huge_key_above_many_values_is_handled_in_linear_time() {
    let toml = format!(
        "version = 1\n\"{}\" = [{}]\n",
        "k".repeat(256 << 10),
        vec!["1"; 100_000].join(",")
    );
    let (_, err) = error_of(&[("jackin.toml", &toml)], None);
    assert_eq!(err.code(), crate::error::Code::E003);
}

/// A FIFO at `path`, where a state file is expected.
pub(crate) fn mkfifo(path: &Path) {
    use rustix::fs::{mknodat, FileType, Mode, CWD};
    mknodat(CWD, path, FileType::Fifo, Mode::RUSR | Mode::WUSR, 0).expect("mkfifo");
}
