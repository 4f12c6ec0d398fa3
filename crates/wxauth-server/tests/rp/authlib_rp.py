"""A relying party built on Authlib, unmodified, pointed at a live wxauth and its WeChat simulator
by wxauth-server's integration test.

The OAuth steps go through Authlib's OAuth2Session; discovery metadata is validated by Authlib's
OpenID metadata classes; the ID token is verified the way Authlib's own OpenID client does it
(joserfc against the JWK Set, then ``CodeIDToken`` for iss, aud, exp, nonce, azp and at_hash).
Only the "browser" (redirects followed by hand, cookies kept) is ours, because no browser runs here.

Contract: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI and WECHAT_UA
in; one JSON line on stdout and exit 0, or a message on stderr and exit 1.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import rfc9207
from authlib.oidc import rpinitiated
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata, get_well_known_url
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

SCOPE = "openid profile offline_access"
MAX_HOPS = 10
TIMEOUT = 10


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def env(name):
    value = os.environ.get(name)
    check(value, f"{name} is not set")
    return value


def origin(url):
    parts = urlsplit(url)
    return (parts.scheme, parts.netloc)


def is_redirect_uri(location, redirect_uri):
    """True when ``location`` is the RP's redirect URI (with or without a query)."""
    return location == redirect_uri or location.startswith(redirect_uri + "?")


def validate_id_token(id_token, jwks, *, issuer, client_id, algorithms, nonce=None, access_token=None):
    """Verifies the signature against the JWK Set, then the OpenID Connect claims (Core §3.1.3.7)."""
    token = jwt.decode(
        id_token,
        KeySet.import_key_set(jwks),
        registry=JWSRegistry(algorithms=algorithms, strict_check_header=False),
    )
    options = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
    }
    params = {"client_id": client_id, "nonce": nonce, "access_token": access_token}
    claims = CodeIDToken(token.claims, token.header, options, params)
    claims.validate(leeway=60)
    return claims


class Browser:
    """WeChat's in-app browser: one cookie jar for the provider, another for everything else."""

    def __init__(self, issuer, user_agent):
        self.issuer_origin = origin(issuer)
        self.provider = requests.Session()
        self.elsewhere = requests.Session()
        for s in (self.provider, self.elsewhere):
            s.headers["User-Agent"] = user_agent
        self.hops = 0

    def get(self, url):
        session = self.provider if origin(url) == self.issuer_origin else self.elsewhere
        res = session.get(url, allow_redirects=False, timeout=TIMEOUT)
        location = res.headers.get("Location")
        return res, (urljoin(url, location) if location else None)

    def hop(self, url):
        self.hops += 1
        check(self.hops <= MAX_HOPS, f"more than {MAX_HOPS} redirects")
        res, location = self.get(url)
        check(
            300 <= res.status_code < 400 and location,
            f"GET {url} answered {res.status_code} without a redirect: {res.text[:400]}",
        )
        return location

    def has_session(self):
        return any(c.name == "wxauth_session" for c in self.provider.cookies)


