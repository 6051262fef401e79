//! Small wrappers over aws-lc-rs (the one crypto provider in the tree): random tokens,
//! digests, constant-time comparison and the AES-256-GCM sealing of secrets at rest.

use aws_lc_rs::{aead, digest, hkdf, rand};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// `n` random bytes from the operating system's CSPRNG.
pub fn random_bytes(n: usize) -> anyhow::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    rand::fill(&mut buf).map_err(|_| anyhow::anyhow!("system random number generator failed"))?;
    Ok(buf)
}

/// A URL-safe random string carrying `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> anyhow::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes(bytes)?))
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Purposes of keys derived from the master secret; each gets its own key.
#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    SigningKeys,
    ApiTokens,
    /// The signing secret of imported Django simplejwt tokens.
    LegacyJwt,
    /// Mails waiting in the outbox (they carry single-use tokens).
    Mail,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Purpose::SigningKeys => b"userd/v1/signing-keys",
            Purpose::ApiTokens => b"userd/v1/api-tokens",
            Purpose::LegacyJwt => b"userd/v1/legacy-jwt",
            Purpose::Mail => b"userd/v1/mail",
        }
    }
}

/// An AES-256-GCM key derived (HKDF-SHA256) from `USERD_SECRET_KEY` for one purpose.
pub struct Sealer {
    key: aead::LessSafeKey,
}

impl Sealer {
    pub fn derive(master: &[u8], purpose: Purpose) -> anyhow::Result<Self> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"userd master key").extract(master);
        let info = [purpose.info()];
        let okm = prk.expand(&info, &aead::AES_256_GCM).map_err(|_| anyhow::anyhow!("key derivation failed"))?;
        Ok(Sealer { key: aead::LessSafeKey::new(aead::UnboundKey::from(okm)) })
    }

    /// `nonce || ciphertext || tag`; `context` is bound as associated data.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> anyhow::Result<Vec<u8>> {
        let nonce_bytes = random_bytes(aead::NONCE_LEN)?;
        let nonce = aead::Nonce::try_assume_unique_for_key(&nonce_bytes).map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(nonce, aead::Aad::from(context), &mut buf)
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = nonce_bytes;
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Reverses [`Sealer::seal`]; fails when the key, the context or the bytes differ.
    pub fn open(&self, sealed: &[u8], context: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < aead::NONCE_LEN + aead::AES_256_GCM.tag_len() {
            anyhow::bail!("sealed value too short");
        }
        let (nonce, ct) = sealed.split_at(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, aead::Aad::from(context), &mut buf)
            .map_err(|_| anyhow::anyhow!("decryption failed: wrong USERD_SECRET_KEY or damaged data"))?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_context() {
        let a = Sealer::derive(b"0123456789abcdef0123456789abcdef", Purpose::ApiTokens).expect("derive");
        let b = Sealer::derive(b"another secret of thirty-two chars", Purpose::ApiTokens).expect("derive");
        let other_purpose = Sealer::derive(b"0123456789abcdef0123456789abcdef", Purpose::SigningKeys).expect("derive");
        let sealed = a.seal(b"secret", b"ctx").expect("seal");
        assert_eq!(a.open(&sealed, b"ctx").expect("open"), b"secret");
        assert!(a.open(&sealed, b"other").is_err());
        assert!(b.open(&sealed, b"ctx").is_err());
        assert!(other_purpose.open(&sealed, b"ctx").is_err());
        assert_ne!(a.seal(b"secret", b"ctx").expect("seal"), sealed, "nonces differ");
    }

    #[test]
    fn constant_time_equality() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"abcd"));
    }
}
