//! The authorization endpoint: from a relying party's request to a single-use code.
//!
//! 1. The client and its redirect URI are checked first. Until both are known good, nothing is
//!    redirected: the error is shown on the provider's own page (RFC 6749 §4.1.2.1), so the
//!    endpoint can never be an open redirector.
//! 2. Every other problem goes back to the client as `error`, `error_description`, `state`
//!    and `iss` (RFC 9207).
//! 3. A live browser session signs the user in without WeChat (single sign-on), unless the
//!    request asks for a fresh sign-in (`prompt=login`, `max_age`).
//! 4. Otherwise the request is stored and the user signs in with WeChat: inside WeChat by the
//!    Official Account's OAuth page, elsewhere on the desktop sign-in page.
//! 5. A third-party client gets the user's consent once per scope set.
//!
//! The request is stored under the hash of a random handle. The handle is WeChat's `state`
//! (with one letter saying which WeChat page it went to) and the sign-in page's key; the
//! browser carries nothing else the provider trusts.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use wxauth_domain::{
    App, AvatarUrl, ClientKind, Nickname, OidcClient, Scope, ScopeSet, SignInMethod, User, UserId,
};

use crate::audit::{AuditEvent, kind};
use crate::ports::{
    AuthorizationGrant, AuthorizationParams, AuthorizationRecord, BrowserSessionRecord, LimitClass,
    NewAuthorization, NewBrowserSession, OAuthScope, UserRef,
};
use crate::secrets::{random_alphanumeric, random_token, token_hash};
use crate::service::{RequestContext, Wxauth, finish};
use crate::signin::WechatSignIn;

use super::{OAuthError, OAuthErrorCode};

/// The authorization request as the browser sent it (query string or form), unparsed.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub response_mode: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
}

/// What the provider knows of the browser.
#[derive(Debug, Clone, Copy, Default)]
pub struct Browser<'a> {
    /// The provider's session cookie, if the browser sent one.
    pub session: Option<&'a str>,
    /// WeChat's in-app browser (its User-Agent names `MicroMessenger`).
    pub in_wechat: bool,
    /// The handles of the sign-in requests this browser started (their binding cookies).
    pub started: &'a [String],
}

/// Where the browser goes next.
#[derive(Debug, Clone)]
pub enum Step {
    /// The provider's own error page: the client or its redirect URI cannot be trusted.
    ErrorPage(OAuthError),
    /// Back to the client.
    ToClient(ClientRedirect),
    /// To WeChat's OAuth page.
    ToWechat(String),
    /// The desktop sign-in page.
    SignInPage(SignInPage),
    /// The consent page of the request with this handle.
    ToConsent(String),
    /// The consent page itself.
    ConsentPage(ConsentPage),
}

/// A redirect to the client's redirect URI with the response parameters in its query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRedirect {
    pub redirect_uri: String,
    pub params: Vec<(&'static str, String)>,
}

impl ClientRedirect {
    fn code(redirect_uri: &str, code: String, state: Option<&str>, issuer: &str) -> Self {
        let mut params = vec![("code", code)];
        params.extend(state.map(|s| ("state", s.to_owned())));
        params.push(("iss", issuer.to_owned()));
        Self {
            redirect_uri: redirect_uri.to_owned(),
            params,
        }
    }

    fn error(redirect_uri: &str, error: &OAuthError, state: Option<&str>, issuer: &str) -> Self {
        let mut params = vec![
            ("error", error.code.as_str().to_owned()),
            ("error_description", error.description.to_string()),
        ];
        params.extend(state.map(|s| ("state", s.to_owned())));
        params.push(("iss", issuer.to_owned()));
        Self {
            redirect_uri: redirect_uri.to_owned(),
            params,
        }
    }

    /// The redirect URI with the parameters appended to its query.
    pub fn url(&self) -> String {
        let mut url = self.redirect_uri.clone();
        let mut query = wxauth_domain::url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.params {
            query.append_pair(k, v);
        }
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query.finish());
        url
    }
}

/// One way to sign in on the desktop page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesktopMethod {
    /// The website app's QR page on `open.weixin.qq.com`.
    Website { url: String },
    /// The Official Account's follow QR: the page shows it and asks how the scan went.
    OfficialAccountQr { qr_content: String, expires_in: i64 },
    /// The Mini Program's code (its image is served at `image_path`), scanned and confirmed
    /// in the Mini Program.
    MiniProgramCode { image_path: String, expires_in: i64 },
}

