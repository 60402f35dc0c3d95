//! Connecting to the engine with an API version it speaks, agreed as the docker CLI agrees it:
//! one `GET /_ping`, whose `API-Version` header names the engine's highest version.
//!
//! bollard negotiates through `GET /version` instead, and the engine answers that by asking
//! containerd and runc for their own versions: 8–12 ms on Docker 20.10 here, against 0.5 ms
//! for `/_ping`, which made it a third of a no-op `apply` (BENCHMARKS.md). So for a unix socket
//! or plain tcp jackin pings with hyper — already under bollard — and hands bollard the
//! version; a TLS or `ssh://` engine is pinged over one of the connections jackin makes to it
//! (`super::transport`, `super::ssh`). Any other address is refused without traffic.

use super::ssh::Dialer;
use super::transport::{Connector, Raw, TlsFiles};
use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// Seconds bollard waits for an answer (its own default).
const TIMEOUT_SECS: u64 = 120;

/// A client for the engine at `host` (a `DOCKER_HOST` value), speaking the highest API
/// version both sides know, and a raw client beside it for what bollard has no call for. The
/// error is the reason, for `E020`.
pub async fn connect(host: &str, tls: Option<TlsFiles<'_>>) -> Result<(Docker, Raw), String> {
    if let Some(files) = tls {
        let addr = authority(host, &["tcp://", "https://"])
            .unwrap_or_else(|| host.split('/').next().unwrap_or_default());
        return through(files.connector(addr)?).await;
    }
    if let Some(path) = host.strip_prefix("unix://") {
        let connector = Connector::Unix(path.into());
        let version = version_over(&connector, Some(path)).await?;
        let docker = Docker::connect_with_unix(host, TIMEOUT_SECS, &version);
        return Ok((
            docker.map_err(|e| e.to_string())?,
            Raw::new(connector, &version),
        ));
    }
    if let Some(addr) = authority(host, &["tcp://", "http://"]) {
        let connector = Connector::Tcp(addr.to_owned());
        let version = version_over(&connector, Some(addr)).await?;
        let docker = Docker::connect_with_http(host, TIMEOUT_SECS, &version);
        return Ok((
            docker.map_err(|e| e.to_string())?,
            Raw::new(connector, &version),
        ));
    }
    if host.starts_with("ssh://") {
        let dir = crate::paths::JackinHome::from_env().ssh_dir();
        let dialer = std::sync::Arc::new(Dialer::connect(host, &dir).await?);
        return through(Connector::Ssh(dialer)).await.map_err(|e| {
            format!("{e} (is the docker CLI installed on that host? jackin runs `docker system dial-stdio` there)")
        });
    }
    // Never handed to bollard's defaults: those read `DOCKER_HOST` itself, not this address,
    // and would reach another engine than the one named.
    Err(format!(
        "URI scheme is not supported: {host} (jackin speaks unix://, tcp://, http://, ssh://, and tcp:// or https:// with tls)"
    ))
}

/// The `host:port` of an address in one of `schemes` (`tcp://h:2375/…` → `h:2375`).
fn authority<'a>(address: &'a str, schemes: &[&str]) -> Option<&'a str> {
    let rest = schemes.iter().find_map(|s| address.strip_prefix(s))?;
    rest.split('/').next()
}

/// The API version both sides know, from one `/_ping` over a new connection of `connector`;
/// a failure to connect names `label` (the socket or address) when given.
async fn version_over(connector: &Connector, label: Option<&str>) -> Result<ClientVersion, String> {
    let stream = connector.stream().await.map_err(|e| match label {
        Some(label) => format!("{label}: {e}"),
        None => e.to_string(),
    })?;
    Ok(agreed(ping(stream).await?))
}

/// An engine over `connector` (TLS, an `ssh://` host's sessions): the API version over one of
/// its connections, then a bollard client (and a raw one) whose every connection is one of
/// them.
async fn through(connector: Connector) -> Result<(Docker, Raw), String> {
    let version = version_over(&connector, None).await?;
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(super::ssh::SESSIONS)
        .build(connector);
    let raw = Raw::over(
        client.clone(),
        || bollard::body_full(bytes::Bytes::new()),
        &version,
    );
    let transport = move |req: bollard::BollardRequest| {
        let client = client.clone();
        async move { Ok(client.request(req).await?) }
    };
    let docker = Docker::connect_with_custom_transport(
        transport,
        Some("http://docker"),
        TIMEOUT_SECS,
        &version,
    );
    Ok((docker.map_err(|e| e.to_string())?, raw))
}

/// The lower of the engine's version and bollard's own.
fn agreed(engine: ClientVersion) -> ClientVersion {
    if engine < *API_DEFAULT_VERSION {
        engine
    } else {
        *API_DEFAULT_VERSION
    }
}

/// The `API-Version` the engine at the other end of `stream` answers `/_ping` with.
async fn ping<S>(stream: S) -> Result<ClientVersion, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    let request = hyper::Request::get("/_ping")
        .header(hyper::header::HOST, "docker")
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    // The connection is driven while the one request is answered; dropping both closes it.
    let (response, _) = futures_util::future::join(
        async {
            let response = sender.send_request(request).await;
            drop(sender);
            response
        },
        connection,
    )
    .await;
    let response = response.map_err(|e| e.to_string())?;
    let header = response
        .headers()
        .get("api-version")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            format!(
                "the engine's /_ping (HTTP {}) names no API version",
                response.status()
            )
        })?;
    parse(header)
        .ok_or_else(|| format!("the engine names API version {header:?}, which is not MAJOR.MINOR"))
}

/// `1.41` → major 1, minor 41.
fn parse(version: &str) -> Option<ClientVersion> {
    let (major, minor) = version.trim().split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn an_api_version_is_major_dot_minor() {
        let v = parse("1.41").expect("parses");
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        for bad in ["", "1", "1.x", "v1.41", "1.41.2"] {
            assert!(parse(bad).is_none(), "{bad}");
        }
    }
}
