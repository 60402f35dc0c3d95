//! Manifest → [`Desired`]: scopes, env layers and provenance (SPEC §2 "Resolution").
//!
//! This is the only step of `plan`/`apply` that reads jackin's own environment and env
//! `{ file }` values. It never touches Docker or credential folders.

use super::env::{resolve_env_value, EnvSource};
use super::hosts::{Host, Hosts, Tls};
use super::{AgentAuth, Desired, EnvVar, ImageSource, InstanceSpec, MountSpec, Scope, Secret};
use crate::agents::{AgentKind, AuthMode};
use crate::error::{Code, Coded};
use crate::manifest::model::{AuthTable, EnvValue, Level, Manifest, Role};
use crate::manifest::Loaded;
use crate::naming::container_name;
use crate::paths::{self, JackinHome};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Resolution problems, all of them at once, each a self-contained explanation.
#[derive(Debug, thiserror::Error)]
#[error("{}", render_problems(.problems))]
pub struct ResolveError {
    pub problems: Vec<Problem>,
}

#[derive(Debug)]
pub struct Problem {
    pub code: Code,
    pub text: String,
    pub hint: String,
}

fn render_problems(problems: &[Problem]) -> String {
    let mut out = String::new();
    if problems.len() > 1 {
        let _ = writeln!(
            out,
            "{} problems resolve the desired state:",
            problems.len()
        );
    }
    for p in problems {
        let _ = writeln!(out, "{}", p.text);
    }
    out.trim_end().to_owned()
}

impl Coded for ResolveError {
    fn code(&self) -> Code {
        self.problems.first().map_or(Code::E010, |p| p.code)
    }
    fn hint(&self) -> Option<String> {
        let mut hints: Vec<&str> = self.problems.iter().map(|p| p.hint.as_str()).collect();
        hints.dedup();
        Some(hints.join("; "))
    }
}

/// One env layer, lowest precedence first.
struct Layer<'a> {
    name: String,
    vars: &'a BTreeMap<String, EnvValue>,
}

pub fn resolve(
    loaded: &Loaded,
    home: &Path,
    jackin_home: &JackinHome,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Desired, ResolveError> {
    let m: &Manifest = &loaded.manifest;
    let mut r = Resolver {
        m,
        base: loaded.base_dir.as_path(),
        home,
        jackin_home,
        lookup,
        problems: Vec::new(),
        warnings: Vec::new(),
        env_files: BTreeSet::new(),
    };
    let mut instances = BTreeMap::new();
    for d in declare(loaded, home).into_values() {
        if let Some(spec) = r.instance(d) {
            instances.insert(spec.name.clone(), spec);
        }
    }
    if !r.problems.is_empty() {
        return Err(ResolveError {
            problems: r.problems,
        });
    }
    let hosts = hosts(m, &loaded.base_dir, home);
    for spec in instances.values_mut() {
        if hosts.get(&spec.host).is_some_and(|h| !h.on_this_machine()) {
            spec.handoff_as_volumes();
        }
    }
    Ok(Desired {
        project: loaded.project.clone(),
        restart: m.settings.clone().unwrap_or_default().restart,
        instances,
        hosts,
        warnings: r.warnings,
        env_files: r.env_files,
    })
}

/// One resolution: what every instance reads, and what the instances add up to.
struct Resolver<'a> {
    m: &'a Manifest,
    /// The state file's folder: relative paths are relative to it.
    base: &'a Path,
    home: &'a Path,
    jackin_home: &'a JackinHome,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
    warnings: Vec<String>,
    env_files: BTreeSet<PathBuf>,
}

/// The parts of one instance's declaration the auth rules read.
struct Decl<'a> {
    name: &'a str,
    role_name: &'a str,
    role: &'a crate::manifest::model::Role,
    scopes: &'a [(&'a AuthTable, Scope); 3],
    layers: &'a [Layer<'a>; 4],
}