#[derive(Debug, Clone)]
pub struct SignInPage {
    /// The request's handle, for the page's status requests.
    pub request: String,
    pub client_name: String,
    pub methods: Vec<DesktopMethod>,
    pub ui_locales: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ConsentPage {
    pub request: String,
    pub client_name: String,
    pub scope: ScopeSet,
    /// Ties the form to this browser session and request.
    pub csrf: String,
    /// The client's redirect URI: the page's Content-Security-Policy must let the form's
    /// answer go there.
    pub redirect_uri: String,
    pub ui_locales: Option<String>,
}

/// A step, and the session cookie to set when the step started one.
#[derive(Debug, Clone)]
pub struct Answer {
    pub step: Step,
    pub new_session: Option<SessionCookie>,
    /// A sign-in request this browser starts: the adapter marks the browser with it (a
    /// cookie), and only a browser so marked may finish it. Without the mark, an attacker could
    /// send a victim's browser through the callback of the attacker's own WeChat sign-in and
    /// plant the attacker's session there.
    pub bind_request: Option<String>,
}

impl Answer {
    pub fn step(step: Step) -> Self {
        Self {
            step,
            new_session: None,
            bind_request: None,
        }
    }

    fn binding(step: Step, handle: &str) -> Self {
        Self {
            bind_request: Some(handle.to_owned()),
            ..Self::step(step)
        }
    }

    fn page(error: OAuthError) -> Self {
        Self::step(Step::ErrorPage(error))
    }
}

/// A new browser session's cookie. Redacted from `Debug`.
#[derive(Clone)]
pub struct SessionCookie {
    pub value: String,
    pub max_age_secs: i64,
}

impl std::fmt::Debug for SessionCookie {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCookie")
            .field("value", &"[REDACTED]")
            .field("max_age_secs", &self.max_age_secs)
            .finish()
    }
}

/// How a desktop sign-in stands, for the page's status requests.
#[derive(Debug, Clone)]
pub enum SignInStatus {
    Pending,
    /// The Mini Program code was scanned; the user is confirming in the Mini Program.
    Scanned,
    Expired,
    Done(Answer),
}

/// A parsed `prompt`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Prompt {
    none: bool,
    login: bool,
    consent: bool,
}

const HANDLE_LEN: usize = 32;
const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;

/// The letter after the handle in WeChat's `state`: which WeChat page the browser went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WechatLeg {
    /// The Official Account's page, silently (`snsapi_base`).
    OfficialBase,
    /// The Official Account's page, asking for the profile (`snsapi_userinfo`).
    OfficialProfile,
    /// The website app's QR page.
    Website,
}

impl WechatLeg {
    fn letter(self) -> char {
        match self {
            Self::OfficialBase => 'b',
            Self::OfficialProfile => 'u',
            Self::Website => 'w',
        }
    }

    fn from_letter(c: char) -> Option<Self> {
        match c {
            'b' => Some(Self::OfficialBase),
            'u' => Some(Self::OfficialProfile),
            'w' => Some(Self::Website),
            _ => None,
        }
    }

    fn method(self) -> SignInMethod {
        match self {
            Self::OfficialBase | Self::OfficialProfile => SignInMethod::WechatOa,
            Self::Website => SignInMethod::WechatWeb,
        }
    }
}

/// A checked request, before it is stored.
struct Checked {
    client: OidcClient,
    params: AuthorizationParams,
    prompt: Prompt,
    max_age: Option<i64>,
}

/// A refusal: on the provider's page, or redirected to the client.
enum Refusal {
    Page(OAuthError),
    Client(ClientRedirect),
}

impl Wxauth {
    /// The authorization endpoint.
    pub async fn oidc_authorize(
        &self,
        ctx: &RequestContext,
        params: &AuthorizeParams,
        browser: Browser<'_>,
    ) -> Answer {
        match self.authorize(ctx, params, browser).await {
            Ok(answer) => answer,
            Err(Refusal::Page(error)) => Answer::page(error),
            Err(Refusal::Client(redirect)) => Answer::step(Step::ToClient(redirect)),
        }
    }

