//! The OpenID provider's pages: sign-in, consent, errors and "signed out", rendered here in
//! zh-CN or English, with no external asset and a strict Content-Security-Policy (a fresh
//! nonce per page for its one style and one script). They fit a phone screen and WeChat's
//! in-app browser as well as a desktop.

use std::fmt::Write as _;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use wxauth_core::oidc::OAuthError;
use wxauth_core::oidc::authorize::{ConsentPage, DesktopMethod, SignInPage};
use wxauth_domain::Scope;

/// The page's language: `ui_locales` first (OpenID Connect Core §3.1.2.1), then the
/// browser's `Accept-Language`, then English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn choose(ui_locales: Option<&str>, accept_language: Option<&str>) -> Lang {
        let pick = |list: &str, sep: char| {
            list.split(sep)
                .map(|tag| {
                    tag.split(';')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .to_ascii_lowercase()
                })
                .find_map(|tag| {
                    if tag.starts_with("zh") {
                        Some(Lang::Zh)
                    } else if tag.starts_with("en") {
                        Some(Lang::En)
                    } else {
                        None
                    }
                })
        };
        ui_locales
            .and_then(|l| pick(l, ' '))
            .or_else(|| accept_language.and_then(|l| pick(l, ',')))
            .unwrap_or(Lang::En)
    }

    fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh-CN",
        }
    }

    fn t(self, en: &'static str, zh: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;margin:0;background:#f5f6f7;color:#1f2329}\
main{max-width:420px;margin:6vh auto;padding:24px;background:#fff;border-radius:12px;box-shadow:0 1px 4px rgba(0,0,0,.08)}\
h1{font-size:20px;margin:0 0 16px}p{line-height:1.5}ul{padding-left:20px}\
.btn{display:block;width:100%;box-sizing:border-box;text-align:center;padding:12px;margin:12px 0;border-radius:8px;border:0;font-size:16px;text-decoration:none;cursor:pointer}\
.primary{background:#07c160;color:#fff}.secondary{background:#f2f2f2;color:#1f2329}\
.qr{display:block;margin:12px auto;width:200px;height:200px}.muted{color:#8a8f99;font-size:13px}code{word-break:break-all}";

fn nonce() -> String {
    use rand::Rng;
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page with its headers. `form_action` names where the page's form may send the browser
/// (the consent form's answer is a redirect to the client).
fn page(
    status: StatusCode,
    lang: Lang,
    title: &str,
    body: &str,
    script: Option<&str>,
    form_action: Option<&str>,
) -> HttpResponse {
    let nonce = nonce();
    let mut html = String::with_capacity(4096);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style nonce=\"{nonce}\">{STYLE}</style></head><body><main>{body}</main>",
        lang.tag(),
        escape(title),
    );
    if let Some(script) = script {
        let _ = write!(html, "<script nonce=\"{nonce}\">{script}</script>");
    }
    html.push_str("</body></html>");
    let form_action = match form_action {
        Some(target) => format!("'self' {target}"),
        None => "'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; \
         img-src 'self' data:; connect-src 'self'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header(("referrer-policy", "no-referrer"))
        .body(html)
}

/// An error the provider shows itself rather than redirect (RFC 6749 §4.1.2.1).
pub fn error_page(lang: Lang, status: StatusCode, error: &OAuthError) -> HttpResponse {
    let body = format!(
        "<h1>{}</h1><p>{}</p><p class=\"muted\"><code>{}</code>: {}</p>",
        lang.t("Sign-in cannot continue", "无法继续登录"),
        lang.t(
            "Go back to the application and try again.",
            "请返回应用后重试。"
        ),
        escape(error.code.as_str()),
        escape(&error.description),
    );
    page(
        status,
        lang,
        lang.t("Sign-in error", "登录出错"),
        &body,
        None,
        None,
    )
}

pub fn signed_out_page(lang: Lang) -> HttpResponse {
    let body = format!(
        "<h1>{}</h1><p>{}</p>",
        lang.t("You are signed out", "已退出登录"),
        lang.t("You can close this page.", "可以关闭此页面。")
    );
    page(
        StatusCode::OK,
        lang,
        lang.t("Signed out", "已退出"),
        &body,
        None,
        None,
    )
}

/// The desktop sign-in page. With the Official Account QR it asks the provider, every two
/// seconds, whether the scan happened, and follows the answer.
pub fn sign_in_page(lang: Lang, signin: &SignInPage) -> HttpResponse {
    let mut body = format!(
        "<h1>{}</h1><p>{} <strong>{}</strong></p>",
        lang.t("Sign in with WeChat", "微信登录"),
        lang.t("to continue to", "以继续使用"),
        escape(&signin.client_name)
    );
    let mut poll = false;
    for method in &signin.methods {
        match method {
            DesktopMethod::OfficialAccountQr { qr_content, .. } => {
                poll = true;
                let _ = write!(
                    body,
                    "<p>{}</p>{}",
                    lang.t(
                        "Scan with WeChat and follow the Official Account:",
                        "请用微信扫码并关注公众号："
                    ),
                    qr_svg(qr_content)
                );
            }
            DesktopMethod::MiniProgramCode { image_path, .. } => {
                poll = true;
                let _ = write!(
                    body,
                    "<p>{}</p><img class=\"qr\" id=\"mp-code\" alt=\"Mini Program code\" src=\"{}\">",
                    lang.t(
                        "Or scan the Mini Program code with WeChat and confirm there:",
                        "或用微信扫描小程序码，并在小程序中确认："
                    ),
                    escape(image_path)
                );
            }
            DesktopMethod::Website { url } => {
                let _ = write!(
                    body,
                    "<a class=\"btn primary\" href=\"{}\">{}</a>",
                    escape(url),
                    lang.t("Sign in with the WeChat QR page", "使用微信扫码登录页")
                );
            }
        }
    }
    body.push_str("<p class=\"muted\" id=\"status\"></p>");
    let script = poll.then(|| {
        format!(
            "(function(){{var r={request};var s=document.getElementById('status');\
             function tick(){{fetch('/oidc/signin/status?request='+encodeURIComponent(r),{{credentials:'same-origin'}})\
             .then(function(x){{return x.json()}}).then(function(j){{\
             if(j.status==='done'&&j.location){{location.href=j.location;return}}\
             if(j.status==='expired'){{s.textContent={expired};return}}\
             if(j.status==='scanned'){{s.textContent={scanned}}}setTimeout(tick,2000)}})\
             .catch(function(){{setTimeout(tick,4000)}})}}setTimeout(tick,2000)}})();",
            request = serde_json::Value::from(signin.request.as_str()),
            scanned = serde_json::Value::from(lang.t(
                "Scanned: confirm in the Mini Program.",
                "已扫码，请在小程序中确认。"
            )),
            expired = serde_json::Value::from(lang.t(
                "The code expired. Reload the page for a new one.",
                "二维码已过期，请刷新页面。"
            )),
        )
    });
    page(
        StatusCode::OK,
        lang,
        lang.t("Sign in with WeChat", "微信登录"),
        &body,
        script.as_deref(),
        None,
    )
}

pub fn consent_page(lang: Lang, consent: &ConsentPage) -> HttpResponse {
    let mut items = String::new();
    for scope in consent.scope.iter() {
        if let Some(text) = scope_text(lang, scope) {
            let _ = write!(items, "<li>{text}</li>");
        }
    }
    let body = format!(
        "<h1>{}</h1><p><strong>{}</strong> {}</p><ul>{items}</ul>\
         <form method=\"post\" action=\"/oidc/consent\">\
         <input type=\"hidden\" name=\"request\" value=\"{}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button class=\"btn primary\" name=\"decision\" value=\"allow\">{}</button>\
         <button class=\"btn secondary\" name=\"decision\" value=\"deny\">{}</button></form>",
        lang.t("Allow access?", "是否允许访问？"),
        escape(&consent.client_name),
        lang.t("asks to receive:", "请求获取："),
        escape(&consent.request),
        escape(&consent.csrf),
        lang.t("Allow", "允许"),
        lang.t("Deny", "拒绝"),
    );
    let origin = origin_of(&consent.redirect_uri);
    page(
        StatusCode::OK,
        lang,
        lang.t("Allow access?", "是否允许访问？"),
        &body,
        None,
        origin.as_deref(),
    )
}

fn scope_text(lang: Lang, scope: Scope) -> Option<&'static str> {
    Some(match scope {
        Scope::OpenId => lang.t("Your wxauth account id", "你的账号标识"),
        Scope::Profile => lang.t("Your WeChat nickname and avatar", "你的微信昵称和头像"),
        Scope::Phone => lang.t("Your phone number", "你的手机号"),
        Scope::OfflineAccess => lang.t(
            "Access while you are away (a refresh token)",
            "在你离开后继续访问（刷新令牌）",
        ),
        Scope::UnionId => lang.t("Your WeChat UnionID", "你的微信 UnionID"),
    })
}

/// The scheme, host and port of a URL, as CSP source expressions name them.
fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    Some(url.origin().ascii_serialization())
}

