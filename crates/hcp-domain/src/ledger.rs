//! The ledger's byte encoding and chain rule. Every record is encoded field by field in a fixed, documented
//! form (never by a serializer whose output may change), hashed, and chained to its predecessor:
//!
//! ```text
//! record   = "HCP1" , field(kind) , { field(name) , field(value) }
//! field(x) = u32 big-endian length of x , bytes of x        (integers as decimal text, booleans "0"/"1",
//!                                                            absent values as the single byte 0xFF field "\xFF")
//! content_hash = SHA-256(record)
//! chain_hash   = SHA-256("hcp-chain-v1" , prev_chain_hash (32 bytes; zeros for the first) ,
//!                        seq as u64 big-endian , content_hash)
//! ```

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];
pub const GENESIS: Hash = [0u8; 32];

#[derive(Debug, Clone)]
pub struct Record {
    bytes: Vec<u8>,
}

impl Record {
    pub fn new(kind: &str) -> Self {
        let mut r = Record { bytes: b"HCP1".to_vec() };
        r.push(kind.as_bytes());
        r
    }

    fn push(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(&(b.len() as u32).to_be_bytes());
        self.bytes.extend_from_slice(b);
    }

    pub fn str(mut self, name: &str, value: &str) -> Self {
        self.push(name.as_bytes());
        self.push(value.as_bytes());
        self
    }

    pub fn opt_str(mut self, name: &str, value: Option<&str>) -> Self {
        self.push(name.as_bytes());
        match value {
            Some(v) => self.push(v.as_bytes()),
            None => self.push(&[0xFF]),
        }
        self
    }

    pub fn int(self, name: &str, value: i64) -> Self {
        self.str(name, &value.to_string())
    }

    pub fn opt_int(self, name: &str, value: Option<i64>) -> Self {
        let v = value.map(|v| v.to_string());
        self.opt_str(name, v.as_deref())
    }

    pub fn bool(self, name: &str, value: bool) -> Self {
        self.str(name, if value { "1" } else { "0" })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn content_hash(&self) -> Hash {
        Sha256::digest(&self.bytes).into()
    }
}

pub fn chain_hash(prev: &Hash, seq: i64, content: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update(b"hcp-chain-v1");
    h.update(prev);
    h.update((seq as u64).to_be_bytes());
    h.update(content);
    h.finalize().into()
}

/// What a verification of a chain found wrong, naming the record so that an operator can find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// sequence numbers are not contiguous
    Gap {
        seq: i64,
        kind: String,
        ref_id: String,
        expected: i64,
    },
    /// a stored hash is not 32 bytes
    BadHash {
        seq: i64,
        kind: String,
        ref_id: String,
    },
    UnknownKind {
        seq: i64,
        kind: String,
        ref_id: String,
    },
    /// the entry's record is gone
    Missing {
        seq: i64,
        kind: String,
        ref_id: String,
    },
    /// the record no longer hashes to its entry
    Altered {
        seq: i64,
        kind: String,
        ref_id: String,
    },
    /// the entry's chain hash does not follow from its predecessor
    Chain {
        seq: i64,
        kind: String,
        ref_id: String,
    },
    /// a record that is on no entry (written past the ledger)
    NotOnChain {
        what: &'static str,
        id: String,
    },
    /// the head does not point at the last entry (entries at the end removed or altered)
    Head {
        head_seq: i64,
        last_seq: i64,
    },
    /// the audit trail: an entry altered, or its sequence broken
    AuditGap {
        seq: i64,
        expected: i64,
    },
    AuditAltered {
        seq: i64,
        actor: String,
        action: String,
    },
    AuditHead {
        head_seq: i64,
        last_seq: i64,
    },
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Break::Gap { seq, kind, ref_id, expected } => write!(f, "账本第 {seq} 条（{kind} {ref_id}）：序号不连续，应为 {expected}"),
            Break::BadHash { seq, kind, ref_id } => write!(f, "账本第 {seq} 条（{kind} {ref_id}）：哈希长度错误"),
            Break::UnknownKind { seq, kind, ref_id } => write!(f, "账本第 {seq} 条（{kind} {ref_id}）：未知的记录类型"),
            Break::Missing { seq, kind, ref_id } => write!(f, "账本第 {seq} 条（{kind} {ref_id}）：对应的记录已不存在"),
            Break::Altered { seq, kind, ref_id } => {
                write!(f, "账本第 {seq} 条（{kind} {ref_id}）：记录的内容与账本不符（记录被改动）")
            }
            Break::Chain { seq, kind, ref_id } => write!(f, "账本第 {seq} 条（{kind} {ref_id}）：链哈希不符（账本被改动）"),
            Break::NotOnChain { what, id } => write!(f, "{what} {id} 不在账本中（绕过账本写入）"),
            Break::Head { head_seq, last_seq } => {
                write!(f, "链头（第 {head_seq} 条）与账本末尾（第 {last_seq} 条）不符：账本末尾的记录被删除或改动")
            }
            Break::AuditGap { seq, expected } => write!(f, "审计日志第 {seq} 条：序号不连续，应为 {expected}"),
            Break::AuditAltered { seq, actor, action } => {
                write!(f, "审计日志第 {seq} 条（{actor} {action}）：内容或链哈希不符（记录被改动）")
            }
            Break::AuditHead { head_seq, last_seq } => {
                write!(f, "审计日志链头（第 {head_seq} 条）与日志末尾（第 {last_seq} 条）不符：有记录被删除或截断")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_fixed_and_sensitive() {
        let a = Record::new("rating").str("id", "x").int("level", 5).opt_str("text", None).bool("anon", true);
        // The exact bytes are part of the contract: a change here breaks every stored chain.
        let mut expected = b"HCP1".to_vec();
        for part in [&b"rating"[..], b"id", b"x", b"level", b"5", b"text", &[0xFF], b"anon", b"1"] {
            expected.extend_from_slice(&(part.len() as u32).to_be_bytes());
            expected.extend_from_slice(part);
        }
        assert_eq!(a.bytes(), &expected[..]);
        let b = Record::new("rating").str("id", "x").int("level", 4).opt_str("text", None).bool("anon", true);
        assert_ne!(a.content_hash(), b.content_hash());
        // Moving bytes between adjacent fields changes the encoding.
        let c = Record::new("r").str("ab", "c");
        let d = Record::new("r").str("a", "bc");
        assert_ne!(c.content_hash(), d.content_hash());
        let h1 = chain_hash(&GENESIS, 1, &a.content_hash());
        assert_ne!(h1, chain_hash(&GENESIS, 2, &a.content_hash()));
        assert_ne!(h1, chain_hash(&h1, 1, &a.content_hash()));
    }
}
