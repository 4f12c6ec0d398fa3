//! The OpenID provider's scenarios: what they need set up, none of it timed (an RS256 key, an
//! Official Account, a confidential first-party client, one browser signed in through WeChat),
//! and their requests.
//!
//! The codes come from single sign-on: once the browser holds a session, every further
//! `/oidc/authorize` answers at once with a redirect to the client carrying a code, no WeChat
//! page in between.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};
use wxauth_sim::{NewUser, OAuthConsent, SimState};

use crate::http1::{Connection, Response, get_with, header_values, post_form};

/// The Official Account the client signs in with inside WeChat.
pub const OA_APPID: &str = "wxbenchofficial01";
pub const OA_SECRET: &str = "bench-oa-secret";
/// Its key in wxauth's configuration (`WXAUTH__APPS__BENCHOA__…`).
pub const OA_KEY: &str = "benchoa";
/// The one fake WeChat user the browser signs in as.
const OPENID: &str = "oBENCHOIDC";
/// The client's redirect URI: nothing listens there, the bench only reads the redirects to it.
const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";
const REDIRECT_URI_ENCODED: &str = "http%3A%2F%2F127.0.0.1%3A9%2Fcb";
/// RFC 7636 appendix B's code verifier, and its S256 challenge as the RFC gives it.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// A browser inside WeChat, as wxauth recognises one.
const WECHAT_UA: &str = "Mozilla/5.0 (iPhone) AppleWebKit MicroMessenger/8.0.50 NetType/WIFI";
/// The provider's browser-session cookie, and the prefix of the cookie that binds a sign-in
/// request to the browser that started it.
const SESSION_COOKIE: &str = "wxauth_session=";
const REQUEST_COOKIE_PREFIX: &str = "wxauth_req_";

