use secrecy::SecretString;
use wxauth_domain::AppKind;

use crate::apps::{AppDraft, AppSource, AppSpec};

fn spec() -> AppSpec {
    AppSpec {
        key: "shop".into(),
        kind: "mini_program".into(),
        appid: "wx1234567890abcdef".into(),
        secret: Some(SecretString::from("f3b1c2d4e5a6978812ab34cd56ef7890")),
        ..Default::default()
    }
}

fn refused(spec: AppSpec) -> (String, String) {
    let e = AppDraft::parse(spec, None, AppSource::Admin).unwrap_err();
    (e.field.into_owned(), e.reason.into_owned())
}

#[test]
fn a_minimal_app_gets_its_defaults() {
    let draft = AppDraft::parse(spec(), None, AppSource::Config).unwrap();
    assert_eq!(draft.kind, AppKind::MiniProgram);
    assert_eq!(draft.name.as_str(), "shop", "the name defaults to the key");
    assert_eq!(draft.registration, wxauth_domain::RegistrationPolicy::Open);
    assert!(draft.enabled);
    assert_eq!(draft.source.as_str(), "config");
}

#[test]
fn every_field_is_checked_and_named() {
    let cases: Vec<(&str, AppSpec)> = vec![
        (
            "key",
            AppSpec {
                key: "Shop".into(),
                ..spec()
            },
        ),
        (
            "kind",
            AppSpec {
                kind: "mp".into(),
                ..spec()
            },
        ),
        (
            "name",
            AppSpec {
                name: Some("x".repeat(129)),
                ..spec()
            },
        ),
        (
            "appid",
            AppSpec {
                appid: "wx&x".into(),
                ..spec()
            },
        ),
        (
            "secret",
            AppSpec {
                secret: None,
                ..spec()
            },
        ),
        (
            "secret",
            AppSpec {
                secret: Some(SecretString::from("CHANGE-ME")),
                ..spec()
            },
        ),
        (
            "registration",
            AppSpec {
                registration: Some("sometimes".into()),
                ..spec()
            },
        ),
        (
            "redirectAllowList",
            AppSpec {
                redirect_allow_list: vec!["ftp://x".into()],
                ..spec()
            },
        ),
        (
            "eventToken",
            AppSpec {
                event_token: Some(SecretString::from("your-token-here")),
                ..spec()
            },
        ),
        (
            "encodingAesKey",
            AppSpec {
                encoding_aes_key: Some(SecretString::from("short")),
                ..spec()
            },
        ),
        (
            "apiBaseUrl",
            AppSpec {
                api_base_url: Some("not a url".into()),
                ..spec()
            },
        ),
        (
            "openBaseUrl",
            AppSpec {
                open_base_url: Some("ftp://x".into()),
                ..spec()
            },
        ),
        (
            "mpBaseUrl",
            AppSpec {
                mp_base_url: Some("/relative".into()),
                ..spec()
            },
        ),
    ];
    for (field, spec) in cases {
        assert_eq!(refused(spec).0, field);
    }
}

#[tokio::test]
async fn a_replacement_keeps_the_secrets_it_leaves_out() {
    let h = crate::testing::Harness::new(wxauth_domain::RegistrationPolicy::Open).await;
    let existing = h.wxauth.apps().get("mp").await.unwrap();
    let replacement = AppSpec {
        key: "mp".into(),
        secret: None,
        ..spec()
    };
    let draft = AppDraft::parse(replacement, Some(&existing), AppSource::Admin).unwrap();
    use secrecy::ExposeSecret;
    assert_eq!(
        draft.secret.expose_secret(),
        existing.secret.expose_secret()
    );
}
