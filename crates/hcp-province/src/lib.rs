//! The provincial link's adapter (`PROVINCE.md`): the SM2 envelope, the HTTP gateway the drain use case sends
//! through, and a fake province that holds the same contract, for tests, the demo and the benchmarks.

pub mod envelope;
pub mod fake;
pub mod gateway;

pub use envelope::{PrivateKey, PublicKey};
pub use fake::{FakeProvince, Mode, Tenant};
pub use gateway::{HttpGateway, LinkConfig};
