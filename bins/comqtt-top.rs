//! `comqtt-top`: not built yet (see the README's status table). It says so instead of pretending.

fn main() -> std::process::ExitCode {
    eprintln!(
        "comqtt-top: not available in this build of comqtt yet (see the README's status table)"
    );
    std::process::ExitCode::from(2)
}
