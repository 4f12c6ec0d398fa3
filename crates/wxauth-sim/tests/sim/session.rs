use hmac::{Hmac, Mac};
use serde_json::json;
use sha1::{Digest, Sha1};
use sha2::Sha256;
use wxauth_sim::crypto::user_data::decrypt_user_data;

use crate::helpers::*;

/// `hex(hmac_sha256(key = session_key text, ""))`, written here from the doc.
fn checksession_signature(session_key: &str) -> String {
    let mac = Hmac::<Sha256>::new_from_slice(session_key.as_bytes()).unwrap();
    hex::encode(mac.finalize().into_bytes())
}

async fn checksession(sim: &TestSim, openid: &str, signature: &str) -> i64 {
    let token = sim.token(MP).await;
    errcode(
        &sim.get_json(
            "/wxa/checksession",
            &[
                ("access_token", &token),
                ("signature", signature),
                ("openid", openid),
                ("sig_method", "hmac_sha256"),
            ],
        )
        .await,
    )
}

#[tokio::test]
async fn checksession_accepts_only_the_current_session_key() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let first = sim.login(&user.openid).await["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let old_signature = checksession_signature(&first);
    assert_eq!(checksession(&sim, &user.openid, &old_signature).await, 0);

    sim.login(&user.openid).await;
    assert_eq!(
        checksession(&sim, &user.openid, &old_signature).await,
        87009
    );
    assert_eq!(checksession(&sim, &user.openid, "deadbeef").await, 87009);
}

#[tokio::test]
async fn checksession_before_any_login_is_87009_and_unknown_openid_40003() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    assert_eq!(checksession(&sim, &user.openid, "00").await, 87009);
    assert_eq!(checksession(&sim, "ounknown", "00").await, 40003);
}

#[tokio::test]
async fn resetusersessionkey_issues_a_new_key() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let key = sim.login(&user.openid).await["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = sim.token(MP).await;
    let body = sim
        .get_json(
            "/wxa/resetusersessionkey",
            &[
                ("access_token", &token),
                ("openid", &user.openid),
                ("signature", &checksession_signature(&key)),
                ("sig_method", "hmac_sha256"),
            ],
        )
        .await;
    assert_eq!(body["errcode"], 0);
    assert_eq!(body["openid"], user.openid.as_str());
    let new_key = body["session_key"].as_str().unwrap();
    assert_ne!(new_key, key);
    assert_eq!(sim.state().session_key(MP, &user.openid).unwrap(), new_key);
}

#[tokio::test]
async fn encrypted_user_data_decrypts_with_the_session_key_and_carries_a_watermark() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let key = sim.login(&user.openid).await["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = sim
        .control(
            "POST",
            "/__sim/encrypt-user-data",
            Some(json!({"appid": MP, "openid": user.openid, "data": {"nickName": "Band"}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let plain = decrypt_user_data(
        &key,
        body["encryptedData"].as_str().unwrap(),
        body["iv"].as_str().unwrap(),
    )
    .unwrap();
    let data: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(data["nickName"], "Band");
    assert_eq!(data["watermark"]["appid"], MP);
    assert!(data["watermark"]["timestamp"].is_u64());
}

#[tokio::test]
async fn an_explicit_watermark_wins_so_tests_can_forge_one() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let key = sim.login(&user.openid).await["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = json!({"nickName": "x", "watermark": {"appid": "wxforged", "timestamp": 1}});
    let (encrypted, iv) = sim
        .state()
        .encrypt_user_data(MP, &user.openid, forged)
        .unwrap();
    let plain = decrypt_user_data(&key, &encrypted, &iv).unwrap();
    let data: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(data["watermark"]["appid"], "wxforged");
}

#[tokio::test]
async fn raw_data_signature_is_sha1_of_raw_data_and_session_key() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let key = sim.login(&user.openid).await["session_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let raw = r#"{"nickName":"Band","gender":1}"#;
    let (status, body) = sim
        .control(
            "POST",
            "/__sim/sign-raw-data",
            Some(json!({"appid": MP, "openid": user.openid, "rawData": raw})),
        )
        .await;
    assert_eq!(status, 200);
    let expected = hex::encode(Sha1::digest(format!("{raw}{key}").as_bytes()));
    assert_eq!(body["signature"], expected);
}

#[tokio::test]
async fn session_helpers_refuse_users_who_never_logged_in() {
    let sim = TestSim::spawn().await;
    let user = sim.mp_user();
    let (status, body) = sim
        .control(
            "GET",
            &format!("/__sim/session-key?appid={MP}&openid={}", user.openid),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    sim.login(&user.openid).await;
    let (status, body) = sim
        .control(
            "GET",
            &format!("/__sim/session-key?appid={MP}&openid={}", user.openid),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["session_key"],
        sim.state().session_key(MP, &user.openid).unwrap()
    );
}
