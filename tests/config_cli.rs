//! `ikev1d check` and `ikev1d convert` as a user runs them: exit status, stdout, stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_ikev1d");

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn ikev1d(args: &[&str], config: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run ikev1d")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory for this test process, removed by the caller.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ikev1d-config-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn check_accepts_the_seed_configurations() {
    for file in [
        "examples/r2.conf",
        "examples/r3.conf",
        "examples/ipv4.conf",
        "examples/r2.toml",
        "examples/r2-keyring.conf",
    ] {
        let out = ikev1d(&["check"], &repo(file));
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        assert!(
            stdout.contains(": OK (1 tunnel, 1 isakmp policy, 1 key, "),
            "{stdout}"
        );
    }
}

#[test]
fn check_prints_warnings_with_file_and_line() {
    let out = ikev1d(&["check"], &repo("tests/fixtures/config/show-run.conf"));
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("show-run.conf:5: warning: policy 10: DES"),
        "{stderr}"
    );
    // The lines outside crypto and tunnels are summed up in one line, not warned about.
    assert!(!stderr.contains("unsupported"), "{stderr}");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("show-run.conf: skipped 6 lines outside the crypto and tunnel configuration: interface x1 (Ethernet0/0), line x1, version x1\n"), "{stdout}");
    assert!(
        stdout.contains("  Tunnel23: if_id 23, tunnel mode ipsec ipv6, source eth0, destination 2001:db8::3, ipsec profile PRO\n"),
        "{stdout}"
    );
    assert!(stdout.contains("show-run.conf: OK (1 tunnel"), "{stdout}");
}

#[test]
fn check_reports_errors_and_exits_1() {
    let out = ikev1d(&["check"], &repo("tests/fixtures/config/bad-profile.conf"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bad-profile.conf:11: Tunnel23: no crypto ipsec profile named PROFILE"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    let out = ikev1d(&["check"], Path::new("/nonexistent/ikev1d.conf"));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("/nonexistent/ikev1d.conf: cannot read"));
}

#[test]
fn convert_output_checks_as_the_same_configuration() {
    let dir = scratch("convert");
    for file in [
        "examples/r2.conf",
        "examples/ipv4.conf",
        "examples/r2-keyring.conf",
        "tests/fixtures/config/seed-stray-space.conf",
    ] {
        let out = ikev1d(&["convert"], &repo(file));
        assert!(out.status.success(), "{file}: {}", text(&out.stderr));
        let toml = dir.join("converted.toml");
        std::fs::write(&toml, &out.stdout).unwrap();
        let checked = ikev1d(&["check"], &toml);
        assert!(
            checked.status.success(),
            "{file}: {}",
            text(&checked.stderr)
        );
        // Converting the TOML again gives the same TOML, apart from the comments that
        // name the source file and lines.
        let again = ikev1d(&["convert"], &toml);
        let strip = |s: String| {
            s.lines()
                .filter(|l| !l.starts_with('#'))
                .map(|l| l.split_once("  # line ").map_or(l, |(item, _)| item))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            strip(text(&again.stdout)),
            strip(text(&out.stdout)),
            "{file}"
        );
    }
    let out = ikev1d(
        &["convert"],
        &repo("tests/fixtures/config/bad-profile.conf"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn garbage_files_are_rejected_without_a_panic() {
    let dir = scratch("garbage");
    let long = "interface Tunnel99999999999999999999\n".repeat(50);
    let files: [(&str, &[u8]); 6] = [
        ("binary.conf", &[0xff, 0xfe, 0x00, 0x80, b'\n', 0xc3]),
        (
            "empty-modes.conf",
            b"interface\ncrypto isakmp policy\n set pfs group\n tunnel\n",
        ),
        ("long.conf", long.as_bytes()),
        ("noise.conf", b"}{][ = \"\n\t\t!\n  ::: /// 0.0.0.0/99\n"),
        ("broken.toml", b"[[tunnels]]\nname = 5\n[[tunnels\n"),
        ("types.toml", b"policies = 3\nkeys = \"x\"\n"),
    ];
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        for cmd in ["check", "convert"] {
            let out = ikev1d(&[cmd], &path);
            let stderr = text(&out.stderr);
            assert!(!stderr.contains("panicked"), "{name}: {stderr}");
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{name}: {:?} {stderr}",
                out.status
            );
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_ios_interface_name_needs_a_map_and_the_error_says_how() {
    let dir = scratch("map");
    let seed = std::fs::read_to_string(repo("examples/r2.conf")).unwrap();
    let conf = dir.join("r2-ios.conf");
    std::fs::write(
        &conf,
        seed.replace("tunnel source eth0", "tunnel source Ethernet0/0"),
    )
    .unwrap();
    let out = ikev1d(&["check"], &conf);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("r2-ios.conf:12: tunnel source Ethernet0/0 is an IOS interface this host does not have: map it to a Linux interface with `--map-interface Ethernet0/0=IFNAME` or the line `ikev1d map-interface Ethernet0/0 IFNAME`"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    // Mapped on the command line (IOS's abbreviation), or in the file.
    let out = ikev1d(&["check", "--map-interface", "e0/0=lo"], &conf);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("source Ethernet0/0 (lo)"),
        "{}",
        text(&out.stdout)
    );
    let mut mapped = std::fs::read_to_string(&conf).unwrap();
    mapped.push_str("ikev1d map-interface Ethernet0/0 lo\n");
    std::fs::write(&conf, mapped).unwrap();
    assert!(ikev1d(&["check"], &conf).status.success());
    // convert writes the Linux name when the map comes from the command line.
    let out = ikev1d(&["convert", "--map-interface", "Ethernet0/0=eth0"], &conf);
    assert!(
        text(&out.stdout).contains("source = \"eth0\""),
        "{}",
        text(&out.stdout)
    );
    let out = ikev1d(&["check", "--map-interface", "nonsense"], &conf);
    assert_eq!(out.status.code(), Some(2), "clap refuses the argument");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_config_file_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("mode");
    let conf = dir.join("r2.conf");
    std::fs::copy(repo("examples/r2.conf"), &conf).unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    let stderr = text(&ikev1d(&["check"], &conf).stderr);
    assert!(
        stderr.contains("r2.conf: warning: readable by group or others (mode 644): it holds pre-shared keys; `chmod 600"),
        "{stderr}"
    );
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
    let stderr = text(&ikev1d(&["check"], &conf).stderr);
    assert!(!stderr.contains("readable by group or others"), "{stderr}");
    // Only root's file is quiet about its owner.
    let root = nix_uid_is_root();
    assert_eq!(!stderr.contains("not root"), root, "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

fn nix_uid_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}
