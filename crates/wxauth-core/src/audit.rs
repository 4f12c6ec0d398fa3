//! Audit events: what happened, to whom, and whether it worked.

use wxauth_domain::{AppKey, PublicUserId, Timestamp};

use crate::ports::AuditEntry;
use crate::service::RequestContext;

/// The kinds of security event wxauth records.
pub mod kind {
    pub const LOGIN: &str = "login";
    pub const REGISTER: &str = "register";
    pub const BIND: &str = "bind";
    pub const UNBIND: &str = "unbind";
    pub const REFRESH: &str = "refresh";
    pub const REFRESH_REUSE: &str = "refresh_token_reuse";
    pub const LOGOUT: &str = "logout";
    pub const PHONE: &str = "phone_change";
    pub const PROFILE: &str = "profile_change";
    pub const BLOCK: &str = "block";
    pub const UNBLOCK: &str = "unblock";
    pub const ADMIN_APP_UPSERT: &str = "admin.app_upsert";
    pub const ADMIN_APP_DELETE: &str = "admin.app_delete";
    pub const ADMIN_USER_DELETE: &str = "admin.user_delete";
    pub const ADMIN_UNBIND: &str = "admin.unbind";
    pub const ADMIN_REVOKE_SESSIONS: &str = "admin.sessions_revoke";
    pub const ADMIN_QRCODE: &str = "admin.qrcode_create";
    pub const MP_QR_CREATED: &str = "mp_qr_login.created";
    pub const MP_QR_SCANNED: &str = "mp_qr_login.scanned";
    pub const MP_QR_CONFIRMED: &str = "mp_qr_login.confirmed";
    pub const MP_QR_CANCELLED: &str = "mp_qr_login.cancelled";
    pub const MP_QR_EXPIRED: &str = "mp_qr_login.expired";
    pub const ADMIN_OIDC_CLIENT_CREATE: &str = "admin.oidc_client_create";
    pub const ADMIN_OIDC_CLIENT_UPDATE: &str = "admin.oidc_client_update";
    pub const ADMIN_OIDC_CLIENT_SECRET: &str = "admin.oidc_client_secret_rotate";
    pub const ADMIN_OIDC_CLIENT_DELETE: &str = "admin.oidc_client_delete";
    /// A code issued to a client (after sign-in, SSO and consent).
    pub const OIDC_AUTHORIZE: &str = "oidc.authorize";
    /// An authorization request refused (and redirected with its error).
    pub const OIDC_AUTHORIZE_REFUSED: &str = "oidc.authorize_refused";
    pub const OIDC_CONSENT: &str = "oidc.consent";
    pub const OIDC_CONSENT_WITHDRAW: &str = "oidc.consent_withdraw";
    /// Tokens issued at the token endpoint; the reason names the grant type and client.
    pub const OIDC_TOKEN: &str = "oidc.token";
    pub const OIDC_TOKEN_REFUSED: &str = "oidc.token_refused";
    /// A code presented a second time: its tokens are revoked.
    pub const OIDC_CODE_REUSE: &str = "oidc.code_reuse";
    pub const OIDC_REVOKE: &str = "oidc.revoke";
    pub const OIDC_LOGOUT: &str = "oidc.logout";
}

/// An event before it gets its time and request context.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub kind: &'static str,
    pub success: bool,
    pub reason: Option<String>,
    pub app: Option<&'a AppKey>,
    pub user: Option<PublicUserId>,
}

impl<'a> AuditEvent<'a> {
    pub fn ok(kind: &'static str) -> Self {
        Self {
            kind,
            success: true,
            reason: None,
            app: None,
            user: None,
        }
    }

    /// A failure, recorded under its error code: the name the client saw.
    pub fn failed(kind: &'static str, error: &crate::CoreError) -> Self {
        Self {
            kind,
            success: false,
            reason: Some(error.code().as_str().to_owned()),
            app: None,
            user: None,
        }
    }

    pub fn user_opt(mut self, user: Option<PublicUserId>) -> Self {
        self.user = user;
        self
    }

    pub fn app(mut self, app: &'a AppKey) -> Self {
        self.app = Some(app);
        self
    }

    pub fn app_opt(mut self, app: Option<&'a AppKey>) -> Self {
        self.app = app;
        self
    }

    pub fn user(mut self, user: PublicUserId) -> Self {
        self.user = Some(user);
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn into_entry(self, ctx: &RequestContext, at: Timestamp) -> AuditEntry {
        AuditEntry {
            at,
            kind: self.kind.to_owned(),
            success: self.success,
            reason: self.reason,
            app_key: self.app.map(|a| a.as_str().to_owned()),
            user: self.user,
            actor: ctx.actor.clone(),
            ip: ctx.ip.map(|ip| ip.to_string()),
            request_id: ctx.request_id.clone(),
        }
    }
}
