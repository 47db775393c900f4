//! Passwords: what a new one must look like, how it is hashed (Argon2id, a random salt per
//! hash, stored as a PHC string) and how repeated failures lock an account for a while.
//!
//! Rules for a new password follow NIST SP 800-63B (length over composition): 12 to 128
//! characters, no control characters, and at least 6 distinct characters so that
//! `aaaaaaaaaaaa` or `abababababab` are refused. There is no upper/lower/digit rule.

use std::sync::{Arc, OnceLock};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use super::Invalid;

/// Consecutive failed sign-ins (each within the lockout of the previous one) that lock an
/// account until the lockout has passed since the last of them.
pub const MAX_FAILED_SIGN_INS: i64 = 5;
/// How long an account stays locked after its last failure, and how long a failure counts
/// towards a streak (the default of `KEYGATE_SIGN_IN_LOCKOUT_SECS`).
pub const DEFAULT_LOCKOUT_SECS: i64 = 15 * 60;

/// A new password that meets the rules; its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl Password {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 128;
    pub const MIN_DISTINCT_CHARS: usize = 6;

    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let chars = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(Invalid::new(
                field,
                format!(
                    "must be from {} to {} characters",
                    Self::MIN_CHARS,
                    Self::MAX_CHARS
                ),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(Invalid::new(field, "must not contain control characters"));
        }
        let mut distinct: Vec<char> = raw.chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < Self::MIN_DISTINCT_CHARS {
            return Err(Invalid::new(
                field,
                format!(
                    "must use at least {} different characters",
                    Self::MIN_DISTINCT_CHARS
                ),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Argon2id cost: memory in KiB and passes. The default (19 MiB, 2 passes, 1 lane) is
/// OWASP's baseline and takes tens of milliseconds on a Lambda vCPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for HashCost {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

/// Hashes and verifies passwords. Verification reads the cost from the stored PHC string,
/// so hashes made under an older cost keep working after the cost changes.
#[derive(Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    /// A hash of a random password, verified against when there is no real hash, so a
    /// missing account costs the same time as a wrong password. Made on first use, so
    /// functions that never check a password never pay for it.
    dummy: Arc<OnceLock<String>>,
}

impl PasswordHasher {
    pub fn new(cost: HashCost) -> Self {
        let params = Params::new(cost.memory_kib, cost.iterations, 1, None)
            .expect("cost is within Argon2's bounds (checked by the configuration)");
        Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            dummy: Arc::default(),
        }
    }

    /// The PHC string (`$argon2id$v=19$m=...$salt$hash`) of a new password.
    pub fn hash(&self, password: &Password) -> String {
        hash_with(&self.argon2, password.as_str().as_bytes())
    }

    /// Whether `candidate` matches `stored` (a PHC string). With no stored hash, or an
    /// over-long candidate, a dummy verification runs and the answer is false.
    pub fn verify(&self, candidate: &str, stored: Option<&str>) -> bool {
        let too_long = candidate.chars().count() > Password::MAX_CHARS;
        match stored {
            Some(phc) if !too_long => PasswordHash::new(phc).is_ok_and(|parsed| {
                self.argon2
                    .verify_password(candidate.as_bytes(), &parsed)
                    .is_ok()
            }),
            _ => {
                let dummy = self.dummy.get_or_init(|| {
                    let mut random = [0u8; 24];
                    getrandom::fill(&mut random).expect("the OS random number generator works");
                    hash_with(&self.argon2, &random)
                });
                let parsed = PasswordHash::new(dummy).expect("the dummy hash parses");
                let _ = self.argon2.verify_password(candidate.as_bytes(), &parsed);
                false
            }
        }
    }
}

fn hash_with(argon2: &Argon2<'_>, secret: &[u8]) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the OS random number generator is available");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    argon2
        .hash_password(secret, &salt)
        .expect("Argon2 accepts any password and a 16-byte salt")
        .to_string()
}

/// The instant before which a failure no longer continues a streak (nor keeps a lock).
pub fn streak_start(now: i64, lockout_secs: i64) -> i64 {
    now - lockout_secs
}

/// A user's streak of failed sign-ins, as last read: how many, and when the last one was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureStreak {
    pub failures: i64,
    pub last_at: Option<i64>,
}

/// How the next sign-in attempt counts against a streak. Every attempt is counted before
/// its password is checked, so at most [`MAX_FAILED_SIGN_INS`] checks per streak can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAttempt {
    /// No streak within the lockout: the attempt starts a new one.
    Start,
    /// A streak below the limit: the attempt continues it.
    Continue,
    /// A full streak within the lockout: the account is locked, the password not checked.
    Locked,
}

