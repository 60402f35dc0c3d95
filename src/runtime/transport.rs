//! The byte streams jackin reaches an engine over, as an HTTP client's connections: a tcp
//! address, a unix socket, TLS with a client certificate over tcp, or a session over an
//! `ssh://` host's master connection ([`super::ssh`]).
//!
//! bollard keeps its own clients for unix and plain tcp; these connectors serve the `ssh://`
//! and TLS clients, and the one request bollard has no call for: `HEAD
//! /containers/{id}/archive`, a path's stat without a tar (the engine answers it in under a
//! millisecond, where a `GET` of a file costs it a helper process and some 30 ms: SPEC v3 §8's
//! remote no-op rests on it).

use super::ssh::Dialer;
use base64::Engine as _;
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Where connections go.
#[derive(Clone)]
pub enum Connector {
    Tcp(String),
    Unix(std::path::PathBuf),
    /// `host:port`, the name its certificate must carry, and the client's TLS settings.
    Tls {
        addr: String,
        name: rustls::pki_types::ServerName<'static>,
        config: Arc<rustls::ClientConfig>,
    },
    Ssh(Arc<Dialer>),
}

/// The files a `--tlsverify` engine is reached with (as `DOCKER_CERT_PATH` holds them).
#[derive(Debug, Clone, Copy)]
pub struct TlsFiles<'a> {
    pub ca: &'a std::path::Path,
    pub cert: &'a std::path::Path,
    pub key: &'a std::path::Path,
}

impl TlsFiles<'_> {
    /// A connector to `addr` (`host:port`) trusting only the CA, presenting the certificate.
    /// The error names the file that could not be used.
    pub fn connector(&self, addr: &str) -> Result<Connector, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
        let file = |p: &std::path::Path, e: &dyn std::fmt::Display| format!("{}: {e}", p.display());
        let mut roots = rustls::RootCertStore::empty();
        let cas = CertificateDer::pem_file_iter(self.ca).map_err(|e| file(self.ca, &e))?;
        for ca in cas {
            let ca = ca.map_err(|e| file(self.ca, &e))?;
            roots.add(ca).map_err(|e| file(self.ca, &e))?;
        }
        let certs = CertificateDer::pem_file_iter(self.cert).map_err(|e| file(self.cert, &e))?;
        let certs: Vec<_> = certs
            .collect::<Result<_, _>>()
            .map_err(|e| file(self.cert, &e))?;
        let key = PrivateKeyDer::from_pem_file(self.key).map_err(|e| file(self.key, &e))?;
        // ring, not aws-lc-rs (whose build wants more than a C compiler): rustls 0.23.48 marks
        // it deprecated for lacking post-quantum key exchange, which a private engine link
        // does without; the classical suites it offers are the ones Docker's own offer.
        #[allow(deprecated, reason = "see above")]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .map_err(|e| file(self.cert, &e))?;
        // Every connection shakes hands in full: a server that checks client certificates
        // may refuse a resumed session it cannot tie to one (OpenSSL's "session id context
        // uninitialized"), and the client keeps its connections open anyway.
        config.resumption = rustls::client::Resumption::disabled();
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned()).map_err(|e| format!("{host}: {e}"))?;
        Ok(Connector::Tls {
            addr: addr.to_owned(),
            name,
            config: Arc::new(config),
        })
    }
}

/// A stream a connection runs over.
pub trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}

/// One connection, as the HTTP client drives it.
pub struct Conn(TokioIo<Box<dyn Stream>>);

impl hyper::rt::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl Connector {
    /// A new byte stream to the engine.
    pub async fn stream(&self) -> io::Result<Box<dyn Stream>> {
        Ok(match self {
            Connector::Tcp(addr) => Box::new(tcp(addr).await?),
            Connector::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
            Connector::Tls { addr, name, config } => {
                let tls = tokio_rustls::TlsConnector::from(config.clone());
                Box::new(tls.connect(name.clone(), tcp(addr).await?).await?)
            }
            Connector::Ssh(dialer) => Box::new(dialer.dial().await?),
        })
    }

    /// A new connection, for the HTTP client.
    pub async fn open(&self) -> io::Result<Conn> {
        Ok(Conn(TokioIo::new(self.stream().await?)))
    }
}

async fn tcp(addr: &str) -> io::Result<tokio::net::TcpStream> {
    let s = tokio::net::TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

impl tower_service::Service<hyper::Uri> for Connector {
    type Response = Conn;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Conn>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let connector = self.clone();
        Box::pin(async move { connector.open().await })
    }
}

/// Sends a `HEAD` of a URI and gives back the response (or why there is none).
type Head = Arc<
    dyn Fn(
            String,
        )
            -> Pin<Box<dyn Future<Output = Result<hyper::Response<Incoming>, String>> + Send>>
        + Send
        + Sync,
>;

/// Requests bollard has no call for, speaking API `version`: over a client of its own (unix,
/// plain tcp), or over the very client bollard's transport uses (TLS, `ssh://`), so the two
/// share one pool of connections and an `ssh://` host's sessions are never held idle by one
/// while the other waits for one.
pub struct Raw {
    head: Head,
    version: String,
}

