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

/// Refused presses kept per device and day.
pub const MAX_REPORTS_PER_DAY: i64 = 500;

/// A press the device could not get accepted for good, as it reports it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefusedIn {
    pub matter_no: String,
    pub service_no: Option<String>,
    pub level: i64,
    /// the refusal's code as the device was answered
    pub code: String,
    /// the device's clock at the press (RFC 3339), as it queued it
    pub rated_at: Option<String>,
}

/// Keeps a device's report of a press that was refused for good, so that the county sees it (a device holds
/// no personal data; what it reports is checked like any input).
#[tracing::instrument(skip_all)]
pub async fn report_refused(app: &App, key: &hcp_storage::keys::ApiKey, input: &RefusedIn) -> AppResult<()> {
    let matter_no = hcp_domain::ids::parse_code(&input.matter_no, "matter_no", 50)?;
    let service_no = input.service_no.as_deref().map(|s| hcp_domain::ids::parse_code(s, "service_no", 60)).transpose()?;
    let code = hcp_domain::ids::parse_code(&input.code, "code", 40)?;
    let level = hcp_domain::Level::new(input.level, "level")?;
    let pressed_at = input.rated_at.as_deref().map(|t| hcp_domain::Timestamp::parse_rfc3339(t, "rated_at")).transpose()?;
    // A device presses a few hundred times a day at most: beyond that, reports are counted as received but not
    // kept, so that one device cannot flood the county's list.
    let now = hcp_domain::Timestamp::now();
    if app.db.dead_letters_since(&key.id, now.plus_seconds(-86_400).micros()).await? >= MAX_REPORTS_PER_DAY {
        tracing::warn!(key = %key.id, "a device reported more refused presses than a day can hold; not kept");
        return Ok(());
    }
    app.db
        .record_dead_letter(&hcp_storage::dead_letters::DeadLetter {
            id: uuid::Uuid::now_v7().to_string(),
            key_id: key.id.clone(),
            unit_code: key.unit_code.clone(),
            window_code: key.window_code.clone(),
            matter_no,
            service_no,
            level: i64::from(level.value()),
            code,
            pressed_at: pressed_at.map(|t| t.to_rfc3339()),
            reported_at: now.micros(),
        })
        .await?;
    Ok(())
}

/// The devices' dead letters of the caller's tree (for those who administer devices), newest first.
pub async fn dead_letters(app: &App, caller: &crate::Caller) -> AppResult<Vec<hcp_storage::dead_letters::DeadLetter>> {
    app.authorize(caller, hcp_domain::access::Act::ManageKeys)?;
    let units = app.units_for(caller, hcp_domain::access::Act::ManageKeys);
    Ok(app.db.dead_letters(&units, 500).await?)
}