    async fn authorize(
        &self,
        ctx: &RequestContext,
        params: &AuthorizeParams,
        browser: Browser<'_>,
    ) -> Result<Answer, Refusal> {
        let provider = self.provider().map_err(Refusal::Page)?;
        let issuer = provider.settings.issuer.clone();
        self.admit(ctx, LimitClass::OAuth, None)
            .await
            .map_err(|e| Refusal::Page(e.into()))?;
        let checked = self.check_request(params).await?;
        let state = checked.params.state.clone();
        let to_client = |error: OAuthError| {
            Refusal::Client(ClientRedirect::error(
                &checked.params.redirect_uri,
                &error,
                state.as_deref(),
                &issuer,
            ))
        };

        let session = match browser.session {
            Some(cookie) => self.live_session(cookie).await.map_err(to_client)?,
            None => None,
        };
        let fresh_sign_in_needed = checked.prompt.login
            || match (&session, checked.max_age) {
                (Some((s, _)), Some(max_age)) => {
                    s.auth_time + time::Duration::seconds(max_age) < self.now()
                }
                _ => false,
            };
        if let (Some((session, user)), false) = (&session, fresh_sign_in_needed) {
            let consent = self
                .needs_consent(
                    &checked.client,
                    user.id,
                    checked.params.scope,
                    checked.prompt.consent,
                )
                .await
                .map_err(to_client)?;
            if consent && checked.prompt.none {
                return Err(self
                    .refuse(
                        ctx,
                        &checked,
                        OAuthError::new(
                            OAuthErrorCode::ConsentRequired,
                            "the user has not consented to this client",
                        ),
                    )
                    .await);
            }
            let handle = random_alphanumeric(HANDLE_LEN);
            let record = self
                .store_request(&handle, &checked, None)
                .await
                .map_err(to_client)?;
            if consent {
                return Ok(Answer::step(Step::ToConsent(handle)));
            }
            let step = self
                .issue_code(ctx, &checked.client, &record, user, session)
                .await
                .map_err(to_client)?;
            return Ok(Answer::step(step));
        }
        if checked.prompt.none {
            let error = OAuthError::new(
                OAuthErrorCode::LoginRequired,
                "the user is not signed in (or must sign in again)",
            );
            return Err(self.refuse(ctx, &checked, error).await);
        }

        let handle = random_alphanumeric(HANDLE_LEN);
        let apps = &checked.client.apps;
        if browser.in_wechat
            && let Some(key) = &apps.official_account
        {
            let app = self
                .apps
                .get(key.as_str())
                .await
                .map_err(|e| to_client(e.into()))?;
            self.store_request(&handle, &checked, Some(SignInMethod::WechatOa))
                .await
                .map_err(to_client)?;
            let url = self
                .wechat_url(&app, &handle, WechatLeg::OfficialBase)
                .map_err(to_client)?;
            return Ok(Answer::binding(Step::ToWechat(url), &handle));
        }

        let record = self
            .store_request(&handle, &checked, None)
            .await
            .map_err(to_client)?;
        let mut methods = Vec::new();
        if let Some(key) = &apps.website {
            let app = self
                .apps
                .get(key.as_str())
                .await
                .map_err(|e| to_client(e.into()))?;
            let url = self
                .wechat_url(&app, &handle, WechatLeg::Website)
                .map_err(to_client)?;
            methods.push(DesktopMethod::Website { url });
        }
        if let Some(key) = &apps.official_account {
            let start = self
                .start_qr_login(ctx, Some(key.as_str()))
                .await
                .map_err(|e| to_client(e.into()))?;
            let mut tx = self.store.begin().await.map_err(|e| to_client(e.into()))?;
            let result = tx
                .set_authorization_method(
                    record.id,
                    SignInMethod::WechatOaQr,
                    Some(&start.login_id),
                )
                .await
                .map_err(crate::CoreError::from);
            finish(tx, result).await.map_err(|e| to_client(e.into()))?;
            methods.push(DesktopMethod::OfficialAccountQr {
                qr_content: start.qr_url,
                expires_in: start.expires_in,
            });
        }
        if let Some(key) = &apps.mini_program {
            let start = self
                .start_mp_qr_login(ctx, Some(key.as_str()), None)
                .await
                .map_err(|e| to_client(e.into()))?;
            let mut tx = self.store.begin().await.map_err(|e| to_client(e.into()))?;
            let result = tx
                .set_authorization_mp_login(record.id, &start.login_id)
                .await
                .map_err(crate::CoreError::from);
            finish(tx, result).await.map_err(|e| to_client(e.into()))?;
            methods.push(DesktopMethod::MiniProgramCode {
                image_path: format!("/api/v1/miniprogram/qr-logins/{}/image", start.login_id),
                expires_in: start.expires_in,
            });
        }
        if methods.is_empty() {
            let error = OAuthError::access_denied(
                "this client offers no WeChat sign-in outside WeChat's browser",
            );
            return Err(self.refuse(ctx, &checked, error).await);
        }
        let page = Step::SignInPage(SignInPage {
            request: handle.clone(),
            client_name: checked.client.name.clone(),
            methods,
            ui_locales: checked.params.ui_locales.clone(),
        });
        Ok(Answer::binding(page, &handle))
    }

    /// Audits a refusal that goes back to the client, and builds its redirect.
    async fn refuse(&self, ctx: &RequestContext, checked: &Checked, error: OAuthError) -> Refusal {
        let event = AuditEvent {
            kind: kind::OIDC_AUTHORIZE_REFUSED,
            success: false,
            reason: Some(format!(
                "{}: client={}",
                error.code.as_str(),
                checked.client.client_id
            )),
            app: None,
            user: None,
        };
        self.audit_alone(ctx, event).await;
        let issuer = self
            .oidc
            .as_ref()
            .map(|p| p.settings.issuer.as_str())
            .unwrap_or_default();
        Refusal::Client(ClientRedirect::error(
            &checked.params.redirect_uri,
            &error,
            checked.params.state.as_deref(),
            issuer,
        ))
    }

