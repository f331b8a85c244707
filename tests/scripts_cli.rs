//! The scripts a user runs (scripts/*.sh) answer `--help` with their usage, and those
//! that take options refuse an unknown one with exit status 2 before doing anything.

use std::path::Path;
use std::process::{Command, Output};

fn scripts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("scripts/")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sh"))
        .collect();
    names.sort();
    names
}

fn run(script: &str, arg: &str) -> Output {
    Command::new("bash")
        .arg(format!("scripts/{script}"))
        .arg(arg)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run bash")
}

#[test]
fn every_script_answers_help_with_its_usage() {
    let names = scripts();
    assert!(names.len() >= 5, "{names:?}");
    for name in names {
        let out = run(&name, "--help");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name} --help: {out:?}");
        // the usage starts with the script's name and what it does
        assert!(
            stdout.starts_with(&format!("{name} - ")),
            "{name} --help: {stdout}"
        );
    }
}

#[test]
fn scripts_with_options_refuse_an_unknown_one() {
    for name in ["test.sh", "demo.sh", "soak.sh", "bench-esp.sh"] {
        let out = run(name, "--no-such-option");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains("--no-such-option"), "{name}: {stderr}");
    }
}