def run(steps):
    issuer = env("ISSUER")
    client_id = env("CLIENT_ID")
    redirect_uri = env("REDIRECT_URI")
    post_logout = env("POST_LOGOUT_REDIRECT_URI")
    oauth = OAuth2Session(
        client_id,
        env("CLIENT_SECRET"),
        token_endpoint_auth_method="client_secret_basic",
        revocation_endpoint_auth_method="client_secret_basic",
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        default_timeout=TIMEOUT,
        # Never refresh behind our back: the refresh is a step of its own.
        leeway=0,
    )
    browser = Browser(issuer, env("WECHAT_UA"))

    steps.current = "discovery"
    res = oauth.get(get_well_known_url(issuer, external=True), withhold_token=True)
    check(res.status_code == 200, f"discovery answered {res.status_code}")
    meta = OpenIDProviderMetadata(res.json())
    meta.validate(metadata_classes=[rfc9207.AuthorizationServerMetadata, rpinitiated.OpenIDProviderMetadata])
    check(meta["issuer"] == issuer, f"discovery issuer {meta['issuer']} is not {issuer}")
    check("S256" in meta.get("code_challenge_methods_supported", []), "no PKCE S256")
    check(meta.get("authorization_response_iss_parameter_supported") is True, "no RFC 9207 iss")
    res = oauth.get(meta["jwks_uri"], withhold_token=True)
    check(res.status_code == 200, f"the JWK Set answered {res.status_code}")
    jwks = res.json()
    verify = dict(
        jwks=jwks,
        issuer=issuer,
        client_id=client_id,
        algorithms=meta.get("id_token_signing_alg_values_supported", ["RS256"]),
    )
    steps.passed()

    steps.current = "authorize"
    code_verifier = generate_token(64)
    nonce = generate_token(32)
    url, state = oauth.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )
    to_wechat = browser.hop(url)
    check(
        "/connect/oauth2/authorize?" in to_wechat and origin(to_wechat) != origin(issuer),
        f"authorize did not send WeChat's browser to WeChat's OAuth page: {to_wechat}",
    )
    steps.passed()

    steps.current = "wechat"
    callback = browser.hop(to_wechat)
    check(callback.startswith(issuer + "/oidc/callback?"), f"WeChat did not return to the callback: {callback}")
    steps.passed()

    # The callback may send the browser to WeChat once more (snsapi_userinfo, for `profile`).
    steps.current = "callback"
    back = browser.hop(callback)
    while not is_redirect_uri(back, redirect_uri):
        back = browser.hop(back)
    query = {k: v[0] for k, v in parse_qs(urlsplit(back).query).items()}
    check("error" not in query, f"the provider answered {query.get('error')}: {query.get('error_description')}")
    for p in ("code", "state", "iss"):
        check(p in query, f"the redirect has no {p}: {back}")
    # Authlib's client does not check RFC 9207's iss itself: the mix-up defence is ours.
    check(query["iss"] == meta["issuer"], f"iss {query['iss']} is not the issuer")
    check(browser.has_session(), "no wxauth_session cookie after signing in")
    steps.passed()

    steps.current = "token"
    # Authlib compares state and sends the verifier; the code's redirect_uri is the session's.
    tokens = oauth.fetch_token(
        meta["token_endpoint"], authorization_response=back, state=state, code_verifier=code_verifier
    )
    check(tokens.get("token_type", "").lower() == "bearer", f"token_type {tokens.get('token_type')}")
    check("id_token" in tokens and "refresh_token" in tokens, "no id_token or refresh_token")
    id_claims = validate_id_token(tokens["id_token"], nonce=nonce, access_token=tokens["access_token"], **verify)
    sub = id_claims["sub"]
    steps.passed()

    steps.current = "userinfo"
    res = oauth.get(meta["userinfo_endpoint"])  # the session's bearer token
    check(res.status_code == 200, f"userinfo answered {res.status_code}: {res.text[:400]}")
    info = res.json()
    check(info.get("sub") == sub, f"userinfo sub {info.get('sub')} is not the ID token's {sub}")
    check(info.get("name"), "userinfo has no name")
    steps.passed()

    steps.current = "refresh"
    first_refresh, first_access = tokens["refresh_token"], tokens["access_token"]
    new = dict(oauth.refresh_token(meta["token_endpoint"], refresh_token=first_refresh))
    check(new.get("refresh_token") and new["refresh_token"] != first_refresh, "the refresh token was not rotated")
    check(new["access_token"] != first_access, "the access token was not renewed")
    if "id_token" in new:
        claims = validate_id_token(new["id_token"], access_token=new["access_token"], **verify)
        check(claims["sub"] == sub, "the refreshed ID token names another sub")
    steps.passed()

    def introspect():
        res = oauth.introspect_token(meta["introspection_endpoint"], token=new["access_token"])
        check(res.status_code == 200, f"introspection answered {res.status_code}: {res.text[:400]}")
        return res.json()

    steps.current = "introspect"
    answer = introspect()
    check(answer.get("active") is True, f"the new access token is not active: {answer}")
    check(answer.get("client_id") == client_id, f"introspection client_id {answer.get('client_id')}")
    steps.passed()

    steps.current = "revoke"
    res = oauth.revoke_token(
        meta["revocation_endpoint"], token=new["refresh_token"], token_type_hint="refresh_token"
    )
    check(res.status_code == 200, f"revocation answered {res.status_code}: {res.text[:400]}")
    steps.passed()

    # Revoking the refresh token ends the whole grant, so its access token goes too.
    steps.current = "introspect_revoked"
    answer = introspect()
    check(answer.get("active") is False, f"the access token is still active after revocation: {answer}")
    steps.passed()

    steps.current = "logout"
    logout_state = generate_token(20)
    url = add_params_to_uri(
        meta["end_session_endpoint"],
        [("id_token_hint", tokens["id_token"]), ("post_logout_redirect_uri", post_logout), ("state", logout_state)],
    )
    res, location = browser.get(url)
    expected = f"{post_logout}?state={logout_state}"
    check(
        res.status_code == 302 and location == expected,
        f"logout answered {res.status_code} to {location}, not 302 to {expected}: {res.text[:400]}",
    )
    check(not browser.has_session(), "logout did not clear the wxauth_session cookie")
    steps.passed()
    return sub


class Steps(list):
    current = "setup"

    def passed(self):
        self.append(self.current)


def main():
    steps = Steps()
    try:
        sub = run(steps)
    except Failure as e:
        print(f"rp (authlib): step {steps.current!r} failed: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # a library's own check or a transport error: say which and why
        print(f"rp (authlib): step {steps.current!r} failed: {type(e).__name__}: {e}", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return 1
    print(json.dumps({"ok": True, "sub": sub, "steps": list(steps)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