    /// The request's checks, in the order that decides where an error may go.
    async fn check_request(&self, params: &AuthorizeParams) -> Result<Checked, Refusal> {
        let page = |d: &'static str| Refusal::Page(OAuthError::invalid_request(d));
        let client_id = params
            .client_id
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| page("client_id is required"))?;
        let client = self
            .find_client(client_id)
            .await
            .map_err(Refusal::Page)?
            .ok_or_else(|| page("unknown client_id"))?;
        let redirect_uri = params
            .redirect_uri
            .as_deref()
            .ok_or_else(|| page("redirect_uri is required"))?;
        let redirect_uri = client
            .redirect_uri(redirect_uri)
            .ok_or_else(|| page("redirect_uri is not registered for this client"))?
            .as_str()
            .to_owned();

        // From here on the client and redirect URI are trusted: errors go back to the client.
        let state = params.state.clone().filter(|s| !s.is_empty());
        let issuer = self
            .provider()
            .map_err(Refusal::Page)?
            .settings
            .issuer
            .clone();
        let back = |code: OAuthErrorCode, d: &'static str| {
            let state = state.as_deref().filter(|s| s.len() <= MAX_STATE);
            Refusal::Client(ClientRedirect::error(
                &redirect_uri,
                &OAuthError::new(code, d),
                state,
                &issuer,
            ))
        };
        if state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
            return Err(back(
                OAuthErrorCode::InvalidRequest,
                "state is longer than 2048 bytes",
            ));
        }
        if params.request.is_some() {
            return Err(back(
                OAuthErrorCode::RequestNotSupported,
                "request objects are not supported",
            ));
        }
        if params.request_uri.is_some() {
            return Err(back(
                OAuthErrorCode::RequestUriNotSupported,
                "request_uri is not supported",
            ));
        }
        if params
            .response_mode
            .as_deref()
            .is_some_and(|m| m != "query")
        {
            return Err(back(
                OAuthErrorCode::InvalidRequest,
                "only response_mode=query is supported",
            ));
        }
        match params.response_type.as_deref() {
            Some("code") => {}
            None => {
                return Err(back(
                    OAuthErrorCode::InvalidRequest,
                    "response_type is required",
                ));
            }
            Some(_) => {
                return Err(back(
                    OAuthErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
        }
        let scope = match params
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => return Err(back(OAuthErrorCode::InvalidScope, "scope is required")),
            Some(s) => ScopeSet::parse(s)
                .map_err(|_| back(OAuthErrorCode::InvalidScope, "scope names an unknown scope"))?,
        };
        if !scope.is_subset_of(client.scopes) {
            return Err(back(
                OAuthErrorCode::InvalidScope,
                "scope asks for more than the client may have",
            ));
        }
        let code_challenge = match (
            params.code_challenge.as_deref(),
            params.code_challenge_method.as_deref(),
        ) {
            (None, None) => None,
            (Some(challenge), Some("S256")) => {
                if !is_pkce_value(challenge) {
                    return Err(back(
                        OAuthErrorCode::InvalidRequest,
                        "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]",
                    ));
                }
                Some(challenge.to_owned())
            }
            (Some(_), None) | (_, Some("plain")) => {
                return Err(back(
                    OAuthErrorCode::InvalidRequest,
                    "code_challenge_method=S256 is required; plain is not allowed",
                ));
            }
            (None, Some(_)) => {
                return Err(back(
                    OAuthErrorCode::InvalidRequest,
                    "code_challenge_method without code_challenge",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(back(
                    OAuthErrorCode::InvalidRequest,
                    "code_challenge_method must be S256",
                ));
            }
        };
        if client.kind == ClientKind::Public && code_challenge.is_none() {
            return Err(back(
                OAuthErrorCode::InvalidRequest,
                "public clients must use PKCE (code_challenge with S256)",
            ));
        }
        let nonce = params.nonce.clone().filter(|n| !n.is_empty());
        if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
            return Err(back(
                OAuthErrorCode::InvalidRequest,
                "nonce is longer than 512 bytes",
            ));
        }
        let mut prompt = Prompt::default();
        for value in params
            .prompt
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|v| !v.is_empty())
        {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                // One WeChat user per browser: there is no account to pick.
                "select_account" => {}
                _ => {
                    return Err(back(
                        OAuthErrorCode::InvalidRequest,
                        "prompt has an unknown value",
                    ));
                }
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(back(
                OAuthErrorCode::InvalidRequest,
                "prompt=none cannot be combined with other values",
            ));
        }
        let max_age = match params.max_age.as_deref() {
            None | Some("") => None,
            Some(s) => Some(s.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                back(
                    OAuthErrorCode::InvalidRequest,
                    "max_age must be a non-negative integer",
                )
            })?),
        };
        let ui_locales = params
            .ui_locales
            .clone()
            .filter(|l| !l.is_empty() && l.len() <= 64);
        Ok(Checked {
            params: AuthorizationParams {
                redirect_uri,
                scope,
                state,
                nonce,
                code_challenge,
                force_consent: prompt.consent,
                ui_locales,
            },
            client,
            prompt,
            max_age,
        })
    }

    /// The browser session of this cookie, with its user, if it is still good.
    async fn live_session(
        &self,
        cookie: &str,
    ) -> Result<Option<(BrowserSessionRecord, User)>, OAuthError> {
        if cookie.is_empty() || cookie.len() > 128 {
            return Ok(None);
        }
        let mut read = self.store.read();
        let Some(session) = read.browser_session(&token_hash(cookie)).await? else {
            return Ok(None);
        };
        if session.revoked_at.is_some() || session.expires_at <= self.now() {
            return Ok(None);
        }
        match read.user_by_id(session.user_id).await? {
            Some(user) if !user.is_blocked() => Ok(Some((session, user))),
            _ => Ok(None),
        }
    }

    async fn needs_consent(
        &self,
        client: &OidcClient,
        user: UserId,
        scope: ScopeSet,
        forced: bool,
    ) -> Result<bool, OAuthError> {
        if client.first_party {
            return Ok(false);
        }
        if forced {
            return Ok(true);
        }
        let consent = self.store.read().consent(user, client.id).await?;
        Ok(!consent.is_some_and(|c| scope.is_subset_of(c.scope)))
    }

    async fn store_request(
        &self,
        handle: &str,
        checked: &Checked,
        method: Option<SignInMethod>,
    ) -> Result<AuthorizationRecord, OAuthError> {
        let now = self.now();
        let ttl = self.provider()?.settings.request_ttl;
        let request_hash = token_hash(handle);
        let mut tx = self.store.begin().await?;
        let result = async {
            tx.insert_authorization(
                &NewAuthorization {
                    request_hash: request_hash.clone(),
                    client_pk: checked.client.id,
                    params: checked.params.clone(),
                    method,
                    expires_at: now + ttl,
                },
                now,
            )
            .await?;
            tx.authorization_by_request(&request_hash)
                .await?
                .ok_or_else(|| {
                    crate::RepoError::other("an authorization is missing after its insert")
                })
        }
        .await
        .map_err(crate::CoreError::from);
        Ok(finish(tx, result).await?)
    }

    fn wechat_url(&self, app: &App, handle: &str, leg: WechatLeg) -> Result<String, OAuthError> {
        let callback = self.provider()?.settings.callback_url();
        let scope = match leg {
            WechatLeg::OfficialBase => OAuthScope::Base,
            WechatLeg::OfficialProfile => OAuthScope::UserInfo,
            WechatLeg::Website => OAuthScope::Login,
        };
        let state = format!("{handle}{}", leg.letter());
        Ok(self
            .wechat
            .authorize_url(app, &callback, scope, &state, None)
            .map_err(crate::CoreError::from)?)
    }

    /// Gives the authorization its code and sends the browser back to the client with it.
    async fn issue_code(
        &self,
        ctx: &RequestContext,
        client: &OidcClient,
        record: &AuthorizationRecord,
        user: &User,
        session: &BrowserSessionRecord,
    ) -> Result<Step, OAuthError> {
        let provider = self.provider()?;
        let now = self.now();
        let code = random_token("ac_", 32);
        let grant = AuthorizationGrant {
            user_id: user.id,
            method: session.method,
            auth_time: session.auth_time,
            session_hash: session.session_hash.clone(),
            code_hash: token_hash(&code),
            code_expires_at: now + provider.settings.code_ttl,
        };
        let mut tx = self.store.begin().await?;
        let result = async {
            if !tx.complete_authorization(record.id, &grant).await? {
                return Ok(false);
            }
            let event = AuditEvent::ok(kind::OIDC_AUTHORIZE)
                .user(user.public_id)
                .reason(format!(
                    "client={} amr={}",
                    client.client_id,
                    session.method.as_str()
                ));
            tx.append_audit(&event.into_entry(ctx, now)).await?;
            Ok(true)
        }
        .await;
        if !finish(tx, result).await? {
            return Ok(Step::ErrorPage(OAuthError::invalid_request(
                "this sign-in request was used already; start again from the application",
            )));
        }
        Ok(Step::ToClient(ClientRedirect::code(
            &record.params.redirect_uri,
            code,
            record.params.state.as_deref(),
            &provider.settings.issuer,
        )))
    }

    /// After a WeChat sign-in: a new browser session, then consent or the code.
    async fn signed_in(
        &self,
        ctx: &RequestContext,
        handle: &str,
        record: &AuthorizationRecord,
        client: &OidcClient,
        user: &User,
        method: SignInMethod,
    ) -> Result<Answer, OAuthError> {
        let provider = self.provider()?;
        let now = self.now();
        let cookie = random_token("bs_", 32);
        let ttl = provider.settings.browser_session_ttl;
        let session = BrowserSessionRecord {
            id: 0,
            session_hash: token_hash(&cookie),
            user_id: user.id,
            method,
            auth_time: now,
            expires_at: now + ttl,
            revoked_at: None,
        };
        let mut tx = self.store.begin().await?;
        let result = tx
            .insert_browser_session(
                &NewBrowserSession {
                    session_hash: session.session_hash.clone(),
                    user: UserRef::Id(user.id),
                    method,
                    auth_time: now,
                    expires_at: session.expires_at,
                },
                now,
            )
            .await
            .map_err(crate::CoreError::from);
        finish(tx, result).await?;
        let new_session = Some(SessionCookie {
            value: cookie,
            max_age_secs: ttl.whole_seconds(),
        });
        let consent = self
            .needs_consent(
                client,
                user.id,
                record.params.scope,
                record.params.force_consent,
            )
            .await?;
        let step = if consent {
            Step::ToConsent(handle.to_owned())
        } else {
            self.issue_code(ctx, client, record, user, &session).await?
        };
        Ok(Answer {
            step,
            new_session,
            bind_request: None,
        })
    }

    /// The pending request of a handle: unknown, used and expired requests are refused on the
    /// provider's page (the browser may be replaying an old URL).
    async fn pending_request(
        &self,
        handle: &str,
    ) -> Result<(AuthorizationRecord, OidcClient), Step> {
        let gone = || {
            Step::ErrorPage(OAuthError::invalid_request(
                "this sign-in request is unknown, used or expired; start again from the application",
            ))
        };
        if handle.len() != HANDLE_LEN || !handle.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(gone());
        }
        let mut read = self.store.read();
        let record = read
            .authorization_by_request(&token_hash(handle))
            .await
            .map_err(|e| Step::ErrorPage(e.into()))?
            .filter(|r| r.code_hash.is_none())
            .ok_or_else(gone)?;
        let client = self
            .client_by_pk(record.client_pk)
            .await
            .map_err(Step::ErrorPage)?
            .ok_or_else(gone)?;
        if record.expires_at <= self.now() {
            let issuer = self
                .oidc
                .as_ref()
                .map(|p| p.settings.issuer.as_str())
                .unwrap_or_default();
            return Err(Step::ToClient(ClientRedirect::error(
                &record.params.redirect_uri,
                &OAuthError::access_denied("the sign-in took too long; try again"),
                record.params.state.as_deref(),
                issuer,
            )));
        }
        Ok((record, client))
    }

    /// WeChat's redirect back to the provider, with its code (absent when the user declined)
    /// and the state the provider gave it.
    pub async fn oidc_callback(
        &self,
        ctx: &RequestContext,
        code: Option<&str>,
        state: Option<&str>,
        browser: Browser<'_>,
    ) -> Answer {
        if let Err(e) = self.provider() {
            return Answer::page(e);
        }
        if let Err(e) = self.admit(ctx, LimitClass::OAuth, None).await {
            return Answer::page(e.into());
        }
        let state = state.unwrap_or_default();
        let (handle, leg) = match (state.get(..HANDLE_LEN), state.get(HANDLE_LEN..)) {
            (Some(handle), Some(letter)) if letter.chars().count() == 1 => {
                match letter.chars().next().and_then(WechatLeg::from_letter) {
                    Some(leg) => (handle, leg),
                    None => return Answer::page(OAuthError::invalid_request("unknown state")),
                }
            }
            _ => return Answer::page(OAuthError::invalid_request("unknown state")),
        };
        if !started_here(browser, handle) {
            return Answer::page(another_browser());
        }
        let (record, client) = match self.pending_request(handle).await {
            Ok(found) => found,
            Err(step) => return Answer::step(step),
        };
        let issuer = self
            .oidc
            .as_ref()
            .map(|p| p.settings.issuer.clone())
            .unwrap_or_default();
        let back = |error: OAuthError| {
            Answer::step(Step::ToClient(ClientRedirect::error(
                &record.params.redirect_uri,
                &error,
                record.params.state.as_deref(),
                &issuer,
            )))
        };
        let Some(code) = code.filter(|c| !c.is_empty() && c.len() <= 256) else {
            return back(OAuthError::access_denied("the user declined at WeChat"));
        };
        let app_key = match leg {
            WechatLeg::Website => client.apps.website.as_ref(),
            _ => client.apps.official_account.as_ref(),
        };
        let Some(app_key) = app_key else {
            return Answer::page(OAuthError::invalid_request("unknown state"));
        };
        let app = match self.apps.get(app_key.as_str()).await {
            Ok(app) => app,
            Err(e) => return back(e.into()),
        };
        let user = match self.wechat_web_user(ctx, &app, code, leg).await {
            Ok(user) => user,
            Err(e) => return back(e),
        };
        // Asked for the profile, and WeChat's silent page gave none: once more, asking.
        if leg == WechatLeg::OfficialBase
            && record.params.scope.contains(Scope::Profile)
            && user.nickname.is_none()
        {
            return match self.wechat_url(&app, handle, WechatLeg::OfficialProfile) {
                Ok(url) => Answer::step(Step::ToWechat(url)),
                Err(e) => back(e),
            };
        }
        match self
            .signed_in(ctx, handle, &record, &client, &user, leg.method())
            .await
        {
            Ok(answer) => answer,
            Err(e) => back(e),
        }
    }

    async fn wechat_web_user(
        &self,
        ctx: &RequestContext,
        app: &Arc<App>,
        code: &str,
        leg: WechatLeg,
    ) -> Result<User, OAuthError> {
        let grant = self
            .wechat
            .exchange_oauth_code(app, code)
            .await
            .map_err(crate::CoreError::from)?;
        if grant.is_snapshot_user {
            return Err(OAuthError::access_denied(
                "a Moments snapshot page cannot sign in; open the page in WeChat",
            ));
        }
        let mut who = WechatSignIn::new(grant.openid.clone(), grant.unionid.clone());
        if leg != WechatLeg::OfficialBase {
            let profile = self
                .wechat
                .oauth_profile(app, &grant)
                .await
                .map_err(crate::CoreError::from)?;
            who.nickname = profile
                .nickname
                .as_deref()
                .and_then(|n| Nickname::parse(n).ok());
            who.avatar_url = profile
                .avatar_url
                .as_deref()
                .and_then(|u| AvatarUrl::parse(u).ok());
            who.unionid = who.unionid.or(profile.unionid);
        }
        Ok(self.identify_wechat(ctx, app, who).await?)
    }

    /// The desktop page's question: has the Official Account QR been scanned?
    pub async fn oidc_sign_in_status(
        &self,
        ctx: &RequestContext,
        handle: &str,
        browser: Browser<'_>,
    ) -> Result<SignInStatus, OAuthError> {
        self.provider()?;
        self.admit(ctx, LimitClass::Poll, None).await?;
        if !started_here(browser, handle) {
            return Err(another_browser());
        }
        let (record, client) = match self.pending_request(handle).await {
            Ok(found) => found,
            Err(Step::ToClient(_)) => return Ok(SignInStatus::Expired),
            Err(_) => {
                return Err(OAuthError::new(
                    OAuthErrorCode::NotFound,
                    "unknown sign-in request",
                ));
            }
        };
        // Whichever method the user took: the follow QR's scan, or the Mini Program's confirm.
        let mut open = false;
        let mut scanned = false;
        let mut found = None;
        if let Some(login_id) = &record.qr_login_id {
            match self.claim_qr_login(login_id).await? {
                crate::official::QrScan::Pending => open = true,
                crate::official::QrScan::Expired => {}
                crate::official::QrScan::Scanned { app, who } => {
                    found = Some((app, who, SignInMethod::WechatOaQr));
                }
            }
        }
        if found.is_none()
            && let Some(login_id) = &record.mp_login_id
        {
            match self.claim_mp_qr_login(login_id).await? {
                crate::mp_qr_login::MpScan::Waiting { scanned: s } => {
                    open = true;
                    scanned = s;
                }
                crate::mp_qr_login::MpScan::Expired | crate::mp_qr_login::MpScan::Cancelled => {}
                crate::mp_qr_login::MpScan::Confirmed { app, who } => {
                    found = Some((app, who, SignInMethod::WechatMpCode));
                }
            }
        }
        let started = record.qr_login_id.is_some() || record.mp_login_id.is_some();
        let Some((app, who, method)) = found else {
            return Ok(match (open || !started, scanned) {
                (true, true) => SignInStatus::Scanned,
                (true, false) => SignInStatus::Pending,
                (false, _) => SignInStatus::Expired,
            });
        };
        let user = self.identify_wechat(ctx, &app, who).await;
        let answer = match user {
            Ok(user) => {
                self.signed_in(ctx, handle, &record, &client, &user, method)
                    .await
            }
            Err(e) => Err(e.into()),
        };
        Ok(SignInStatus::Done(answer.unwrap_or_else(|error| {
            let issuer = self
                .oidc
                .as_ref()
                .map(|p| p.settings.issuer.as_str())
                .unwrap_or_default();
            Answer::step(Step::ToClient(ClientRedirect::error(
                &record.params.redirect_uri,
                &error,
                record.params.state.as_deref(),
                issuer,
            )))
        })))
    }

    /// The consent page of a pending request, for the signed-in browser.
    pub async fn oidc_consent_page(&self, handle: &str, browser: Browser<'_>) -> Step {
        match self.consent_context(handle, browser).await {
            Ok((record, client, _, cookie)) => Step::ConsentPage(ConsentPage {
                request: handle.to_owned(),
                client_name: client.name.clone(),
                scope: record.params.scope,
                csrf: consent_csrf(cookie, handle),
                redirect_uri: record.params.redirect_uri.clone(),
                ui_locales: record.params.ui_locales.clone(),
            }),
            Err(step) => step,
        }
    }

    /// The consent form's answer.
    pub async fn oidc_consent(
        &self,
        ctx: &RequestContext,
        handle: &str,
        csrf: &str,
        allow: bool,
        browser: Browser<'_>,
    ) -> Step {
        let (record, client, (session, user), cookie) =
            match self.consent_context(handle, browser).await {
                Ok(found) => found,
                Err(step) => return step,
            };
        let expected = consent_csrf(cookie, handle);
        if !bool::from(expected.as_bytes().ct_eq(csrf.as_bytes())) {
            return Step::ErrorPage(OAuthError::invalid_request(
                "the consent form does not belong to this browser session",
            ));
        }
        let provider_issuer = self
            .oidc
            .as_ref()
            .map(|p| p.settings.issuer.clone())
            .unwrap_or_default();
        let back = |error: &OAuthError| {
            Step::ToClient(ClientRedirect::error(
                &record.params.redirect_uri,
                error,
                record.params.state.as_deref(),
                &provider_issuer,
            ))
        };
        let now = self.now();
        let event = AuditEvent {
            kind: kind::OIDC_CONSENT,
            success: allow,
            reason: Some(format!(
                "client={} scope={}",
                client.client_id, record.params.scope
            )),
            app: None,
            user: Some(user.public_id),
        };
        if !allow {
            self.audit_alone(ctx, event).await;
            return back(&OAuthError::access_denied("the user declined"));
        }
        let result = async {
            let earlier = self.store.read().consent(user.id, client.id).await?;
            let scope = earlier.map_or(record.params.scope, |c| {
                c.scope.iter().fold(record.params.scope, ScopeSet::with)
            });
            let mut tx = self.store.begin().await?;
            let writes = async {
                tx.put_consent(user.id, client.id, scope, now).await?;
                tx.append_audit(&event.clone().into_entry(ctx, now)).await?;
                Ok(())
            }
            .await;
            finish(tx, writes).await
        }
        .await;
        if let Err(e) = result {
            return back(&e.into());
        }
        match self
            .issue_code(ctx, &client, &record, &user, &session)
            .await
        {
            Ok(step) => step,
            Err(e) => back(&e),
        }
    }

    async fn consent_context<'b>(
        &self,
        handle: &str,
        browser: Browser<'b>,
    ) -> Result<
        (
            AuthorizationRecord,
            OidcClient,
            (BrowserSessionRecord, User),
            &'b str,
        ),
        Step,
    > {
        if let Err(e) = self.provider() {
            return Err(Step::ErrorPage(e));
        }
        let (record, client) = self.pending_request(handle).await?;
        let signed_out = || {
            Step::ErrorPage(OAuthError::access_denied(
                "this browser is not signed in; start again from the application",
            ))
        };
        let cookie = browser.session.ok_or_else(signed_out)?;
        let session = self
            .live_session(cookie)
            .await
            .map_err(Step::ErrorPage)?
            .ok_or_else(signed_out)?;
        Ok((record, client, session, cookie))
    }
}

/// Whether this browser started the request (it carries the request's binding cookie).
fn started_here(browser: Browser<'_>, handle: &str) -> bool {
    browser.started.iter().any(|h| h == handle)
}

fn another_browser() -> OAuthError {
    OAuthError::access_denied(
        "this sign-in was started in another browser; start again from the application",
    )
}

/// A PKCE value: 43 to 128 characters of the unreserved set (RFC 7636 §4.1, §4.2).
pub(crate) fn is_pkce_value(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 challenge of a verifier.
pub(crate) fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// The consent form's token: only a browser holding the session cookie can compute it.
fn consent_csrf(cookie: &str, handle: &str) -> String {
    token_hash(&format!("consent:{cookie}:{handle}"))
}
