//! `sketchlake rules …` through the binary, over a rules folder with a good rule, a rule
//! that does not read and a rule whose test fails.
#![allow(clippy::unwrap_used)] // test helpers: a panic is the failure report

use std::path::Path;
use std::process::{Command, Output};

const BRUTE_FORCE: &str = r#"id: ssh-brute-force
name: SSH brute force
severity: high
tags: [attack.t1110]
query: dst_port:22 | stats count by src_ip | where count > 2
window: 1h
every: 5m
tests:
  - name: three sessions from one source fire
    events:
      - {"src_ip": "192.0.2.45", "dst_port": 22}
      - {"src_ip": "192.0.2.45", "dst_port": 22}
      - {"src_ip": "192.0.2.45", "dst_port": 22}
      - {"src_ip": "10.0.0.9", "dst_port": 22}
    expect: fire
    group: ["192.0.2.45"]
  - name: two stay quiet
    events:
      - {"src_ip": "192.0.2.45", "dst_port": 22}
      - {"src_ip": "192.0.2.45", "dst_port": 22}
    expect: quiet
"#;

const ROOT_LOGIN: &str = r#"id: root-console-login
name: Root console login
severity: critical
query: eventName:ConsoleLogin userIdentity.type:Root
window: 15m
tests:
  - name: a root login fires
    events: [{"eventName": "ConsoleLogin", "userIdentity": {"type": "Root"}}]
    expect: fire
  - name: wrongly expected to fire
    events: [{"eventName": "ConsoleLogin", "userIdentity": {"type": "IAMUser"}}]
    expect: fire
"#;

const BROKEN: &str =
    "id: broken\nname: Broken\nseverity: low\nquery: dst_port:22 | stats dc(\nwindow: 1h\n";

fn sketchlake(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sketchlake"))
        .args(args)
        .arg(dir)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_rules_folder_is_validated_tested_and_listed_naming_each_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("cloud")).unwrap();
    std::fs::write(dir.path().join("brute-force.yml"), BRUTE_FORCE).unwrap();
    std::fs::write(dir.path().join("cloud/root-login.yaml"), ROOT_LOGIN).unwrap();
    std::fs::write(dir.path().join("broken.yml"), BROKEN).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a rule").unwrap();

    let validated = sketchlake(&["rules", "validate"], dir.path());
    assert_eq!(validated.status.code(), Some(1), "{validated:?}");
    assert!(text(&validated.stdout).contains("2 rules read, 1 refused"));
    let refused = text(&validated.stderr);
    assert!(refused.contains("broken.yml:4:"), "{refused}");
    assert!(refused.contains("the query does not parse"), "{refused}");

    let tested = sketchlake(&["rules", "test"], dir.path());
    assert_eq!(tested.status.code(), Some(1), "{tested:?}");
    let said = text(&tested.stderr);
    assert!(
        said.contains("FAIL root-console-login") && said.contains("wrongly expected to fire"),
        "{said}"
    );
    assert!(!said.contains("FAIL ssh-brute-force"), "{said}");
    assert!(
        text(&tested.stdout).contains("4 tests of 2 rules: 1 failed; 1 rule files refused"),
        "{tested:?}"
    );

    std::fs::remove_file(dir.path().join("broken.yml")).unwrap();
    std::fs::write(
        dir.path().join("cloud/root-login.yaml"),
        ROOT_LOGIN
            .replace("expect: fire\n", "expect: quiet\n")
            .replacen("expect: quiet\n", "expect: fire\n", 1),
    )
    .unwrap();
    let tested = sketchlake(&["rules", "test"], dir.path());
    assert!(tested.status.success(), "{tested:?}");
    assert!(text(&tested.stdout).contains("4 tests of 2 rules: 0 failed; 0 rule files refused"));

    let listed = sketchlake(&["rules", "list"], dir.path());
    assert!(listed.status.success(), "{listed:?}");
    let lines: Vec<String> = text(&listed.stdout).lines().map(str::to_string).collect();
    assert_eq!(
        lines,
        [
            "root-console-login\tactive\tcritical\t15m\t15m\tRoot console login",
            "ssh-brute-force\tactive\thigh\t1h\t5m\tSSH brute force",
        ]
    );
}
