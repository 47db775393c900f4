//! The answers of keygate's own API, as the types the handlers return: the OpenAPI document
//! is generated from them (`routes::openapi`), so it cannot drift from what is sent. Every
//! object is closed (`additionalProperties: false`); only the caller's own free-form maps
//! (`role_variables`, `user_profile`, an audit event's `change` and `detail`) are open.
//! Shapes a dialect shares live in `http::views`, below both.

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::domain::activity::Login;
use crate::domain::api_key::ApiKey;
use crate::domain::chat::{Chat, Message, Page};
use crate::domain::clock::to_rfc3339;
use crate::domain::dataset::{Classification, Grant, VisibleDataset};
use crate::domain::metering::{Metering, RateLimit, Refill};
use crate::domain::token::ChatRole;
use crate::domain::user::User;
use crate::http::cursor;
pub use crate::http::views::{PromptLogView, prompt_log};

/// A moment as RFC 3339 text, or nothing.
fn at(epoch: Option<i64>) -> Option<String> {
    epoch.map(to_rfc3339)
}

/// One rate limit of a key or a user's defaults.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RateLimit)]
pub struct RateLimitView {
    pub name: String,
    pub limit: u32,
    pub window_secs: u32,
    /// What the window counts when not requests (`tokens_out` ...): fed by usage reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl RateLimitView {
    pub fn of(limit: &RateLimit) -> Self {
        Self {
            name: limit.name.clone(),
            limit: limit.limit,
            window_secs: limit.window_secs,
            unit: (!limit.counts_requests()).then(|| limit.unit.clone()),
        }
    }

    pub fn all(limits: &[RateLimit]) -> Vec<Self> {
        limits.iter().map(Self::of).collect()
    }
}

/// How a balance refills: at each period start it becomes `amount`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Refill)]
pub struct RefillView {
    /// `daily` or `monthly`
    pub interval: &'static str,
    pub amount: i64,
    /// The day of the month a monthly refill happens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<u8>,
}

impl RefillView {
    pub fn of(refill: &Refill) -> Self {
        Self {
            interval: refill.interval.as_str(),
            amount: refill.amount,
            day: refill.day,
        }
    }
}

/// A key's credits: its refill and, where it was read, the live balance.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Credits)]
pub struct CreditsView {
    pub refill: Option<RefillView>,
    /// The live balance, in the answers that read it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<i64>,
}

/// A key's credits (none: not metered by credits).
pub fn credits(metering: &Metering, remaining: Option<i64>) -> Option<CreditsView> {
    metering.credits.as_ref().map(|policy| CreditsView {
        refill: policy.refill.as_ref().map(RefillView::of),
        remaining,
    })
}

/// A balance after a charge or a report.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Balance {
    pub remaining: i64,
}

/// What each end user of a key's temp tokens may spend, each on a meter of their own.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndUserBudget {
    pub ratelimits: Vec<RateLimitView>,
    pub credits: Option<EndUserCredits>,
}

/// The balance each end user starts with, and its refill.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndUserCredits {
    pub remaining: i64,
    pub refill: Option<RefillView>,
}

fn end_user_budget(budget: &Metering) -> Option<EndUserBudget> {
    budget.is_metered().then(|| EndUserBudget {
        ratelimits: RateLimitView::all(&budget.ratelimits),
        credits: budget.credits.as_ref().map(|c| EndUserCredits {
            remaining: c.initial.unwrap_or(0),
            refill: c.refill.as_ref().map(RefillView::of),
        }),
    })
}

/// An API key (never its hash). Its secret appears once, in `key`, in the answer that
/// creates or rolls it; a roll's answer also carries the old key and whether it replayed.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub key_prefix: String,
    #[schema(value_type = Vec<super::openapi::Scope>)]
    pub scopes: Vec<&'static str>,
    #[serde(rename = "type")]
    #[schema(value_type = super::openapi::KeyType)]
    pub key_type: &'static str,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub last_used_at: Option<String>,
    #[schema(format = DateTime)]
    pub revoked_at: Option<String>,
    pub is_active: bool,
    pub ratelimits: Vec<RateLimitView>,
    pub credits: Option<CreditsView>,
    /// The models the key may use by its own list (null: any); its creators' lists narrow
    /// it further.
    pub models: Option<Vec<String>>,
    /// What each end user of its temp tokens may spend (null: no end-user budget).
    pub end_user_budget: Option<EndUserBudget>,
    /// The team owning the key (a team key, a service account); null: a person's key.
    pub team_id: Option<String>,
    /// Who created a team key (null for a person's key).
    pub created_by: Option<String>,
    /// What the owner's systems call the key.
    pub external_id: Option<String>,
    pub tags: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Map<String, Value>>,
    /// The source networks the key may be used from by its own list (null: any); its
    /// creators' lists narrow it further.
    pub allowed_ips: Option<Vec<String>>,
    /// The secret: only in the answer that creates or rolls the key (null on a replayed
    /// roll: a secret is never shown twice).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub key: Option<Option<String>>,
    /// A roll's old key, as it now ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub rolled_from: Option<Box<ApiKeyView>>,
    /// In a roll's answer: whether it replays an earlier one (same `Idempotency-Key`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<bool>,
}

