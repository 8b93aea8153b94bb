//! Certificates made with openssl for TLS tests: a CA; a server certificate for 127.0.0.1; a
//! client certificate; a node certificate for 127.0.0.1 good as server and as client (the
//! cluster's nodes are both); and a node certificate of another CA (a stranger). Removed on
//! drop.

use std::path::PathBuf;
use std::time::Duration;

use super::{free_port, run_tool};

/// The files, in a temp dir.
pub struct Pki {
    dir: PathBuf,
}

impl Pki {
    /// Makes every certificate (a second or two of openssl).
    pub fn new() -> Pki {
        let dir = std::env::temp_dir().join(format!("comqtt-pki-{}", free_port()));
        std::fs::create_dir_all(&dir).expect("creating the PKI dir");
        let sh = |script: &str| {
            let out = run_tool("sh", &["-c", script], Duration::from_secs(60));
            assert!(
                out.status.success(),
                "openssl failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let d = dir.display();
        sh(&format!(
            "cd {d} && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=comqtt-test-ca 2>/dev/null \
             && openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null \
             && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext \
             && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null \
             && openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=client 2>/dev/null \
             && printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n' > client.ext \
             && openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext 2>/dev/null \
             && printf 'basicConstraints=CA:FALSE\\nsubjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth,clientAuth\\n' > node.ext \
             && openssl req -newkey rsa:2048 -nodes -keyout node.key -out node.csr -subj /CN=node 2>/dev/null \
             && openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out node.pem -days 2 -extfile node.ext 2>/dev/null \
             && openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=another-ca 2>/dev/null \
             && openssl req -newkey rsa:2048 -nodes -keyout stranger.key -out stranger.csr -subj /CN=stranger 2>/dev/null \
             && openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial -out stranger.pem -days 2 -extfile node.ext 2>/dev/null"
        ));
        Pki { dir }
    }

    /// The path of one of its files (`ca.pem`, `node.key`, ...).
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
