//! Password hashes imported from Django (`userd import django`), verified as Django's
//! hashers make them, so nobody has to reset a password after the move. A legacy hash is
//! replaced by argon2id on the first successful login (see `Accounts`).
//!
//! The formats (`django/contrib/auth/hashers.py`):
//! - `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` and `pbkdf2_sha1$…` (the salt is
//!   used as its UTF-8 bytes; the hash is as long as the digest);
//! - `argon2$argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>`: argon2-cffi's PHC string with
//!   Django's `argon2` prefix in place of the leading `$` (see [`argon2_phc`]);
//! - `bcrypt_sha256$$2b$<cost>$…`: bcrypt over the lowercase hex SHA-256 of the password;
//! - `bcrypt$$2b$<cost>$…`: bcrypt over the password (its first 72 bytes);
//! - `scrypt$<n>$<salt>$<r>$<p>$<base64 hash>`: a 64-byte scrypt output;
//! - `!…`: Django's unusable password, which matches nothing.
//!
//! Every primitive comes from a maintained crate (PBKDF2 and SHA-256 from aws-lc-rs, the
//! crypto provider already in the tree; `bcrypt`; `scrypt`); every comparison of a derived
//! value is constant-time. These functions block: the hashing pool runs them.

use std::{borrow::Cow, num::NonZeroU32};

use aws_lc_rs::pbkdf2;
use base64::{Engine, engine::general_purpose::STANDARD};

use super::crypto;

/// More PBKDF2 iterations than any Django release uses (1,200,000 in 5.2): a stored
/// value beyond it is refused rather than allowed to occupy a hashing thread for minutes.
const MAX_PBKDF2_ITERATIONS: u32 = 20_000_000;
/// scrypt's memory is 128 · n · r bytes; Django's default is 16 MiB. 1 GiB at most.
const MAX_SCRYPT_BYTES: u64 = 1 << 30;

/// Whether `stored` is one of the Django formats above (the unusable `!…` included):
/// what `import` keeps as it is. Anything else is reported and not imported.
pub fn is_django_hash(stored: &str) -> bool {
    if stored.starts_with('!') {
        return true;
    }
    let algorithm = stored.split_once('$').map(|(a, _)| a);
    matches!(algorithm, Some("pbkdf2_sha256" | "pbkdf2_sha1" | "argon2" | "bcrypt_sha256" | "bcrypt" | "scrypt"))
}

/// Whether `stored` is a Django hash that a successful login should replace with
/// argon2id (userd's own hashes are PHC strings, which start with `$`).
pub fn is_legacy(stored: &str) -> bool {
    !stored.starts_with('$') && is_django_hash(stored)
}

/// A Django `argon2$…` hash as the PHC string it wraps, which the argon2 verifier reads.
pub fn argon2_phc(stored: &str) -> Option<Cow<'_, str>> {
    stored.strip_prefix("argon2$").map(|rest| Cow::Owned(format!("${rest}")))
}

/// Verifies `password` against a Django hash other than `argon2$…` (see [`argon2_phc`]).
/// A malformed or unknown hash, and the unusable `!…`, never match.
pub fn verify(password: &[u8], stored: &str) -> bool {
    let Some((algorithm, rest)) = stored.split_once('$') else { return false };
    match algorithm {
        "pbkdf2_sha256" => verify_pbkdf2(pbkdf2::PBKDF2_HMAC_SHA256, 32, password, rest),
        "pbkdf2_sha1" => verify_pbkdf2(pbkdf2::PBKDF2_HMAC_SHA1, 20, password, rest),
        "bcrypt_sha256" => {
            // Django pre-hashes so that bcrypt's 72-byte limit does not cut long passwords.
            let prehashed = hex::encode(crypto::sha256(password));
            bcrypt::verify(prehashed.as_bytes(), rest).unwrap_or(false)
        }
        "bcrypt" => bcrypt::verify(password, rest).unwrap_or(false),
        "scrypt" => verify_scrypt(password, rest),
        _ => false,
    }
}

/// `<iterations>$<salt>$<base64 hash>`.
fn verify_pbkdf2(alg: pbkdf2::Algorithm, len: usize, password: &[u8], rest: &str) -> bool {
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(hash)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Some(iterations) = iterations.parse::<u32>().ok().filter(|i| *i <= MAX_PBKDF2_ITERATIONS) else {
        return false;
    };
    let Some(iterations) = NonZeroU32::new(iterations) else { return false };
    let Ok(expected) = STANDARD.decode(hash) else { return false };
    if expected.len() != len {
        return false;
    }
    // aws-lc-rs compares the derived bytes in constant time.
    pbkdf2::verify(alg, iterations, salt.as_bytes(), password, &expected).is_ok()
}

