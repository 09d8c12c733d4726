//! Rating by SMS reply (channel `sms`, S-4): the SMS gateway passes on what a citizen replied to an invitation.
//! `1`–`5` or the level's words rate the invited matter once, through the one rating use case; a bad review
//! gets one follow-up listing reason codes, and a reply with codes adds them; `TD` opts out; anything else is
//! answered with help and writes nothing. The phone is matched by its blind index, never stored or logged in
//! plain text.

use hcp_domain::access::Act;
use hcp_domain::person::Phone;
use hcp_domain::sms::{self, Reply};
use hcp_domain::{Channel, Timestamp};
use hcp_storage::invitations::{Invitation, InviteState};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::error::{AppError, AppResult};
use crate::ratings::{Origin, RatingIn};

/// One SMS received by the gateway.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InboundSms {
    /// the sender's mobile number (11 digits, `+86` allowed)
    pub from: String,
    /// the text as received
    pub text: String,
    /// the gateway's own id of the message, echoed back
    pub message_id: Option<String>,
}

/// What the reply did, and the text to answer the citizen with (if the gateway answers synchronously).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboundResult {
    /// `rated`, `reasons_added`, `opted_out`, `already_rated`, `no_invitation`, `not_understood`
    pub outcome: String,
    pub message_id: Option<String>,
    pub rating_id: Option<String>,
    pub case_id: Option<String>,
    /// The answer to send back now; `null` when the system sends its own message (the follow-up asking for
    /// reasons is a notification, recorded and retried).
    pub reply: Option<String>,
}

fn result(outcome: &str, msg: &InboundSms, reply: Option<String>) -> InboundResult {
    InboundResult { outcome: outcome.into(), message_id: msg.message_id.clone(), rating_id: None, case_id: None, reply }
}

/// Handles one SMS passed on by the gateway.
#[tracing::instrument(skip_all)]
pub async fn inbound(app: &App, caller: &Caller, msg: InboundSms) -> AppResult<InboundResult> {
    app.authorize(caller, Act::ReceiveSms)?;
    let phone = Phone::parse(&msg.from, "from")?;
    let text = hcp_domain::ids::parse_text(&msg.text, "text", 500)?;
    if let Some(id) = &msg.message_id {
        hcp_domain::ids::parse_text(id, "message_id", 128)?;
    }
    let sender = app.config.sender_name.clone();
    let ix = app.secrets.phone_index(phone.as_str());
    let now = Timestamp::now();
    let reply = sms::parse_reply(&text);
    if reply == Reply::OptOut {
        app.db.opt_out(&ix, "sms", now.micros()).await?;
        return Ok(result("opted_out", &msg, Some(sms::opted_out(&sender))));
    }
    let all = app.db.invitations_of_phone(&ix).await?;
    let live = |state: InviteState| all.iter().find(|i| i.state == state && i.closes_at > now.micros());
    match reply {
        // A level rates the invitation last sent that is still open; codes go to the bad review awaiting them.
        Reply::Level(level) => match live(InviteState::Open) {
            Some(inv) => rate(app, caller, &msg, inv, level).await,
            None if all.iter().any(|i| matches!(i.state, InviteState::AwaitingReasons | InviteState::Rated)) => {
                Ok(result("already_rated", &msg, Some(sms::already_rated(&sender))))
            }
            None => Ok(result("no_invitation", &msg, Some(sms::nothing_to_rate(&sender)))),
        },
        Reply::Codes(codes) => match live(InviteState::AwaitingReasons) {
            Some(inv) => add_reasons(app, caller, &msg, inv, &codes).await,
            None => not_understood(&msg, &sender, &all, now),
        },
        Reply::OptOut | Reply::Other => not_understood(&msg, &sender, &all, now),
    }
}

/// Help for what the phone's invitations wait for, or word that nothing does.
fn not_understood(msg: &InboundSms, sender: &str, all: &[Invitation], now: Timestamp) -> AppResult<InboundResult> {
    let waiting = all.iter().find(|i| matches!(i.state, InviteState::Open | InviteState::AwaitingReasons) && i.closes_at > now.micros());
    Ok(match waiting {
        Some(i) => result("not_understood", msg, Some(sms::help(sender, i.state == InviteState::AwaitingReasons))),
        None => result("no_invitation", msg, Some(sms::nothing_to_rate(sender))),
    })
}

