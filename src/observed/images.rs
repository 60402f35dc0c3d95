//! Image references for `build` roles: tagged by a content hash of the build context, so an
//! image is rebuilt only when the context's content changes.

use sha2::{Digest, Sha256};
use std::path::Path;

/// `jackin/{project}-{role}:ctx-{12 hex}` over every file's relative path and bytes.
pub fn build_tag(
    project: &str,
    role: &str,
    context: &Path,
    dockerfile: &str,
) -> std::io::Result<String> {
    let mut files = Vec::new();
    walk(context, context, &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    h.update(dockerfile.as_bytes());
    for rel in &files {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(std::fs::read(context.join(rel))?);
        h.update([0]);
    }
    let repo: String = format!("{project}-{role}")
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    Ok(format!(
        "jackin/{repo}:ctx-{}",
        &hex::encode(h.finalize())[..12]
    ))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let path = entry.path();
        if ft.is_dir() {
            walk(root, &path, out)?;
        } else if ft.is_file() {
            let rel = path.strip_prefix(root).expect("under root");
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}
