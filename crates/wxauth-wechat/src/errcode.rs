//! WeChat's errcodes that this client and its callers meet, named.
//!
//! The errcodes of wxauth's protocol notes (`docs/wechat-protocol.md`) that the client or its
//! callers act on are here, so callers match on names rather than magic numbers.

/// System busy: retry after a short backoff.
pub const SYSTEM_BUSY: i64 = -1;
/// Success, on the APIs that send an errcode at all.
pub const OK: i64 = 0;
/// Invalid credential: access_token invalid or not the latest, or a wrong AppSecret on a token
/// fetch.
pub const INVALID_CREDENTIAL: i64 = 40001;
/// Invalid `grant_type`.
pub const INVALID_GRANT_TYPE: i64 = 40002;
/// Invalid openid (follower info, OAuth check).
pub const INVALID_OPENID: i64 = 40003;
/// Invalid appid.
pub const INVALID_APPID: i64 = 40013;
/// Invalid access_token.
pub const INVALID_ACCESS_TOKEN: i64 = 40014;
/// Invalid `wx.login`, OAuth or phone code.
pub const INVALID_CODE: i64 = 40029;
/// Invalid OAuth refresh_token (expired after 30 days, or revoked).
pub const INVALID_REFRESH_TOKEN: i64 = 40030;
/// Invalid AppSecret.
pub const INVALID_APPSECRET: i64 = 40125;
/// The code was already used: codes are single-use.
pub const CODE_BEEN_USED: i64 = 40163;
/// The caller's IP is not in the account's whitelist.
pub const IP_NOT_IN_WHITELIST: i64 = 40164;
/// High-risk user: login blocked.
pub const HIGH_RISK_USER: i64 = 40226;
/// access_token missing.
pub const ACCESS_TOKEN_MISSING: i64 = 41001;
/// appid missing.
pub const APPID_MISSING: i64 = 41002;
/// secret missing.
pub const SECRET_MISSING: i64 = 41004;
/// access_token expired.
pub const ACCESS_TOKEN_EXPIRED: i64 = 42001;
/// The API must be called with POST.
pub const REQUIRE_POST: i64 = 43002;
/// Empty POST body.
pub const EMPTY_POST_BODY: i64 = 44002;
/// Daily quota reached.
pub const API_DAILY_QUOTA_REACHED: i64 = 45009;
/// API minute-frequency limit.
pub const API_FREQ_OUT_OF_LIMIT: i64 = 45011;
/// Malformed request body.
pub const MALFORMED_BODY: i64 = 47001;
/// The API is not authorised for this account.
pub const API_UNAUTHORIZED: i64 = 48001;
/// checksession: signature invalid or session_key expired.
pub const SESSION_SIGNATURE_INVALID: i64 = 87009;
/// A call from this IP needs an administrator's confirmation.
pub const IP_NEEDS_CONFIRMATION: i64 = 89503;
