//! The OpenAPI document's frame: title, tags, the error envelope and the security schemes. The
//! paths come from the endpoint list the router is built from ([`crate::openapi_document`]).

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wxauth",
        description = "WeChat authentication: Mini Program and Official Account sign-in, tokens, accounts and administration.\n\nEvery error has the same body: `{id, status, name, message, details}`; `name` is stable and machine-readable, `id` is the request id (also the `x-request-id` header).",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(crate::error::ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "Mini Program", description = "wx.login codes, phone numbers, openid, encryptedData"),
        (name = "Mini Program scan-login", description = "Web sign-in by scanning a Mini Program code and confirming in the Mini Program"),
        (name = "Account", description = "The signed-in user's profile, phone and WeChat identities"),
        (name = "Sessions", description = "Registration by bind code, refresh tokens, logout, JWKS"),
        (name = "Web sign-in", description = "Official Account and website OAuth2"),
        (name = "Official Account", description = "QR codes, follow checks, event push, scan-to-login"),
        (name = "OpenID Connect", description = "wxauth as an OpenID provider: discovery, authorization (pages), token, userinfo, introspection, revocation, logout. Errors follow RFC 6749 / RFC 6750, not the service's envelope"),
        (name = "Admin", description = "Apps, OpenID clients, users, sessions and the audit log (admin API key)"),
        (name = "Compatibility", description = "Drop-in routes for clients of the Strapi plugins and the legacy Official Account service"),
        (name = "Operations", description = "Probes and metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from a sign-in"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "confirmToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The confirmation token a Mini Program scan-login's scan answered",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "adminKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Admin-Key",
                "An admin API key (wxauth-server admin-keys create)",
            ))),
        );
    }
}