pub fn api_key(key: &ApiKey) -> ApiKeyView {
    ApiKeyView {
        id: key.id.clone(),
        name: key.name.clone(),
        key_prefix: key.key_prefix.clone(),
        scopes: key.scopes.names(),
        key_type: key.key_type.as_str(),
        created_at: to_rfc3339(key.created_at),
        expires_at: at(key.expires_at),
        last_used_at: at(key.last_used_at),
        revoked_at: at(key.revoked_at),
        is_active: key.is_active(crate::domain::clock::now_epoch()),
        ratelimits: RateLimitView::all(&key.metering.ratelimits),
        credits: credits(&key.metering, None),
        models: key.models.names().map(<[String]>::to_vec),
        end_user_budget: end_user_budget(&key.end_user_budget),
        team_id: key.team_id.clone(),
        created_by: key.created_by.clone(),
        external_id: key.metadata.external_id.clone(),
        tags: key.metadata.tags.clone(),
        meta: key.metadata.meta.clone(),
        allowed_ips: key.allowed_ips.names(),
        key: None,
        rolled_from: None,
        replayed: None,
    }
}

/// A key as created: the record plus its secret, shown this once.
pub fn created_key(key: &ApiKey, secret: &str) -> ApiKeyView {
    ApiKeyView {
        key: Some(Some(secret.to_owned())),
        ..api_key(key)
    }
}

/// One page of a cursor-paged list; `next_cursor` is null on the last.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CursorPage<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

pub fn cursor_page<T, V: ToSchema>(
    items: &[T],
    view: impl Fn(&T) -> V,
    next: Option<&str>,
) -> CursorPage<V> {
    CursorPage {
        items: items.iter().map(view).collect(),
        next_cursor: next.map(cursor::encode),
    }
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokedCount {
    pub revoked_count: u32,
}

/// A user of the tenant.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserView {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    pub name: Option<String>,
    #[schema(value_type = super::openapi::UserRole)]
    pub role: &'static str,
    pub cac_verified: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Each new key's own limits, in the answer that sets or reads them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_ratelimits: Option<Vec<RateLimitView>>,
    /// False once the user is deactivated (`DELETE /v1/users/{id}`).
    pub active: bool,
    #[schema(format = DateTime)]
    pub deactivated_at: Option<String>,
}

pub fn user(user: &User) -> UserView {
    UserView {
        id: user.id.clone(),
        tenant_id: user.tenant_id.clone(),
        email: user.email.clone(),
        name: user.name.clone(),
        role: user.role.as_str(),
        cac_verified: user.cac_verified,
        created_at: to_rfc3339(user.created_at),
        default_ratelimits: None,
        active: user.deactivated_at.is_none(),
        deactivated_at: user.deactivated_at.map(to_rfc3339),
    }
}

/// AskTable's chat object; the tenant is its project.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Chat)]
pub struct ChatView {
    pub id: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub modified_at: String,
    pub project_id: String,
    pub status: &'static str,
    pub status_message: Option<String>,
    pub bot_id: Option<String>,
    pub name: Option<String>,
    pub role_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub role_variables: Option<Map<String, Value>>,
    #[schema(value_type = Option<Object>)]
    pub user_profile: Option<Map<String, Value>>,
}

pub fn chat(chat: &Chat) -> ChatView {
    ChatView {
        id: chat.id.clone(),
        created_at: to_rfc3339(chat.created_at),
        modified_at: to_rfc3339(chat.modified_at),
        project_id: chat.tenant_id.clone(),
        status: chat.status.as_str(),
        status_message: chat.status_message.clone(),
        bot_id: chat.bot_id.clone(),
        name: chat.name.clone(),
        role_id: chat.role_id.clone(),
        role_variables: chat.role_variables.clone(),
        user_profile: chat.user_profile.clone(),
    }
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageContent {
    pub text: String,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Message)]
pub struct MessageView {
    pub id: String,
    pub chat_id: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(value_type = super::openapi::MessageRole)]
    pub role: &'static str,
    pub content: MessageContent,
    pub reply_to_msg_id: Option<String>,
}

