//! The table of keygate's own routes, as data: the route policy is checked against it when
//! the configuration parses the policy, so it sits below the configuration, never in the
//! routers (`routes::KEYGATE_ROUTES` re-exports it).

use super::route_policy::{KeygateRoute, Needs};
use super::scope::Scope;

/// Every route keygate's functions serve, as the template declares them (or broader), with
/// the check each function makes itself. The route policy leaves these to their functions
/// unless it names them, and then it must agree (`RoutePolicy::parse` refuses otherwise).
pub const KEYGATE_ROUTES: &[KeygateRoute] = &[
    KeygateRoute::public("POST /v1/auth/token"),
    KeygateRoute::askers_too("POST /v1/auth/tokens", None),
    KeygateRoute::askers_too("GET /v1/auth/me", None),
    KeygateRoute::public("POST /v1/sessions"),
    KeygateRoute::public("GET /"),
    KeygateRoute::public("GET /dashboard/{asset}"),
    KeygateRoute::full("DELETE /v1/sessions", None),
    KeygateRoute::needing("ANY /v1/users", Needs::TenantAdmin, None),
    KeygateRoute::needing("ANY /v1/users/{proxy+}", Needs::TenantAdmin, None),
    KeygateRoute::needing("PUT /v1/users/me/password", Needs::FullRights, None),
    // A user reads their own budget; the service lets only tenant admins read another's.
    KeygateRoute::full("GET /v1/users/{user_id}/budget", None),
    KeygateRoute::needing("GET /v1/tenant/budget", Needs::TenantAdmin, None),
    KeygateRoute::needing("ANY /v1/webhooks", Needs::TenantAdmin, None),
    KeygateRoute::needing("ANY /v1/webhooks/{proxy+}", Needs::TenantAdmin, None),
    KeygateRoute::needing("ANY /v1/teams", Needs::TenantAdmin, None),
    // Tenant admins manage teams and members; a team's admins (members of the tenant) its
    // keys and budget: the service tells them apart.
    KeygateRoute::needing("ANY /v1/teams/{proxy+}", Needs::Manager, None),
    KeygateRoute::needing("GET /v1/tenant/policy", Needs::TenantAdmin, None),
    KeygateRoute::needing("PUT /v1/tenant/policy", Needs::TenantAdmin, None),
    KeygateRoute::needing("ANY /v1/api-keys", Needs::Manager, None),
    KeygateRoute::needing("ANY /v1/api-keys/{proxy+}", Needs::Manager, None),
    KeygateRoute::full("GET /v1/api-keys/{key_id}/usage", None),
    KeygateRoute::needing("POST /v1/keys/verify", Needs::Manager, Some(Scope::Verify)),
    // A scanner signs its report instead of presenting a credential.
    KeygateRoute::public("POST /v1/secret-scanning/report"),
    KeygateRoute::full("POST /v1/usage", Some(Scope::Usage)),
    KeygateRoute::public("GET /v1/openapi.json"),
    KeygateRoute::full("ANY /v1/datasets", None),
    KeygateRoute::full("ANY /v1/datasets/{proxy+}", None),
    KeygateRoute::askers_too("ANY /v1/chats", Some(Scope::Chat)),
    KeygateRoute::askers_too("ANY /v1/chats/{proxy+}", Some(Scope::Chat)),
    KeygateRoute::full("GET /v1/logs", Some(Scope::Read)),
    KeygateRoute::full("GET /v1/logins", Some(Scope::Read)),
    KeygateRoute::full("GET /v1/audit", None),
    KeygateRoute::public("GET /1/token"),
    KeygateRoute::public("GET /1/users/current/tenants"),
    KeygateRoute::public("GET /21/users/mfa/status"),
    KeygateRoute::full("GET /1/tenants/current", None),
    KeygateRoute::full("GET /1/users/current", None),
    KeygateRoute::full("ANY /1/users/{user_id}/apiKeys", None),
    KeygateRoute::full("ANY /1/users/{user_id}/apiKeys/{key_id}", None),
    KeygateRoute::full("ANY /api/v1/access-tokens", None),
    KeygateRoute::full("ANY /api/v1/access-tokens/{token_id}", None),
    KeygateRoute::full("ANY /api/keys", None),
    KeygateRoute::full("ANY /api/keys/{id}", None),
    KeygateRoute::public("POST /user/get-token-with-api-key"),
    KeygateRoute::askers_too("ANY /user/{proxy+}", None),
];
