//! Staff passwords: argon2id (the crate's defaults: m=19 MiB, t=2, p=1) in PHC string form.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};

pub const MIN_LEN: usize = 10;

/// A hash of no one's password: checked against for unknown users, so timing does not tell which names exist.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3nK8rW1bVn0wDzj6s1ZlQj3mWlq2cP8yQkXnH3pYbqY";

pub fn hash(password: &str) -> Result<String, crate::AppError> {
    Ok(Argon2::default().hash_password(password.as_bytes()).map_err(crate::AppError::internal)?.to_string())
}

pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// At least ten characters with letters and digits.
pub fn check_policy(password: &str) -> Result<(), String> {
    let long = password.chars().count() >= MIN_LEN;
    let letters = password.chars().any(|c| c.is_alphabetic());
    let digits = password.chars().any(|c| c.is_ascii_digit());
    if long && letters && digits { Ok(()) } else { Err(format!("密码至少 {MIN_LEN} 位，且须同时包含字母和数字")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("Longxian-2026").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Longxian-2026", &h));
        assert!(!verify("longxian-2026", &h));
        assert!(!verify("x", "not a hash"));
        assert!(check_policy("short1").is_err());
        assert!(check_policy("onlyletterslong").is_err());
        assert!(check_policy("Longxian-2026").is_ok());
    }
}
