//! The contract's envelope: SM2 public-key encryption (GM/T 0003-2012 with SM3) laid out C1‖C3‖C2 (GM/T
//! 0009-2012), C1 uncompressed `04‖x‖y`, the whole as lower-case hex; the request body and the answer.

use serde::{Deserialize, Serialize};
use sm2::elliptic_curve::Group;
use sm2::elliptic_curve::sec1::ToSec1Point;
use sm2::pke::{DecryptingKey, EncryptingKey, Mode};
use sm2::{NonZeroScalar, ProjectivePoint};
use sm3::{Digest, Sm3};

// Both key types of the crate default to C1‖C3‖C2 (`Mode::default()`); the private key states it explicitly.

/// The province's public key: what the county encrypts records and the sign under.
#[derive(Clone, Debug)]
pub struct PublicKey(EncryptingKey, std::sync::Arc<FixedBase>);

impl PublicKey {
    fn new(key: EncryptingKey) -> Self {
        let table = FixedBase::new(ProjectivePoint::from(*key.as_affine()));
        PublicKey(key, std::sync::Arc::new(table))
    }

    /// Reads `04‖x‖y` as 130 hex digits (128 without the `04` are accepted too).
    pub fn from_hex(hex_key: &str) -> Result<Self, String> {
        let bytes = hex::decode(hex_key.trim()).map_err(|_| "省级平台公钥应为十六进制".to_string())?;
        let bytes = if bytes.len() == 64 { [&[4u8][..], &bytes].concat() } else { bytes };
        if bytes.len() != 65 {
            return Err("省级平台公钥应为 130 位十六进制（04‖x‖y）".into());
        }
        EncryptingKey::from_sec1_bytes(&bytes).map(PublicKey::new).map_err(|_| "省级平台公钥不是 SM2 曲线上的点".to_string())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_sec1_bytes())
    }

    /// Encrypts `plain` (not empty), as lower-case hex.
    pub fn encrypt_hex(&self, plain: &[u8]) -> Result<String, String> {
        self.encrypt_with(&mut rand::rng(), plain)
    }

    /// GM/T 0003.4 §6.1 on the crate's curve arithmetic: C1 = [k]G, (x2, y2) = [k]P_B, t = KDF(x2‖y2, |M|),
    /// C2 = M ⊕ t, C3 = SM3(x2‖M‖y2). Step A3 of the standard ([h]P_B ≠ O) is the crate's check on every
    /// call; with SM2's cofactor h = 1 it is a scalar multiplication by one of a point already known valid (the
    /// key was decoded on the curve), so it is left out here: a third of the cost of each record. The standard's
    /// worked example and the crate's own decryption check this (tests below; the fake province decrypts with
    /// the crate).
    fn encrypt_with<R: rand::TryRng>(&self, rng: &mut R, plain: &[u8]) -> Result<String, String> {
        if plain.is_empty() {
            return Err("SM2 加密失败：明文为空".into());
        }
        for _ in 0..16 {
            let mut bytes = [0u8; 32];
            rng.try_fill_bytes(&mut bytes).map_err(|_| "随机数生成失败".to_string())?;
            let Some(k) = Option::<NonZeroScalar>::from(NonZeroScalar::from_repr(bytes.into())) else { continue };
            let c1 = ProjectivePoint::mul_by_generator(&*k).to_affine().to_sec1_point(false);
            let shared = self.1.mul(&k).to_affine().to_sec1_point(false);
            let (x2, y2) = (&shared.as_bytes()[1..33], &shared.as_bytes()[33..65]);
            let (c2, zero) = kdf_xor(x2, y2, plain).ok_or_else(|| "明文过长".to_string())?;
            if zero {
                continue; // t was all zeros: A5 says choose another k
            }
            let c3 = Sm3::new().chain_update(x2).chain_update(plain).chain_update(y2).finalize();
            let mut out = Vec::with_capacity(65 + 32 + c2.len());
            out.extend_from_slice(c1.as_bytes());
            out.extend_from_slice(&c3);
            out.extend_from_slice(&c2);
            return Ok(hex::encode(out));
        }
        Err("SM2 加密失败".into())
    }

    /// The crate's own encryption, to check ours against.
    #[cfg(test)]
    fn encrypt_by_crate(&self, plain: &[u8]) -> Vec<u8> {
        self.0.encrypt(&mut rand::rng(), plain).unwrap_or_default()
    }
}

/// Multiples of one fixed point (the province's key, the same for every record) for constant-time scalar
/// multiplication by table look-up, as the crate does for the generator: `rows[i][j] = (j + 1)·2^(8i)·P`.
#[derive(Debug)]
struct FixedBase {
    rows: Vec<[ProjectivePoint; 8]>,
}

impl FixedBase {
    fn new(p: ProjectivePoint) -> Self {
        let mut base = p;
        let mut rows = Vec::with_capacity(33);
        for _ in 0..33 {
            let mut row = [base; 8];
            for j in 1..8 {
                row[j] = row[j - 1] + base;
            }
            rows.push(row);
            for _ in 0..8 {
                base = base.double();
            }
        }
        FixedBase { rows }
    }

    /// `x·rows[i][0]` for `-8 <= x <= 8`, reading every entry (constant time in `x`).
    fn select(&self, i: usize, x: i8) -> ProjectivePoint {
        use sm2::elliptic_curve::subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
        let mask = x >> 7;
        let abs = ((x + mask) ^ mask) as u8;
        let mut t = ProjectivePoint::IDENTITY;
        for (j, point) in self.rows[i].iter().enumerate() {
            t.conditional_assign(point, abs.ct_eq(&(j as u8 + 1)));
        }
        let negative = Choice::from((mask & 1) as u8);
        let neg = -t;
        t.conditional_assign(&neg, negative);
        t
    }

