//! A role's `user` as the state file writes it, typed where the file is read: validation
//! reports what is wrong with it, and resolution (`desired::user`) turns it into numbers.

use crate::words::Owner;

/// The `user` of a role, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UserSpec {
    /// No `user`: whatever the image declares (root when it declares nothing).
    Image,
    /// `"host"`: jackin's own uid:gid.
    Host,
    /// `"UID[:GID]"`, `"NAME[:GROUP]"` or a mix, as Docker takes it.
    Given(String),
}

impl UserSpec {
    /// Parse the state file's `user`; `Err` says what is wrong (validation reports it).
    pub fn parse(user: Option<&str>) -> Result<UserSpec, String> {
        match user {
            None => Ok(UserSpec::Image),
            Some("host") => Ok(UserSpec::Host),
            Some(s) => {
                let (user, group) = split(s);
                let ok = |p: &str| {
                    !p.is_empty()
                        && (p.bytes().all(|b| b.is_ascii_digit())
                            || (p.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                                && p.bytes().all(|b| {
                                    b.is_ascii_lowercase()
                                        || b.is_ascii_digit()
                                        || matches!(b, b'_' | b'-' | b'.')
                                })))
                };
                if ok(user) && group.is_none_or(ok) {
                    Ok(UserSpec::Given(s.to_owned()))
                } else {
                    Err(format!(
                        "`{s}` is not a user: use \"UID[:GID]\", a user name the image knows (\"agent\", \"agent:staff\"), or \"host\""
                    ))
                }
            }
        }
    }

    /// What Docker's `User` is set to (`None`: the image's own).
    pub fn docker_user(&self, host: Owner) -> Option<String> {
        match self {
            UserSpec::Image => None,
            UserSpec::Host => Some(format!("{}:{}", host.uid, host.gid)),
            UserSpec::Given(s) => Some(s.clone()),
        }
    }
}

pub(crate) fn split(s: &str) -> (&str, Option<&str>) {
    match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_files_user_is_uid_gid_a_name_or_host() {
        assert_eq!(UserSpec::parse(None), Ok(UserSpec::Image));
        assert_eq!(UserSpec::parse(Some("host")), Ok(UserSpec::Host));
        for ok in ["1000", "1000:1000", "agent", "agent:staff", "_svc", "a.b-c"] {
            assert!(UserSpec::parse(Some(ok)).is_ok(), "{ok}");
        }
        for bad in ["", ":1", "1:", "Agent", "a b", "1000:1000:1", "../x"] {
            assert!(UserSpec::parse(Some(bad)).is_err(), "{bad}");
        }
        let host = Owner { uid: 7, gid: 8 };
        assert_eq!(UserSpec::Host.docker_user(host).as_deref(), Some("7:8"));
        assert_eq!(UserSpec::Image.docker_user(host), None);
    }
}
