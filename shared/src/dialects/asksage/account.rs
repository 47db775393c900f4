//! Tokens, logs, logins and API keys: `get-token-with-api-key`, `get-user-logs`,
//! `get-user-logins`, `get-user-api-keys` and `user-api-key` (POST creates, DELETE deletes).

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use super::envelope::Envelope;
use super::request::{SageRequest, required};
use super::views;
use crate::domain::token::scalar_as_string;
use crate::services::api_keys::{NewKeyInput, ScopePolicy};
use crate::services::{Error, Services};

/// One answer lists at most this many keys (active ones are at most 10 per user; paused
/// ones are not bounded); keygate's `/v1/api-keys` pages through any more.
pub const MAX_KEYS_LISTED: usize = 1000;

#[derive(Deserialize)]
struct TokenBody {
    email: Option<String>,
    api_key: Option<String>,
}

/// Public: exchanges an email and API key for a 24-hour access token.
pub async fn get_token_with_api_key(
    State(services): State<Services>,
    request: SageRequest,
) -> Envelope {
    let result = async {
        let body: TokenBody = request.body()?;
        let issued = services
            .exchange_api_key(
                body.email.as_deref(),
                body.api_key.as_deref(),
                &request.client,
            )
            .await?;
        Ok(json!({ "access_token": issued.secret }))
    };
    Envelope::answer_refusing_credentials_with_400(result.await)
}

/// The caller's latest prompts and completions, newest first.
pub async fn get_user_logs(State(services): State<Services>, request: SageRequest) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        request.no_parameters()?;
        let logs = services.list_prompt_logs(&caller, None).await?;
        Ok(logs
            .iter()
            .map(|log| serde_json::json!(views::prompt_log(log)))
            .collect())
    };
    Envelope::answer(result.await)
}

#[derive(Deserialize)]
struct LoginsBody {
    limit: Option<i64>,
}

/// The caller's latest logins (`limit` 1..=100, 5 by default), newest first.
pub async fn get_user_logins(State(services): State<Services>, request: SageRequest) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        let body: LoginsBody = request.body()?;
        let logins = services.list_logins(&caller, body.limit).await?;
        Ok(logins.iter().map(views::login).collect())
    };
    Envelope::answer(result.await)
}

/// The caller's keys, active and paused (deleted ones are gone), newest first; never a
/// secret.
pub async fn get_user_api_keys(State(services): State<Services>, request: SageRequest) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        request.no_parameters()?;
        let mut keys = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = services
                .list_api_keys(&caller, false, 100, after.as_deref())
                .await?;
            keys.extend(page.keys);
            match page.next_after {
                Some(next) if keys.len() < MAX_KEYS_LISTED => after = Some(next),
                _ => break,
            }
        }
        keys.truncate(MAX_KEYS_LISTED);
        Ok(keys.iter().map(views::api_key).collect())
    };
    Envelope::answer_refusing_credentials_with_400(result.await)
}

#[derive(Deserialize)]
struct CreateKeyBody {
    name: Option<String>,
}

/// Creates a key for the caller, with the scopes of the credential that asks (Ask Sage
/// keys act as their user; keygate never lets a key mint a stronger one).
pub async fn create_api_key(State(services): State<Services>, request: SageRequest) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        let body: CreateKeyBody = request.body()?;
        let name = required("name", &body.name)?.to_owned();
        let input = NewKeyInput::standing_in_for(&caller, Some(name));
        let created = services
            .create_api_key(&caller, input, ScopePolicy::ALL)
            .await?;
        Ok(views::created_key(&created.key, &created.secret))
    };
    Envelope::answer(result.await)
}

#[derive(Deserialize)]
struct DeleteKeyBody {
    #[serde(default, deserialize_with = "scalar_as_string")]
    id: Option<String>,
}

/// Deletes (revokes) one of the caller's keys, and every token it minted. A key already
/// deleted is "not found", as it is no longer listed.
pub async fn delete_api_key(State(services): State<Services>, request: SageRequest) -> Envelope {
    let result = async {
        let caller = request.caller(&services).await?;
        let body: DeleteKeyBody = request.body()?;
        let id = required("id", &body.id)?;
        let key = services.get_api_key(&caller, id).await?;
        if key.revoked_at.is_some() {
            return Err(Error::NotFound("API key"));
        }
        services.revoke_api_key(&caller, id).await?;
        Ok(json!("API key deleted successfully"))
    };
    Envelope::answer(result.await)
}
