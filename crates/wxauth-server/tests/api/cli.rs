//! The command line, run as the binary it is: what an operator types.

use std::process::Command;

use wxauth_testkit::{JWT_SECRET, MASTER_KEY};

struct Cli {
    dir: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs `wxauth-server <args>` on a fresh SQLite database; (success, stdout, stderr).
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_wxauth-server"))
            .args(args)
            .current_dir(self.dir.path())
            .env(
                "WXAUTH__DATABASE__URL",
                format!("sqlite://{}/cli.db?mode=rwc", self.dir.path().display()),
            )
            .env("WXAUTH__SECRETS__MASTER_KEY", MASTER_KEY)
            .env("WXAUTH__JWT__SECRET", JWT_SECRET)
            .env("WXAUTH_APP_SECRET", "oa-secret")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[test]
fn clients_are_added_listed_rotated_and_removed_from_the_command_line() {
    let cli = Cli::new();
    let (ok, _, err) = cli.run(&[
        "apps",
        "add",
        "--key",
        "oa",
        "--kind",
        "official-account",
        "--appid",
        "wxclioa000001",
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = cli.run(&[
        "clients",
        "add",
        "--name",
        "Grafana",
        "--redirect-uri",
        "https://grafana.example.com/login/generic_oauth",
        "--official-account",
        "oa",
    ]);
    assert!(ok, "{err}");
    let client_id = out
        .lines()
        .find_map(|l| l.strip_prefix("client ")?.strip_suffix(" created"))
        .expect("the new client's id")
        .to_owned();
    let secret = out.lines().last().unwrap().to_owned();
    assert!(secret.starts_with("cs_"), "{out}");

    let (ok, out, _) = cli.run(&["clients", "list"]);
    assert!(ok);
    assert!(out.contains(&client_id) && out.contains("Grafana"));
    assert!(!out.contains(&secret), "secrets are never listed");

    let (ok, out, _) = cli.run(&["clients", "rotate-secret", &client_id]);
    assert!(ok);
    let rotated = out.lines().last().unwrap();
    assert!(rotated.starts_with("cs_") && rotated != secret);

    // A redirect URI that could never be exact-matched safely is refused, with the reason.
    let (ok, _, err) = cli.run(&[
        "clients",
        "add",
        "--name",
        "Bad",
        "--redirect-uri",
        "http://evil.example.com/cb",
        "--official-account",
        "oa",
    ]);
    assert!(!ok);
    assert!(err.contains("redirectUris"), "{err}");

    let (ok, _, _) = cli.run(&["clients", "remove", &client_id]);
    assert!(ok);
    let (ok, out, _) = cli.run(&["clients", "list"]);
    assert!(ok && !out.contains(&client_id));
    let (ok, _, err) = cli.run(&["clients", "remove", &client_id]);
    assert!(!ok, "removing it twice fails: {err}");
}