    /// `k·P`: k in 65 signed radix-16 digits; even digits from the rows directly, odd ones from a second
    /// accumulator multiplied by 16 at the end.
    fn mul(&self, k: &NonZeroScalar) -> ProjectivePoint {
        use sm2::elliptic_curve::PrimeField;
        let repr = k.to_repr();
        let mut digits = [0i8; 65];
        for (i, b) in repr.iter().rev().enumerate() {
            digits[2 * i] = (b & 0xf) as i8;
            digits[2 * i + 1] = (b >> 4) as i8;
        }
        for i in 0..64 {
            let carry = (digits[i] + 8) >> 4;
            digits[i] -= carry << 4;
            digits[i + 1] += carry;
        }
        let mut even = self.select(32, digits[64]);
        let mut odd = ProjectivePoint::IDENTITY;
        for i in (0..32).rev() {
            odd += self.select(i, digits[2 * i + 1]);
            even += self.select(i, digits[2 * i]);
        }
        for _ in 0..4 {
            odd = odd.double();
        }
        even + odd
    }
}

/// The province's private key (the fake province's; a real county never holds one). Decryption, like
/// encryption, is composed here on the crate's curve arithmetic; the tests check both against the crate's own.
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
        PublicKey::new(self.0.encrypting_key().clone())
    }

    /// Decrypts hex C1‖C3‖C2; C1 with or without its `04`.
    pub fn decrypt_hex(&self, cipher: &str) -> Result<Vec<u8>, String> {
        let bytes = hex::decode(cipher.trim()).map_err(|_| "密文不是十六进制".to_string())?;
        if let Ok(plain) = self.decrypt(&bytes) {
            return Ok(plain);
        }
        self.decrypt(&[&[4u8][..], &bytes].concat()).map_err(|_| "SM2 解密失败".to_string())
    }

    /// GM/T 0003.4 §7.1: C1 must be a point of the curve (B1, checked by decoding it), (x2, y2) = [d]C1,
    /// t = KDF(x2‖y2, |C2|) not all zeros, M = C2 ⊕ t, and C3 = SM3(x2‖M‖y2). B2 ([h]C1 ≠ O) is implied for
    /// SM2's cofactor 1 by B1 (a decoded point is never the identity), so one scalar multiplication is done,
    /// not the crate's two.
    fn decrypt(&self, bytes: &[u8]) -> Result<Vec<u8>, ()> {
        if bytes.len() <= 65 + 32 {
            return Err(());
        }
        let (c1, rest) = bytes.split_at(65);
        let (c3, c2) = rest.split_at(32);
        let c1 = sm2::PublicKey::from_sec1_bytes(c1).map_err(|_| ())?;
        let shared = (c1.to_projective() * **self.0.as_nonzero_scalar()).to_affine().to_sec1_point(false);
        let (x2, y2) = (&shared.as_bytes()[1..33], &shared.as_bytes()[33..65]);
        let (plain, zero) = kdf_xor(x2, y2, c2).ok_or(())?;
        let check = Sm3::new().chain_update(x2).chain_update(&plain).chain_update(y2).finalize();
        if zero || check.as_slice() != c3 {
            return Err(());
        }
        Ok(plain)
    }
}

/// `data ⊕ KDF(x2‖y2, |data|)` with SM3 (GM/T 0003.4 §5.4.3), and whether the key stream was all zeros.
fn kdf_xor(x2: &[u8], y2: &[u8], data: &[u8]) -> Option<(Vec<u8>, bool)> {
    let mut out = Vec::with_capacity(data.len());
    let mut zero = true;
    for (i, chunk) in data.chunks(32).enumerate() {
        let counter = u32::try_from(i + 1).ok()?;
        let t = Sm3::new().chain_update(x2).chain_update(y2).chain_update(counter.to_be_bytes()).finalize();
        zero &= t.iter().take(chunk.len()).all(|b| *b == 0);
        out.extend(chunk.iter().zip(t.iter()).map(|(m, t)| m ^ t));
    }
    Some((out, zero))
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
    fn the_fixed_base_table_multiplies_as_the_curve_does() {
        let p = PrivateKey::generate().public_key();
        let point = ProjectivePoint::from(*p.0.as_affine());
        let mut scalars: Vec<[u8; 32]> = (0..40).map(|_| rand::random()).collect();
        scalars.push([0xff; 32]); // reduced below n, with every digit at its largest
        let mut one = [0u8; 32];
        one[31] = 1;
        scalars.push(one);
        for bytes in scalars {
            let Some(k) = Option::<NonZeroScalar>::from(NonZeroScalar::from_repr(bytes.into())) else { continue };
            assert_eq!(p.1.mul(&k).to_affine(), (point * *k).to_affine());
        }
        let mut near_n = hex::decode("fffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54122").unwrap();
        near_n[31] -= 1; // n − 2: the largest digits of all
        let k = Option::<NonZeroScalar>::from(NonZeroScalar::from_repr(<[u8; 32]>::try_from(near_n).unwrap().into())).unwrap();
        assert_eq!(p.1.mul(&k).to_affine(), (point * *k).to_affine());
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
        // Ours and the crate's encryption read each other's output.
        let ours = private.public_key();
        assert_eq!(private.decrypt_hex(&hex::encode(ours.encrypt_by_crate(b"crate"))).unwrap(), b"crate");
        assert_eq!(private.0.decrypt(&hex::decode(ours.encrypt_hex(&[7u8; 100]).unwrap()).unwrap()).unwrap(), vec![7u8; 100]);
        assert!(ours.encrypt_hex(b"").is_err());
        assert!(PublicKey::from_hex(&"zz".repeat(65)).is_err());
    }
}
