//! Who each container runs as, as numbers: the owner its handoff must have (SPEC v2 §4).
//!
//! The state's `user` (or, without one, the image's `USER`) is resolved the way Docker does:
//! names against the image's `/etc/passwd` and `/etc/group`. That costs three engine calls
//! (create a container that never starts, read, remove), so it is done only when needed: a
//! container whose label records the same image ID and user already says who it runs as, and
//! an image is read at most once per pass.

use crate::desired::spec::SpecSummary;
use crate::desired::user::{self, UserSpec};
use crate::runtime::{Engine, ImageInfo, RuntimeError};
use crate::words::Owner;
use std::collections::BTreeMap;

/// Per image ID, its `/etc/passwd` and `/etc/group` (read once per pass).
#[derive(Debug, Default)]
pub struct UserFiles(BTreeMap<String, (String, String)>);

/// Resolve the owner of an instance whose image is present. `Ok(Err(why))`: the user cannot
/// be resolved (that instance's problem); `Err`: the engine failed.
pub async fn resolve(
    runtime: &impl Engine,
    spec: &UserSpec,
    image: &str,
    info: &ImageInfo,
    host: Owner,
    label: Option<&SpecSummary>,
    files: &mut UserFiles,
) -> Result<Result<Owner, String>, RuntimeError> {
    let docker_user = spec.docker_user(host);
    if let Some(owner) = label
        .filter(|l| l.image_id == info.id && l.user == docker_user)
        .and_then(SpecSummary::owner)
    {
        return Ok(Ok(owner));
    }
    let effective = docker_user.unwrap_or_else(|| info.user.clone());
    if user::numeric_owner(&effective).is_none() && !files.0.contains_key(&info.id) {
        let read = runtime.image_user_files(image).await?;
        files.0.insert(info.id.clone(), read);
    }
    Ok(user::resolve(&effective, || {
        files
            .0
            .get(&info.id)
            .map(|(passwd, group)| (passwd.as_str(), group.as_str()))
            .ok_or_else(|| "the image's /etc/passwd could not be read".to_owned())
    })
    .map_err(|why| format!("cannot tell who the container runs as: {why}")))
}