/// The four env layers of instance `ws_name` × `role_name`, in the order later wins
/// ([`Manifest::env_layers`]), named as messages show them.
fn env_layers<'m>(m: &'m Manifest, ws_name: &str, role_name: &str) -> [Layer<'m>; 4] {
    m.env_layers(ws_name, role_name).map(|(path, vars)| Layer {
        name: path.join("."),
        vars,
    })
}

/// A `$NAME` reference that resolved to nothing: where, and what it named.
type Unset = BTreeMap<String, (String, EnvSource)>;

impl Resolver<'_> {
    /// One instance, workspace × role, in the steps of SPEC §2: auth per agent, the env
    /// layers, what the auth modes add to or take from the env, the launch command, mounts.
    fn instance(&mut self, d: Declared) -> Option<InstanceSpec> {
        let m = self.m;
        let Declared {
            name,
            workspace: ws_name,
            role: role_name,
            agent,
            auth,
            host,
        } = d;
        let (ws_name, role_name) = (ws_name.as_str(), role_name.as_str());
        let ws = &m.workspaces[ws_name];
        let role = m.roles.get(role_name)?; // validate() already rejected undeclared roles
        let scopes = auth_scopes(m, ws_name, role_name);
        let layers = env_layers(m, ws_name, role_name);
        let (mut env, mut unset) = self.layered_env(&name, &layers);
        let decl = Decl {
            name: &name,
            role_name,
            role,
            scopes: &scopes,
            layers: &layers,
        };
        for a in &auth {
            self.auth_env(&decl, a, &mut env, &mut unset);
        }
        self.pass_unset_empty(&name, &auth, &unset, &mut env);
        let image = match (&role.image, &role.build) {
            (Some(r), _) => ImageSource::Pull(r.clone()),
            (None, Some(b)) => ImageSource::Build {
                context: paths::expand(&b.context, self.base, self.home),
                dockerfile: b.dockerfile.clone(),
            },
            (None, None) => return None, // rejected by validate()
        };
        Some(InstanceSpec {
            command: command(agent, role, &auth),
            mounts: self.mounts(&name, ws, &auth),
            name,
            workspace: ws_name.to_owned(),
            role: role_name.to_owned(),
            agent,
            image,
            env,
            workdir: ws.workdir.clone(),
            // Validation has parsed it already.
            user: super::user::UserSpec::parse(role.user.as_deref())
                .unwrap_or(super::user::UserSpec::Image),
            auth,
            host,
        })
    }

    /// The four env layers, later wins; `$NAME`s that resolve to nothing are collected apart.
    fn layered_env(&mut self, name: &str, layers: &[Layer]) -> (BTreeMap<String, EnvVar>, Unset) {
        let mut env = BTreeMap::new();
        let mut unset = Unset::new();
        for layer in layers {
            for (key, value) in layer.vars {
                let (source, read) = resolve_env_value(value, self.base, self.home, self.lookup);
                if let EnvSource::File(path) = &source {
                    self.env_files.insert(path.clone());
                }
                match read {
                    // Only a file can hold one here: validate() rejects literals with a
                    // NUL, and jackin's own environment cannot contain one.
                    Ok(Some(v)) if v.contains('\0') => self.problems.push(Problem {
                        code: Code::E011,
                        text: format!(
                            "{name}: env {key} in [{}] reads {source}, which contains a NUL byte; an environment variable cannot hold one",
                            layer.name
                        ),
                        hint: "remove the NUL byte from the file, or point the value at another file".into(),
                    }),
                    Ok(Some(v)) => {
                        unset.remove(key);
                        env.insert(
                            key.clone(),
                            EnvVar {
                                value: Secret::new(v),
                                layer: layer.name.clone(),
                            },
                        );
                    }
                    Ok(None) => {
                        env.remove(key);
                        unset.insert(key.clone(), (layer.name.clone(), source));
                    }
                    Err(e) => self.problems.push(Problem {
                        code: Code::E011,
                        text: format!("{name}: env {key} in [{}] reads {source}: {e}", layer.name),
                        hint: "make the file readable, or change the value".into(),
                    }),
                }
            }
        }
        (env, unset)
    }

    /// An env var `a`'s mode needs is empty or unset: the E010 explanation, with `fix` when
    /// there is more to say than "set it".
    fn missing(&mut self, d: &Decl, a: &AgentAuth, var: &str, unset: &Unset, fix: Option<String>) {
        self.problems.push(missing_credential(
            d.name, a, var, d.scopes, d.layers, unset, fix,
        ));
    }

    /// What one agent's auth mode requires of the env, adds to it, or takes out of it.
    fn auth_env(
        &mut self,
        d: &Decl,
        a: &AgentAuth,
        env: &mut BTreeMap<String, EnvVar>,
        unset: &mut Unset,
    ) {
        let is_empty = |env: &BTreeMap<String, EnvVar>, var: &str| {
            env.get(var).is_none_or(|v| v.value.expose().is_empty())
        };
        let info = a.agent.info();
        if let Some(var) = a.agent.credential_env(a.mode).filter(|v| is_empty(env, v)) {
            self.missing(d, a, var, unset, None);
        }
        // What else the mode needs (kimi's base URL): a clear error naming it, never a client
        // that makes no request.
        if a.mode == AuthMode::ApiKey {
            for (var, what) in info.api_key_needs.iter().filter(|(v, _)| is_empty(env, v)) {
                let fix = format!(
                    "set {var} ({what}) in one of the instance's env tables, e.g. [env]: {var} = \"https://…\""
                );
                self.missing(d, a, var, unset, Some(fix));
            }
        }
        // The model through env (the kimi clients in api_key mode): the operator's value if an env
        // layer sets one, else the role's `model`.
        if let Some(var) = a.agent.model_env(a.mode).filter(|v| is_empty(env, v)) {
            self.role_model(d, a, var, env, unset);
        }
        if a.mode == AuthMode::Ignore {
            // "ignore" forwards nothing: not even a key the operator left in a shared layer,
            // nor the switch that would make the agent look for one.
            env.remove(info.api_key_env);
            if let Some(t) = info.oauth_token_env {
                env.remove(t);
            }
            if let Some(m) = a.agent.model_env(AuthMode::ApiKey) {
                env.remove(m);
            }
        }
        let data_dir = info.data_dir_env.map(|var| (var, info.target));
        for (k, v) in info.fixed_env.iter().copied().chain(data_dir) {
            env.insert(
                k.into(),
                EnvVar {
                    value: Secret::new(v.into()),
                    layer: "catalogue".into(),
                },
            );
        }
    }

    /// Model env var `var`, which no env layer sets, takes the role's `model`; without one,
    /// it is missing.
    fn role_model(
        &mut self,
        d: &Decl,
        a: &AgentAuth,
        var: &str,
        env: &mut BTreeMap<String, EnvVar>,
        unset: &mut Unset,
    ) {
        let role_name = d.role_name;
        match d
            .role
            .agent_settings(a.agent)
            .and_then(|s| s.model.as_ref())
        {
            Some(model) => {
                unset.remove(var);
                env.insert(
                    var.into(),
                    EnvVar {
                        value: Secret::new(model.clone()),
                        layer: format!("roles.{role_name}.{}.model", a.agent),
                    },
                );
            }
            None => {
                let fix = format!(
                    "set `model` under [roles.{role_name}.{}] (jackin passes it as {var})",
                    a.agent
                );
                self.missing(d, a, var, unset, Some(fix));
            }
        }
    }

    /// An unset `$NAME` that no auth mode needs is passed empty, with a warning (like compose).
    fn pass_unset_empty(
        &mut self,
        name: &str,
        auth: &[AgentAuth],
        unset: &Unset,
        env: &mut BTreeMap<String, EnvVar>,
    ) {
        for (key, (layer, source)) in unset {
            let required = |a: &AgentAuth| a.agent.needed_env(a.mode).any(|v| v == key);
            if !auth.iter().any(required) {
                self.warnings.push(format!(
                    "{name}: env {key} in [{layer}] refers to {source}, which is unset; it is passed empty"
                ));
                env.insert(
                    key.clone(),
                    EnvVar {
                        value: Secret::new(String::new()),
                        layer: layer.clone(),
                    },
                );
            }
        }
    }

    /// The operator's mounts, then one handoff directory per provisioned agent.
    fn mounts(
        &self,
        name: &str,
        ws: &crate::manifest::model::Workspace,
        auth: &[AgentAuth],
    ) -> Vec<MountSpec> {
        let handoff_mounts = auth.iter().map(|a| MountSpec {
            src: self.jackin_home.handoff_dir(name, a.agent),
            dst: a.agent.info().target.to_owned(),
            readonly: false,
            volume: false,
        });
        ws.mounts
            .iter()
            .map(|mt| MountSpec {
                src: paths::expand(&mt.src, self.base, self.home),
                dst: mt.dst.clone(),
                readonly: mt.readonly,
                volume: false,
            })
            .chain(handoff_mounts)
            .collect()
    }
}

