//! tests/fixtures/ios: complete IOS configurations of the kinds network engineers paste
//! (cloud VPN gateway templates, Cisco's VTI/DVTI guide examples, GRE over IPsec, VRFs,
//! whole `show running-config`s, unindented and abbreviated pastes), each with NAME.check:
//! what `ikev1d check` prints for it on Linux. Every fixture is checked as a user runs
//! it and compared with its sidecar; no secret of any fixture is ever printed; `convert`
//! gives TOML that checks to the same tunnels.
//!
//! NAME.check holds `secret S` lines (what must never be printed), `exit N`, then the
//! output: stderr lines as `stderr ...`, then stdout lines as `stdout ...`. After a
//! deliberate change of the output, `IKEV1D_BLESS=1 cargo test --test ios_fixtures`
//! rewrites the sidecars (keeping their secrets); review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ikev1d");

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ios")
}

fn fixtures() -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    all.sort();
    all
}

struct Sidecar {
    secrets: Vec<String>,
    exit: i32,
    output: Vec<String>,
}

fn sidecar_path(conf: &Path) -> PathBuf {
    conf.with_extension("check")
}

fn read_sidecar(conf: &Path) -> Sidecar {
    let text = std::fs::read_to_string(sidecar_path(conf)).unwrap_or_default();
    let mut s = Sidecar {
        secrets: Vec::new(),
        exit: -1,
        output: Vec::new(),
    };
    for line in text.lines() {
        if let Some(secret) = line.strip_prefix("secret ") {
            s.secrets.push(secret.to_string());
        } else if let Some(code) = line.strip_prefix("exit ") {
            s.exit = code.parse().unwrap();
        } else if line.starts_with("stderr ") || line.starts_with("stdout ") {
            s.output.push(line.to_string());
        }
    }
    s
}

fn write_sidecar(conf: &Path, s: &Sidecar) {
    let name = conf.file_name().unwrap().to_string_lossy();
    let mut text = format!(
        "# `ikev1d check --config {name}`: the exit status, then stderr and stdout lines.\n\
         # `secret` lines: what this file holds that nothing may print.\n"
    );
    for secret in &s.secrets {
        text.push_str(&format!("secret {secret}\n"));
    }
    text.push_str(&format!("exit {}\n", s.exit));
    for line in &s.output {
        text.push_str(line);
        text.push('\n');
    }
    std::fs::write(sidecar_path(conf), text).unwrap();
}

/// A private directory for one test, removed by the caller.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("ikev1d-ios-fixtures-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Copy `conf` into `dir` as root would keep it (mode 600), so that the output does not
/// depend on the checkout's permissions.
fn private_copy(conf: &Path, dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let copy = dir.join(conf.file_name().unwrap());
    std::fs::copy(conf, &copy).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o600)).unwrap();
    copy
}

/// Run `ikev1d ARGS --config NAME` in `dir`: exit status, stderr, stdout.
fn ikev1d(dir: &Path, args: &[&str], name: &str) -> (i32, String, String) {
    let out = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .args(["--config", name])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `check`'s output as sidecar lines. When the tests do not run as root the file's
/// owner is warned about: that line is dropped and the warning count fixed.
fn check_output(dir: &Path, name: &str) -> (i32, Vec<String>) {
    let (code, stderr, stdout) = ikev1d(dir, &["check"], name);
    let owner = ": warning: owned by uid ";
    let dropped = stderr.lines().filter(|l| l.contains(owner)).count();
    let mut lines: Vec<String> = stderr
        .lines()
        .filter(|l| !l.contains(owner))
        .map(|l| format!("stderr {l}"))
        .collect();
    for l in stdout.lines() {
        let mut l = l.to_string();
        if dropped > 0 && l.contains(": OK (") {
            let (head, tail) = l.rsplit_once(", ").unwrap();
            let n: usize = tail.split(' ').next().unwrap().parse().unwrap();
            let n = n - dropped;
            l = format!(
                "{head}, {n} {})",
                if n == 1 { "warning" } else { "warnings" }
            );
        }
        lines.push(format!("stdout {l}"));
    }
    (code, lines)
}

#[test]
fn every_fixture_checks_as_its_sidecar_says() {
    let all = fixtures();
    assert!(all.len() >= 20, "only {} fixtures", all.len());
    let bless = std::env::var_os("IKEV1D_BLESS").is_some();
    let dir = scratch("check");
    let mut failures = Vec::new();
    for conf in &all {
        let name = conf.file_name().unwrap().to_string_lossy().into_owned();
        private_copy(conf, &dir);
        let (exit, output) = check_output(&dir, &name);
        let mut expected = read_sidecar(conf);
        if bless {
            expected.exit = exit;
            expected.output = output;
            write_sidecar(conf, &expected);
            continue;
        }
        if (exit, &output) != (expected.exit, &expected.output) {
            failures.push(format!(
                "{name}: got exit {exit}\n{}\nexpected exit {}\n{}",
                output.join("\n"),
                expected.exit,
                expected.output.join("\n")
            ));
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn no_secret_of_any_fixture_is_printed() {
    let dir = scratch("secrets");
    for conf in fixtures() {
        let name = conf.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&conf).unwrap();
        let sidecar = read_sidecar(&conf);
        assert!(!sidecar.secrets.is_empty(), "{name}: no `secret` line");
        for s in &sidecar.secrets {
            assert!(
                text.contains(s.as_str()),
                "{name}: secret {s} is not in the file"
            );
        }
        private_copy(&conf, &dir);
        for args in [
            &["check"][..],
            &["check", "--map-interface", "GigabitEthernet1=ikt-none0"],
        ] {
            let (_, stderr, stdout) = ikev1d(&dir, args, &name);
            for s in &sidecar.secrets {
                assert!(
                    !stderr.contains(s.as_str()) && !stdout.contains(s.as_str()),
                    "{name}: `{}` printed {s}:\n{stderr}{stdout}",
                    args.join(" ")
                );
            }
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The tunnel lines of `check`'s stdout (the file name and the skipped lines differ).
fn tunnel_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("  ")).collect()
}

#[test]
fn converted_fixtures_check_to_the_same_tunnels() {
    let dir = scratch("convert");
    for conf in fixtures() {
        let name = conf.file_name().unwrap().to_string_lossy().into_owned();
        private_copy(&conf, &dir);
        let (code, _, ios_out) = ikev1d(&dir, &["check"], &name);
        let (converted, stderr, toml) = ikev1d(&dir, &["convert"], &name);
        assert_eq!(converted, 0, "{name}: convert failed: {stderr}");
        let toml_name = format!("{name}.toml");
        let toml_path = dir.join(&toml_name);
        std::fs::write(&toml_path, &toml).unwrap();
        std::fs::set_permissions(
            &toml_path,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let (toml_code, toml_err, toml_out) = ikev1d(&dir, &["check"], &toml_name);
        assert_eq!(toml_code, code, "{name}: {toml_err}");
        assert_eq!(tunnel_lines(&toml_out), tunnel_lines(&ios_out), "{name}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}
