//! `wxauth-server demo`, as a first-time user meets it: the printed curl session works, and a
//! failing step stops it with the error body instead of carrying on with garbage.

use std::net::{SocketAddr, TcpListener};
use std::process::Command;

use wxauth_server::cli::DemoArgs;

fn free_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// The session block of the banner, as the user pastes it.
fn session(listen: SocketAddr, sim: &str) -> String {
    let client = wxauth_server::demo::DemoClient {
        client_id: "client_unused".into(),
        client_secret: "cs_unused".into(),
    };
    let banner = wxauth_server::demo::banner(listen, sim, "wxa_unused", Some(&client));
    let start = banner.find("\n(\n").unwrap() + 1;
    let end = banner.find("\n)\n").unwrap() + 2;
    banner[start..end].to_owned()
}

fn sh(script: &str) -> std::process::Output {
    Command::new("sh").arg("-c").arg(script).output().unwrap()
}

#[tokio::test]
async fn the_printed_curl_session_signs_alice_in_and_stops_loudly_on_a_failure() {
    let data = tempfile::tempdir().unwrap();
    let args = DemoArgs {
        listen: free_port(),
        sim_listen: free_port(),
        data_dir: data.path().to_owned(),
    };
    let listen = args.listen;
    let sim = format!("http://{}", args.sim_listen);
    // The demo runs as `main` runs it: on a runtime of its own, until the process ends.
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(wxauth_server::demo::run(&args))
    });
    let client = reqwest::Client::new();
    let ready = format!("http://{listen}/readyz");
    for _ in 0..100 {
        if client
            .get(&ready)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let script = session(listen, &sim);
    let ok = tokio::task::spawn_blocking({
        let script = script.clone();
        move || sh(&script)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        ok.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout.contains("\"openid\":\"oDEMO_alice\""), "{stdout}");

    // A step that fails (here: a code for a user WeChat does not know) ends the session with
    // the error body; no later step runs with what it would have extracted.
    let broken = script.replace("oDEMO_alice", "oNOBODY");
    let failed = tokio::task::spawn_blocking(move || sh(&broken))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success());
    assert!(stderr.contains("failed: {"), "{stderr}");
    assert!(failed.stdout.is_empty(), "nothing after the failure ran");
}
