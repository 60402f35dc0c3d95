//! The remote handoff primitive (`jackin::remote`) against a real second engine standing in
//! for a remote host (`scripts/second-engine.sh`: its own network namespace, data root and
//! containerd, a tmpfs over this machine's /tmp, home and /work). The first test to need it
//! starts it (idempotent); `scripts/test.sh` stops it at the end. Containers are created with
//! the docker CLI against that engine; only the primitive goes through bollard.

use crate::common::second_engine::{docker_ok, docker_out, engine};
use crate::common::{agent_image, block};
use jackin::bounded::Refused;
use jackin::remote::{self, Found, RemoteError, RemoteHandoff, VolumeLabels};
use jackin::words::{Kind, RelPath};
use std::process::Command;

const TARGET: &str = "/home/agent/.claude";
const UID: u64 = 4242;

#[track_caller]
fn sh(host: &str, c: &str, script: &str) -> String {
    let (ok, out) = docker_out(host, &["exec", "-u", "0", c, "sh", "-c", script]);
    assert!(ok, "{script}: {out}");
    out
}

/// A container with a fresh labelled volume at TARGET, running as UID, no network, no bind
/// mount; removed (with its volume) when dropped.
struct Box_ {
    host: String,
    name: String,
    volume: String,
    project: String,
}

impl Box_ {
    fn new(start: bool) -> Box_ {
        let host = engine().to_owned();
        let tag = format!("{}-{:x}", std::process::id(), rand_u64());
        let project = format!("rh{tag}");
        let b = Box_ {
            name: format!("jackin-rh-{tag}"),
            volume: format!("jackin-rh-{tag}-claude"),
            host,
            project,
        };
        let labels = VolumeLabels {
            project: b.project.clone(),
            instance: b.name.clone(),
            agent: "claude".into(),
        };
        let docker = b.api();
        block(remote::create_volume(&docker, &b.volume, &labels)).expect("create volume");
        let mount = format!("type=volume,source={},target={TARGET}", b.volume);
        let user = format!("{UID}:{UID}");
        let (ok, out) = docker_out(
            &b.host,
            &[
                "create",
                "--name",
                &b.name,
                "--network",
                "none",
                "--user",
                &user,
                "--mount",
                &mount,
                "--entrypoint",
                "sleep",
                agent_image(),
                "3600",
            ],
        );
        assert!(ok, "create: {out}");
        if start {
            assert!(docker_ok(&b.host, &["start", &b.name]));
        }
        b
    }

    fn api(&self) -> bollard::Docker {
        bollard::Docker::connect_with_http(&self.host, 60, bollard::API_DEFAULT_VERSION)
            .expect("connect")
    }

    fn handoff<'a>(&self, docker: &'a bollard::Docker) -> RemoteHandoff<'a> {
        RemoteHandoff {
            docker,
            container: self.name.clone(),
            target: TARGET.into(),
        }
    }
}

impl Drop for Box_ {
    fn drop(&mut self) {
        let _ = docker_out(&self.host, &["rm", "-f", &self.name]);
        let _ = block(remote::remove_volume(
            &self.api(),
            &self.volume,
            &self.project,
        ));
    }
}

fn rand_u64() -> u64 {
    let mut b = [0u8; 8];
    rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty()).expect("random");
    u64::from_le_bytes(b)
}

fn rel(s: &str) -> RelPath {
    RelPath::parse(s).expect("rel path")
}

#[test]
fn a_put_file_is_what_the_container_reads_and_a_rotation_reads_back() {
    let b = Box_::new(false);
    let docker = b.api();
    let h = b.handoff(&docker);
    let secret: Vec<u8> = (0..=255u8).cycle().take(70_000).collect(); // binary, > one tar block
    block(h.put(&rel("sub/deep/.credentials.json"), &secret, UID, UID)).expect("put before start");
    assert!(docker_ok(&b.host, &["start", &b.name]));

    let f = format!("{TARGET}/sub/deep/.credentials.json");
    let stat = sh(
        &b.host,
        &b.name,
        &format!("stat -c '%a %u:%g' {f} {TARGET}/sub {TARGET}/sub/deep"),
    );
    assert_eq!(
        stat,
        format!("600 {UID}:{UID}\n700 {UID}:{UID}\n700 {UID}:{UID}\n")
    );
    let (ok, got) = docker_bytes(&b.host, &b.name, &f);
    assert!(ok);
    assert_eq!(
        got, secret,
        "the container reads the bytes put, byte for byte"
    );
    let (_, mounts) = docker_out(
        &b.host,
        &[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}} {{end}}",
            &b.name,
        ],
    );
    assert_eq!(
        mounts.trim(),
        "volume",
        "no bind mount of a local path: {mounts}"
    );

    sh(&b.host, &b.name, &format!("printf rotated-by-agent > {f}"));
    match block(h.read(&rel("sub/deep/.credentials.json"))).expect("read") {
        Found::File {
            bytes,
            sha256,
            header,
        } => {
            assert_eq!(bytes, b"rotated-by-agent");
            assert_eq!(header.uid, UID);
            assert_eq!(sha256.len(), 64);
        }
        other => panic!("expected a file, got {other:?}"),
    }
    // while running: put under a fresh name, renamed over in one step
    block(h.put(&rel("sub/deep/.credentials.json"), b"second", UID, UID)).expect("put running");
    let (_, got) = docker_bytes(&b.host, &b.name, &f);
    assert_eq!(got, b"second");
    let left = sh(&b.host, &b.name, &format!("ls -A {TARGET}/sub/deep"));
    assert_eq!(left, ".credentials.json\n", "no temporary left behind");
    block(h.remove(&rel("sub/deep/.credentials.json"), UID, UID)).expect("remove");
    assert_eq!(
        block(h.read(&rel("sub/deep/.credentials.json"))).expect("read"),
        Found::Absent
    );
}

