//! Who a container runs as, and so who must own its handoff (SPEC v2 §4).
//!
//! The agent must be able to read and rewrite its login whatever user the image declares, so
//! the handoff belongs to the container's uid:gid. [`UserSpec`] is what the state file says
//! (`user = "1000:1000"`, `"agent"`, `"host"`, or nothing: the image's own `USER`);
//! [`resolve`] turns it into numbers, looking names up in the image's `/etc/passwd` and
//! `/etc/group` the way Docker does.

use crate::words::Owner;

use crate::manifest::user::split;
pub use crate::manifest::user::UserSpec;

/// The owner `effective` names without the image's `/etc/passwd`: none (root), or numeric
/// "UID:GID". `None`: a name, or a uid alone, must be looked up.
pub fn numeric_owner(effective: &str) -> Option<Owner> {
    let (user, group) = split(effective);
    if user.is_empty() {
        return Some(Owner { uid: 0, gid: 0 });
    }
    Some(Owner {
        uid: user.parse().ok()?,
        gid: group?.parse().ok()?,
    })
}

/// Resolve the effective user string (the state's `user`, else the image's `USER`) to numbers.
/// `files` gives the image's `/etc/passwd` and `/etc/group`; it is only called when a name,
/// or a uid without a gid, has to be looked up. `Err` explains what could not be resolved.
pub fn resolve<'f>(
    effective: &str,
    files: impl FnOnce() -> Result<(&'f str, &'f str), String>,
) -> Result<Owner, String> {
    if let Some(owner) = numeric_owner(effective) {
        return Ok(owner);
    }
    let (user, group) = split(effective);
    let numeric = |s: &str| s.parse::<u32>().ok();
    let (passwd, groups) = files()?;
    // passwd: name:x:uid:gid:…   group: name:x:gid:…
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == user || (numeric(user).is_some() && f[2] == user)));
    let uid = match (numeric(user), &entry) {
        (Some(uid), _) => uid,
        (None, Some(f)) => f[2]
            .parse()
            .map_err(|_| format!("the image's /etc/passwd has a bad uid for `{user}`"))?,
        (None, None) => {
            return Err(format!(
                "the image has no user `{user}` in /etc/passwd; use a numeric \"UID:GID\" or a user the image defines"
            ))
        }
    };
    let gid = match group {
        Some(g) => match numeric(g) {
            Some(gid) => gid,
            None => groups
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 3 && f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| format!("the image has no group `{g}` in /etc/group"))?,
        },
        // Docker's rule: the user's primary group, or root's group for an unknown uid.
        None => entry.and_then(|f| f[3].parse().ok()).unwrap_or(0),
    };
    Ok(Owner { uid, gid })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1001:agent:/home/agent:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:\nagent:x:1001:\n";

    fn files() -> Result<(&'static str, &'static str), String> {
        Ok((PASSWD, GROUP))
    }

    fn never() -> Result<(&'static str, &'static str), String> {
        panic!("numbers need no lookup")
    }

    #[test]
    fn names_resolve_against_the_images_passwd_and_group() {
        assert_eq!(
            resolve("agent", files),
            Ok(Owner {
                uid: 1000,
                gid: 1001
            })
        );
        assert_eq!(
            resolve("agent:staff", files),
            Ok(Owner { uid: 1000, gid: 50 })
        );
        assert_eq!(
            resolve("1000", files),
            Ok(Owner {
                uid: 1000,
                gid: 1001
            })
        );
        assert_eq!(resolve("4242", files), Ok(Owner { uid: 4242, gid: 0 }));
        assert_eq!(
            resolve("4242:4242", never),
            Ok(Owner {
                uid: 4242,
                gid: 4242
            })
        );
        assert_eq!(resolve("", never), Ok(Owner { uid: 0, gid: 0 }));
        assert!(resolve("nobody", files)
            .unwrap_err()
            .contains("no user `nobody`"));
        assert!(resolve("agent:wheel", files)
            .unwrap_err()
            .contains("no group `wheel`"));
    }
}
