//! WeChat errcodes the simulator answers with, and their errmsg texts.

/// A WeChat API error: rendered as HTTP 200 `{"errcode": N, "errmsg": "..., rid: ..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WxErr(pub(crate) i64);

impl WxErr {
    pub(crate) const BUSY: Self = Self(-1);
    pub(crate) const INVALID_CREDENTIAL: Self = Self(40001);
    pub(crate) const INVALID_GRANT_TYPE: Self = Self(40002);
    pub(crate) const INVALID_OPENID: Self = Self(40003);
    pub(crate) const INVALID_APPID: Self = Self(40013);
    pub(crate) const INVALID_CODE: Self = Self(40029);
    pub(crate) const INVALID_REFRESH_TOKEN: Self = Self(40030);
    pub(crate) const INVALID_ACTION_INFO: Self = Self(40053);
    pub(crate) const INVALID_ARGS: Self = Self(40097);
    pub(crate) const INVALID_APPSECRET: Self = Self(40125);
    pub(crate) const INVALID_SCENE: Self = Self(40129);
    pub(crate) const CODE_USED: Self = Self(40163);
    pub(crate) const HIGH_RISK_USER: Self = Self(40226);
    pub(crate) const ACCESS_TOKEN_MISSING: Self = Self(41001);
    pub(crate) const APPID_MISSING: Self = Self(41002);
    pub(crate) const REFRESH_TOKEN_MISSING: Self = Self(41003);
    pub(crate) const SECRET_MISSING: Self = Self(41004);
    pub(crate) const CODE_MISSING: Self = Self(41008);
    pub(crate) const OPENID_MISSING: Self = Self(41009);
    pub(crate) const INVALID_PAGE: Self = Self(41030);
    pub(crate) const ACCESS_TOKEN_EXPIRED: Self = Self(42001);
    pub(crate) const REFRESH_TOKEN_EXPIRED: Self = Self(42002);
    pub(crate) const REQUIRE_POST: Self = Self(43002);
    pub(crate) const EMPTY_POST_DATA: Self = Self(44002);
    pub(crate) const DAILY_QUOTA: Self = Self(45009);
    pub(crate) const FREQUENCY_LIMIT: Self = Self(45011);
    pub(crate) const DATA_FORMAT: Self = Self(47001);
    pub(crate) const API_UNAUTHORIZED: Self = Self(48001);
    pub(crate) const INVALID_SIGNATURE: Self = Self(87009);

    /// WeChat's errmsg text (without the `rid` suffix the renderer adds).
    pub(crate) fn message(self) -> &'static str {
        match self.0 {
            -1 => "system error",
            40001 => "invalid credential, access_token is invalid or not latest",
            40002 => "invalid grant_type",
            40003 => "invalid openid",
            40013 => "invalid appid",
            40029 => "invalid code",
            40030 => "invalid refresh_token",
            40053 => "invalid action info",
            40097 => "invalid args",
            40125 => "invalid appsecret",
            40129 => "invalid scene",
            40163 => "code been used",
            40164 => "invalid ip, not in whitelist",
            40226 => "high risk user",
            41001 => "access_token missing",
            41002 => "appid missing",
            41003 => "refresh_token missing",
            41004 => "appsecret missing",
            41008 => "missing code",
            41009 => "missing openid",
            41030 => "invalid page",
            42001 => "access_token expired",
            42002 => "refresh_token expired",
            43002 => "require POST method",
            44002 => "empty post data",
            45009 => "reach max api daily quota limit",
            45011 => "api minute-quota reach-limit mustslower retry next minute",
            47001 => "data format error",
            48001 => "api unauthorized",
            87009 => "invalid signature",
            89503 => "this IP calls need confirmed by the admin",
            _ => "simulated error",
        }
    }
}
