// A relying party built on openid-client (OpenID Certified), unmodified, pointed at a live wxauth
// and its WeChat simulator by wxauth-server's integration test. Every protocol step goes through
// the library; only the "browser" (following redirects by hand, keeping cookies) is ours, because
// no browser runs here. Contract: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI,
// POST_LOGOUT_REDIRECT_URI and WECHAT_UA in; one JSON line on stdout and exit 0, or a message on
// stderr and exit 1.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import * as client from 'openid-client';

const SCOPE = 'openid profile offline_access';
const MAX_HOPS = 10;
const HOP_TIMEOUT_MS = 10_000;

class Failure extends Error {}

function check(condition, message) {
  if (!condition) throw new Failure(message);
}

function env(name) {
  const value = process.env[name];
  check(value, `${name} is not set`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// The browser: redirects followed by hand, so each hop can be checked and the final one, to the
// RP's callback, is never fetched.

/** Cookies for one origin, as a browser keeps them (name → {value, path}). */
export class CookieJar {
  constructor(origin) {
    this.origin = origin;
    this.cookies = new Map();
  }

  /** Takes the `Set-Cookie` lines of a response from `url`; other origins' are ignored. */
  store(url, setCookieLines) {
    if (new URL(url).origin !== this.origin) return;
    for (const line of setCookieLines) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = false;
      for (const attribute of attributes) {
        const [key, val = ''] = attribute.split('=').map((s) => s.trim());
        if (/^path$/i.test(key) && val.startsWith('/')) path = val;
        if (/^max-age$/i.test(key) && Number(val) <= 0) expired = true;
      }
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, { value, path });
    }
  }

  /** The `Cookie` header for a request to `url`, or undefined (RFC 6265 §5.1.4 path-match). */
  header(url) {
    const { origin, pathname } = new URL(url);
    if (origin !== this.origin) return undefined;
    const pairs = [...this.cookies]
      .filter(([, c]) => pathname === c.path || pathname.startsWith(c.path.replace(/\/?$/, '/')))
      .map(([name, c]) => `${name}=${c.value}`);
    return pairs.length ? pairs.join('; ') : undefined;
  }

  has(name) {
    return this.cookies.has(name);
  }
}

/** One GET as WeChat's in-app browser would send it; returns the status and resolved Location. */
async function browse(jar, url, userAgent) {
  const headers = { 'user-agent': userAgent };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  const res = await fetch(url, {
    headers,
    redirect: 'manual',
    signal: AbortSignal.timeout(HOP_TIMEOUT_MS),
  });
  jar.store(url, res.headers.getSetCookie());
  const body = await res.text();
  const location = res.headers.get('location');
  return {
    status: res.status,
    location: location === null ? null : new URL(location, url).href,
    body: body.slice(0, 400),
  };
}

function expectRedirect(hop, url) {
  check(
    hop.status >= 300 && hop.status < 400 && hop.location,
    `GET ${url} answered ${hop.status} without a redirect: ${hop.body}`,
  );
  return hop.location;
}

/** True when `location` is the RP's redirect URI (with or without a query). */
export function isRedirectUri(location, redirectUri) {
  return location === redirectUri || location.startsWith(`${redirectUri}?`);
}

// ---------------------------------------------------------------------------------------------
// The relying party

const steps = [];
let current = 'setup';

async function step(name, body) {
  current = name;
  const result = await body();
  steps.push(name);
  return result;
}

