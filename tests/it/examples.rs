//! The examples an operator copies from stay valid, and the TOML and YAML quickstarts mean
//! the same thing.

use crate::common::schema::assert_matches_schema;
use crate::common::*;
use jackin::schema::Document;
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
    // The examples next to a fake login made here (the demo script writes one in a checkout).
    let sb = Sandbox::new();
    for rel in ["quickstart/jackin.toml", "quickstart-yaml/jackin.yaml"] {
        let body = std::fs::read_to_string(example(rel)).unwrap();
        sb.write(rel, body.replace("jackin-demo-agent:latest", agent_image()));
    }
    sb.write("quickstart/demo-home/kimi/config.toml", "fake = true\n");
    sb.write(
        "quickstart/demo-home/kimi/credentials/kimi-code.json",
        "{}\n",
    );
    let plan = |rel: &str| {
        let run = sb.jackin(&[
            "plan",
            "--output",
            "json",
            "-f",
            &sb.work().join(rel).display().to_string(),
        ]);
        run.expect_ok();
        run.stdout
    };
    let toml = plan("quickstart/jackin.toml");
    assert!(toml.contains("\"container\": \"jk-demo-smith\""), "{toml}");
    assert!(
        toml.contains("\"path\": \"credentials/kimi-code.json\""),
        "{toml}"
    );
    assert_eq!(toml, plan("quickstart-yaml/jackin.yaml"));
}

/// The README's ```json block is a plan a reader may copy as a fixture.
#[test]
fn the_readme_json_plan_matches_the_plan_schema() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```json\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect();
    assert_eq!(blocks.len(), 1, "one ```json block (the plan) in README.md");
    let plan: serde_json::Value = serde_json::from_str(blocks[0]).unwrap();
    assert_matches_schema(Document::Plan, &plan);
}
