//! Leaked-credential reports from a secret scanner (GitHub's partner program): a signed
//! list of tokens found in public places. Each one that is really ours is revoked at
//! once, with an audit event naming where it was found; the answer labels each token.

use super::{Error, Services};
use crate::domain::audit::{Actor, AuditEvent, EventType, Target};
use crate::domain::clock::now_epoch;
use crate::domain::credential::{self, CredentialKind};
use crate::domain::secret_scanning::{Label, MAX_REPORTED_TOKENS, ReportedToken, token_hash};

/// The answer for one reported token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub token_hash: String,
    pub token_type: String,
    pub label: Label,
}

impl Services {
    /// Verifies the report's signature over the raw `body` (nothing is read or changed
    /// before that), then revokes each reported credential of ours.
    pub async fn handle_leak_report(
        &self,
        key_identifier: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<Vec<Feedback>, Error> {
        self.config
            .secret_scanning_keys
            .verify(key_identifier, signature, body)
            .map_err(|refused| Error::Unauthenticated(refused.reason()))?;
        let reported: Vec<ReportedToken> = serde_json::from_slice(body).map_err(|e| {
            Error::invalid(
                "body",
                format!("expected a JSON array of {{token, type, url, source}}: {e}"),
            )
        })?;
        if reported.len() > MAX_REPORTED_TOKENS {
            return Err(Error::TooLarge {
                field: "body".into(),
                message: format!("a report may name at most {MAX_REPORTED_TOKENS} tokens"),
            });
        }
        let actor = Actor::system("secret_scanning", key_identifier.map(str::trim));
        let mut feedback: Vec<Feedback> = Vec::with_capacity(reported.len());
        for token in &reported {
            let hash = token_hash(&token.token);
            // A token named twice in one report is handled once.
            let label = match feedback.iter().find(|f| f.token_hash == hash) {
                Some(earlier) => earlier.label,
                None => self.revoke_leaked(token, &actor).await?,
            };
            feedback.push(Feedback {
                token_hash: hash,
                token_type: token.token_type.clone(),
                label,
            });
        }
        Ok(feedback)
    }

    /// Revokes one reported credential if it is ours (its secret matches what is stored);
    /// an already revoked one is still a true positive, and changes nothing.
    async fn revoke_leaked(&self, reported: &ReportedToken, actor: &Actor) -> Result<Label, Error> {
        // Format and checksum first: garbage costs no read.
        let Some(parsed) = credential::parse(&reported.token) else {
            return Ok(Label::FalsePositive);
        };
        if parsed.secret() != reported.token.trim() {
            return Ok(Label::FalsePositive); // Cogniac's KEYID:SECRET form is not a leak format
        }
        let where_found = |event: AuditEvent| {
            event
                .with_detail("url", reported.url.as_str())
                .with_detail("source", reported.source.as_str())
                .with_detail("token_type", reported.token_type.as_str())
        };
        let id = parsed.id.to_string();
        match parsed.kind {
            CredentialKind::ApiKey => {
                let Some((key, stored_hash)) = self.store.get_api_key(&id).await? else {
                    return Ok(Label::FalsePositive);
                };
                if !self.matches_stored(parsed.secret(), &stored_hash).await? {
                    return Ok(Label::FalsePositive);
                }
                self.revoke_key_audited(
                    key,
                    EventType::LeakedCredentialRevoked,
                    actor,
                    where_found,
                )
                .await?;
                self.forget_credential(&id);
            }
            CredentialKind::AccessToken | CredentialKind::Session => {
                let Some(found) = self.store.get_token_with_key(&id, None, &[], &[]).await? else {
                    return Ok(Label::FalsePositive);
                };
                if found.token.kind != parsed.kind
                    || !self.matches_stored(parsed.secret(), &found.hash).await?
                {
                    return Ok(Label::FalsePositive);
                }
                if found.token.revoked_at.is_none() {
                    let now = now_epoch();
                    let event = where_found(self.audit_event(
                        EventType::LeakedCredentialRevoked,
                        &found.token.tenant_id,
                        &found.token.user_id,
                        actor.clone(),
                        Target {
                            kind: found.token.kind.as_str(),
                            id: id.clone(),
                        },
                    ))
                    .changed("revoked_at", None::<i64>, now);
                    self.store.revoke_token(&id, now, &event).await?;
                }
                self.forget_credential(&id);
            }
        }
        Ok(Label::TruePositive)
    }
}