fn docker_bytes(host: &str, c: &str, path: &str) -> (bool, Vec<u8>) {
    let out = Command::new("docker")
        .env("DOCKER_HOST", host)
        .args(["exec", c, "cat", path])
        .output();
    let out = out.expect("docker exec cat");
    (out.status.success(), out.stdout)
}

#[test]
fn a_link_at_a_managed_path_is_reported_and_never_written_through() {
    let b = Box_::new(true);
    let docker = b.api();
    let h = b.handoff(&docker);
    sh(&b.host, &b.name, &format!(
        "mkdir -p /outside && printf original > /outside/secret && ln -s /outside/secret {TARGET}/creds.json && ln -s /outside {TARGET}/dir"
    ));
    let found = block(h.read(&rel("creds.json"))).expect("read");
    assert!(
        matches!(
            found,
            Found::Refused {
                why: Refused::NotRegular(Kind::Symlink),
                ..
            }
        ),
        "{found:?}"
    );
    // The host's login wins over the link: the link itself is replaced by the file.
    block(h.put(&rel("creds.json"), b"HOST", UID, UID)).expect("put over the link");
    let found = block(h.read(&rel("creds.json"))).expect("read");
    assert!(
        matches!(&found, Found::File { bytes, .. } if bytes == b"HOST"),
        "{found:?}"
    );
    // A directory at the name is refused, before anything is written.
    sh(&b.host, &b.name, &format!("mkdir {TARGET}/adir"));
    let put = block(h.put(&rel("adir"), b"EVIL", UID, UID));
    assert!(matches!(put, Err(RemoteError::Refused { .. })), "{put:?}");
    // a link as a parent: the engine refuses to put a directory over it, never follows it
    let put = block(h.put(&rel("dir/creds.json"), b"EVIL", UID, UID));
    assert!(put.is_err(), "{put:?}");
    let outside = sh(&b.host, &b.name, "cat /outside/secret; ls -A /outside");
    assert_eq!(
        outside, "originalsecret\n",
        "the link's target outside the volume is unchanged"
    );
}

#[test]
fn a_fifo_or_a_huge_sparse_file_is_reported_without_being_read() {
    let b = Box_::new(true);
    let docker = b.api();
    let h = b.handoff(&docker);
    sh(&b.host, &b.name, &format!(
        "mkfifo {TARGET}/fifo && truncate -s 1099511627776 {TARGET}/huge && mkdir {TARGET}/dir && mknod {TARGET}/dev c 1 3 || true"
    ));
    let fifo = block(h.read(&rel("fifo"))).expect("read fifo");
    assert!(
        matches!(
            fifo,
            Found::Refused {
                why: Refused::NotRegular(Kind::Fifo),
                ..
            }
        ),
        "{fifo:?}"
    );
    let huge = block(h.read(&rel("huge"))).expect("read huge");
    assert!(
        matches!(
            huge,
            Found::Refused {
                why: Refused::Oversized,
                ..
            }
        ),
        "{huge:?}"
    );
    let dir = block(h.read(&rel("dir"))).expect("read dir");
    assert!(
        matches!(
            dir,
            Found::Refused {
                why: Refused::NotRegular(Kind::Directory),
                ..
            }
        ),
        "{dir:?}"
    );
    // The host's file wins over a FIFO as over a link: replaced, never opened.
    block(h.put(&rel("fifo"), b"x", UID, UID)).expect("put over the fifo");
    assert_eq!(
        sh(
            &b.host,
            &b.name,
            &format!("stat -c '%F %a %u' {TARGET}/fifo {TARGET}")
        ),
        format!("regular file 600 {UID}\ndirectory 700 {UID}\n"),
        "a file in place of the FIFO, and the volume's root given to the container's user"
    );
}

#[test]
fn volumes_carry_the_labels_and_the_helper_removes_only_ours() {
    let host = engine();
    let docker = bollard::Docker::connect_with_http(host, 60, bollard::API_DEFAULT_VERSION)
        .expect("connect");
    let project = format!("rhv{:x}", rand_u64());
    let name = format!("jackin-{project}-ws-claude");
    let labels = VolumeLabels {
        project: project.clone(),
        instance: "ws-dev".into(),
        agent: "claude".into(),
    };
    block(remote::create_volume(&docker, &name, &labels)).expect("create");
    let listed = block(remote::list_volumes(&docker, &project)).expect("list");
    assert_eq!(listed.len(), 1);
    let (n, l) = &listed[0];
    assert_eq!(n, &name);
    assert_eq!(l.get("jackin.instance").map(String::as_str), Some("ws-dev"));
    assert_eq!(l.get("jackin.agent").map(String::as_str), Some("claude"));
    let foreign = format!("not-ours-{project}");
    assert!(docker_ok(host, &["volume", "create", &foreign]));
    let refused = block(remote::remove_volume(&docker, &foreign, &project));
    assert!(
        matches!(refused, Err(RemoteError::NotOurs(_))),
        "{refused:?}"
    );
    assert!(docker_ok(host, &["volume", "rm", &foreign]));
    block(remote::remove_volume(&docker, &name, &project)).expect("remove");
    assert!(block(remote::list_volumes(&docker, &project))
        .expect("list")
        .is_empty());
}
