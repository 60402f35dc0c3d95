//! A minimal Docker Registry (HTTP API v2) on 127.0.0.1 that serves one image, so the
//! engine's real pull code runs although no registry is reachable from this machine.
//!
//! The image is a local one exported with `docker save`; its layers are served as stored
//! (uncompressed tar: the engine detects compression from the bytes, and the blob digest and
//! the config's diff-id then agree). Only what `docker pull` asks for is implemented:
//! `GET /v2/`, `HEAD|GET /v2/<name>/manifests/<ref>` and `GET /v2/<name>/blobs/<digest>`.
//! The engine first tries TLS on the port (loopback registries are "insecure" by default and
//! fall back to plain HTTP); such a connection is simply closed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// A running registry holding one image. Dropping it removes the pulled image from the
/// engine (the server thread ends with the test process).
pub struct Registry {
    /// `127.0.0.1:PORT/jackin-test/agent:v1`: unique per registry because the port is.
    pub reference: String,
    /// Bytes of all layers, as the manifest announces them.
    pub layer_bytes: u64,
    /// `METHOD PATH` of every request served, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

struct Content {
    manifest: Vec<u8>,
    manifest_digest: String,
    blobs: BTreeMap<String, Vec<u8>>,
}

impl Registry {
    /// Serve `source` (a local image tag) as `127.0.0.1:PORT/jackin-test/agent:v1`.
    pub fn serve(source: &str) -> Registry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let id = format!("{}-{port}", std::process::id());
        let (content, layer_bytes) = export(source, &id);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let content = Arc::new(content);
        let log = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (content, log) = (content.clone(), log.clone());
                std::thread::spawn(move || serve_one(stream, &content, &log));
            }
        });
        Registry {
            reference: format!("127.0.0.1:{port}/jackin-test/agent:v1"),
            layer_bytes,
            requests,
        }
    }

    /// How many blob downloads the engine made.
    pub fn blob_fetches(&self) -> usize {
        let log = self.requests.lock().unwrap();
        log.iter()
            .filter(|r| r.starts_with("GET ") && r.contains("/blobs/"))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "-f", &self.reference])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A layer with one file of `PAD` pseudo-random bytes named after `id`.
fn unique_layer(id: &str) -> Vec<u8> {
    const PAD: usize = 4 << 20;
    let mut payload = Vec::with_capacity(PAD);
    let mut block = Sha256::digest(id.as_bytes());
    while payload.len() < PAD {
        payload.extend_from_slice(&block);
        block = Sha256::digest(block);
    }
    let mut header = tar::Header::new_gnu();
    header.set_size(payload.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    let mut builder = tar::Builder::new(Vec::new());
    builder
        .append_data(
            &mut header,
            format!("jackin-registry-{id}"),
            payload.as_slice(),
        )
        .unwrap();
    builder.into_inner().unwrap()
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// `docker save` the image and turn it into a schema-2 manifest plus blobs, with one extra
/// layer unique to `id`.
fn export(source: &str, id: &str) -> (Content, u64) {
    let out = Command::new("docker")
        .args(["save", source])
        .stdin(Stdio::null())
        .output()
        .expect("run docker save");
    assert!(
        out.status.success(),
        "docker save {source} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files = BTreeMap::new();
    let mut archive = tar::Archive::new(out.stdout.as_slice());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        files.insert(path, bytes);
    }
    let index: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_slice(&files[index[0]["Config"].as_str().unwrap()]).unwrap();
    let mut tars: Vec<Vec<u8>> = index[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| files[l.as_str().unwrap()].clone())
        .collect();
    // One more layer, unique to this registry, so the engine has something to download
    // (the base layers are already in its store and are reported "Already exists").
    let extra = unique_layer(id);
    config["rootfs"]["diff_ids"]
        .as_array_mut()
        .unwrap()
        .push(digest(&extra).into());
    config["history"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({ "created_by": format!("jackin test registry {id}") }));
    tars.push(extra);
    let config = serde_json::to_vec(&config).unwrap();
    let config = &config;

    let mut blobs = BTreeMap::new();
    blobs.insert(digest(config), config.clone());
    let mut layers = Vec::new();
    let mut layer_bytes = 0;
    for bytes in &tars {
        layer_bytes += bytes.len() as u64;
        layers.push(serde_json::json!({
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": bytes.len(),
            "digest": digest(bytes),
        }));
        blobs.insert(digest(bytes), bytes.clone());
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": config.len(),
            "digest": digest(config),
        },
        "layers": layers,
    }))
    .unwrap();
    let content = Content {
        manifest_digest: digest(&manifest),
        manifest,
        blobs,
    };
    (content, layer_bytes)
}

fn serve_one(stream: TcpStream, content: &Content, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    // A TLS ClientHello starts with 0x16: not for us.
    if reader.fill_buf().map_or(true, |b| b.first() == Some(&0x16)) {
        return;
    }
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_owned(),
        parts.next().unwrap_or("").to_owned(),
    );
    log.lock().unwrap().push(format!("{method} {path}"));

    let manifest_type = "application/vnd.docker.distribution.manifest.v2+json";
    let (status, ctype, digest, body): (&str, &str, Option<&str>, &[u8]) = if path == "/v2/" {
        ("200 OK", "application/json", None, b"{}")
    } else if path.starts_with("/v2/jackin-test/agent/manifests/") {
        let manifest = content.manifest.as_slice();
        let d = content.manifest_digest.as_str();
        ("200 OK", manifest_type, Some(d), manifest)
    } else if let Some(d) = path.strip_prefix("/v2/jackin-test/agent/blobs/") {
        match content.blobs.get_key_value(d) {
            Some((d, b)) => ("200 OK", "application/octet-stream", Some(d.as_str()), b),
            None => (
                "404 Not Found",
                "application/json",
                None,
                b"{\"errors\":[]}",
            ),
        }
    } else {
        (
            "404 Not Found",
            "application/json",
            None,
            b"{\"errors\":[]}",
        )
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
         Docker-Distribution-API-Version: registry/2.0\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(d) = digest {
        head.push_str(&format!("Docker-Content-Digest: {d}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = stream.write_all(body);
    }
    let _ = stream.flush();
}