pub fn message(message: &Message) -> MessageView {
    MessageView {
        id: message.id(),
        chat_id: message.chat_id.clone(),
        created_at: to_rfc3339(message.created_at),
        role: message.role.as_str(),
        content: MessageContent {
            text: message.text.clone(),
        },
        reply_to_msg_id: message.reply_to.map(|seq| seq.to_string()),
    }
}

/// AskTable's numbered page around any list.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberedPage<T: ToSchema> {
    pub items: Vec<T>,
    pub page: u64,
    pub size: u64,
    pub total: u64,
    pub pages: u64,
}

pub fn page<T, V: ToSchema>(page: &Page<T>, view: impl Fn(&T) -> V) -> NumberedPage<V> {
    NumberedPage {
        items: page.items.iter().map(view).collect(),
        page: page.request.page,
        size: page.request.size,
        total: page.total,
        pages: page.pages(),
    }
}

/// Ask Sage's login entry shape, plus how and with what the user signed in.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginView {
    #[schema(format = DateTime)]
    pub date_time: String,
    #[serde(rename = "IP")]
    pub ip: String,
    pub method: String,
    pub user_agent: String,
}

pub fn login(login: &Login) -> LoginView {
    LoginView {
        date_time: to_rfc3339(login.at),
        ip: login.ip.clone(),
        method: login.method.clone(),
        user_agent: login.user_agent.clone(),
    }
}

/// A list that is not paged (`limit` bounds it).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemList<T: ToSchema> {
    pub items: Vec<T>,
}

/// A dataset as the caller sees it; `grantees` only when asked for (`check_permissions`).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Dataset)]
pub struct DatasetView {
    pub full_name: String,
    pub name: String,
    pub owner_id: String,
    pub owner_email: String,
    pub cui: bool,
    #[schema(value_type = super::openapi::Classification)]
    pub classification: &'static str,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(value_type = super::openapi::Permission)]
    pub permission: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grantees: Option<Vec<GranteeView>>,
}

pub fn dataset(dataset: &VisibleDataset) -> DatasetView {
    DatasetView {
        full_name: dataset.full_name.as_str().to_owned(),
        name: dataset.name.clone(),
        owner_id: dataset.owner_id.clone(),
        owner_email: dataset.owner_email.clone(),
        cui: dataset.cui,
        classification: Classification::of(dataset.cui).as_str(),
        created_at: to_rfc3339(dataset.created_at),
        permission: dataset.permission.as_str(),
        grantees: dataset
            .grants
            .as_ref()
            .map(|grants| grants.iter().map(grantee).collect()),
    }
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Grantee)]
pub struct GranteeView {
    pub user_id: String,
    pub email: String,
    #[schema(value_type = super::openapi::Permission)]
    pub permission: &'static str,
    #[schema(format = DateTime)]
    pub granted_at: String,
}

pub fn grantee(grant: &Grant) -> GranteeView {
    GranteeView {
        user_id: grant.user_id.clone(),
        email: grant.email.clone(),
        permission: grant.permission.as_str(),
        granted_at: to_rfc3339(grant.granted_at),
    }
}

/// A token from an API key exchange or a temp-token mint.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuedToken {
    pub access_token: String,
    /// The same secret, under AskTable's name.
    pub token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds.
    pub expires_in: i64,
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// Who the presented credential is.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Me {
    /// `admin` or `asker`
    #[schema(value_type = super::openapi::KeyType)]
    pub ak_role: &'static str,
    pub project_id: String,
    pub locked: bool,
    pub user_id: String,
    pub email: String,
    #[schema(value_type = super::openapi::UserRole)]
    pub role: &'static str,
    pub credential_kind: &'static str,
    pub credential_id: String,
    #[schema(value_type = Vec<super::openapi::Scope>)]
    pub scopes: Vec<&'static str>,
    /// The models the credential may use (null: any).
    pub models: Option<Vec<String>>,
    /// The source networks the credential may be used from: its key's list narrowed by
    /// every key above it (null: any address).
    pub allowed_ips: Option<Vec<String>>,
    /// The key behind the credential.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ak_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub chat_role: Option<ChatRole>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub user_profile: Option<Map<String, Value>>,
    /// The end user a temp token was minted for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_user: Option<String>,
    /// The team owning the key behind the credential (a team key and its tokens; `user_id`
    /// is then the team's id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// Expiry, epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// The credential's own limits.
    pub ratelimits: Vec<RateLimitView>,
    pub credits: Option<CreditsView>,
}

#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionUser {
    pub id: String,
    pub tenant_id: String,
    pub email: String,
    #[schema(value_type = super::openapi::UserRole)]
    pub role: &'static str,
}

/// A new session; the same secret is set as the `keygate_session` cookie.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub session: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub session_id: String,
    pub user: SessionUser,
}
