//! The packaging files stay true: every variable `.env.example` and `docker-compose.yml` set is a
//! real configuration key, the required ones are set, and docs/configuration.md documents them.

use std::collections::HashMap;
use std::path::PathBuf;

use wxauth_server::config::Config;

fn repo_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `KEY=value` lines of an env file.
fn env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not KEY=value: {l}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Placeholders are replaced by valid values, as an operator would.
fn filled(value: &str, key: &str) -> String {
    if !value.starts_with("CHANGE-ME") {
        return value.to_owned();
    }
    match key {
        "WXAUTH__SECRETS__MASTER_KEY" => "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
        "WXAUTH__JWT__SECRET" => "a-jwt-secret-of-at-least-thirty-two-bytes".into(),
        "WXAUTH__APPS__OA__ENCODING_AES_KEY" => {
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".into()
        }
        _ => "a-secret".into(),
    }
}

#[test]
fn every_variable_in_env_example_is_a_valid_setting_and_the_required_ones_are_set() {
    let vars = env_file(&repo_file(".env.example"));
    assert!(
        vars.iter().all(|(k, _)| k.starts_with("WXAUTH__")),
        "only wxauth settings"
    );
    for required in ["WXAUTH__SECRETS__MASTER_KEY", "WXAUTH__JWT__SECRET"] {
        assert!(
            vars.iter().any(|(k, _)| k == required),
            "{required} is in .env.example"
        );
    }
    let env: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.clone(), filled(v, k)))
        .collect();
    // deny_unknown_fields makes any key that is not a setting fail here.
    let config = Config::load(None, Some(env.clone())).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.apps.contains_key("shop") && config.apps.contains_key("oa"));
    // Each key on its own is a setting: an unknown one would be refused.
    let mut typo = env;
    typo.insert("WXAUTH__SERVER__LISTNE".into(), "x".into());
    assert!(Config::load(None, Some(typo)).is_err());
}

#[test]
fn the_compose_file_sets_only_real_settings_and_its_references_exist() {
    let compose = repo_file("docker-compose.yml");
    let env_example: HashMap<String, String> =
        env_file(&repo_file(".env.example")).into_iter().collect();
    let mut overrides = Vec::new();
    for line in compose.lines() {
        let line = line.trim();
        if let Some((key, value)) = line.split_once(':')
            && key.starts_with("WXAUTH__")
        {
            overrides.push((key.to_owned(), value.trim().to_owned()));
        }
        // ${VAR} references must be defined in .env.example.
        let mut rest = line;
        while let Some(start) = rest.find("${") {
            let end = rest[start..].find('}').expect("closing brace") + start;
            let var = &rest[start + 2..end];
            assert!(
                env_example.contains_key(var),
                "docker-compose.yml uses ${{{var}}}, which .env.example does not set"
            );
            rest = &rest[end..];
        }
    }
    assert!(
        !overrides.is_empty(),
        "the wxauth service sets its environment"
    );
    let mut env: HashMap<String, String> = env_example
        .iter()
        .map(|(k, v)| (k.clone(), filled(v, k)))
        .collect();
    env.extend(overrides);
    Config::load(None, Some(env)).unwrap_or_else(|e| panic!("compose environment: {e}"));
    assert!(compose.contains("env_file: .env"));
}

#[test]
fn the_configuration_reference_documents_every_setting() {
    let docs = repo_file("docs/configuration.md");
    for (key, _) in env_file(&repo_file(".env.example")) {
        if key.starts_with("WXAUTH__APPS__") {
            let setting = key.rsplit("__").next().unwrap().to_lowercase();
            assert!(
                docs.contains(&format!("`{setting}`")),
                "docs/configuration.md documents apps.*.{setting}"
            );
            continue;
        }
        assert!(docs.contains(&key), "docs/configuration.md documents {key}");
    }
}
