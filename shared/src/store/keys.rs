//! Every partition and sort key string of the table, in one place (README.md, "Table design").

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2: &str = "GSI2";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
/// DynamoDB TTL attribute (epoch seconds): the item may be purged after this instant.
pub const PURGE_AT: &str = "purge_at";

pub fn tenant(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}
pub const TENANT_SK: &str = "TENANT";
/// GSI1 partition listing every tenant (tenant items; GSI1SK = the tenant id).
pub const TENANTS: &str = "TENANTS";

pub fn user_sk(user_id: &str) -> String {
    format!("USER#{user_id}")
}
pub const USER_SK_PREFIX: &str = "USER#";

/// A team, in its tenant's partition (beside the users).
pub fn team_sk(team_id: &str) -> String {
    format!("TEAM#{team_id}")
}
pub const TEAM_SK_PREFIX: &str = "TEAM#";

/// The partition holding one team's members.
pub fn team_members(tenant_id: &str, team_id: &str) -> String {
    format!("TEAM#{tenant_id}#{team_id}")
}
pub fn member_sk(user_id: &str) -> String {
    format!("MEMBER#{user_id}")
}
pub const MEMBER_SK_PREFIX: &str = "MEMBER#";

pub fn email_sk(email: &str) -> String {
    format!("EMAIL#{email}")
}

/// The global index of one email's accounts: one item per tenant where the email has a
/// user (`SK` = [`tenant`]), written with the tenant's own `EMAIL#` marker. Sign-in reads it.
pub fn email_accounts(email: &str) -> String {
    format!("EMAIL#{email}")
}
pub const TENANT_SK_PREFIX: &str = "TENANT#";

/// The partition holding one user's own collections (logins, logs, chats ...).
pub fn user(tenant_id: &str, user_id: &str) -> String {
    format!("USER#{tenant_id}#{user_id}")
}

pub fn api_key(key_id: &str) -> String {
    format!("KEY#{key_id}")
}
pub const API_KEY_SK: &str = "KEY";

/// GSI1/GSI2 partition listing one user's keys (GSI2 holds only unrevoked ones).
pub fn user_keys(tenant_id: &str, user_id: &str) -> String {
    format!("USER#{tenant_id}#{user_id}#KEYS")
}

pub fn token(token_id: &str) -> String {
    format!("TOKEN#{token_id}")
}
pub const TOKEN_SK: &str = "TOKEN";

/// GSI1 partition listing one user's tokens and sessions.
pub fn user_tokens(tenant_id: &str, user_id: &str) -> String {
    format!("USER#{tenant_id}#{user_id}#TOKENS")
}

pub fn login_sk(login_id: &str) -> String {
    format!("LOGIN#{login_id}")
}
pub const LOGIN_SK_PREFIX: &str = "LOGIN#";

/// Prompt/completion log entries, in the user's partition.
pub fn prompt_log_sk(log_id: &str) -> String {
    format!("LOG#{log_id}")
}
pub const PROMPT_LOG_SK_PREFIX: &str = "LOG#";

/// A chat item, in its owner's partition (so another user's chat is simply absent).
pub fn chat_sk(chat_id: &str) -> String {
    format!("CHAT#{chat_id}")
}
pub const CHAT_SK_PREFIX: &str = "CHAT#";

/// The per-user item counting the user's chats (SK outside the `CHAT#` range).
pub const CHAT_COUNTER_SK: &str = "CHATS";

/// The partition holding one chat's messages.
pub fn chat_messages(chat_id: &str) -> String {
    format!("CHAT#{chat_id}")
}

/// A message's sort key: its sequence number, zero-padded so that string order is number order.
pub fn message_sk(seq: u64) -> String {
    format!("MSG#{seq:012}")
}
pub const MESSAGE_SK_PREFIX: &str = "MSG#";
/// A dataset's partition: the dataset item and one grant item per grantee.
pub fn dataset(tenant_id: &str, full_name: &str) -> String {
    format!("DATASET#{tenant_id}#{full_name}")
}
pub const DATASET_SK: &str = "DATASET";

pub fn grant_sk(user_id: &str) -> String {
    format!("GRANT#{user_id}")
}

/// GSI1 partition listing the datasets a user owns.
pub fn user_datasets(tenant_id: &str, user_id: &str) -> String {
    format!("USER#{tenant_id}#{user_id}#DATASETS")
}

/// GSI1 partition listing the datasets shared with a user (their grant items).
pub fn user_shared_datasets(tenant_id: &str, user_id: &str) -> String {
    format!("USER#{tenant_id}#{user_id}#SHARED")
}

/// GSI1 sort key of a dataset or grant item: a ULID taken when it was written (so a
/// descending Query is newest first), then the dataset, which makes the key unique.
pub fn dataset_listing_sk(listed_id: &str, full_name: &str) -> String {
    format!("{listed_id}#{full_name}")
}

/// One user's audit trail (events about what the user owns).
pub fn user_audit(tenant_id: &str, user_id: &str) -> String {
    format!("AUDIT#{tenant_id}#{user_id}")
}

/// GSI1 partition of a tenant's whole audit trail.
pub fn tenant_audit(tenant_id: &str) -> String {
    format!("AUDIT#{tenant_id}")
}

pub fn audit_event_sk(event_id: &str) -> String {
    format!("{AUDIT_EVENT_SK_PREFIX}{event_id}")
}
pub const AUDIT_EVENT_SK_PREFIX: &str = "EVENT#";

/// A remembered `Idempotency-Key` of one user's roll requests.
pub fn idempotency(tenant_id: &str, user_id: &str, key: &str) -> String {
    format!("IDEMPOTENCY#{tenant_id}#{user_id}#{key}")
}
pub const ROLL_IDEMPOTENCY_SK: &str = "ROLL";
/// A key's meter (its counters and balance), in the key's partition.
pub const METER_SK: &str = "METER";

/// One finished hour of a key's usage totals: the hour's start, zero-padded epoch seconds.
pub fn usage_sk(hour_start: i64) -> String {
    format!("USAGE#{hour_start:012}")
}

/// The marker of a usage report already recorded (idempotency by request id).
pub fn usage_report_sk(request_id: &str) -> String {
    format!("REPORT#{request_id}")
}

/// A tenant's webhook endpoint, in the tenant's partition.
pub fn webhook_sk(endpoint_id: &str) -> String {
    format!("WEBHOOK#{endpoint_id}")
}
pub const WEBHOOK_SK_PREFIX: &str = "WEBHOOK#";
/// A tenant's key policy, in the tenant's partition.
pub const TENANT_POLICY_SK: &str = "POLICY";

/// An endpoint's deliveries: one partition per endpoint, newest event last.
pub fn webhook_deliveries(tenant_id: &str, endpoint_id: &str) -> String {
    format!("WEBHOOK#{tenant_id}#{endpoint_id}")
}

pub fn delivery_sk(event_id: &str) -> String {
    format!("DELIVERY#{event_id}")
}
pub const DELIVERY_SK_PREFIX: &str = "DELIVERY#";

/// The sparse index of pending deliveries by when they are due (GSI2): every sender sweeps it.
pub const DELIVERIES_DUE: &str = "DELIVERIES_DUE";

/// A pending delivery's place in [`DELIVERIES_DUE`]: zero-padded so that text order is time
/// order.
pub fn due_sk(due_at: i64, tenant_id: &str, endpoint_id: &str, event_id: &str) -> String {
    format!("{due_at:012}#{tenant_id}#{endpoint_id}#{event_id}")
}