/// `<n>$<salt>$<r>$<p>$<base64 hash>`.
fn verify_scrypt(password: &[u8], rest: &str) -> bool {
    let parts: Vec<&str> = rest.splitn(5, '$').collect();
    let [n, salt, r, p, hash] = parts.as_slice() else { return false };
    let (Ok(n), Ok(r), Ok(p)) = (n.parse::<u64>(), r.parse::<u32>(), p.parse::<u32>()) else { return false };
    if !n.is_power_of_two() || n < 2 || 128u64.saturating_mul(n).saturating_mul(u64::from(r)) > MAX_SCRYPT_BYTES {
        return false;
    }
    let Ok(log_n) = u8::try_from(n.trailing_zeros()) else { return false };
    let Ok(params) = scrypt::Params::new(log_n, r, p) else { return false };
    let Ok(expected) = STANDARD.decode(hash) else { return false };
    if expected.is_empty() || expected.len() > 1024 {
        return false;
    }
    let mut out = vec![0u8; expected.len()];
    scrypt::scrypt(password, salt.as_bytes(), &params, &mut out).is_ok() && crypto::ct_eq(&out, &expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Made by Django 5.2's hashers with the password "correct horse battery staple"
    // (cheap parameters, so the unit tests stay fast; the end-to-end test uses Django's
    // defaults).
    const PASSWORD: &[u8] = b"correct horse battery staple";

    #[test]
    fn the_formats_are_recognised_and_userds_own_hashes_are_not_legacy() {
        assert!(is_django_hash("!abcdef"));
        assert!(is_django_hash("pbkdf2_sha256$1000$salt$aGFzaA=="));
        assert!(!is_django_hash("md5$salt$hash"));
        assert!(!is_django_hash("plain text"));
        assert!(is_legacy("bcrypt$$2b$04$abc"));
        assert!(!is_legacy("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"));
        assert_eq!(argon2_phc("argon2$argon2id$v=19$x").as_deref(), Some("$argon2id$v=19$x"));
    }

    #[test]
    fn pbkdf2_hashes_verify_with_the_right_password_only() {
        let salt = "sixteencharsalt1";
        for (name, alg, len) in
            [("pbkdf2_sha256", pbkdf2::PBKDF2_HMAC_SHA256, 32), ("pbkdf2_sha1", pbkdf2::PBKDF2_HMAC_SHA1, 20)]
        {
            let mut out = vec![0u8; len];
            pbkdf2::derive(alg, NonZeroU32::new(1000).expect("nonzero"), salt.as_bytes(), PASSWORD, &mut out);
            let stored = format!("{name}$1000${salt}${}", STANDARD.encode(&out));
            assert!(verify(PASSWORD, &stored), "{name}");
            assert!(!verify(b"wrong password", &stored), "{name}");
            assert!(!verify(PASSWORD, &stored.replace("$1000$", "$1001$")), "{name}");
        }
        assert!(!verify(PASSWORD, "pbkdf2_sha256$999999999$salt$aGFzaA=="), "absurd work is refused");
    }

    #[test]
    fn bcrypt_and_bcrypt_sha256_differ_by_the_prehash() {
        let plain = bcrypt::hash(PASSWORD, 4).expect("bcrypt");
        let pre = bcrypt::hash(hex::encode(crypto::sha256(PASSWORD)), 4).expect("bcrypt");
        assert!(verify(PASSWORD, &format!("bcrypt${plain}")));
        assert!(verify(PASSWORD, &format!("bcrypt_sha256${pre}")));
        assert!(!verify(PASSWORD, &format!("bcrypt_sha256${plain}")));
        assert!(!verify(b"wrong", &format!("bcrypt${plain}")));
    }

    #[test]
    fn scrypt_hashes_verify_and_unusable_or_broken_ones_never_do() {
        let params = scrypt::Params::new(4, 8, 1).expect("params");
        let mut out = [0u8; 64];
        scrypt::scrypt(PASSWORD, b"somesalt", &params, &mut out).expect("scrypt");
        let stored = format!("scrypt$16$somesalt$8$1${}", STANDARD.encode(out));
        assert!(verify(PASSWORD, &stored));
        assert!(!verify(b"wrong", &stored));
        assert!(!verify(PASSWORD, "scrypt$15$somesalt$8$1$aGFzaA=="), "n must be a power of two");
        assert!(!verify(PASSWORD, "!unusable"));
        assert!(!verify(PASSWORD, ""));
        assert!(!verify(PASSWORD, "pbkdf2_sha256$"));
    }
}
