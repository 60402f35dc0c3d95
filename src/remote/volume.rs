//! Labelled volumes: one per instance × agent, carrying the same `jackin.*` labels as the
//! containers so `destroy --purge` and `doctor` find exactly ours and nothing else.

use super::{api, RemoteError};
use crate::words::labels;
use bollard::Docker;
use std::collections::HashMap;

/// The labels that make a volume ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeLabels {
    pub project: String,
    pub instance: String,
    pub agent: String,
}

impl VolumeLabels {
    fn map(&self) -> HashMap<String, String> {
        labels::owned_by(&self.project)
            .into_iter()
            .chain([
                (labels::LABEL_INSTANCE, self.instance.clone()),
                (labels::LABEL_AGENT, self.agent.clone()),
            ])
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }
}

/// Create (or find, since the engine's create is idempotent for the same name) a volume.
pub async fn create_volume(
    docker: &Docker,
    name: &str,
    labels: &VolumeLabels,
) -> Result<(), RemoteError> {
    let opts = bollard::models::VolumeCreateOptions {
        name: Some(name.to_owned()),
        labels: Some(labels.map()),
        ..Default::default()
    };
    let made = docker
        .create_volume(opts)
        .await
        .map_err(|e| api(format!("create volume {name}"), &e))?;
    let found = made.labels;
    if labels.map().iter().any(|(k, v)| found.get(k) != Some(v)) {
        return Err(RemoteError::NotOurs(name.to_owned()));
    }
    Ok(())
}

/// This project's volumes (names with their labels), one filtered list call.
pub async fn list_volumes(
    docker: &Docker,
    project: &str,
) -> Result<Vec<(String, HashMap<String, String>)>, RemoteError> {
    let filters = HashMap::from([("label", labels::selector(project).map(|(_, v)| v).to_vec())]);
    let opts = bollard::query_parameters::ListVolumesOptionsBuilder::new()
        .filters(&filters)
        .build();
    let listed = docker
        .list_volumes(Some(opts))
        .await
        .map_err(|e| api("list volumes", &e))?;
    Ok(listed
        .volumes
        .unwrap_or_default()
        .into_iter()
        .map(|v| (v.name, v.labels))
        .collect())
}

/// Remove one volume, only when its labels say it is this project's.
pub async fn remove_volume(docker: &Docker, name: &str, project: &str) -> Result<(), RemoteError> {
    let vol = docker
        .inspect_volume(name)
        .await
        .map_err(|e| api(format!("inspect volume {name}"), &e))?;
    if !labels::is_ours(&vol.labels, project) {
        return Err(RemoteError::NotOurs(name.to_owned()));
    }
    docker
        .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
        .await
        .map_err(|e| api(format!("remove volume {name}"), &e))
}
