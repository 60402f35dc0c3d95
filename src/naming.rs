//! Container names for instances (SPEC §4): the one function that turns (workspace, role) into
//! a Docker container name.
//!
//! The name is how jackin finds an instance's container again, so it must be deterministic,
//! valid for Docker, and short enough to leave room for suffixes Docker tooling adds. Long
//! names are cut evenly and disambiguated with a hash of the full original part, so two long
//! names sharing a prefix still map to different containers.

use sha2::{Digest, Sha256};

/// Longest name jackin produces.
pub const MAX_LEN: usize = 58;

const PREFIX: &str = "jk-";
/// Hex characters of SHA-256 appended to each part of a shortened name.
const SUFFIX_LEN: usize = 4;

/// SPEC §4: `jk-{workspace}-{role}`, each part lowercased with non-alphanumerics removed; at
/// most [`MAX_LEN`] chars. When too long, both parts are cut to the same length and each gets a
/// 4-hex-char SHA-256 suffix of the full original part, so the result stays deterministic.
pub fn container_name(workspace: &str, role: &str) -> String {
    let ws = sanitize(workspace);
    let rl = sanitize(role);
    if PREFIX.len() + ws.len() + 1 + rl.len() <= MAX_LEN {
        return format!("{PREFIX}{ws}-{rl}");
    }
    // Budget per part, suffix included: the name has the prefix and one `-` besides the parts.
    let per_part = (MAX_LEN - PREFIX.len() - 1) / 2;
    let keep = per_part - SUFFIX_LEN;
    format!(
        "{PREFIX}{}{}-{}{}",
        &ws[..ws.len().min(keep)],
        short_hash(workspace),
        &rl[..rl.len().min(keep)],
        short_hash(role)
    )
}

/// ASCII only, so byte slicing in [`container_name`] is always on a char boundary.
fn sanitize(part: &str) -> String {
    part.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn short_hash(part: &str) -> String {
    let digest = Sha256::digest(part.as_bytes());
    hex::encode(digest)[..SUFFIX_LEN].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_lowercased_and_stripped_of_punctuation() {
        assert_eq!(
            container_name("my-app", "agent-smith"),
            "jk-myapp-agentsmith"
        );
        assert_eq!(
            container_name("My_App", "Agent.Smith"),
            "jk-myapp-agentsmith"
        );
    }

    #[test]
    fn a_name_of_exactly_58_chars_is_kept_whole() {
        let ws = "a".repeat(27);
        let role = "b".repeat(27);
        let name = container_name(&ws, &role);
        assert_eq!(name.len(), 58);
        assert_eq!(name, format!("jk-{ws}-{role}"));
    }

    #[test]
    fn long_names_are_cut_evenly_with_a_hash_suffix_per_part() {
        let ws = "w".repeat(40);
        let role = "r".repeat(40);
        let name = container_name(&ws, &role);
        assert_eq!(name.len(), 58, "{name}");
        let ws_hash = &hex::encode(Sha256::digest(ws.as_bytes()))[..4];
        let role_hash = &hex::encode(Sha256::digest(role.as_bytes()))[..4];
        assert_eq!(
            name,
            format!(
                "jk-{}{ws_hash}-{}{role_hash}",
                "w".repeat(23),
                "r".repeat(23)
            )
        );
        assert_eq!(name, container_name(&ws, &role), "deterministic");
    }

    #[test]
    fn long_names_sharing_a_prefix_stay_distinct() {
        let a = container_name(&format!("{}-one", "x".repeat(40)), "role");
        let b = container_name(&format!("{}-two", "x".repeat(40)), "role");
        assert_ne!(a, b);
        assert!(a.len() <= MAX_LEN && b.len() <= MAX_LEN);
    }

    #[test]
    fn a_short_part_next_to_a_long_one_still_gets_its_suffix() {
        let name = container_name("app", &"r".repeat(60));
        let app_hash = &hex::encode(Sha256::digest(b"app"))[..4];
        assert!(name.starts_with(&format!("jk-app{app_hash}-")), "{name}");
        assert!(name.len() <= MAX_LEN);
    }
}