/// What `HEAD /containers/{id}/archive` says of a path (the `X-Docker-Container-Path-Stat`
/// header): lstat facts, a final link not followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    pub kind: crate::words::Kind,
    pub size: u64,
    /// Nanoseconds since the epoch; `None` when the engine's time could not be read.
    pub mtime_ns: Option<i64>,
}

/// The header as the engine encodes it (Go's `os.FileMode` bits, RFC 3339 time).
#[derive(serde::Deserialize)]
struct Header {
    size: u64,
    mode: u32,
    mtime: String,
}

impl Raw {
    /// Over a client of its own to `connector`.
    pub fn new(connector: Connector, version: &bollard::ClientVersion) -> Raw {
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Raw::over(client, http_body_util::Empty::<bytes::Bytes>::new, version)
    }

    /// Over `client` (one shared with bollard), whose requests carry `empty()` as their body.
    pub fn over<B>(
        client: Client<Connector, B>,
        empty: fn() -> B,
        version: &bollard::ClientVersion,
    ) -> Raw
    where
        B: hyper::body::Body + Send + Unpin + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let head: Head = Arc::new(move |uri| {
            let client = client.clone();
            Box::pin(async move {
                let request = hyper::Request::head(uri)
                    .header(hyper::header::HOST, "docker")
                    .body(empty())
                    .map_err(|e| e.to_string())?;
                client.request(request).await.map_err(|e| e.to_string())
            })
        });
        Raw {
            head,
            version: format!("v{}.{}", version.major_version, version.minor_version),
        }
    }

    /// The stat of `path` in container `id`; `None` when nothing is there.
    pub async fn stat(&self, id: &str, path: &str) -> Result<Option<PathStat>, String> {
        let path = percent_encoding::utf8_percent_encode(path, percent_encoding::NON_ALPHANUMERIC);
        let uri = format!(
            "http://docker/{}/containers/{id}/archive?path={path}",
            self.version
        );
        let response = (self.head)(uri).await?;
        match response.status().as_u16() {
            404 => return Ok(None),
            200 => {}
            other => return Err(format!("HEAD archive of {path}: HTTP {other}")),
        }
        let header = response
            .headers()
            .get("x-docker-container-path-stat")
            .ok_or("the engine sent no path stat")?;
        let json = base64::engine::general_purpose::STANDARD
            .decode(header.as_bytes())
            .map_err(|e| e.to_string())?;
        let h: Header = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
        Ok(Some(PathStat {
            kind: kind_of_go_mode(h.mode),
            size: h.size,
            mtime_ns: nanos(&h.mtime),
        }))
    }
}

/// The kind Go's `os.FileMode` type bits say.
fn kind_of_go_mode(mode: u32) -> crate::words::Kind {
    use crate::words::Kind;
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const CHAR: u32 = 1 << 21;
    const IRREGULAR: u32 = 1 << 19;
    match mode {
        m if m & DIR != 0 => Kind::Directory,
        m if m & SYMLINK != 0 => Kind::Symlink,
        m if m & (DEVICE | CHAR) != 0 => Kind::Device,
        m if m & PIPE != 0 => Kind::Fifo,
        m if m & (SOCKET | IRREGULAR) != 0 => Kind::Socket,
        _ => Kind::File,
    }
}

/// `2026-12-05T20:45:00.123456789Z` (or with an offset, `…+01:00`, as an engine whose clock
/// is not on UTC writes it) as nanoseconds since the epoch; `None` when it is neither.
fn nanos(rfc3339: &str) -> Option<i64> {
    let (utc, offset_s) = match rfc3339.len().checked_sub(6).map(|at| rfc3339.split_at(at)) {
        Some((time, off)) if matches!(off.as_bytes(), [b'+' | b'-', _, _, b':', _, _]) => {
            let sign = if off.starts_with('-') { -1 } else { 1 };
            let hours: i64 = off.get(1..3)?.parse().ok()?;
            let minutes: i64 = off.get(4..6)?.parse().ok()?;
            (format!("{time}Z"), sign * (hours * 3600 + minutes * 60))
        }
        _ => (rfc3339.to_owned(), 0),
    };
    let t = humantime::parse_rfc3339(&utc).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    let ns = i64::try_from(d.as_nanos()).ok()?;
    ns.checked_sub(offset_s.checked_mul(1_000_000_000)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::words::Kind;

    #[test]
    fn go_file_modes_and_times_read_as_the_engine_means_them() {
        assert_eq!(kind_of_go_mode(0o600), Kind::File);
        assert_eq!(kind_of_go_mode((1 << 31) | 0o700), Kind::Directory);
        assert_eq!(kind_of_go_mode((1 << 27) | 0o777), Kind::Symlink);
        assert_eq!(kind_of_go_mode((1 << 25) | 0o644), Kind::Fifo);
        assert_eq!(kind_of_go_mode((1 << 26) | (1 << 21) | 0o666), Kind::Device);
        assert_eq!(nanos("1970-01-01T00:00:01.000000002Z"), Some(1_000_000_002));
        assert_eq!(
            nanos("1970-01-01T01:00:01.5+01:00"),
            Some(1_500_000_000),
            "an engine an hour ahead of UTC"
        );
        assert_eq!(nanos("1970-01-01T00:00:01-00:30"), Some(1_801_000_000_000));
        assert_eq!(nanos("yesterday"), None);
    }
}
