//! The window rating device (评价器): a tablet bound to one window by its device key, offered each new service
//! of its window for rating. Its presses reach the one rating use case with the device's key.

use hcp_domain::Timestamp;
use hcp_domain::access::KeyKind;
use hcp_domain::ids::service_no;
use hcp_storage::keys::ApiKey;

use crate::App;
use crate::error::AppResult;

/// A service waiting at a window to be rated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Pending {
    pub matter_no: String,
    pub service_no: String,
    /// the service item's name
    pub item: String,
    /// the name of the staff member who served
    pub staff: Option<String>,
}

/// The key a device was set up with, if it is still a valid device key bound to a window.
pub async fn device_key(app: &App, key: &str) -> AppResult<Option<ApiKey>> {
    Ok(app.find_key(key).await?.filter(|k| k.kind == KeyKind::Device && k.window_code.is_some()))
}

/// The window's latest service of the last minutes, if it is not rated yet: what the device offers.
pub async fn pending(app: &App, window: &str) -> AppResult<Option<Pending>> {
    let since = Timestamp::now().plus_seconds(-app.config.device_offer_minutes * 60).micros();
    let Some((matter_no, seq, item, staff)) = app.db.pending_service_at_window(window, since).await? else { return Ok(None) };
    let master = app.master();
    Ok(Some(Pending {
        service_no: service_no(&matter_no, seq),
        matter_no,
        item: master.item_name(&item).unwrap_or_default(),
        staff: staff.and_then(|s| master.staff_name(&s)),
    }))
}
