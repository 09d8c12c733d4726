//! Invitations to rate by SMS (S-5): one when a matter is completed and its applicant gave a phone, stored with
//! the completion; one reminder after `invite_reminder_days` if the matter is still unrated; nothing after the
//! rating window or after the phone opted out. The messages are notifications: sent, retried and recorded
//! like every other, the phone kept only encrypted and as its blind index, the rating link made at sending.

use hcp_domain::Timestamp;
use hcp_domain::person::{Phone, mask_phone};
use hcp_storage::invitations::{Invitation, InviteState, NewInvitation};
use hcp_storage::notifications::NewNotification;

use crate::App;
use crate::error::{AppError, AppResult};

/// Where the rating link goes in a stored invitation: it is made only when the message is sent.
pub const RATING_PLACEHOLDER: &str = "{rating_url}";

/// The source of an invitation's messages (one per kind and matter, whatever the number of nodes).
fn source(kind: &str, matter_no: &str) -> String {
    format!("{kind}:{matter_no}")
}

/// The matter number a message about a matter was sent for, from its source.
pub fn matter_of_source(source: &str) -> Option<&str> {
    source.split_once(':').filter(|(k, _)| matches!(*k, "invitation" | "reminder")).map(|(_, m)| m)
}

fn sms(
    app: &App,
    source: String,
    matter_id: Option<String>,
    phone_env: Vec<u8>,
    masked: String,
    template: &str,
    body: String,
) -> NewNotification {
    NewNotification {
        id: uuid::Uuid::now_v7().to_string(),
        source,
        case_id: None,
        matter_id,
        recipient: "rater".into(),
        channel: "sms".into(),
        address: phone_env,
        address_masked: masked,
        template: template.into(),
        subject: app.config.sender_name.clone(),
        body,
    }
}

/// The invitation a matter's completion brings, when the county invites by SMS and the applicant gave a phone.
pub fn for_completion(
    app: &App,
    matter_no: &str,
    item_code: &str,
    phone: Option<&Phone>,
    completed_at: Timestamp,
) -> AppResult<Option<NewInvitation>> {
    let Some(phone) = phone.filter(|_| app.config.invite_by_sms) else { return Ok(None) };
    let item = app.master().item_name(item_code).unwrap_or_else(|| item_code.to_string());
    let body = hcp_domain::sms::invitation(&app.config.sender_name, &item, matter_no, RATING_PLACEHOLDER);
    let env = app.secrets.encrypt(phone.as_str())?;
    let message = sms(app, source("invitation", matter_no), None, env.clone(), mask_phone(phone.as_str()), "invitation", body);
    let now = Timestamp::now();
    let days = app.config.invite_reminder_days;
    Ok(Some(NewInvitation {
        phone: env,
        phone_ix: app.secrets.phone_index(phone.as_str()),
        // No reminder when it is switched off: "due" at the end of the window, when the invitation closes.
        remind_at: if days > 0 { now.plus_seconds(days * 86_400).micros() } else { i64::MAX },
        closes_at: completed_at.plus_seconds(app.config.rating_window_days * 86_400).micros(),
        message,
    }))
}

/// The rating link of an invitation's message, made at sending time (the database never holds it).
pub async fn rating_link(app: &App, source: &str) -> AppResult<Option<String>> {
    let Some(matter_no) = matter_of_source(source) else { return Ok(None) };
    let Some(m) = app.db.find_matter(matter_no).await? else { return Ok(None) };
    Ok(m.completed_at.map(|done| app.rating_url(&m.matter_no, 0, done, hcp_domain::Channel::Sms)))
}

/// Closes invitations whose rating window ended and sends the reminders that are due, once each whatever the
/// number of nodes. Returns how many reminders this node stored.
#[tracing::instrument(skip_all)]
pub async fn sweep(app: &App) -> AppResult<usize> {
    let now = Timestamp::now();
    app.db.close_invitations(now.micros()).await?;
    let mut sent = 0;
    for (inv, unwanted) in app.db.due_reminders(now.micros(), 200).await? {
        let message = if unwanted || inv.closes_at <= now.micros() {
            None
        } else {
            match reminder(app, &inv, now).await {
                Ok(m) => Some(m),
                // One that cannot be written (a phone that no longer decrypts) is dropped, not retried for ever,
                // and stops nobody else's.
                Err(e) => {
                    tracing::warn!(error = %e, matter = %inv.matter_no, "a reminder could not be written; dropped");
                    None
                }
            }
        };
        if app.db.take_reminder(&inv.matter_id, message.as_ref(), now.micros()).await? && message.is_some() {
            sent += 1;
        }
    }
    Ok(sent)
}

async fn reminder(app: &App, inv: &Invitation, now: Timestamp) -> AppResult<NewNotification> {
    let item_code = app.db.find_matter(&inv.matter_no).await?.map(|m| m.item_code).unwrap_or_default();
    let item = app.master().item_name(&item_code).unwrap_or(item_code);
    let days_left = ((inv.closes_at - now.micros()) / 86_400_000_000).max(1);
    let body = hcp_domain::sms::reminder(&app.config.sender_name, &item, &inv.matter_no, RATING_PLACEHOLDER, days_left);
    let masked = mask_phone(&app.secrets.decrypt(&inv.phone)?);
    Ok(sms(app, source("reminder", &inv.matter_no), Some(inv.matter_id.clone()), inv.phone.clone(), masked, "invitation_reminder", body))
}

/// A message to the phone of an invitation, about its matter (the follow-up asking for reasons).
pub fn message_to(app: &App, inv: &Invitation, kind: &str, template: &str, body: String) -> AppResult<NewNotification> {
    let masked = mask_phone(&app.secrets.decrypt(&inv.phone)?);
    Ok(sms(app, source(kind, &inv.matter_no), Some(inv.matter_id.clone()), inv.phone.clone(), masked, template, body))
}

/// The opt-out link of the rating page: the phone the matter's invitation went to (or, without one, the
/// matter's applicant's) is invited no more. The rating token proves the link came from the matter's own
/// message or receipt. `false` when the matter has no phone to stop.
pub async fn opt_out_by_link(app: &App, matter_no: &str) -> AppResult<bool> {
    let m = app.db.find_matter(matter_no).await?.ok_or(AppError::NotFound("办件"))?;
    let env = match app.db.invitation(&m.id).await? {
        Some(inv) => inv.phone,
        None => match m.applicant_phone {
            Some(env) => env,
            None => return Ok(false),
        },
    };
    let phone = app.secrets.decrypt(&env)?;
    app.db.opt_out(&app.secrets.phone_index(&phone), "link", Timestamp::now().micros()).await?;
    Ok(true)
}

/// Whether an invitation's message (invitation or reminder) may still go out when its turn comes: not after
/// the phone opted out, the matter was rated, or the window closed, even for a message retried or re-run.
pub async fn still_wanted(app: &App, source: &str) -> AppResult<Result<(), &'static str>> {
    let Some(matter_no) = matter_of_source(source) else { return Ok(Ok(())) };
    let Some(m) = app.db.find_matter(matter_no).await? else { return Ok(Err("办件不存在")) };
    let Some(inv) = app.db.invitation(&m.id).await? else { return Ok(Err("邀请不存在")) };
    Ok(match inv.state {
        _ if inv.closes_at <= Timestamp::now().micros() => Err("已超过评价期限，不再发送"),
        InviteState::OptedOut => Err("评价人已退订，不再发送"),
        InviteState::Open => Ok(()),
        _ => Err("办件已评价，不再发送"),
    })
}
