//! The contract's envelope: SM2 public-key encryption (GM/T 0003-2012 with SM3) laid out C1‖C3‖C2 (GM/T
//! 0009-2012), C1 uncompressed `04‖x‖y`, the whole as lower-case hex; the request body and the answer.

use serde::{Deserialize, Serialize};
use sm2::pke::{DecryptingKey, EncryptingKey, Mode};

// Both key types of the crate default to C1‖C3‖C2 (`Mode::default()`); the private key states it explicitly.

/// The province's public key: what the county encrypts records and the sign under.
#[derive(Clone, Debug)]
pub struct PublicKey(EncryptingKey);

impl PublicKey {
    /// Reads `04‖x‖y` as 130 hex digits (128 without the `04` are accepted too).
    pub fn from_hex(hex_key: &str) -> Result<Self, String> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| "省级平台公钥应为十六进制".to_string())?;
        let bytes = if bytes.len() == 64 { [&[4u8][..], &bytes].concat() } else { bytes };
        if bytes.len() != 65 {
            return Err("省级平台公钥应为 130 位十六进制（04‖x‖y）".into());
        }
        EncryptingKey::from_sec1_bytes(&bytes).map(PublicKey).map_err(|_| "省级平台公钥不是 SM2 曲线上的点".to_string())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_sec1_bytes())
    }

    /// Encrypts `plain` (not empty), as lower-case hex.
    pub fn encrypt_hex(&self, plain: &[u8]) -> Result<String, String> {
        self.encrypt_with(&mut rand::rng(), plain)
    }

    fn encrypt_with<R: rand::TryCryptoRng>(&self, rng: &mut R, plain: &[u8]) -> Result<String, String> {
        self.0.encrypt(rng, plain).map(hex::encode).map_err(|_| "SM2 加密失败".to_string())
    }
}

/// The province's private key (the fake province's; a real county never holds one).
#[derive(Clone)]
pub struct PrivateKey(DecryptingKey);

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(…)")
    }
}

impl PrivateKey {
    /// A fresh key.
    pub fn generate() -> Self {
        loop {
            let bytes: [u8; 32] = rand::random();
            if let Ok(k) = DecryptingKey::from_slice(&bytes) {
                return PrivateKey(DecryptingKey::new_with_mode(*k.as_nonzero_scalar(), Mode::C1C3C2));
            }
        }
    }

    /// Reads 64 hex digits.
    pub fn from_hex(hex_key: &str) -> Result<Self, String> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| "私钥应为 64 位十六进制".to_string())?;
        DecryptingKey::from_slice(&bytes)
            .map(|k| PrivateKey(DecryptingKey::new_with_mode(*k.as_nonzero_scalar(), Mode::C1C3C2)))
            .map_err(|_| "私钥不在 SM2 曲线的阶内".to_string())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.encrypting_key().clone())
    }

    /// Decrypts hex C1‖C3‖C2; C1 with or without its `04`.
    pub fn decrypt_hex(&self, cipher: &str) -> Result<Vec<u8>, String> {
        let bytes = hex::decode(cipher.trim()).map_err(|_| "密文不是十六进制".to_string())?;
        if let Ok(plain) = self.0.decrypt(&bytes) {
            return Ok(plain);
        }
        self.0.decrypt(&[&[4u8][..], &bytes].concat()).map_err(|_| "SM2 解密失败".to_string())
    }
}

/// The request body of every operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    #[serde(rename = "txnBodyCom")]
    pub body: RequestBody,
    #[serde(rename = "txnCommCom")]
    pub comm: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestBody {
    pub time: String,
    pub app_mark: String,
    pub sign: String,
    pub params: Params,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    pub records: Vec<String>,
}

/// The answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    #[serde(rename = "C-Response-Code")]
    pub code: String,
    #[serde(rename = "C-Response-Desc")]
    pub desc: String,
    #[serde(rename = "C-Response-Body", default)]
    pub body: ResponseBody,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseBody {
    #[serde(default)]
    pub results: Vec<RecordResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResult {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives the bytes of a fixed `k`, as the standard's worked example uses.
    struct FixedK(Vec<u8>);

    impl rand::TryRng for FixedK {
        type Error = std::convert::Infallible;

        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(0)
        }

        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(0)
        }

        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            let n = dst.len().min(self.0.len());
            dst[..n].copy_from_slice(&self.0[..n]);
            self.0.drain(..n);
            Ok(())
        }
    }

    impl rand::TryCryptoRng for FixedK {}

    /// GM/T 0003.5-2012 (GB/T 32918.5) worked example of encryption on the recommended curve: private key d,
    /// random k, message "encryption standard"; the expected C1 = [k]G, C3 and C2 are the standard's.
    #[test]
    fn encryption_matches_the_standards_worked_example() {
        let d = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8";
        let public = "0409f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020\
                      ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13";
        let k = hex::decode("59276e27d506861a16680f3ad9c02dccef3cc1fa3cdbe4ce6d54b80deac1bc21").unwrap();
        let c1 = "0404ebfc718e8d1798620432268e77feb6415e2ede0e073c0f4f640ecd2e149a73\
                  e858f9d81e5430a57b36daab8f950a3c64e6ee6a63094d99283aff767e124df0";
        let c3 = "59983c18f809e262923c53aec295d30383b54e39d609d160afcb1908d0bd8766";
        let c2 = "21886ca989ca9c7d58087307ca93092d651efa";
        let private = PrivateKey::from_hex(d).unwrap();
        assert_eq!(private.public_key().to_hex(), public, "the public key of d is the standard's P_B");
        let key = PublicKey::from_hex(public).unwrap();
        let cipher = key.encrypt_with(&mut FixedK(k), b"encryption standard").unwrap();
        assert_eq!(cipher, format!("{c1}{c3}{c2}"), "C1‖C3‖C2 as the standard computes it");
        assert_eq!(private.decrypt_hex(&cipher).unwrap(), b"encryption standard");
        // Receivers accept C1 without its 04.
        assert_eq!(private.decrypt_hex(&cipher[2..]).unwrap(), b"encryption standard");
    }

    #[test]
    fn a_fresh_key_round_trips_and_refuses_tampering() {
        let private = PrivateKey::generate();
        let public = PublicKey::from_hex(&private.public_key().to_hex()).unwrap();
        let c = public.encrypt_hex("{\"projectNo\":\"LX001\"}".as_bytes()).unwrap();
        assert!(c.starts_with("04") && c == c.to_lowercase());
        assert_eq!(private.decrypt_hex(&c).unwrap(), b"{\"projectNo\":\"LX001\"}");
        let mut tampered = c.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        assert!(private.decrypt_hex(std::str::from_utf8(&tampered).unwrap()).is_err(), "C3 catches a changed C2");
        assert!(PrivateKey::generate().decrypt_hex(&c).is_err(), "another key cannot read it");
        assert!(PublicKey::from_hex("04abcd").is_err());
        assert!(PublicKey::from_hex(&"zz".repeat(65)).is_err());
    }
}
