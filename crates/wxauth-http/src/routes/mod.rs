//! One module per feature; each declares its endpoints and their request and response types.
//!
//! An endpoint is declared once: the actix route macro on its handler (`#[post("/api/v1/…")]`)
//! names the path and the method, and `#[utoipa::path]` above it documents it and reads that
//! same path and method. `api` lists every endpoint once; it is run against a router (the
//! actix service config, plus the table of paths that turns a wrong method into a 405) and
//! against the OpenAPI document, so the two cannot disagree.

pub mod admin;
pub mod auth;
pub mod compat;
pub mod demo;
pub mod health;
pub mod me;
pub mod miniprogram;
pub mod oauth;
pub mod official;
pub mod oidc;
pub mod oidc_admin;
pub mod qr_logins;

use actix_web::dev::HttpServiceFactory;
use actix_web::http::Method;
use actix_web::web;
use utoipa::openapi::path::{HttpMethod, Paths};
use utoipa_actix_web::OpenApiFactory;

use crate::error::ApiError;
use crate::state::HttpOptions;

pub(crate) type Result<T> = std::result::Result<T, ApiError>;

/// Every endpoint of the API. Optional groups follow the options.
pub(crate) fn api(e: &mut Endpoints<'_>, options: &HttpOptions) {
    e.add(health::healthz)
        .add(health::readyz)
        .add(health::metrics)
        .add(miniprogram::login)
        .add(miniprogram::phone_number)
        .add(miniprogram::openid)
        .add(miniprogram::decrypt)
        .add(miniprogram::verify_signature)
        .add(qr_logins::start_qr_login)
        .add(qr_logins::scan_qr_login)
        .add(qr_logins::confirm_qr_login)
        .add(qr_logins::cancel_qr_login)
        .add(qr_logins::qr_login_image)
        .add(qr_logins::qr_login_status)
        .add(me::me)
        .add(me::update_me)
        .add(me::update_profile)
        .add(me::set_phone)
        .add(me::bind_wechat)
        .add(me::unbind_wechat)
        .add(me::unbind_identity)
        .add(auth::register)
        .add(auth::refresh)
        .add(auth::logout)
        .add(auth::jwks)
        .add(oauth::authorize)
        .add(oauth::token)
        .add(official::create_qrcode)
        .add(official::subscription)
        .add(official::verify_url)
        .add(official::receive_event)
        .add(official::start_qr_login)
        .add(official::poll_qr_login)
        .add(admin::list_apps)
        .add(admin::create_app)
        .add(admin::get_app)
        .add(admin::put_app)
        .add(admin::delete_app)
        .add(admin::list_users)
        .add(admin::get_user)
        .add(admin::delete_user)
        .add(admin::block_user)
        .add(admin::unblock_user)
        .add(admin::unbind_identity)
        .add(admin::unbind_identity_by_id)
        .add(admin::revoke_sessions)
        .add(admin::audit)
        .add(oidc_admin::list_clients)
        .add(oidc_admin::create_client)
        .add(oidc_admin::get_client)
        .add(oidc_admin::put_client)
        .add(oidc_admin::delete_client)
        .add(oidc_admin::rotate_client_secret)
        .add(oidc_admin::my_consents)
        .add(oidc_admin::withdraw_consents)
        .add(oidc_admin::withdraw_consent)
        .add(oidc::discovery)
        .add(oidc::authorize)
        .add(oidc::authorize_post)
        .add(oidc::callback)
        .add(oidc::sign_in_status)
        .add(oidc::consent_page)
        .add(oidc::consent)
        .add(oidc::token)
        .add(oidc::userinfo)
        .add(oidc::userinfo_post)
        .add(oidc::introspect)
        .add(oidc::revoke)
        .add(oidc::logout)
        .add(oidc::logout_post);
    if options.compat_routes {
        e.add(compat::strapi_v5_login)
            .add(compat::strapi_v5_phone)
            .add(compat::strapi_v5_openid)
            .add(compat::strapi_v5_update)
            .add(compat::strapi_v4_login)
            .add(compat::legacy_authorize)
            .add(compat::legacy_jwt);
    }
}

/// Where [`api`] declares its endpoints to.
pub(crate) enum Endpoints<'a> {
    /// Registers each endpoint with actix and remembers its path and methods.
    Router {
        cfg: &'a mut web::ServiceConfig,
        table: &'a mut RouteTable,
    },
    /// Collects each endpoint's documentation.
    Document {
        paths: &'a mut Paths,
        schemas: &'a mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    },
}

impl Endpoints<'_> {
    fn add<E>(&mut self, endpoint: E) -> &mut Self
    where
        E: HttpServiceFactory + OpenApiFactory + utoipa::Path + 'static,
    {
        match self {
            Endpoints::Router { cfg, table } => {
                table.add(&E::path(), &E::methods());
                cfg.service(endpoint);
            }
            Endpoints::Document { paths, schemas } => {
                paths.merge(endpoint.paths());
                endpoint.schemas(schemas);
            }
        }
        self
    }
}

/// The paths the router serves, with their methods: a request that matches a path but not a
/// method gets a 405 naming the methods that exist, instead of a 404.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<(actix_web::dev::ResourceDef, Vec<Method>)>,
}

impl RouteTable {
    fn add(&mut self, path: &str, methods: &[HttpMethod]) {
        let methods: Vec<Method> = methods.iter().filter_map(method_of).collect();
        self.add_route(path, &methods);
    }

    /// A route registered outside the endpoint list (Swagger UI, the demo page).
    pub(crate) fn add_route(&mut self, path: &str, methods: &[Method]) {
        match self
            .routes
            .iter_mut()
            .find(|(def, _)| def.pattern() == Some(path))
        {
            Some((_, known)) => known.extend(methods.iter().cloned()),
            None => self
                .routes
                .push((actix_web::dev::ResourceDef::new(path), methods.to_vec())),
        }
    }

    /// Whether `path` is a route of its own (no parameter in it): a parameter of a sibling
    /// route that also matches it (`/qr-logins/{loginId}` and `/qr-logins/scan`) does not count.
    pub fn is_static(&self, path: &str) -> bool {
        self.routes
            .iter()
            .any(|(def, _)| def.pattern() == Some(path))
    }

    /// The methods served at `path`, when any are. A static route shadows the patterns that
    /// also match it, as in the router.
    pub fn methods_at(&self, path: &str) -> Option<Vec<Method>> {
        let is_static = self.is_static(path);
        let mut found: Vec<Method> = self
            .routes
            .iter()
            .filter(|(def, _)| {
                if is_static {
                    def.pattern() == Some(path)
                } else {
                    def.is_match(path)
                }
            })
            .flat_map(|(_, methods)| methods.iter().cloned())
            .collect();
        if found.is_empty() {
            return None;
        }
        found.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        found.dedup();
        Some(found)
    }

    /// Every routed path and method, for the test that checks them against the document.
    pub fn entries(&self) -> Vec<(String, Method)> {
        self.routes
            .iter()
            .flat_map(|(def, methods)| {
                let path = def.pattern().unwrap_or_default().to_owned();
                methods.iter().map(move |m| (path.clone(), m.clone()))
            })
            .collect()
    }
}

fn method_of(m: &HttpMethod) -> Option<Method> {
    Some(match m {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Trace => Method::TRACE,
    })
}
