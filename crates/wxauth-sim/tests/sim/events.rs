use std::time::Duration;

use serde_json::json;
use wxauth_sim::crypto::event::{decode_aes_key, decrypt_message};
use wxauth_sim::{EventKind, EventMode, NewUser, PushEvent, SimApp};

use crate::helpers::*;
use crate::qrcode::{create_qr, temp_str_scene};

fn configure_oa(sim: &TestSim, receiver: &Receiver, mode: EventMode) {
    let mut app =
        SimApp::official_account(OA, OA_SECRET).with_event_url(&receiver.url, EVENT_TOKEN);
    if mode != EventMode::Plain {
        app = app.with_encryption(AES_KEY, mode);
    }
    sim.state().add_app(app).unwrap();
}

async fn ticket(sim: &TestSim, scene: &str) -> String {
    create_qr(sim, temp_str_scene(scene)).await["ticket"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// What a receiver written from the doc checks on a plain push.
fn assert_signed(request: &Received) {
    let q = &request.query;
    assert_eq!(
        q["signature"],
        sha1_signature(&[EVENT_TOKEN, &q["timestamp"], &q["nonce"]]),
        "signature"
    );
    assert_eq!(q["tenant"], "t1", "the event_url's own query is kept");
}

#[tokio::test]
async fn a_new_user_scanning_gets_subscribe_with_qrscene_and_then_scan_without_it() {
    let sim = TestSim::spawn().await;
    let receiver = Receiver::start(Behaviour::default());
    configure_oa(&sim, &receiver, EventMode::Plain);
    let user = sim.user(NewUser::new(OA));
    let ticket = ticket(&sim, "login_abc").await;

    let report = sim.state().scan(&ticket, &user.openid).await.unwrap();
    assert_eq!(report.event, "subscribe");
    assert!(report.delivery.delivered);
    assert_eq!(report.delivery.attempts, 1);
    assert_eq!(report.delivery.body, "success");

    let report = sim.state().scan(&ticket, &user.openid).await.unwrap();
    assert_eq!(report.event, "SCAN");

    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    let (first, second) = (&requests[0], &requests[1]);
    assert_eq!(first.method, "POST");
    assert_signed(first);
    assert_eq!(first.query["openid"], user.openid.as_str());
    assert!(!first.query.contains_key("encrypt_type"));
    let original_id = SimApp::official_account(OA, OA_SECRET).original_id();
    assert_eq!(xml_field(&first.body, "ToUserName").unwrap(), original_id);
    assert_eq!(xml_field(&first.body, "FromUserName").unwrap(), user.openid);
    assert_eq!(xml_field(&first.body, "MsgType").unwrap(), "event");
    assert_eq!(xml_field(&first.body, "Event").unwrap(), "subscribe");
    assert_eq!(
        xml_field(&first.body, "EventKey").unwrap(),
        "qrscene_login_abc"
    );
    assert_eq!(xml_field(&first.body, "Ticket").unwrap(), ticket);
    assert_signed(second);
    assert_eq!(xml_field(&second.body, "Event").unwrap(), "SCAN");
    assert_eq!(xml_field(&second.body, "EventKey").unwrap(), "login_abc");

    // The scan made the user a follower, with the QR scene remembered.
    let token = sim.token(OA).await;
    let info = sim
        .get_json(
            "/cgi-bin/user/info",
            &[("access_token", &token), ("openid", &user.openid)],
        )
        .await;
    assert_eq!(info["subscribe"], 1);
    assert_eq!(info["subscribe_scene"], "ADD_SCENE_QR_CODE");
    assert_eq!(info["qr_scene_str"], "login_abc");
}

#[tokio::test]
async fn safe_mode_pushes_only_encrypt_signed_with_msg_signature() {
    let sim = TestSim::spawn().await;
    let receiver = Receiver::start(Behaviour::default());
    configure_oa(&sim, &receiver, EventMode::Safe);
    let user = sim.user(NewUser::new(OA).subscribed());
    let ticket = ticket(&sim, "login_safe").await;
    let report = sim.state().scan(&ticket, &user.openid).await.unwrap();
    assert!(report.delivery.delivered);

    let request = &receiver.requests()[0];
    let q = &request.query;
    assert_eq!(q["encrypt_type"], "aes");
    let encrypt = xml_field(&request.body, "Encrypt").expect("Encrypt element");
    assert_eq!(
        q["msg_signature"],
        sha1_signature(&[EVENT_TOKEN, &q["timestamp"], &q["nonce"], &encrypt])
    );
    assert!(
        xml_field(&request.body, "Event").is_none(),
        "no plain fields in safe mode"
    );
    assert!(xml_field(&request.body, "ToUserName").is_some());

    let decrypted = decrypt_message(&decode_aes_key(AES_KEY).unwrap(), &encrypt).unwrap();
    assert_eq!(decrypted.appid, OA);
    assert_eq!(xml_field(&decrypted.msg, "Event").unwrap(), "SCAN");
    assert_eq!(xml_field(&decrypted.msg, "EventKey").unwrap(), "login_safe");
}

#[tokio::test]
async fn compat_mode_pushes_plain_fields_and_encrypt() {
    let sim = TestSim::spawn().await;
    let receiver = Receiver::start(Behaviour::default());
    configure_oa(&sim, &receiver, EventMode::Compat);
    let user = sim.user(NewUser::new(OA));
    let ticket = ticket(&sim, "compat").await;
    sim.state().scan(&ticket, &user.openid).await.unwrap();

    let request = &receiver.requests()[0];
    assert_signed(request);
    assert_eq!(request.query["encrypt_type"], "aes");
    assert_eq!(xml_field(&request.body, "Event").unwrap(), "subscribe");
    let encrypt = xml_field(&request.body, "Encrypt").unwrap();
    let decrypted = decrypt_message(&decode_aes_key(AES_KEY).unwrap(), &encrypt).unwrap();
    assert_eq!(
        xml_field(&decrypted.msg, "EventKey").unwrap(),
        "qrscene_compat"
    );
}

#[tokio::test]
async fn a_slow_receiver_gets_three_identical_attempts() {
    let sim = TestSim::spawn().await;
    // Generous margins so a busy machine cannot make the fast third answer miss its deadline.
    sim.state().set_event_timeout(Duration::from_millis(800));
    let receiver = Receiver::start(Behaviour {
        slow_first: 2,
        delay: Duration::from_secs(10),
        ..Behaviour::default()
    });
    configure_oa(&sim, &receiver, EventMode::Plain);
    let user = sim.user(NewUser::new(OA));
    let ticket = ticket(&sim, "retry").await;
    let report = sim.state().scan(&ticket, &user.openid).await.unwrap();
    assert!(report.delivery.delivered, "{report:?}");
    assert_eq!(report.delivery.attempts, 3);

    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests.iter().all(|r| r.body == requests[0].body),
        "same message each time"
    );
    let create_time = xml_field(&requests[0].body, "CreateTime").unwrap();
    assert_eq!(create_time, report.create_time.to_string());
}

#[tokio::test]
async fn a_failing_receiver_is_tried_three_times_and_reported_undelivered() {
    let sim = TestSim::spawn().await;
    let receiver = Receiver::start(Behaviour {
        status: 500,
        body: Some("boom".into()),
        ..Behaviour::default()
    });
    configure_oa(&sim, &receiver, EventMode::Plain);
    let user = sim.user(NewUser::new(OA));
    let ticket = ticket(&sim, "fail").await;
    let (status, report) = sim
        .control(
            "POST",
            "/__sim/scan",
            Some(json!({"ticket": ticket, "openid": user.openid})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(report["event"], "subscribe");
    assert_eq!(report["delivered"], false);
    assert_eq!(report["status"], 500);
    assert_eq!(report["body"], "boom");
    assert_eq!(report["attempts"], 3);
    assert_eq!(receiver.requests().len(), 3);
}

#[tokio::test]
async fn duplicate_events_repeat_the_same_message() {
    let sim = TestSim::spawn().await;
    let receiver = Receiver::start(Behaviour::default());
    configure_oa(&sim, &receiver, EventMode::Plain);
    let user = sim.user(NewUser::new(OA));
    let (status, report) = sim
        .control(
            "POST",
            "/__sim/events",
            Some(json!({"appid": OA, "openid": user.openid, "event": "subscribe", "duplicate": 2})),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["duplicates"].as_array().unwrap().len(), 2);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    let times: Vec<_> = requests
        .iter()
        .map(|r| {
            (
                xml_field(&r.body, "FromUserName").unwrap(),
                xml_field(&r.body, "CreateTime").unwrap(),
            )
        })
        .collect();
    assert!(times.iter().all(|t| *t == times[0]));
    assert_eq!(
        xml_field(&requests[0].body, "EventKey").unwrap(),
        "",
        "a plain follow has an empty EventKey"
    );
    assert!(sim.state().user(OA, &user.openid).unwrap().subscribed);
}

#[tokio::test]
async fn unsubscribe_events_unfollow_and_carry_no_event_key() {
    let sim = TestSim::spawn().await;
    let receiver = Receiver::start(Behaviour::default());
    configure_oa(&sim, &receiver, EventMode::Plain);
    let user = sim.user(NewUser::new(OA).subscribed());
    let report = sim
        .state()
        .push_event(PushEvent::new(OA, &user.openid, EventKind::Unsubscribe))
        .await
        .unwrap();
    assert!(report.delivery.delivered);
    assert!(!sim.state().user(OA, &user.openid).unwrap().subscribed);
    assert!(xml_field(&receiver.requests()[0].body, "EventKey").is_none());
}

#[tokio::test]
async fn verify_url_passes_when_the_receiver_echoes_echostr() {
    let sim = TestSim::spawn().await;
    let receiver = Receiver::start(Behaviour::default());
    configure_oa(&sim, &receiver, EventMode::Plain);
    let (status, report) = sim
        .control(
            "POST",
            "/__sim/events/verify-url",
            Some(json!({"appid": OA})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(report["ok"], true, "{report}");
    let request = &receiver.requests()[0];
    assert_eq!(request.method, "GET");
    assert_signed(request);
    assert_eq!(report["body"], request.query["echostr"].as_str());

    let liar = Receiver::start(Behaviour {
        body: Some("nope".into()),
        ..Behaviour::default()
    });
    configure_oa(&sim, &liar, EventMode::Plain);
    let report = sim.state().verify_event_url(OA).await.unwrap();
    assert!(!report.ok);
}

#[tokio::test]
async fn scanning_an_expired_or_unknown_ticket_is_refused() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(OA));
    let ticket = ticket(&sim, "short").await;
    sim.state().advance_clock(Duration::from_secs(601));
    let (status, body) = sim
        .control(
            "POST",
            "/__sim/scan",
            Some(json!({"ticket": ticket, "openid": user.openid})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = sim
        .control(
            "POST",
            "/__sim/scan",
            Some(json!({"ticket": "nope", "openid": user.openid})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn without_an_event_url_a_scan_still_makes_the_user_follow() {
    let sim = TestSim::spawn().await;
    let user = sim.user(NewUser::new(OA));
    let ticket = create_qr(
        &sim,
        json!({"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 42}}}),
    )
    .await["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = sim.state().scan(&ticket, &user.openid).await.unwrap();
    assert_eq!(report.delivery.attempts, 0);
    assert!(!report.delivery.delivered);
    let user = sim.state().user(OA, &user.openid).unwrap();
    assert!(user.subscribed);
    assert_eq!(user.qr_scene, 42);
}
