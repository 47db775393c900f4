//! keygate's own API, one router per endpoint group (each group is one Lambda function).

pub mod activity;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod budgets;
pub mod chats;
pub mod dashboard;
pub mod datasets;
pub mod key_check;
pub mod openapi;
pub mod secret_scanning;
pub mod sessions;
pub mod teams;
pub mod tenant_policy;
pub mod usage;
pub mod users;
pub(crate) mod views;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;

use crate::dialects;
use crate::http::bare_errors::{Render, reshape};
use crate::http::json::MAX_BODY_BYTES;
use crate::http::metering::meter_headers;
use crate::http::{Problem, access_log};
use crate::services::Services;

pub use crate::domain::route_table::KEYGATE_ROUTES;

/// Layers every group shares: the body limit, a problem+json 404 for unknown routes, and
/// problem+json for axum's own bare errors (405, 413 ...) wherever a dialect did not give
/// them its shape first; a log line per request.
///
/// `Router::layer` wraps every route one by one, at init: only the access log, which needs
/// the matched route template, is layered that way; the rest wrap the routed group once, as
/// its fallback service (a third of a large group's init instructions; README, "Cold start").
pub fn finish(router: Router<Services>, services: Services) -> Router {
    let routed = router
        .fallback(|| async { Problem::not_found_route() })
        .layer(axum::middleware::from_fn(access_log::log_request))
        .with_state(services);
    Router::new()
        .fallback_service(routed)
        .layer(from_fn_with_state(Problem::render as Render, reshape))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(
            crate::http::client_info::record_origin,
        ))
        .layer(axum::middleware::from_fn(meter_headers))
}

/// Every group's routes at once, for the local server and the tests.
pub fn all(services: Services) -> Router {
    let routes = Router::new()
        .merge(auth::routes())
        .merge(sessions::routes())
        .merge(users::routes())
        .merge(budgets::routes())
        .merge(webhooks::routes())
        .merge(teams::routes())
        .merge(tenant_policy::routes())
        .merge(dashboard::routes())
        .merge(api_keys::routes())
        .merge(key_check::routes())
        .merge(openapi::routes())
        .merge(secret_scanning::routes())
        .merge(usage::routes())
        .merge(chats::routes())
        .merge(activity::routes())
        .merge(audit::routes())
        .merge(datasets::routes())
        .merge(dialects::cogniac::routes())
        .merge(dialects::virtuousai::routes())
        .merge(dialects::assisters::routes())
        .merge(dialects::asksage::routes());
    finish(routes, services)
}

/// The `auth` function: token exchange, temp tokens, me, sessions, passwords and the dashboard
/// page (whose first request is a sign-in here anyway).
pub fn auth_group(services: Services) -> Router {
    finish(
        Router::new()
            .merge(auth::routes())
            .merge(sessions::routes())
            .merge(dashboard::routes()),
        services,
    )
}

/// The `tenant-admin` function: what a tenant's admins run, rarely and never on a request's
/// path: users and their offboarding, user and tenant budgets, the key policy. Apart from
/// `auth`, whose sign-ins are on every dashboard's path, so that neither carries the other's
/// code (README, "Cold start").
pub fn tenant_admin(services: Services) -> Router {
    finish(
        Router::new()
            .merge(users::routes())
            .merge(budgets::routes())
            .merge(tenant_policy::routes()),
        services,
    )
}

/// The `teams` function: teams, their members, keys and budgets.
pub fn teams(services: Services) -> Router {
    finish(teams::routes(), services)
}

/// The `webhooks` function: webhook endpoints and their deliveries (the notifier sends them).
pub fn webhooks(services: Services) -> Router {
    finish(webhooks::routes(), services)
}

/// The `api-keys` function: the caller's keys and rolls, the verify API for other
/// services, leaked-key reports, and the OpenAPI document.
pub fn api_keys(services: Services) -> Router {
    finish(
        Router::new()
            .merge(api_keys::routes())
            .merge(key_check::routes())
            .merge(secret_scanning::routes())
            .merge(usage::routes())
            .merge(openapi::routes()),
        services,
    )
}

/// The `chats` function: chat sessions and their messages.
pub fn chats(services: Services) -> Router {
    finish(chats::routes(), services)
}

/// The `activity` function: prompt logs, login history and the audit trail.
pub fn activity(services: Services) -> Router {
    finish(
        Router::new()
            .merge(activity::routes())
            .merge(audit::routes()),
        services,
    )
}

/// The `datasets` function.
pub fn datasets(services: Services) -> Router {
    finish(datasets::routes(), services)
}

/// The `cogniac` function: Cogniac's `/1/...` surface.
pub fn cogniac(services: Services) -> Router {
    finish(dialects::cogniac::routes(), services)
}

/// The `virtuousai` function: VirtuousAI's `/api/v1/access-tokens`.
pub fn virtuousai(services: Services) -> Router {
    finish(dialects::virtuousai::routes(), services)
}

/// The `assisters` function: Assisters' `/api/keys`.
pub fn assisters(services: Services) -> Router {
    finish(dialects::assisters::routes(), services)
}

/// The `asksage` function: Ask Sage's User API at `/user/*`.
pub fn asksage(services: Services) -> Router {
    finish(dialects::asksage::routes(), services)
}
