//! keygate's own API, one router per endpoint group (each group is one Lambda function).

pub mod activity;
pub mod api_keys;
pub mod auth;
pub mod chats;
pub mod datasets;
pub mod sessions;
pub mod users;
pub(crate) mod views;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;

use crate::dialects;
use crate::http::Problem;
use crate::http::bare_errors::{Render, reshape};
use crate::http::json::MAX_BODY_BYTES;
use crate::services::Services;

/// Layers every group shares: the body limit, a problem+json 404 for unknown routes, and
/// problem+json for axum's own bare errors (405, 413 ...) wherever a dialect did not give
/// them its shape first.
pub fn finish(router: Router<Services>, services: Services) -> Router {
    router
        .fallback(|| async { Problem::not_found_route() })
        .layer(from_fn_with_state(Problem::render as Render, reshape))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(services)
}

/// Every group's routes at once, for the local server and the tests.
pub fn all(services: Services) -> Router {
    let routes = Router::new()
        .merge(auth::routes())
        .merge(sessions::routes())
        .merge(users::routes())
        .merge(api_keys::routes())
        .merge(chats::routes())
        .merge(activity::routes())
        .merge(datasets::routes())
        .merge(dialects::cogniac::routes())
        .merge(dialects::virtuousai::routes())
        .merge(dialects::assisters::routes())
        .merge(dialects::asksage::routes());
    finish(routes, services)
}

/// The `auth` function: token exchange, temp tokens, me, sessions, passwords and user
/// management.
pub fn auth_group(services: Services) -> Router {
    finish(
        Router::new()
            .merge(auth::routes())
            .merge(sessions::routes())
            .merge(users::routes()),
        services,
    )
}

/// The `api-keys` function.
pub fn api_keys(services: Services) -> Router {
    finish(api_keys::routes(), services)
}

/// The `chats` function: chat sessions and their messages.
pub fn chats(services: Services) -> Router {
    finish(chats::routes(), services)
}

/// The `activity` function: prompt logs and login history.
pub fn activity(services: Services) -> Router {
    finish(activity::routes(), services)
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
