//! The examples an operator copies from stay valid, and the TOML and YAML quickstarts mean
//! the same thing.

mod common;

use common::*;
use std::path::Path;

fn example(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(rel)
        .display()
        .to_string()
}

#[test]
fn every_example_validates() {
    let sb = Sandbox::new();
    for (path, want) in [
        (
            "quickstart/jackin.toml",
            "Valid: project quickstart, 1 instance(s), 1 file(s).",
        ),
        (
            "quickstart-yaml/jackin.yaml",
            "Valid: project quickstart, 1 instance(s), 1 file(s).",
        ),
        ("gitops", "Valid: project gitops, 3 instance(s), 3 file(s)."),
    ] {
        let run = sb.jackin(&["validate", "-f", &example(path)]);
        run.expect_ok();
        assert_eq!(run.stdout.trim(), want, "{path}");
    }
}

#[test]
fn the_yaml_quickstart_plans_exactly_like_the_toml_one() {
    let sb = Sandbox::new();
    let toml = sb.jackin(&[
        "plan",
        "--output",
        "json",
        "-f",
        &example("quickstart/jackin.toml"),
    ]);
    let yaml = sb.jackin(&[
        "plan",
        "--output",
        "json",
        "-f",
        &example("quickstart-yaml/jackin.yaml"),
    ]);
    toml.expect_ok();
    yaml.expect_ok();
    assert_eq!(toml.stdout, yaml.stdout);
}