async function main() {
  const ISSUER = env('ISSUER');
  const CLIENT_ID = env('CLIENT_ID');
  const CLIENT_SECRET = env('CLIENT_SECRET');
  const REDIRECT_URI = env('REDIRECT_URI');
  const POST_LOGOUT_REDIRECT_URI = env('POST_LOGOUT_REDIRECT_URI');
  const WECHAT_UA = env('WECHAT_UA');
  const issuerOrigin = new URL(ISSUER).origin;
  // openid-client sends the code's redirect_uri as the callback URL without its query.
  check(new URL(REDIRECT_URI).href === REDIRECT_URI && !REDIRECT_URI.includes('?'),
    `REDIRECT_URI must be a normalized URL without a query: ${REDIRECT_URI}`);

  // Plain http is allowed only because the issuer is on this machine; ID token signatures are
  // checked against the JWK Set even though they came over the back channel (non-repudiation).
  const config = await step('discovery', async () => {
    const config = await client.discovery(
      new URL(ISSUER),
      CLIENT_ID,
      CLIENT_SECRET,
      client.ClientSecretBasic(CLIENT_SECRET),
      { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks], timeout: 10 },
    );
    const meta = config.serverMetadata();
    check(meta.issuer === ISSUER, `discovery issuer ${meta.issuer} is not ${ISSUER}`);
    // Makes openid-client require and check `iss` on the authorization response (RFC 9207).
    check(meta.authorization_response_iss_parameter_supported === true,
      'discovery does not advertise authorization_response_iss_parameter_supported');
    check(meta.supportsPKCE('S256'), 'discovery does not advertise PKCE S256');
    return config;
  });

  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const jar = new CookieJar(issuerOrigin);
  let hops = 0;
  const hop = async (url) => {
    check(++hops <= MAX_HOPS, `more than ${MAX_HOPS} redirects without reaching ${REDIRECT_URI}`);
    return expectRedirect(await browse(jar, url, WECHAT_UA), url);
  };

  const toWechat = await step('authorize', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: SCOPE,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    const next = await hop(url.href);
    check(next.includes('/connect/oauth2/authorize?') && new URL(next).origin !== issuerOrigin,
      `authorize did not send WeChat's browser to WeChat's OAuth page: ${next}`);
    return next;
  });

  const callback = await step('wechat', async () => {
    const next = await hop(toWechat);
    check(next.startsWith(`${ISSUER}/oidc/callback?`), `WeChat did not return to the callback: ${next}`);
    return next;
  });

  // The callback may send the browser to WeChat once more (snsapi_userinfo, for `profile`).
  const back = await step('callback', async () => {
    let next = await hop(callback);
    while (!isRedirectUri(next, REDIRECT_URI)) next = await hop(next);
    const q = new URL(next).searchParams;
    check(!q.has('error'), `the provider answered ${q.get('error')}: ${q.get('error_description')}`);
    for (const p of ['code', 'state', 'iss']) check(q.has(p), `the redirect has no ${p}: ${next}`);
    check(jar.has('wxauth_session'), 'no wxauth_session cookie after signing in');
    return new URL(next);
  });

  // state, iss, PKCE, and the ID token's signature, iss, aud, exp, iat and nonce: the library's.
  const tokens = await step('token', async () => {
    const tokens = await client.authorizationCodeGrant(config, back, {
      pkceCodeVerifier: codeVerifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    check(tokens.refresh_token, 'no refresh_token although offline_access was granted');
    check(tokens.claims()?.sub, 'the ID token has no sub');
    return tokens;
  });
  const sub = tokens.claims().sub;

  await step('userinfo', async () => {
    const info = await client.fetchUserInfo(config, tokens.access_token, sub);
    check(info.sub === sub, `userinfo sub ${info.sub} is not the ID token's ${sub}`);
    check(typeof info.name === 'string' && info.name.length > 0, 'userinfo has no name');
  });

  const refreshed = await step('refresh', async () => {
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    check(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token,
      'the refresh token was not rotated');
    check(refreshed.access_token !== tokens.access_token, 'the access token was not renewed');
    const claims = refreshed.claims();
    check(!claims || claims.sub === sub, 'the refreshed ID token names another sub');
    return refreshed;
  });

  await step('introspect', async () => {
    const answer = await client.tokenIntrospection(config, refreshed.access_token);
    check(answer.active === true, `the new access token is not active: ${JSON.stringify(answer)}`);
    check(answer.client_id === CLIENT_ID, `introspection client_id ${answer.client_id} is not ${CLIENT_ID}`);
  });

  await step('revoke', () =>
    client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: 'refresh_token' }));

  // Revoking the refresh token ends the whole grant, so its access token goes too.
  await step('introspect_revoked', async () => {
    const answer = await client.tokenIntrospection(config, refreshed.access_token);
    check(answer.active === false, `the access token is still active after revocation: ${JSON.stringify(answer)}`);
  });

  await step('logout', async () => {
    const logoutState = client.randomState();
    const url = client.buildEndSessionUrl(config, {
      id_token_hint: tokens.id_token,
      post_logout_redirect_uri: POST_LOGOUT_REDIRECT_URI,
      state: logoutState,
    });
    const res = await browse(jar, url.href, WECHAT_UA);
    const expected = `${POST_LOGOUT_REDIRECT_URI}?state=${logoutState}`;
    check(res.status === 302 && res.location === expected,
      `logout answered ${res.status} to ${res.location}, not 302 to ${expected}: ${res.body}`);
    check(!jar.has('wxauth_session'), 'logout did not clear the wxauth_session cookie');
  });

  return sub;
}

/** openid-client says what went wrong in a chain of `cause`s; the server's answer is in it. */
function describe(error) {
  if (error instanceof Failure) return error.message;
  const line = (e) => {
    if (!(e instanceof Error)) {
      const text = JSON.stringify(e, (_, v) =>
        v instanceof URLSearchParams ? v.toString() : ArrayBuffer.isView(v) ? `<${v.byteLength} bytes>` : v);
      return text.length > 600 ? `${text.slice(0, 600)}…` : text;
    }
    const extra = [e.code, e.status && `HTTP ${e.status}`, e.error, e.error_description].filter(Boolean);
    return `${e.name}: ${e.message}${extra.length ? ` [${extra.join(', ')}]` : ''}`;
  };
  const lines = [line(error)];
  for (let c = error?.cause, depth = 0; c !== undefined && depth < 4; c = c?.cause, depth++) {
    lines.push(`  caused by ${line(c)}`);
    if (!(c instanceof Error)) break;
  }
  if (error?.stack) lines.push(error.stack);
  return lines.join('\n');
}

// Only when run, so the helpers above can be imported by a unit check.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main().then(
    (sub) => {
      process.stdout.write(`${JSON.stringify({ ok: true, sub, steps })}\n`);
    },
    (error) => {
      process.stderr.write(`rp (openid-client): step "${current}" failed: ${describe(error)}\n`);
      process.exitCode = 1;
    },
  );
}