/// `local` and every declared `[hosts.NAME]`, used or not: `destroy` and observe must still
/// reach a host whose last instance was just removed from the file. Reads no environment
/// (but `DOCKER_HOST`), so the session commands and `destroy` use it as it is.
pub fn declared_hosts(loaded: &Loaded, home: &Path) -> Hosts {
    hosts(&loaded.manifest, &loaded.base_dir, home)
}

fn hosts(m: &Manifest, base: &Path, home: &Path) -> Hosts {
    let declared = m.hosts.iter().map(|(name, h)| {
        let host = Host {
            name: name.clone(),
            docker: h.docker.clone(),
            tls: h.tls.as_ref().map(|t| Tls {
                ca: paths::expand(&t.ca, base, home),
                cert: paths::expand(&t.cert, base, home),
                key: paths::expand(&t.key, base, home),
            }),
        };
        (name.clone(), host)
    });
    let local = Host::local();
    std::iter::once((local.name.clone(), local))
        .chain(declared)
        .collect()
}

/// The launch command of the instance's agent, with its model flag unless its mode takes the
/// model from env (kimi-code's `--model` names a config.toml alias and would override it).
fn command(
    agent: AgentKind,
    role: &crate::manifest::model::Role,
    auth: &[AgentAuth],
) -> Vec<String> {
    let info = agent.info();
    let mut command: Vec<String> = info.launch.iter().map(|s| (*s).to_owned()).collect();
    let launched_mode = auth
        .iter()
        .find(|a| a.agent == agent)
        .map_or(AuthMode::Sync, |a| a.mode);
    if let (Some(flag), Some(model), None) = (
        info.model_flag,
        role.agent_settings(agent).and_then(|s| s.model.as_ref()),
        agent.model_env(launched_mode),
    ) {
        command.push(flag.to_owned());
        command.push(model.clone());
    }
    command
}

