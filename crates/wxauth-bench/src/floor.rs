//! The floor a scenario's dependencies allow, measured in the same run as wxauth: the database
//! alone running the scenario's own statements at the same concurrency (`pgbench`, one
//! transaction per login or GET). The machine's speed varies between runs; wxauth's rate as a
//! fraction of this floor does much less.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// One pgbench transaction per scenario, the statements wxauth runs for it (values made up,
/// shapes the same). `:app` is the bench app's id, `:users` the returning users, `:max_user`
/// the highest user id; `:client` is the OpenID client's id, `:family`, `:grant_user` and
/// `:client_pk` are the latest grant's family, user and client.
const RETURNING_LOGIN: &str = r"
\set n random(0, :users - 1)
SELECT i.id, i.user_id, i.unionid, u.public_id, u.status FROM wechat_identities i JOIN users u ON u.id = i.user_id WHERE i.app_id = :app AND i.openid = 'oBENCHRET' || lpad(:n::text, 8, '0');
BEGIN;
UPDATE wechat_identities SET last_login_at = now(), updated_at = now(), session_key_enc = md5(random()::text) WHERE app_id = :app AND openid = 'oBENCHRET' || lpad(:n::text, 8, '0');
INSERT INTO refresh_tokens (token_hash, family, user_id, app_id, created_at, expires_at) SELECT md5(random()::text) || md5(clock_timestamp()::text), md5(random()::text), user_id, :app, now(), now() + interval '30 days' FROM wechat_identities WHERE app_id = :app AND openid = 'oBENCHRET' || lpad(:n::text, 8, '0');
INSERT INTO audit_log (at, kind, success, app_key, user_public_id, ip, request_id) VALUES (now(), 'login', true, 'bench', md5(random()::text), '127.0.0.1', md5(random()::text));
COMMIT;
";

// The lookup's openid is a pgbench variable: a volatile `random()` in the WHERE clause would be
// evaluated per row, a sequential scan wxauth never makes.
const NEW_USER: &str = r"
\set n random(1, 1000000000)
SELECT i.id FROM wechat_identities i JOIN users u ON u.id = i.user_id WHERE i.app_id = :app AND i.openid = 'oBENCHFLOOR' || :n;
BEGIN;
INSERT INTO users (public_id, status, created_at, updated_at) VALUES (gen_random_uuid()::text, 'active', now(), now()) RETURNING id AS uid \gset
INSERT INTO wechat_identities (user_id, app_id, openid, session_key_enc, created_at, updated_at, last_login_at) VALUES (:uid, :app, md5(random()::text || clock_timestamp()::text), md5(random()::text), now(), now(), now());
INSERT INTO refresh_tokens (token_hash, family, user_id, app_id, created_at, expires_at) VALUES (md5(random()::text) || md5(clock_timestamp()::text), md5(random()::text), :uid, :app, now(), now() + interval '30 days');
INSERT INTO audit_log (at, kind, success, app_key, user_public_id, ip, request_id) VALUES (now(), 'register', true, 'bench', md5(random()::text), '127.0.0.1', md5(random()::text));
COMMIT;
";

const AUTHENTICATED_GET: &str = r"
\set id random(1, :max_user)
SELECT u.*, i.* FROM users u LEFT JOIN wechat_identities i ON i.user_id = u.id WHERE u.id = :id ORDER BY u.id, i.id;
";

// An access token's introspection: the asking client by its id, the token's grant by its
// family (`sid`), the grant's user and client. The tokens are JWTs: no lookup of the token.
const INTROSPECTION: &str = r"
SELECT * FROM oidc_clients WHERE client_id = :client;
SELECT * FROM oidc_grants WHERE family = :family;
SELECT * FROM users WHERE id = :grant_user;
SELECT * FROM oidc_clients WHERE id = :client_pk;
";

/// What pgbench measured for one scenario.
#[derive(Debug, Clone, Copy)]
pub struct Floor {
    pub per_second: f64,
}

/// The scenarios a floor exists for, by the name of the wxauth run they bound.
pub const SCENARIOS: [(&str, &str); 4] = [
    ("new-user logins", NEW_USER),
    ("returning logins", RETURNING_LOGIN),
    ("authenticated GETs", AUTHENTICATED_GET),
    ("introspections", INTROSPECTION),
];

/// Runs `script` with `clients` connections for `seconds` against `url`.
pub fn pgbench(
    url: &str,
    dir: &Path,
    name: &str,
    script: &str,
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Floor> {
    let facts = bench_facts(url)?;
    let file = dir.join(format!("{}.sql", name.replace(' ', "-")));
    std::fs::write(&file, script)?;
    let output = Command::new("pgbench")
        .args(["--no-vacuum", "--protocol=prepared", "--jobs=2"])
        .arg(format!("--client={clients}"))
        .arg(format!("--time={seconds}"))
        .args(
            facts
                .iter()
                .map(|(name, value)| format!("--define={name}={value}")),
        )
        .arg(format!("--file={}", file.display()))
        .arg(url)
        .output()
        .context("cannot run pgbench (Debian: postgresql-client)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // "tps = 4321.123456 (without initial connection time)"
    let per_second = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")?
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        })
        .with_context(|| format!("no tps in pgbench's output: {stdout}"))?;
    Ok(Floor { per_second })
}

/// Updates the planner's statistics of every table of the database at `url`.
pub fn analyze(url: &str) -> anyhow::Result<()> {
    let output = Command::new("psql")
        .args(["-XAtq", "-c", "ANALYZE", url])
        .output()
        .context("cannot run psql")?;
    if !output.status.success() {
        bail!(
            "ANALYZE failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// The scripts' variables, by name: the bench app's id, the returning users' count and the
/// highest user id; the OpenID client's id and the latest grant's family, user and client
/// (`-` and 0 when the provider was off).
fn bench_facts(url: &str) -> anyhow::Result<Vec<(&'static str, String)>> {
    const NAMES: [&str; 7] = [
        "app",
        "users",
        "max_user",
        "client",
        "family",
        "grant_user",
        "client_pk",
    ];
    let query = "SELECT (SELECT id FROM apps WHERE key = 'bench'), \
                 (SELECT count(*) FROM wechat_identities WHERE openid LIKE 'oBENCHRET%'), \
                 (SELECT max(id) FROM users), \
                 coalesce((SELECT client_id FROM oidc_clients WHERE name = 'bench' ORDER BY id DESC LIMIT 1), '-'), \
                 coalesce((SELECT family FROM oidc_grants ORDER BY id DESC LIMIT 1), '-'), \
                 coalesce((SELECT user_id FROM oidc_grants ORDER BY id DESC LIMIT 1), 0), \
                 coalesce((SELECT client_pk FROM oidc_grants ORDER BY id DESC LIMIT 1), 0)";
    let output = Command::new("psql")
        .args(["-XAtq", "-F", " ", "-c", query, url])
        .output()
        .context("cannot run psql")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let values: Vec<&str> = text.split_whitespace().collect();
    if values.len() != NAMES.len() {
        bail!(
            "cannot read the bench app from the database: {text}{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(NAMES
        .into_iter()
        .zip(values.into_iter().map(str::to_owned))
        .collect())
}
