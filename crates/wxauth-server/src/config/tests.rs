use std::collections::HashMap;

use super::*;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const JWT: &str = "a-jwt-secret-of-at-least-thirty-two-bytes";

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = [
        ("WXAUTH__SECRETS__MASTER_KEY", KEY),
        ("WXAUTH__JWT__SECRET", JWT),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    for (k, v) in pairs {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    map
}

fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(None, Some(env(pairs)))
}

#[test]
fn defaults_plus_the_two_required_secrets_make_a_valid_configuration() {
    let c = load(&[]).unwrap();
    assert_eq!(c.server.listen.port(), 8080);
    assert!(c.database.url.starts_with("sqlite:"));
    assert_eq!(c.jwt.access_token_ttl_secs, 900);
    assert!(c.rate_limits.enabled);
}

#[test]
fn a_missing_master_key_is_named_with_its_environment_variable() {
    let mut vars = env(&[]);
    vars.remove("WXAUTH__SECRETS__MASTER_KEY");
    let e = Config::load(None, Some(vars)).unwrap_err().to_string();
    assert!(e.contains("secrets.master_key"), "{e}");
    assert!(e.contains("WXAUTH__SECRETS__MASTER_KEY"), "{e}");
    assert_eq!(e.lines().count(), 1);
}

#[test]
fn a_weak_jwt_secret_is_refused() {
    let e = load(&[("WXAUTH__JWT__SECRET", "short")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("jwt.secret"), "{e}");
}

#[test]
fn a_typo_in_a_key_stops_start_up() {
    let e = load(&[("WXAUTH__SERVER__LISTNE", "0.0.0.0:1")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("listne"), "{e}");
}

#[test]
fn apps_come_from_the_environment_with_comma_separated_lists() {
    let c = load(&[
        ("WXAUTH__APPS__SHOP__KIND", "mini_program"),
        ("WXAUTH__APPS__SHOP__APPID", "wx1234567890abcdef"),
        ("WXAUTH__APPS__SHOP__SECRET", "123456"),
        ("WXAUTH__APPS__OA__KIND", "official_account"),
        ("WXAUTH__APPS__OA__APPID", "wxabcdef1234567890"),
        ("WXAUTH__APPS__OA__SECRET", "s"),
        (
            "WXAUTH__APPS__OA__REDIRECT_ALLOW_LIST",
            "https://a.example.com/cb, https://b.example.com/",
        ),
    ])
    .unwrap();
    let shop = &c.apps["shop"];
    // A numeric-looking secret stays a string.
    assert_eq!(shop.secret.expose_secret(), "123456");
    assert_eq!(c.apps["oa"].redirect_allow_list.len(), 2);
    let draft = c.app_draft("oa", &c.apps["oa"]).unwrap();
    assert_eq!(draft.kind, wxauth_domain::AppKind::OfficialAccount);
}

#[test]
fn an_invalid_app_setting_names_the_app_and_field() {
    let e = load(&[
        ("WXAUTH__APPS__SHOP__KIND", "mini-program"),
        ("WXAUTH__APPS__SHOP__APPID", "wx1234567890abcdef"),
        ("WXAUTH__APPS__SHOP__SECRET", "s"),
    ])
    .unwrap_err()
    .to_string();
    assert!(e.contains("apps.shop.kind"), "{e}");
    assert!(e.contains("WXAUTH__APPS__SHOP__KIND"), "{e}");
}

#[test]
fn an_unknown_database_scheme_is_refused() {
    let e = load(&[("WXAUTH__DATABASE__URL", "oracle://x")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("database.url"), "{e}");
}

#[test]
fn env_names_follow_the_double_underscore_convention() {
    assert_eq!(env_name("jwt.secret"), "WXAUTH__JWT__SECRET");
    assert_eq!(env_name("apps.shop.secret"), "WXAUTH__APPS__SHOP__SECRET");
}

/// `.env.example` as a stack copied from it would see it.
fn env_example() -> HashMap<String, String> {
    let text = include_str!("../../../../.env.example");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn every_placeholder_of_env_example_stops_start_up_naming_its_setting() {
    let mut vars = env_example();
    // Replaced one at a time, in the order start-up meets them: each is refused in turn.
    let replacements = [
        ("secrets.master_key", "WXAUTH__SECRETS__MASTER_KEY", KEY),
        ("jwt.secret", "WXAUTH__JWT__SECRET", JWT),
        (
            "apps.oa.secret",
            "WXAUTH__APPS__OA__SECRET",
            "c0ffee0123456789abcdef0123456789",
        ),
        (
            "apps.oa.event_token",
            "WXAUTH__APPS__OA__EVENT_TOKEN",
            "k3yT0ken",
        ),
        (
            "apps.oa.encoding_aes_key",
            "WXAUTH__APPS__OA__ENCODING_AES_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        ),
        (
            "apps.shop.secret",
            "WXAUTH__APPS__SHOP__SECRET",
            "5ecret0123456789abcdef0123456789",
        ),
    ];
    for (setting, var, real) in replacements {
        let e = Config::load(None, Some(vars.clone()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(setting),
            "expected {setting} to be refused first: {e}"
        );
        assert!(e.contains("placeholder"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        vars.insert(var.to_owned(), real.to_owned());
    }
    Config::load(None, Some(vars)).expect("with real secrets the example is valid");
}

#[test]
fn visibly_fake_secrets_are_refused_too() {
    for (var, value, setting) in [
        (
            "WXAUTH__JWT__SECRET",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "jwt.secret",
        ),
        (
            "WXAUTH__JWT__SECRET",
            "<your-jwt-secret-of-at-least-32-bytes>",
            "jwt.secret",
        ),
        (
            "WXAUTH__SECRETS__MASTER_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "secrets.master_key",
        ),
        (
            "WXAUTH__SECRETS__PREVIOUS_MASTER_KEYS",
            "changeme",
            "secrets.previous_master_keys",
        ),
    ] {
        let e = load(&[(var, value)]).unwrap_err().to_string();
        assert!(e.contains(setting), "{value}: {e}");
    }
}

#[test]
fn the_provider_is_checked_with_the_configuration_issuer_and_keys_alike() {
    let e = load(&[("WXAUTH__OIDC__ISSUER", "http://auth.example.com")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("oidc.issuer"), "{e}");
    // An https issuer with no RS256 key cannot sign ID tokens.
    let e = load(&[("WXAUTH__OIDC__ISSUER", "https://auth.example.com")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("oidc.keys"), "{e}");
}