/// A QR code as inline SVG: one path of dark modules, crisp at any size.
fn qr_svg(content: &str) -> String {
    let Ok(code) = qrcode::QrCode::new(content.as_bytes()) else {
        return String::new();
    };
    let width = code.width();
    let quiet = 2;
    let size = width + 2 * quiet;
    let mut path = String::new();
    for (i, color) in code.to_colors().iter().enumerate() {
        if *color == qrcode::Color::Dark {
            let _ = write!(path, "M{} {}h1v1h-1z", i % width + quiet, i / width + quiet);
        }
    }
    let content = escape(content);
    format!(
        "<svg class=\"qr\" id=\"qr\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         role=\"img\" aria-label=\"QR\" data-content=\"{content}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_follows_ui_locales_then_accept_language() {
        assert_eq!(Lang::choose(Some("zh-CN en"), Some("en")), Lang::Zh);
        assert_eq!(Lang::choose(Some("fr en"), Some("zh")), Lang::En);
        assert_eq!(Lang::choose(None, Some("zh-TW,zh;q=0.9")), Lang::Zh);
        assert_eq!(Lang::choose(None, Some("de")), Lang::En);
        assert_eq!(Lang::choose(None, None), Lang::En);
    }

    #[test]
    fn pages_escape_what_they_show() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