/// Stage one of resolution (SPEC §2), which reads no environment: one declared instance,
/// the agent it launches and each agent's effective auth (mode, source and the scopes that set
/// them). `doctor`, the session commands and the console read this stage alone, so it is
/// there even when a credential env var is unset; [`resolve`] builds on it.
#[derive(Debug, Clone)]
pub struct Declared {
    /// The container name.
    pub name: String,
    pub workspace: String,
    pub role: String,
    pub agent: AgentKind,
    pub auth: Vec<AgentAuth>,
    /// The host it is placed on ([`Manifest::host_of`]).
    pub host: String,
}

/// Every declared instance of a validated state, by container name (stage one).
pub fn declare(loaded: &Loaded, home: &Path) -> BTreeMap<String, Declared> {
    let m = &loaded.manifest;
    let mut out = BTreeMap::new();
    for (ws_name, ws) in &m.workspaces {
        for role_name in ws.roles.keys() {
            let Some(role) = m.roles.get(role_name) else {
                continue; // validate() rejected it
            };
            let scopes = auth_scopes(m, ws_name, role_name);
            let declared = Declared {
                name: container_name(ws_name, role_name),
                workspace: ws_name.clone(),
                role: role_name.clone(),
                agent: launched_agent(m, ws_name, role_name),
                auth: agents_auth(role, &scopes, &loaded.base_dir, home),
                host: m.host_of(ws_name, role_name).0.to_owned(),
            };
            out.insert(declared.name.clone(), declared);
        }
    }
    out
}

