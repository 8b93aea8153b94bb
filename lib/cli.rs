//! Command-line helpers shared by the binaries: Go-style flags (`-tcp :1883`, `-num-clients=5`)
//! rewritten to the `--long` form clap parses, so command lines written for the original Go
//! tools run unchanged; and the generation of shell completions and man pages from the clap
//! definitions, so help, completions and man pages never drift apart.

use std::path::Path;

/// Rewrites single-dash long flags (`-tcp`, `-num-clients=5`) to `--tcp`, `--num-clients=5`.
/// Single-letter flags (`-h`), `--` flags, `-` alone and negative numbers are left alone.
pub fn go_style_args<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest_are_values = false;
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || rest_are_values {
            out.push(arg);
            continue;
        }
        if arg == "--" {
            rest_are_values = true;
            out.push(arg);
            continue;
        }
        let bytes = arg.as_bytes();
        let is_single_dash_long = bytes.len() > 2
            && bytes[0] == b'-'
            && bytes[1] != b'-'
            && bytes[1].is_ascii_alphabetic()
            && bytes[2] != b'=';
        if is_single_dash_long {
            out.push(format!("-{arg}"));
        } else {
            out.push(arg);
        }
    }
    out
}

/// Writes bash, zsh and fish completions to `dir/completions/` and the man page to
/// `dir/man/` for the command `cmd`.
pub fn generate_docs(mut cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
    use clap_complete::{Shell, generate_to};
    let name = cmd.get_name().to_string();
    let completions = dir.join("completions");
    let man = dir.join("man");
    std::fs::create_dir_all(&completions)?;
    std::fs::create_dir_all(&man)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        generate_to(shell, &mut cmd, &name, &completions)?;
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    std::fs::write(man.join(format!("{name}.1")), page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Vec<String> {
        go_style_args(
            std::iter::once("prog")
                .chain(args.iter().copied())
                .map(String::from),
        )
    }

    #[test]
    fn single_dash_long_flags_become_double_dash() {
        assert_eq!(
            run(&["-tcp", ":1883", "-num-clients=5"]),
            ["prog", "--tcp", ":1883", "--num-clients=5"]
        );
    }

    #[test]
    fn short_flags_double_dash_and_values_are_kept() {
        assert_eq!(
            run(&["-h", "--ws", ":1882", "-", "-5", "serve"]),
            ["prog", "-h", "--ws", ":1882", "-", "-5", "serve"]
        );
    }
}
