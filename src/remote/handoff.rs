//! Put, read and remove one managed file in a container's handoff volume, through the engine.

use super::archive::{self, Found};
use super::{api, RemoteError};
use crate::words::RelPath;
use bollard::exec::{CreateExecOptions, StartExecResults};
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
    fn abs(&self, rel: &RelPath) -> String {
        format!(
            "{}/{}",
            self.target.trim_end_matches('/'),
            show(rel.as_bytes())
        )
    }

    /// What is at `rel`: absent, a capped regular file with its hash, or refused (never read).
    pub async fn read(&self, rel: &RelPath) -> Result<Found, RemoteError> {
        let path = self.abs(rel);
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
    /// Whatever is at `rel` and is not a regular file is refused before anything is written.
    /// In a created container nobody can read yet, so the file is extracted at its name; in a
    /// running one it is extracted under a fresh hidden name in the same directory (same
    /// volume) and renamed over `rel` in one `rename(2)` (an exec of `mv` as `uid:gid`), so the
    /// agent sees the old file or the new one, never half of one. The engine replaces, never
    /// follows, a link it meets while extracting; `rename` replaces a final link too.
    pub async fn put(
        &self,
        rel: &RelPath,
        contents: &[u8],
        uid: u64,
        gid: u64,
    ) -> Result<(), RemoteError> {
        if let Found::Refused { header, .. } = self.read(rel).await? {
            return Err(self.refused(rel, &format!("{:?}", header.kind)));
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
        let in_tar = dir
            .as_ref()
            .map_or(put_name.clone(), |d| format!("{d}/{put_name}"));
        let tar = archive::build(&dirs, &in_tar, contents, uid, gid).map_err(|e| {
            RemoteError::Protocol {
                op: "build tar".into(),
                detail: e.to_string(),
            }
        })?;
        self.upload(tar).await?;
        if running {
            let from = self.in_target(dir.as_deref(), &put_name);
            let to = self.in_target(dir.as_deref(), &final_name);
            self.exec(&["mv", "-f", "--", &from, &to], uid, gid).await?;
        }
        Ok(())
    }

    /// Remove `rel` (whatever it is: `rm` does not follow a link). Needs a running container;
    /// a created one's volume is simply recreated.
    pub async fn remove(&self, rel: &RelPath, uid: u64, gid: u64) -> Result<(), RemoteError> {
        let path = self.abs(rel);
        self.exec(&["rm", "-rf", "--", &path], uid, gid).await
    }

    fn in_target(&self, dir: Option<&str>, name: &str) -> String {
        let base = self.target.trim_end_matches('/');
        dir.map_or(format!("{base}/{name}"), |d| format!("{base}/{d}/{name}"))
    }

    fn refused(&self, rel: &RelPath, what: &str) -> RemoteError {
        RemoteError::Refused {
            container: self.container.clone(),
            path: self.abs(rel),
            what: what.to_lowercase(),
        }
    }

    async fn upload(&self, tar: Vec<u8>) -> Result<(), RemoteError> {
        let opts = bollard::query_parameters::UploadToContainerOptionsBuilder::new()
            .path(&self.target)
            .no_overwrite_dir_non_dir("true")
            .build();
        let body = bollard::body_full(bytes::Bytes::from(tar));
        self.docker
            .upload_to_container(&self.container, Some(opts), body)
            .await
            .map_err(|e| api(format!("put into {}", self.target), &e))
    }

    async fn running(&self) -> Result<bool, RemoteError> {
        let c = self
            .docker
            .inspect_container(
                &self.container,
                None::<bollard::query_parameters::InspectContainerOptions>,
            )
            .await
            .map_err(|e| api(format!("inspect {}", self.container), &e))?;
        Ok(c.state.and_then(|s| s.running).unwrap_or(false))
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
