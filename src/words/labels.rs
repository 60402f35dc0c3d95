//! The labels that make a container (or volume) jackin's, and one project's: the only
//! ownership jackin knows. Observe, destroy, the sessions, watch and the remote volumes all ask
//! here, so "ours" means the same thing everywhere.

use std::collections::HashMap;

pub const LABEL_MANAGED: &str = "jackin.managed";
pub const LABEL_PROJECT: &str = "jackin.project";
pub const LABEL_WORKSPACE: &str = "jackin.workspace";
pub const LABEL_ROLE: &str = "jackin.role";
pub const LABEL_AGENT: &str = "jackin.agent";
pub const LABEL_SPEC_HASH: &str = "jackin.spec-hash";
pub const LABEL_SPEC: &str = "jackin.spec";
/// On a handoff volume: the instance (container name) it belongs to.
pub const LABEL_INSTANCE: &str = "jackin.instance";
/// On a throwaway container that removes a file from a stopped instance's handoff volume: the
/// instance it worked for. It carries no `jackin.managed`, so it is never taken for an instance.
pub const LABEL_HELPER_FOR: &str = "jackin.helper-for";

/// The engine filters that select `project`'s objects and nothing else: both labels.
pub fn selector(project: &str) -> [(&'static str, String); 2] {
    [
        ("label", format!("{LABEL_MANAGED}=true")),
        ("label", format!("{LABEL_PROJECT}={project}")),
    ]
}

/// The labels every object of `project` carries.
pub fn owned_by(project: &str) -> [(&'static str, String); 2] {
    [
        (LABEL_MANAGED, "true".to_owned()),
        (LABEL_PROJECT, project.to_owned()),
    ]
}

/// The project `labels` say the object belongs to, when jackin manages it.
pub fn project_of(labels: &HashMap<String, String>) -> Option<&str> {
    let managed = labels.get(LABEL_MANAGED).is_some_and(|v| v == "true");
    labels
        .get(LABEL_PROJECT)
        .filter(|_| managed)
        .map(String::as_str)
}

/// Whether `labels` make the object `project`'s.
pub fn is_ours(labels: &HashMap<String, String>, project: &str) -> bool {
    project_of(labels) == Some(project)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_needs_both_labels_and_the_same_project() {
        let l = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect()
        };
        assert!(is_ours(
            &l(&[(LABEL_MANAGED, "true"), (LABEL_PROJECT, "p")]),
            "p"
        ));
        assert!(!is_ours(
            &l(&[(LABEL_MANAGED, "true"), (LABEL_PROJECT, "q")]),
            "p"
        ));
        assert!(!is_ours(
            &l(&[(LABEL_MANAGED, "false"), (LABEL_PROJECT, "p")]),
            "p"
        ));
        assert!(!is_ours(&l(&[(LABEL_PROJECT, "p")]), "p"));
        assert_eq!(project_of(&l(&[(LABEL_PROJECT, "p")])), None);
    }
}
