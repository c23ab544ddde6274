//! Password-protected private keys in a PEM store: PKCS#8 `ENCRYPTED PRIVATE KEY` blocks
//! (what `openssl pkcs8 -topk8` and `openssl genpkey -aes256` write: PBES2 with PBKDF2 or
//! scrypt and AES-CBC/GCM, or DES-EDE3-CBC), decrypted with the store's password as
//! Apache's PEM reader does. OpenSSL's older per-file encryption (`Proc-Type: 4,ENCRYPTED`
//! headers) is refused with the command that converts it.

use ::pkcs8::der::Decode;
use ::pkcs8::EncryptedPrivateKeyInfoRef;

const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";

/// Whether `data` holds a key this module must decrypt (or refuse) rather than a plain one.
pub(super) fn is_encrypted(data: &[u8]) -> bool {
    contains(data, BEGIN.as_bytes()) || contains(data, b"Proc-Type: 4,ENCRYPTED")
}

/// The PKCS#8 `PrivateKeyInfo` (DER) inside the PEM store `data`, decrypted with `password`.
pub(super) fn decrypt(data: &[u8], password: &str) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(data).map_err(|_| "the PEM file is not text".to_owned())?;
    let Some(start) = text.find(BEGIN) else {
        return Err(
            "the private key uses OpenSSL's legacy PEM encryption (Proc-Type: 4,ENCRYPTED), \
             which is not supported; convert it with `openssl pkcs8 -topk8 -in OLD -out NEW`"
                .into(),
        );
    };
    let body = &text[start + BEGIN.len()..];
    let end = body
        .find(END)
        .ok_or_else(|| "the ENCRYPTED PRIVATE KEY block has no END line".to_owned())?;
    let base64: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(base64)
            .map_err(|e| format!("bad base64 in the ENCRYPTED PRIVATE KEY block: {e}"))?
    };
    if password.is_empty() {
        return Err("the private key is encrypted and no password was given".into());
    }
    let info = EncryptedPrivateKeyInfoRef::from_der(&der)
        .map_err(|e| format!("not an encrypted PKCS#8 private key: {e}"))?;
    let plain = info.decrypt(password).map_err(|e| {
        format!("cannot decrypt the private key: wrong password or an unsupported cipher ({e})")
    })?;
    Ok(plain.as_bytes().to_vec())
}

fn contains(data: &[u8], needle: &[u8]) -> bool {
    data.windows(needle.len()).any(|w| w == needle)
}