impl FailureStreak {
    pub fn next_attempt(&self, now: i64, lockout_secs: i64) -> NextAttempt {
        match self.last_at {
            Some(at) if at >= streak_start(now, lockout_secs) => {
                if self.failures >= MAX_FAILED_SIGN_INS {
                    NextAttempt::Locked
                } else {
                    NextAttempt::Continue
                }
            }
            _ => NextAttempt::Start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(HashCost {
            memory_kib: 64,
            iterations: 1,
        })
    }

    #[test]
    fn rules_are_length_and_breadth() {
        assert!(Password::parse("password", "correct horse battery").is_ok());
        assert_eq!(
            Password::parse("password", "short").unwrap_err().field,
            "password"
        );
        assert!(Password::parse("password", &"x".repeat(129)).is_err());
        assert!(Password::parse("password", "aaaaaaaaaaaaaaaa").is_err());
        assert!(Password::parse("password", "abababababababab").is_err());
        assert!(Password::parse("password", "line\nbreak and more").is_err());
        assert!(Password::parse("password", "ünïcødé pässwörd").is_ok());
        assert_eq!(
            format!(
                "{:?}",
                Password::parse("p", "correct horse battery").unwrap()
            ),
            "Password(<redacted>)"
        );
    }

    #[test]
    fn hashes_are_salted_argon2id_and_verify() {
        let hasher = cheap();
        let password = Password::parse("password", "correct horse battery").unwrap();
        let one = hasher.hash(&password);
        let two = hasher.hash(&password);
        assert!(one.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{one}");
        assert_ne!(one, two, "a fresh salt per hash");
        assert!(!one.contains("correct"));
        assert!(hasher.verify("correct horse battery", Some(&one)));
        assert!(!hasher.verify("correct horse batterY", Some(&one)));
        assert!(!hasher.verify("correct horse battery", None));
        assert!(!hasher.verify("correct horse battery", Some("not a phc")));
        assert!(!hasher.verify(&"x".repeat(500), Some(&one)));
    }

    #[test]
    fn hashes_made_under_another_cost_still_verify() {
        let old = cheap().hash(&Password::parse("p", "correct horse battery").unwrap());
        let current = PasswordHasher::new(HashCost {
            memory_kib: 128,
            iterations: 2,
        });
        assert!(current.verify("correct horse battery", Some(&old)));
    }

    #[test]
    fn the_rules_hold_at_their_bounds() {
        assert!(
            Password::parse("p", "abcdefabcdef").is_ok(),
            "12 characters, 6 distinct"
        );
        assert!(Password::parse("p", "abcdeabcdeab").is_err(), "5 distinct");
        assert!(
            Password::parse("p", "abcdefabcde").is_err(),
            "11 characters"
        );
        assert!(
            Password::parse("p", &"abcdef".repeat(22)[..128]).is_ok(),
            "128"
        );
        assert!(
            Password::parse("p", &"abcdef".repeat(22)[..129]).is_err(),
            "129"
        );
    }

    #[test]
    fn an_over_long_candidate_never_matches() {
        let hasher = cheap();
        let longest = "abcdef".repeat(22)[..128].to_owned();
        let phc = hasher.hash(&Password::parse("p", &longest).unwrap());
        assert!(
            hasher.verify(&longest, Some(&phc)),
            "128 characters are checked"
        );
        let over = "abcdef".repeat(22)[..129].to_owned();
        let phc = hash_with(&hasher.argon2, over.as_bytes());
        assert!(
            !hasher.verify(&over, Some(&phc)),
            "129 are not, even when they match"
        );
    }

    #[test]
    fn a_streak_lasts_the_lockout() {
        assert_eq!(streak_start(1_000_000, DEFAULT_LOCKOUT_SECS), 999_100);
    }

    #[test]
    fn attempts_start_continue_or_meet_a_lock() {
        let now = 1_000_000;
        let lockout = DEFAULT_LOCKOUT_SECS;
        let streak = |failures, last_at| FailureStreak { failures, last_at };
        assert_eq!(
            FailureStreak::default().next_attempt(now, lockout),
            NextAttempt::Start
        );
        assert_eq!(
            streak(4, Some(now - lockout)).next_attempt(now, lockout),
            NextAttempt::Continue
        );
        assert_eq!(
            streak(5, Some(now - 1)).next_attempt(now, lockout),
            NextAttempt::Locked
        );
        assert_eq!(
            streak(5, Some(now - lockout - 1)).next_attempt(now, lockout),
            NextAttempt::Start,
            "a lock ends with the lockout"
        );
    }
}
