//! The activity a user leaves behind, as read back: sign-ins and prompt logs. The store
//! converts its items to these; every surface renders them.

/// One sign-in, from the login history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub id: String,
    pub at: i64,
    pub ip: String,
    pub user_agent: String,
    pub method: String,
}

/// One prompt and its completion, from the prompt logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptLog {
    pub id: String,
    /// When the prompt was asked.
    pub at: i64,
    pub prompt: String,
    pub completion: String,
    /// The address the prompt came from.
    pub ip: String,
    pub chat_id: Option<String>,
}
