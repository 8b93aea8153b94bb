//! `<nodes-file-dir>/<node-name>-nodes.json`: the gossip addresses of the last known live
//! members, rewritten when membership changes and read as extra seeds at the next start, so
//! a node finds its cluster again even when its configured seeds are gone.

use std::path::{Path, PathBuf};

use tokio::sync::watch;

use super::membership::Member;
use crate::shutdown::Shutdown;

/// The addresses in the file; nothing if it is missing or unreadable (logged).
pub fn read(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => match serde_json::from_str::<Vec<String>>(&text) {
            Ok(seeds) => seeds,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "nodes file unreadable; ignored");
                Vec::new()
            }
        },
        Err(_) => Vec::new(),
    }
}

/// Rewrites the file on every membership change until shutdown.
pub async fn keep(path: PathBuf, mut live: watch::Receiver<Vec<Member>>, mut shutdown: Shutdown) {
    let mut last: Vec<String> = Vec::new();
    loop {
        let mut seeds: Vec<String> = live
            .borrow_and_update()
            .iter()
            .map(|m| m.gossip.to_string())
            .collect();
        seeds.sort();
        if seeds != last && !seeds.is_empty() {
            if let Err(e) = write(&path, &seeds) {
                tracing::warn!(file = %path.display(), error = %e, "cannot write the nodes file");
            }
            last = seeds;
        }
        tokio::select! {
            r = live.changed() => if r.is_err() { return },
            _ = shutdown.wait() => return,
        }
    }
}

fn write(path: &Path, seeds: &[String]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(seeds).unwrap_or_default())?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_seeds_read_back_and_garbage_reads_as_none() {
        let dir = std::env::temp_dir().join(format!("comqtt-nodes-file-{}", std::process::id()));
        let path = dir.join("c01-nodes.json");
        write(&path, &["127.0.0.1:7946".into(), "127.0.0.1:7947".into()]).unwrap();
        assert_eq!(read(&path), ["127.0.0.1:7946", "127.0.0.1:7947"]);
        std::fs::write(&path, "not json").unwrap();
        assert!(read(&path).is_empty());
        assert!(read(&dir.join("missing.json")).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
