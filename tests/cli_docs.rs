//! Completions and man pages are generated from the clap definitions (scripts/gen-docs):
//! the checked-in copies must match what the binaries generate now.

use std::path::Path;
use std::process::Command;

#[test]
fn checked_in_completions_and_man_pages_match_the_command_line() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::env::temp_dir().join(format!("comqtt-docs-{}", std::process::id()));
    // `comqtt generate-docs` writes the docs of every binary.
    let status = Command::new(env!("CARGO_BIN_EXE_comqtt"))
        .arg("generate-docs")
        .arg(&out)
        .status()
        .expect("running generate-docs");
    assert!(status.success());
    let mut compared = 0;
    for sub in ["completions", "man"] {
        for entry in std::fs::read_dir(out.join(sub)).unwrap() {
            let generated = entry.unwrap().path();
            let name = generated.file_name().unwrap();
            let checked_in = repo.join(sub).join(name);
            let want = std::fs::read(&generated).unwrap();
            let have = std::fs::read(&checked_in).unwrap_or_default();
            assert!(
                want == have,
                "{} is stale: run scripts/gen-docs",
                checked_in.display()
            );
            compared += 1;
        }
    }
    assert!(
        compared >= 12,
        "completions and man pages of comqtt, comqtt-bench and comqtt-top"
    );
    let _ = std::fs::remove_dir_all(&out);
}