async fn rate(app: &App, caller: &Caller, msg: &InboundSms, inv: &Invitation, level: hcp_domain::Level) -> AppResult<InboundResult> {
    let sender = app.config.sender_name.clone();
    let mut input = RatingIn::new(inv.matter_no.clone(), Channel::Sms, i64::from(level.value()));
    input.reasons_follow = true;
    input.own_endpoint = true;
    let now = Timestamp::now().micros();
    let (id, case_id, bad) = match crate::ratings::rate(app, caller, input, Origin::default()).await {
        Ok(c) => (c.id, c.case_id, c.bad_review),
        Err(AppError::Conflict { code: "already_rated", existing_id: Some(existing), .. }) => {
            match app.db.get_rating(&existing).await? {
                // A reply delivered twice (or two at once): the first one rated; this one finishes its work.
                Some(r) if r.channel == Channel::Sms => (existing.clone(), app.db.case_of_rating(&existing).await?, r.level <= 2),
                // Rated meanwhile through another channel: the invitation has done its work.
                _ => {
                    app.db.move_invitation(&inv.matter_id, InviteState::Open, InviteState::Rated, Some(&existing), &[], now).await?;
                    return Ok(result("already_rated", msg, Some(sms::already_rated(&sender))));
                }
            }
        }
        // The rating window of the matter's latest service closed before the invitation's: nothing to rate.
        Err(AppError::Invalid(e)) if matches!(e.code, "rating_window_closed" | "matter_not_completed") => {
            app.db.move_invitation(&inv.matter_id, InviteState::Open, InviteState::Closed, None, &[], now).await?;
            return Ok(result("no_invitation", msg, Some(sms::nothing_to_rate(&sender))));
        }
        Err(e) => return Err(e),
    };
    let (to, messages, reply) = if bad {
        let body = sms::reasons_request(&sender, app.catalogue.reasons_for(level, Channel::Sms.mode()));
        let follow_up = crate::invitations::message_to(app, inv, "reasons", "reason_request", body)?;
        (InviteState::AwaitingReasons, vec![follow_up], None)
    } else {
        (InviteState::Rated, Vec::new(), Some(sms::thanks(&sender)))
    };
    // Whoever moves the invitation sends the follow-up (it is also one per matter by its source).
    app.db.move_invitation(&inv.matter_id, InviteState::Open, to, Some(&id), &messages, now).await?;
    Ok(InboundResult { outcome: "rated".into(), message_id: msg.message_id.clone(), rating_id: Some(id), case_id, reply })
}

async fn add_reasons(app: &App, caller: &Caller, msg: &InboundSms, inv: &Invitation, codes: &[String]) -> AppResult<InboundResult> {
    let sender = app.config.sender_name.clone();
    let Some(rating_id) = inv.rating_id.clone() else {
        return Ok(result("not_understood", msg, Some(sms::help(&sender, false))));
    };
    let actor = format!("{}（短信回复）", caller.principal().actor());
    match crate::ratings::add_reasons(app, &actor, &rating_id, codes, Channel::Sms).await {
        Ok(_) => {}
        // Codes of another level, or unknown ones: say which are valid, write nothing.
        Err(AppError::Invalid(_)) => return Ok(result("not_understood", msg, Some(sms::help(&sender, true)))),
        Err(e) => return Err(e),
    }
    let now = Timestamp::now().micros();
    app.db.move_invitation(&inv.matter_id, InviteState::AwaitingReasons, InviteState::Rated, None, &[], now).await?;
    Ok(InboundResult {
        outcome: "reasons_added".into(),
        message_id: msg.message_id.clone(),
        case_id: app.db.case_of_rating(&rating_id).await?,
        rating_id: Some(rating_id),
        reply: Some(sms::reasons_received(&sender)),
    })
}