/// The effective auth of each of a role's agents, under an instance's `scopes`.
fn agents_auth(
    role: &Role,
    scopes: &[(&AuthTable, Scope); 3],
    base: &Path,
    home: &Path,
) -> Vec<AgentAuth> {
    role.agents
        .iter()
        .map(|&a| resolve_auth(a, scopes, base, home))
        .collect()
}

/// The agent an instance launches: the instance's `agent`, else its workspace's, else the
/// role's first, else kimi (SPEC §2). `attach` names the same one.
pub fn launched_agent(m: &Manifest, ws_name: &str, role_name: &str) -> AgentKind {
    let ws = &m.workspaces[ws_name];
    ws.roles[role_name]
        .agent
        .or(ws.agent)
        .or_else(|| {
            m.roles
                .get(role_name)
                .and_then(|r| r.agents.first().copied())
        })
        .unwrap_or(AgentKind::Kimi)
}

/// The auth tables of one instance, highest precedence first ([`Manifest::auth_scopes`]).
fn auth_scopes<'m>(m: &'m Manifest, ws_name: &str, role_name: &str) -> [(&'m AuthTable, Scope); 3] {
    m.auth_scopes(ws_name, role_name)
        .map(|(table, level, path)| {
            let path = path.join(".");
            let scope = match level {
                Level::Instance => Scope::Instance(path),
                Level::Workspace => Scope::Workspace(path),
                Level::Global => Scope::Global(path),
            };
            (table, scope)
        })
}

/// Highest scope wins, independently for `mode` and `source`.
fn resolve_auth(
    agent: AgentKind,
    scopes: &[(&AuthTable, Scope); 3],
    base: &Path,
    home: &Path,
) -> AgentAuth {
    let at = |scope: &Scope| match scope {
        Scope::Default => Scope::Default,
        Scope::Global(p) => Scope::Global(format!("{p}.{agent}")),
        Scope::Workspace(p) => Scope::Workspace(format!("{p}.{agent}")),
        Scope::Instance(p) => Scope::Instance(format!("{p}.{agent}")),
    };
    let mode = scopes
        .iter()
        .find_map(|(t, s)| t.get(agent).and_then(|a| a.mode()).map(|m| (m, at(s))))
        .unwrap_or((AuthMode::Sync, Scope::Default));
    let source = scopes
        .iter()
        .find_map(|(t, s)| {
            t.get(agent)
                .and_then(|a| a.source())
                .map(|src| (paths::expand(src, base, home), at(s)))
        })
        .unwrap_or_else(|| (home.join(agent.info().default_source), Scope::Default));
    AgentAuth {
        agent,
        mode: mode.0,
        mode_from: mode.1,
        source: source.0,
        source_from: source.1,
    }
}

/// The E010 explanation: how the mode was chosen, and where the env var was looked for.
fn missing_credential(
    container: &str,
    auth: &AgentAuth,
    var: &str,
    scopes: &[(&AuthTable, Scope); 3],
    layers: &[Layer; 4],
    unset: &BTreeMap<String, (String, EnvSource)>,
    other_fix: Option<String>,
) -> Problem {
    let agent = auth.agent;
    let mut text = format!(
        "{container}: {agent} uses auth mode {} but {var} is empty or unset",
        auth.mode
    );
    let _ = writeln!(text);
    let _ = write!(text, "  auth mode resolution for {agent}:");
    for (table, scope) in scopes {
        let path = match scope {
            Scope::Global(p) | Scope::Workspace(p) | Scope::Instance(p) => format!("{p}.{agent}"),
            Scope::Default => "default".into(),
        };
        match table.get(agent).and_then(|a| a.mode()) {
            Some(m) => {
                let _ = write!(text, "\n    {path}: {m}");
            }
            None => {
                let _ = write!(text, "\n    {path}: not set");
            }
        }
    }
    let _ = write!(text, "\n    → {} (from {})", auth.mode, auth.mode_from);
    let _ = write!(text, "\n  env layers checked for {var} (later wins):");
    for layer in layers {
        let state = match layer.vars.get(var) {
            None => "not set".to_owned(),
            Some(_) => match unset.get(var) {
                Some((l, source)) if *l == layer.name => {
                    format!("refers to {source}, which is unset")
                }
                _ => "set, but empty".to_owned(),
            },
        };
        let _ = write!(text, "\n    [{}]: {state}", layer.name);
    }
    Problem {
        code: Code::E010,
        text,
        hint: format!(
            "set {var} in one of those env tables (e.g. `{var} = \"${{{var}}}\"` under [env]) and export the variable it refers to, {}or choose another auth mode for {agent}",
            other_fix.map(|f| format!("{f}, ")).unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `{ file }` value whose file holds a NUL byte is E011 naming the variable, the layer
    /// and the file, never the contents: the engine would refuse it and quote the value.
    #[test]
    fn a_nul_in_an_env_file_is_e011_without_the_contents() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proj");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("token"), b"s3cr3t\0tail\n").unwrap();
        std::fs::write(
            root.join("jackin.toml"),
            "version = 1\n[roles.smith]\nimage = \"img\"\nagents = [\"kimi\"]\n\
             [workspaces.app.roles.smith.env]\nTOKEN = { file = \"token\" }\n",
        )
        .unwrap();
        let loaded = crate::manifest::load(None, &root).unwrap();
        crate::manifest::validate(&loaded).unwrap();
        let home = JackinHome::at(dir.path().join("jh"));
        let err = resolve(&loaded, dir.path(), &home, &|_| None).unwrap_err();
        let text = crate::error::render(&err);
        assert_eq!(err.code(), Code::E011);
        assert!(
            text.starts_with(&format!(
                "error[E011]: jk-app-smith: env TOKEN in [workspaces.app.roles.smith.env] reads file {}, which contains a NUL byte",
                root.join("token").display()
            )),
            "{text}"
        );
        assert!(!text.contains("s3cr3t") && !text.contains("tail"), "{text}");
    }

    const KIMI_CODE: &str = "version = 1\nproject = \"p\"\n[roles.smith]\nimage = \"i\"\nagents = [\"kimi-code\"]\n[workspaces.app.roles.smith]\n";

    fn resolve_toml(toml: &str, vars: &[(&str, &str)]) -> Result<Desired, ResolveError> {
        let dir = tempfile::tempdir().unwrap();
        resolve_in(dir.path(), toml, vars)
    }

    /// `toml` as `dir/proj/jackin.toml`, resolved with `dir` as `$HOME`.
    fn resolve_in(dir: &Path, toml: &str, vars: &[(&str, &str)]) -> Result<Desired, ResolveError> {
        let root = dir.join("proj");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("jackin.toml"), toml).unwrap();
        let loaded = crate::manifest::load(Some(&root.join("jackin.toml")), &root).unwrap();
        crate::manifest::validate(&loaded).unwrap();
        let jh = JackinHome::at(dir.join("jh"));
        let lookup = |n: &str| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        };
        resolve(&loaded, dir, &jh, &lookup)
    }

    /// Each instance lands on the host its precedence names; `hosts` holds `local` and every
    /// declared host, used or not, with its tls paths expanded like any path of the file.
    #[test]
    fn instances_land_on_their_hosts_and_every_declared_host_is_there() {
        let toml = "version = 1\nproject = \"p\"\n\
            [hosts.gpu-1]\ndocker = \"ssh://ops@gpu-1\"\n\
            [hosts.gpu-2]\ndocker = \"tcp://gpu-2:2376\"\n\
            tls = { ca = \"certs/ca.pem\", cert = \"~/certs/cert.pem\", key = \"/etc/gpu/key.pem\" }\n\
            [hosts.spare]\ndocker = \"unix:///run/spare.sock\"\n\
            [roles.smith]\nimage = \"i\"\nagents = [\"kimi\"]\n\
            [roles.neo]\nimage = \"i\"\nagents = [\"kimi\"]\n\
            [workspaces.app]\nhost = \"gpu-1\"\n[workspaces.app.roles.smith]\n\
            [workspaces.app.roles.neo]\nhost = \"gpu-2\"\n[workspaces.web.roles.smith]\n";
        let dir = tempfile::tempdir().unwrap();
        let d = resolve_in(dir.path(), toml, &[]).unwrap();
        let placed: Vec<(&str, &str)> = d
            .instances
            .values()
            .map(|i| (i.name.as_str(), i.host.as_str()))
            .collect();
        assert_eq!(
            placed,
            [
                ("jk-app-neo", "gpu-2"),
                ("jk-app-smith", "gpu-1"),
                ("jk-web-smith", "local")
            ]
        );
        let names: Vec<&str> = d.hosts.keys().map(String::as_str).collect();
        assert_eq!(names, ["gpu-1", "gpu-2", "local", "spare"]);
        assert_eq!(d.hosts["local"], Host::local());
        assert_eq!(
            d.hosts["gpu-1"],
            Host {
                name: "gpu-1".into(),
                docker: "ssh://ops@gpu-1".into(),
                tls: None
            }
        );
        assert_eq!(
            d.hosts["gpu-2"].tls,
            Some(Tls {
                ca: dir.path().join("proj/certs/ca.pem"),
                cert: dir.path().join("certs/cert.pem"),
                key: PathBuf::from("/etc/gpu/key.pem"),
            })
        );
        assert_eq!(d.hosts["spare"].docker, "unix:///run/spare.sock");
        // Stage one (doctor, the session commands) places them the same way.
        let loaded = crate::manifest::load(None, &dir.path().join("proj")).unwrap();
        let declared = declare(&loaded, dir.path());
        assert_eq!(declared["jk-app-neo"].host, "gpu-2");
        assert_eq!(declared["jk-web-smith"].host, "local");
    }

    fn env_of(d: &Desired) -> BTreeMap<&str, (&str, &str)> {
        d.instances["jk-app-smith"]
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), (v.value.expose(), v.layer.as_str())))
            .collect()
    }

    #[test]
    fn kimi_code_api_key_passes_the_model_as_kimi_model_name_and_no_flag() {
        let toml = format!("{KIMI_CODE}[roles.smith.kimi-code]\nmodel = \"k2\"\n[auth]\nkimi-code = \"api_key\"\n[env]\nKIMI_MODEL_API_KEY = \"$K\"\n");
        let d = resolve_toml(&toml, &[("K", "sk-1")]).unwrap();
        let env = env_of(&d);
        assert_eq!(env["KIMI_MODEL_API_KEY"], ("sk-1", "env"));
        assert_eq!(
            env["KIMI_MODEL_NAME"],
            ("k2", "roles.smith.kimi-code.model")
        );
        assert_eq!(env["KIMI_CODE_HOME"], ("/jackin/kimi-code", "catalogue"));
        assert_eq!(d.instances["jk-app-smith"].command, ["kimi", "--yolo"]);
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn kimi_code_in_sync_takes_the_model_flag_and_no_model_env() {
        let toml = format!("{KIMI_CODE}[roles.smith.kimi-code]\nmodel = \"k2\"\n");
        let d = resolve_toml(&toml, &[]).unwrap();
        assert!(!env_of(&d).contains_key("KIMI_MODEL_NAME"));
        assert_eq!(
            d.instances["jk-app-smith"].command,
            ["kimi", "--yolo", "--model", "k2"]
        );
    }

    #[test]
    fn the_operators_kimi_model_name_wins_over_the_roles_model() {
        let toml = format!("{KIMI_CODE}[roles.smith.kimi-code]\nmodel = \"k2\"\n[auth]\nkimi-code = \"api_key\"\n[env]\nKIMI_MODEL_API_KEY = \"$K\"\n[workspaces.app.env]\nKIMI_MODEL_NAME = \"mine\"\n");
        let d = resolve_toml(&toml, &[("K", "sk-1")]).unwrap();
        assert_eq!(
            env_of(&d)["KIMI_MODEL_NAME"],
            ("mine", "workspaces.app.env")
        );
    }

    #[test]
    fn an_unset_kimi_model_name_without_a_model_is_e010_with_both_fixes() {
        let toml = format!("{KIMI_CODE}[auth]\nkimi-code = \"api_key\"\n[env]\nKIMI_MODEL_API_KEY = \"$K\"\nKIMI_MODEL_NAME = \"$M\"\n");
        let err = resolve_toml(&toml, &[("K", "sk-1")]).unwrap_err();
        assert_eq!(err.code(), Code::E010);
        assert!(
            err.to_string().starts_with(
                "jk-app-smith: kimi-code uses auth mode api_key but KIMI_MODEL_NAME is empty or unset"
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("[env]: refers to ${M} from jackin's environment, which is unset"),
            "{err}"
        );
        assert!(
            err.hint().unwrap().contains(
                "set `model` under [roles.smith.kimi-code] (jackin passes it as KIMI_MODEL_NAME)"
            ),
            "{:?}",
            err.hint()
        );
        // With a model, the unset reference gives way to it, without a warning.
        let toml = format!("{toml}[roles.smith.kimi-code]\nmodel = \"k2\"\n");
        let d = resolve_toml(&toml, &[("K", "sk-1")]).unwrap();
        assert_eq!(env_of(&d)["KIMI_MODEL_NAME"].0, "k2");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    }

    #[test]
    fn ignore_drops_the_whole_kimi_model_channel() {
        let toml = format!("{KIMI_CODE}[auth]\nkimi-code = \"ignore\"\n[env]\nKIMI_MODEL_API_KEY = \"k\"\nKIMI_MODEL_NAME = \"m\"\n");
        let env_keys: Vec<String> = env_of(&resolve_toml(&toml, &[]).unwrap())
            .keys()
            .map(|k| (*k).to_owned())
            .collect();
        assert_eq!(env_keys, ["KIMI_CODE_HOME"]);
    }

    #[test]
    fn claude_launches_with_the_bypass_prompt_settings_and_opencode_allows_all() {
        let toml = "version = 1\nproject = \"p\"\n[roles.smith]\nimage = \"i\"\nagents = [\"claude\", \"opencode\"]\n[roles.smith.claude]\nmodel = \"opus\"\n[workspaces.app.roles.smith]\n";
        let d = resolve_toml(toml, &[]).unwrap();
        assert_eq!(
            d.instances["jk-app-smith"].command,
            [
                "claude",
                "--settings",
                "{\"skipDangerousModePermissionPrompt\":true}",
                "--dangerously-skip-permissions",
                "--model",
                "opus"
            ]
        );
        assert_eq!(
            env_of(&d)["OPENCODE_CONFIG_CONTENT"],
            ("{\"permission\":\"allow\"}", "catalogue")
        );
    }
}