/// A new private key of `kind` (`rs256`, `eddsa`; PKCS#8 PEM), from `wxauth-server keys
/// generate`.
pub fn generate_key(server_bin: &Path, kind: &str) -> anyhow::Result<String> {
    let output = Command::new(server_bin)
        .args(["keys", "generate", "--kind", kind])
        .env_clear()
        .output()
        .with_context(|| format!("cannot run {}", server_bin.display()))?;
    let pem = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !output.status.success() || !pem.contains("PRIVATE KEY-----") {
        bail!(
            "{} keys generate --kind {kind} failed: {pem}{}",
            server_bin.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(pem)
}

/// The configuration file that turns the provider on: the issuer and its keys, `(algorithm,
/// PEM)`, the first signing access tokens. Codes live as long as the server allows (60 s): the
/// bench mints them in rounds before redeeming them.
pub fn config_toml(issuer: &str, keys: &[(&str, String)]) -> String {
    let mut toml = format!("[oidc]\nissuer = \"{issuer}\"\ncode_ttl_secs = 60\n");
    for (i, (algorithm, pem)) in keys.iter().enumerate() {
        toml.push_str(&format!(
            "\n[[oidc.keys]]\nalgorithm = \"{algorithm}\"\nkid = \"bench-{i}\"\n\
             private_key_pem = '''\n{}\n'''\n",
            pem.trim()
        ));
    }
    toml
}

/// A confidential first-party client and a browser session of one user: what the timed
/// requests need.
pub struct RelyingParty {
    client_id: String,
    /// `Basic base64(client_id:client_secret)`.
    basic: String,
    /// `wxauth_session=…`.
    session: String,
}

impl RelyingParty {
    /// Registers the client through the admin API and signs one browser in through WeChat.
    pub async fn set_up(
        state: &SimState,
        host: &str,
        issuer: &str,
        admin_key: &str,
        mini_program: &str,
        id_token_alg: &str,
    ) -> anyhow::Result<Self> {
        let (client_id, secret) =
            create_client(host, admin_key, mini_program, id_token_alg).await?;
        // Both are URL-safe base64 after their prefix: nothing to form-encode (RFC 6749 §2.3.1).
        let basic = format!(
            "Basic {}",
            base64(format!("{client_id}:{secret}").as_bytes())
        );
        let session = sign_in(state, host, issuer, &client_id).await?;
        Ok(Self {
            client_id,
            basic,
            session,
        })
    }

    /// `/oidc/authorize` in the signed-in browser: a redirect to the client with a code.
    pub fn authorize(&self, host: &str) -> Vec<u8> {
        get_with(
            host,
            &authorize_path(&self.client_id),
            &[("Cookie", self.session.as_str())],
        )
    }

    /// The code's exchange at the token endpoint.
    pub fn redeem(&self, host: &str, code: &str) -> Vec<u8> {
        // Codes are URL-safe base64 after `ac_`: nothing to escape.
        let body = format!(
            "grant_type=authorization_code&code={code}&redirect_uri={REDIRECT_URI_ENCODED}&code_verifier={VERIFIER}"
        );
        post_form(host, "/oidc/token", &self.basic, &body)
    }

    /// The token's introspection.
    pub fn introspect(&self, host: &str, token: &str) -> Vec<u8> {
        // A JWT is URL-safe base64 and dots: nothing to escape.
        post_form(
            host,
            "/oidc/introspect",
            &self.basic,
            &format!("token={token}"),
        )
    }

    /// `count` access tokens, each of its own grant, one request after another (not timed).
    pub async fn access_tokens(&self, host: &str, count: usize) -> anyhow::Result<Vec<String>> {
        let mut conn = Connection::open(host).await?;
        let authorize = self.authorize(host);
        let mut tokens = Vec::with_capacity(count);
        for _ in 0..count {
            let (res, head) = conn.send_with_head(&authorize).await?;
            let code = code_of(&head, &res.body).with_context(|| {
                format!(
                    "single sign-on: HTTP {} without a code: {}",
                    res.status,
                    String::from_utf8_lossy(&res.body)
                )
            })?;
            let res = conn.send(&self.redeem(host, &code)).await?;
            let token = serde_json::from_slice::<serde_json::Value>(&res.body)
                .ok()
                .and_then(|body| body["access_token"].as_str().map(str::to_owned))
                .with_context(|| {
                    format!(
                        "code exchange: HTTP {}: {}",
                        res.status,
                        String::from_utf8_lossy(&res.body)
                    )
                })?;
            tokens.push(token);
        }
        Ok(tokens)
    }
}

/// The code in an authorize answer's redirect to the client (a run's `keep`).
pub fn code_of(head: &str, _body: &[u8]) -> Option<String> {
    let location = header_values(head, "location").next()?;
    location
        .strip_prefix(REDIRECT_URI)?
        .strip_prefix('?')?
        .split('&')
        .find_map(|pair| pair.strip_prefix("code="))
        .filter(|code| !code.is_empty())
        .map(str::to_owned)
}

fn authorize_path(client_id: &str) -> String {
    format!(
        "/oidc/authorize?client_id={client_id}&redirect_uri={REDIRECT_URI_ENCODED}&response_type=code&scope=openid&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256"
    )
}

/// `POST /api/v1/admin/oidc/clients`: the client's id and secret.
async fn create_client(
    host: &str,
    admin_key: &str,
    mini_program: &str,
    id_token_alg: &str,
) -> anyhow::Result<(String, String)> {
    let body = serde_json::json!({
        "name": "bench",
        "redirectUris": [REDIRECT_URI],
        "officialAccount": OA_KEY,
        "miniProgram": mini_program,
        "firstParty": true,
        "scopes": "openid profile offline_access",
        "idTokenSignedResponseAlg": id_token_alg,
    })
    .to_string();
    let request = format!(
        "POST /api/v1/admin/oidc/clients HTTP/1.1\r\nHost: {host}\r\nX-Admin-Key: {admin_key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut conn = Connection::open(host).await?;
    let res = conn.send(request.as_bytes()).await?;
    let answer: serde_json::Value = serde_json::from_slice(&res.body).with_context(|| {
        format!(
            "client registration: HTTP {}: {}",
            res.status,
            String::from_utf8_lossy(&res.body)
        )
    })?;
    if res.status != 201 {
        bail!("client registration: HTTP {}: {answer}", res.status);
    }
    match (answer["clientId"].as_str(), answer["clientSecret"].as_str()) {
        (Some(id), Some(secret)) => Ok((id.to_owned(), secret.to_owned())),
        _ => bail!("client registration: no clientId and clientSecret in {answer}"),
    }
}

/// One sign-in inside WeChat, by hand: the authorize endpoint sends the browser to the Official
/// Account's OAuth page, which the simulator approves at once as [`OPENID`], back to the
/// callback in the browser that started it, which answers with the session cookie and a code.
/// Returns the session cookie (`wxauth_session=…`).
async fn sign_in(
    state: &SimState,
    host: &str,
    issuer: &str,
    client_id: &str,
) -> anyhow::Result<String> {
    state
        .create_user(NewUser::new(OA_APPID).openid(OPENID))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    state
        .set_consent(
            OA_APPID,
            OAuthConsent::Approve {
                openid: OPENID.into(),
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut conn = Connection::open(host).await?;

    let step = "authorize inside WeChat";
    let request = get_with(
        host,
        &authorize_path(client_id),
        &[("User-Agent", WECHAT_UA)],
    );
    let (res, head) = conn.send_with_head(&request).await?;
    let to_wechat = location(step, &res, &head)?;
    let bound = cookie_set(&head, REQUEST_COOKIE_PREFIX)
        .with_context(|| format!("{step}: no {REQUEST_COOKIE_PREFIX} cookie in\n{head}"))?;

    let step = "the simulator's OAuth page";
    let (sim_host, path) =
        split_url(&to_wechat).with_context(|| format!("{step}: not an http URL: {to_wechat}"))?;
    let mut sim = Connection::open(sim_host).await?;
    let (res, head) = sim.send_with_head(&get_with(sim_host, path, &[])).await?;
    let back = location(step, &res, &head)?;
    let callback = back
        .strip_prefix(issuer)
        .filter(|path| path.starts_with("/oidc/callback?"))
        .with_context(|| format!("{step}: WeChat did not return to the callback: {back}"))?;

    let step = "the callback";
    let request = get_with(
        host,
        callback,
        &[("User-Agent", WECHAT_UA), ("Cookie", bound.as_str())],
    );
    let (res, head) = conn.send_with_head(&request).await?;
    if code_of(&head, &res.body).is_none() {
        let to = location(step, &res, &head)?;
        bail!("{step}: the browser went to {to}, not back to the client with a code");
    }
    cookie_set(&head, SESSION_COOKIE)
        .with_context(|| format!("{step}: no {SESSION_COOKIE} cookie in\n{head}"))
}

/// The `Location` of a redirect, or what the answer was instead.
fn location(step: &str, res: &Response, head: &str) -> anyhow::Result<String> {
    match header_values(head, "location").next() {
        Some(location) if (300..400).contains(&res.status) => Ok(location.to_owned()),
        _ => bail!(
            "{step}: HTTP {} and no redirect: {}",
            res.status,
            String::from_utf8_lossy(&res.body)
        ),
    }
}

/// The `name=value` of the cookie the answer sets whose name starts with `prefix` (not one it
/// clears with an empty value).
fn cookie_set(head: &str, prefix: &str) -> Option<String> {
    header_values(head, "set-cookie")
        .filter_map(|value| value.split(';').next())
        .map(str::trim)
        .find(|pair| pair.starts_with(prefix) && !pair.ends_with('='))
        .map(str::to_owned)
}

/// `http://host:port/path?query#fragment` → (`host:port`, `/path?query`).
fn split_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("http://")?;
    let rest = rest.split('#').next()?;
    let slash = rest.find('/')?;
    Some(rest.split_at(slash))
}

/// Standard base64 with padding (RFC 4648 §4), for `Authorization: Basic`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads_as_rfc_4648_does() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"abc"), "YWJj");
        assert_eq!(base64(b"client_abc:cs_xyz"), "Y2xpZW50X2FiYzpjc194eXo=");
    }

    #[test]
    fn the_code_comes_from_the_redirect_to_the_client() {
        let head = "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nLocation: http://127.0.0.1:9/cb?code=ac_x-Y_1&state=s&iss=http%3A%2F%2F127.0.0.1%3A1\r\n\r\n";
        assert_eq!(code_of(head, b"").as_deref(), Some("ac_x-Y_1"));
        let error = "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:9/cb?error=access_denied&state=s\r\n\r\n";
        assert_eq!(code_of(error, b""), None);
        assert_eq!(code_of("HTTP/1.1 200 OK\r\n\r\n", b""), None);
    }

    #[test]
    fn cookies_are_read_by_prefix_and_cleared_ones_skipped() {
        let head = "HTTP/1.1 302 Found\r\nset-cookie: wxauth_req_abc=1; Path=/oidc; HttpOnly\r\nSet-Cookie: wxauth_session=xyz; Path=/oidc\r\n\r\n";
        assert_eq!(
            cookie_set(head, REQUEST_COOKIE_PREFIX).as_deref(),
            Some("wxauth_req_abc=1")
        );
        assert_eq!(
            cookie_set(head, SESSION_COOKIE).as_deref(),
            Some("wxauth_session=xyz")
        );
        let cleared = "HTTP/1.1 302 Found\r\nset-cookie: wxauth_session=; Max-Age=0\r\n\r\n";
        assert_eq!(cookie_set(cleared, SESSION_COOKIE), None);
    }

    #[test]
    fn a_wechat_url_splits_into_host_and_target_without_its_fragment() {
        assert_eq!(
            split_url(
                "http://127.0.0.1:9100/connect/oauth2/authorize?appid=wx&state=hb#wechat_redirect"
            ),
            Some((
                "127.0.0.1:9100",
                "/connect/oauth2/authorize?appid=wx&state=hb"
            ))
        );
        assert_eq!(split_url("https://open.weixin.qq.com/x"), None);
    }
}
