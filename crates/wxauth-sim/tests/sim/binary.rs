//! The `wxauth-sim` binary: flags, config file, the listening line on stdout.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::json;

#[tokio::test]
async fn the_binary_starts_from_flags_and_a_config_file_and_prints_its_address() {
    let mut config = tempfile::NamedTempFile::new().unwrap();
    let file = json!({
        "apps": [{"appid": "wxfromfile", "secret": "s1", "kind": "mini_program"}],
        "users": [{"appid": "wxfromfile", "openid": "oFILEUSER", "phone": "+8613800138000"}]
    });
    config.write_all(file.to_string().as_bytes()).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_wxauth-sim"))
        .args(["--listen", "127.0.0.1:0", "--no-rate-limits"])
        .args(["--app", "wxflag:s2:official_account"])
        .arg("--config")
        .arg(config.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let base = line
        .trim()
        .strip_prefix("wxauth-sim listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let users: serde_json::Value = http
        .get(format!("{base}/__sim/users?appid=wxfromfile"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let apps: serde_json::Value = http
        .get(format!("{base}/__sim/apps"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    assert_eq!(users[0]["openid"], "oFILEUSER");
    assert_eq!(apps.as_array().unwrap().len(), 2);
}

#[test]
fn the_binary_refuses_a_malformed_app_flag() {
    let output = Command::new(env!("CARGO_BIN_EXE_wxauth-sim"))
        .args(["--listen", "127.0.0.1:0", "--app", "only-appid"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("appid:secret:kind"));
}
