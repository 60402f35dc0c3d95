//! Put, read and remove one managed file in a container's handoff volume, through the engine.

use super::archive::{self, Found};
use super::{api, RemoteError};
use crate::words::RelPath;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{
    CreateContainerOptions, InspectContainerOptions, RemoveContainerOptions, StartContainerOptions,
    WaitContainerOptions,
};
use bollard::Docker;
use futures_util::StreamExt;

/// One container's handoff: the volume mounted at `target` (an absolute path in the container).
pub struct RemoteHandoff<'a> {
    pub docker: &'a Docker,
    pub container: String,
    pub target: String,
}

fn show(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

impl RemoteHandoff<'_> {
    /// The path `rel` names in the container.
    pub fn path(&self, rel: &RelPath) -> String {
        format!(
            "{}/{}",
            self.target.trim_end_matches('/'),
            show(rel.as_bytes())
        )
    }

    /// What is at `rel`: absent, a capped regular file with its hash, or refused (never read).
    pub async fn read(&self, rel: &RelPath) -> Result<Found, RemoteError> {
        let path = self.path(rel);
        let opts = bollard::query_parameters::DownloadFromContainerOptionsBuilder::new()
            .path(&path)
            .build();
        let stream = self
            .docker
            .download_from_container(&self.container, Some(opts));
        match archive::read_first(stream).await {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(detail)) => Err(RemoteError::Protocol {
                op: format!("read {path}"),
                detail,
            }),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(Found::Absent),
            Err(e) => Err(api(format!("read {path}"), &e)),
        }
    }

    /// Put `contents` at `rel`: 0600, owned by `uid:gid`, parents 0700.
    ///
    /// A directory at `rel` is refused before anything is written; a link, FIFO or other file
    /// there is replaced (as on this machine: the host's login wins over what the container
    /// put there), never written through. In a created container nobody can read yet, so the
    /// file is extracted at its name; in a running one it is extracted under a fresh hidden
    /// name in the same directory (same volume) and renamed over `rel` in one `rename(2)` (an
    /// exec of `mv` as `uid:gid`), so the agent sees the old file or the new one, never half of
    /// one. The engine replaces, never follows, a link it meets while extracting; `rename`
    /// replaces a final link too. A parent that is not a directory makes the engine refuse.
    pub async fn put(
        &self,
        rel: &RelPath,
        contents: &[u8],
        uid: u64,
        gid: u64,
    ) -> Result<(), RemoteError> {
        if let Found::Refused { header, .. } = self.read(rel).await? {
            if header.kind == crate::words::Kind::Directory {
                return Err(self.refused(rel, "a directory"));
            }
        }
        let (parents, name) = rel.split_last();
        let parents: Vec<String> = parents.map(show).collect();
        let dirs: Vec<String> = (1..=parents.len())
            .map(|n| parents[..n].join("/"))
            .collect();
        let running = self.running().await?;
        let dir = dirs.last().cloned();
        let final_name = show(name);
        let put_name = if running {
            format!(".jackin-new-{}", fresh())
        } else {
            final_name.clone()
        };
        let in_dir = dir
            .as_ref()
            .map_or(put_name.clone(), |d| format!("{d}/{put_name}"));
        // Extracted into the target's parent, the tar names the target itself first: the
        // engine then gives the volume's root (which it made as root) to the container's user,
        // as this machine's handoff folders are given, so the agent can keep its own state there
        // and a file can be renamed into place as that user. (An entry for the directory a tar
        // is extracted into is not applied.)
        let (into, base) = self.parent_and_base();
        let in_base = |p: &str| base.map_or(p.to_owned(), |b| format!("{b}/{p}"));
        let dirs: Vec<String> = base
            .map(str::to_owned)
            .into_iter()
            .chain(dirs.iter().map(|d| in_base(d)))
            .collect();
        let tar = archive::build(&dirs, &in_base(&in_dir), contents, uid, gid).map_err(|e| {
            RemoteError::Protocol {
                op: "build tar".into(),
                detail: e.to_string(),
            }
        })?;
        self.upload(into, tar).await?;
        if running {
            let from = self.in_target(dir.as_deref(), &put_name);
            let to = self.in_target(dir.as_deref(), &final_name);
            self.exec(&["mv", "-f", "--", &from, &to], uid, gid).await?;
        }
        Ok(())
    }

    /// Remove the entry at `rel` (a file, or a link as one entry: `rm` follows none, and
    /// refuses a directory). In a running container it is an exec as `uid:gid`; in a stopped
    /// or created one (no exec there), a one-off container of the same image with the same
    /// volume at the same target runs the same `rm`, then is removed.
    pub async fn remove(&self, rel: &RelPath, uid: u64, gid: u64) -> Result<(), RemoteError> {
        let path = self.path(rel);
        let cmd = ["rm", "-f", "--", path.as_str()];
        if self.running().await? {
            self.exec(&cmd, uid, gid).await
        } else {
            self.helper(&cmd, uid, gid).await
        }
    }

    /// Run `cmd` as `uid:gid` in a throwaway container of this container's image, with no
    /// network and only this handoff's volume mounted (at the same target), and require exit 0.
    async fn helper(&self, cmd: &[&str], uid: u64, gid: u64) -> Result<(), RemoteError> {
        let op = format!("{} for {}", cmd.first().unwrap_or(&""), self.container);
        let c = self.inspect().await?;
        let volume = c
            .mounts
            .unwrap_or_default()
            .into_iter()
            .find(|m| m.destination.as_deref() == Some(self.target.as_str()))
            .and_then(|m| m.name)
            .ok_or_else(|| RemoteError::Protocol {
                op: op.clone(),
                detail: format!("no volume is mounted at {}", self.target),
            })?;
        let body = bollard::models::ContainerCreateBody {
            image: c.image,
            entrypoint: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
            cmd: Some(Vec::new()),
            user: Some(format!("{uid}:{gid}")),
            network_disabled: Some(true),
            labels: Some(
                [(
                    crate::words::labels::LABEL_HELPER_FOR.to_owned(),
                    self.container.clone(),
                )]
                .into(),
            ),
            host_config: Some(bollard::models::HostConfig {
                network_mode: Some("none".into()),
                mounts: Some(vec![bollard::models::Mount {
                    source: Some(volume),
                    target: Some(self.target.clone()),
                    typ: Some(bollard::models::MountTypeEnum::VOLUME),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let made = self
            .docker
            .create_container(None::<CreateContainerOptions>, body)
            .await
            .map_err(|e| api(&op, &e))?;
        let ran = self.run_helper(&made.id, &op).await;
        let opts = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        let removed = self.docker.remove_container(&made.id, Some(opts)).await;
        ran?;
        removed.map_err(|e| api(&op, &e))
    }

    /// Start the helper and wait for its exit code.
    async fn run_helper(&self, id: &str, op: &str) -> Result<(), RemoteError> {
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|e| api(op, &e))?;
        let mut wait = self.docker.wait_container(id, None::<WaitContainerOptions>);
        match wait.next().await {
            Some(Ok(r)) if r.status_code == 0 => Ok(()),
            Some(Ok(r)) => Err(RemoteError::Protocol {
                op: op.to_owned(),
                detail: format!("exit {}", r.status_code),
            }),
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
                Err(RemoteError::Protocol {
                    op: op.to_owned(),
                    detail: format!("exit {code}"),
                })
            }
            Some(Err(e)) => Err(api(op, &e)),
            None => Err(RemoteError::Protocol {
                op: op.to_owned(),
                detail: "the engine did not say how it ended".into(),
            }),
        }
    }

    fn in_target(&self, dir: Option<&str>, name: &str) -> String {
        let base = self.target.trim_end_matches('/');
        dir.map_or(format!("{base}/{name}"), |d| format!("{base}/{d}/{name}"))
    }

    fn refused(&self, rel: &RelPath, what: &str) -> RemoteError {
        RemoteError::Refused {
            container: self.container.clone(),
            path: self.path(rel),
            what: what.to_lowercase(),
        }
    }

    /// The directory the target is in and the target's own name (`None` for `/`).
    fn parent_and_base(&self) -> (&str, Option<&str>) {
        let target = self.target.trim_end_matches('/');
        match target.rsplit_once('/') {
            Some((parent, base)) if !base.is_empty() => {
                (if parent.is_empty() { "/" } else { parent }, Some(base))
            }
            _ => (self.target.as_str(), None),
        }
    }

    async fn upload(&self, into: &str, tar: Vec<u8>) -> Result<(), RemoteError> {
        let opts = bollard::query_parameters::UploadToContainerOptionsBuilder::new()
            .path(into)
            .no_overwrite_dir_non_dir("true")
            .build();
        let body = bollard::body_full(bytes::Bytes::from(tar));
        self.docker
            .upload_to_container(&self.container, Some(opts), body)
            .await
            .map_err(|e| api(format!("put into {into}"), &e))
    }

    async fn running(&self) -> Result<bool, RemoteError> {
        let c = self.inspect().await?;
        Ok(c.state.and_then(|s| s.running).unwrap_or(false))
    }

    async fn inspect(&self) -> Result<bollard::models::ContainerInspectResponse, RemoteError> {
        self.docker
            .inspect_container(&self.container, None::<InspectContainerOptions>)
            .await
            .map_err(|e| api(format!("inspect {}", self.container), &e))
    }

    /// Run a short command in the container as `uid:gid` and require exit code 0.
    async fn exec(&self, cmd: &[&str], uid: u64, gid: u64) -> Result<(), RemoteError> {
        let op = format!("{} in {}", cmd.first().unwrap_or(&""), self.container);
        let opts = CreateExecOptions {
            cmd: Some(cmd.iter().map(|s| (*s).to_owned()).collect()),
            user: Some(format!("{uid}:{gid}")),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let made = self.docker.create_exec(&self.container, opts).await;
        let made = made.map_err(|e| api(&op, &e))?;
        let started = self.docker.start_exec(&made.id, None).await;
        let mut said = Vec::new();
        if let StartExecResults::Attached { mut output, .. } = started.map_err(|e| api(&op, &e))? {
            while let Some(Ok(msg)) = output.next().await {
                if said.len() < 4096 {
                    said.extend_from_slice(&msg.into_bytes());
                }
            }
        }
        let done = self
            .docker
            .inspect_exec(&made.id)
            .await
            .map_err(|e| api(&op, &e))?;
        match done.exit_code {
            Some(0) => Ok(()),
            code => Err(RemoteError::Protocol {
                op,
                detail: format!("exit {code:?}: {}", crate::redact::shown(&show(&said))),
            }),
        }
    }
}

/// 64 random bits as hex: a name the agent cannot guess ahead of time.
fn fresh() -> String {
    let mut b = [0u8; 8];
    rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::empty())
        .map_or_else(|_| format!("{:x}", std::process::id()), |_| hex::encode(b))
}
