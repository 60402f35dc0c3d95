//! Which engine `DOCKER_HOST` names, and whether it runs on this machine: a pure look at the
//! address, made before any connection.

/// The engine address `DOCKER_HOST` names (default: the local socket), as the docker CLI
/// reads it.
pub fn docker_host() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// Why `host` is not an engine on this machine; `None`: it is (or the client decides). A pure
/// look at the address, made before any connection: a unix socket (or Windows named pipe) is
/// local; `tcp://`, `http://` and `https://` are local when their host is `localhost`, a
/// loopback address (`127.0.0.0/8`, `::1`) or the unspecified address (which the kernel routes
/// to this machine); every other host is remote, names included (nothing is resolved: no
/// lookup can stall or leak the address); `ssh://` is remote whatever the host (the engine
/// lives wherever the ssh server takes it). On a remote engine the handoff is a volume of that
/// engine, never a bind mount of a local folder (SPEC v3 §9).
pub fn remote_reason(host: &str) -> Option<String> {
    let (scheme, rest) = host.split_once("://")?;
    match scheme.to_ascii_lowercase().as_str() {
        "ssh" => Some("reaches an engine through ssh".into()),
        "tcp" | "http" | "https" => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let name = match hostport.strip_prefix('[') {
                Some(v6) => v6.split(']').next().unwrap_or_default(),
                None => hostport.split(':').next().unwrap_or_default(),
            };
            (!is_local_host(name)).then(|| format!("names an engine on another machine ({name})"))
        }
        _ => None,
    }
}

/// `localhost`, a loopback or unspecified IP, or nothing (the docker CLI's `tcp://:2375`
/// means `127.0.0.1`).
fn is_local_host(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match name.parse::<std::net::IpAddr>() {
        Ok(ip) => {
            let ip = ip.to_canonical();
            ip.is_loopback() || ip.is_unspecified()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_and_loopback_tcp_are_local() {
        for host in [
            "unix:///var/run/docker.sock",
            "unix:///run/user/1000/docker.sock",
            "npipe:////./pipe/docker_engine",
            "tcp://127.0.0.1:2375",
            "tcp://127.0.0.2:2375",
            "tcp://localhost:2376",
            "TCP://LocalHost.:2376",
            "tcp://[::1]:2375",
            "tcp://[::ffff:127.0.0.1]:2375",
            "http://127.0.0.1:2375/v1.41",
            "https://user@localhost:2376",
            "tcp://0.0.0.0:2375",
            "tcp://:2375",
            "fd://",
        ] {
            assert_eq!(remote_reason(host), None, "{host}");
        }
    }

    #[test]
    fn other_hosts_and_ssh_are_remote() {
        for (host, why) in [
            (
                "tcp://198.51.100.7:2376",
                "names an engine on another machine (198.51.100.7)",
            ),
            (
                "tcp://docker.example.com:2376",
                "names an engine on another machine (docker.example.com)",
            ),
            (
                "https://[2001:db8::1]:2376",
                "names an engine on another machine (2001:db8::1)",
            ),
            (
                "tcp://localhost.example.com:2375",
                "names an engine on another machine (localhost.example.com)",
            ),
            ("ssh://me@build-box", "reaches an engine through ssh"),
            ("ssh://localhost", "reaches an engine through ssh"),
        ] {
            assert_eq!(remote_reason(host).as_deref(), Some(why), "{host}");
        }
    }
}
