//! Every example under `config/` loads: `comqtt config check` accepts each top-level file
//! (run from the repository root, where their relative paths point), and each auth
//! datasource file through a top-level config that names it.

use std::path::Path;
use std::process::Command;

fn check(file: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_comqtt"))
        .args(["config", "check", file.to_str().unwrap_or_default()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("running comqtt config check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn every_top_level_example_config_is_valid() {
    for name in [
        "single.yml",
        "single-original.yml",
        "auth.yml",
        "node1.yml",
        "node2.yml",
        "node3.yml",
    ] {
        let (ok, text) = check(&Path::new("config").join(name));
        assert!(ok, "config/{name}: {text}");
        assert!(text.contains("valid"), "{text}");
    }
}

#[test]
fn every_auth_datasource_example_loads() {
    let dir = std::env::temp_dir().join(format!("comqtt-config-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (datasource, file) in [
        (0, "auth-file.yml"),
        (1, "auth-redis.yml"),
        (2, "auth-mysql.yml"),
        (3, "auth-postgresql.yml"),
        (4, "auth-http.yml"),
    ] {
        let top = dir.join(format!("uses-{file}"));
        std::fs::write(
            &top,
            format!(
                "auth:\n  way: 1\n  datasource: {datasource}\n  conf-path: {}\n  blacklist-path: {}\n",
                root.join("config").join(file).display(),
                root.join("config/blacklist.yml").display()
            ),
        )
        .unwrap();
        let (ok, text) = check(&top);
        assert!(ok, "config/{file}: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_datasource_file_fails_the_check_naming_file_and_key() {
    let dir = std::env::temp_dir().join(format!("comqtt-config-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ds = dir.join("auth-pg.yml");
    std::fs::write(
        &ds,
        "dsn:\n  host: db\nauth:\n  table: \"auth; drop table x\"\n",
    )
    .unwrap();
    let top = dir.join("top.yml");
    std::fs::write(
        &top,
        format!(
            "auth:\n  way: 1\n  datasource: 3\n  conf-path: {}\n",
            ds.display()
        ),
    )
    .unwrap();
    let (ok, text) = check(&top);
    assert!(!ok);
    assert!(
        text.contains("auth-pg.yml") && text.contains("auth.table"),
        "{text}"
    );
    std::fs::write(&ds, "auth-mode: 7\n").unwrap();
    let (ok, text) = check(&top);
    assert!(
        !ok && text.contains("auth-mode") && text.contains("0 anonymous"),
        "{text}"
    );
    std::fs::write(&ds, "dsn:\n  hots: db\n").unwrap();
    let (ok, text) = check(&top);
    assert!(!ok && text.contains("hots"), "unknown key: {text}");
    let _ = std::fs::remove_dir_all(&dir);
}
