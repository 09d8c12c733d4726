//! The use cases of haochaping (好差评), free of HTTP: each is a plain function of the application, a caller and
//! a command, returning one [`AppError`]. The JSON API, the pages, the window device, the kiosk, the paper form,
//! the command line and the workers all call these, so a rule lives in one place: the domain decides, this
//! crate orchestrates, storage stores.

pub mod app;
pub mod appeals;
pub mod audit;
pub mod caller;
pub mod cases;
pub mod complaints;
pub mod device;
pub mod error;
pub mod feedback;
pub mod hotline;
pub mod invitations;
pub mod limiter;
pub mod matter_import;
pub mod matters;
pub mod notifications;
pub mod passwords;
pub mod province;
pub mod ratings;
pub mod rectify;
pub mod related;
pub mod session;
pub mod settings;
pub mod sms;
pub mod stats;
pub mod sweeps;

pub use app::{App, Config};
pub use caller::Caller;
pub use error::{AppError, AppResult};
