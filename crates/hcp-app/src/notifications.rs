//! Notifications: what the loop's records mean for raters and staff (`hcp_domain::notices`), derived from the
//! ledger into rows and jobs, sent through a [`Transport`] per channel, every attempt recorded; failures
//! retried with backoff, then left `dead` for the county to re-run. Staff see them masked.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use hcp_domain::Timestamp;
use hcp_domain::access::{Act, Role, Target};
use hcp_domain::case_event::EventDetail;
use hcp_domain::notices::{Audience, CaseContext, Delivery, Happening, Notice, notices};
use hcp_domain::person::{mask_email, mask_phone};
use hcp_domain::records::{CaseEvent, RecordKind};
use hcp_storage::cases::CaseSummary;
use hcp_storage::notifications::{ClaimedJob, JobOutcome, NewNotification, Notification};
use serde::Serialize;
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::error::{AppError, AppResult};

/// Where the rater's personal link goes in a stored text: it is made only when the message is sent.
pub const FEEDBACK_PLACEHOLDER: &str = "{feedback_url}";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AttemptOut {
    pub attempt: i64,
    pub at: String,
    pub ok: bool,
    pub result: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationOut {
    pub id: String,
    pub case_id: Option<String>,
    /// `rater` or `staff:<username>`
    pub recipient: String,
    /// `sms` or `email`
    pub channel: String,
    /// masked
    pub address: String,
    pub template: String,
    pub subject: String,
    pub body: String,
    /// `pending`, `sent`, `retrying`, `dead`, `unsent`
    pub state: String,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub attempts: Vec<AttemptOut>,
}

async fn out(app: &App, n: Notification) -> AppResult<NotificationOut> {
    let attempts = app.db.notification_attempts(&n.n.id).await?;
    Ok(NotificationOut {
        id: n.n.id,
        case_id: n.n.case_id,
        recipient: n.n.recipient,
        channel: n.n.channel,
        address: n.n.address_masked,
        template: n.n.template,
        subject: n.n.subject,
        body: n
            .n
            .body
            .replace(FEEDBACK_PLACEHOLDER, "（评价人专属反馈链接）")
            .replace(crate::invitations::RATING_PLACEHOLDER, "（评价链接）"),
        state: n.state.code().into(),
        created_at: Timestamp(n.created_at).to_rfc3339(),
        sent_at: n.sent_at.map(|t| Timestamp(t).to_rfc3339()),
        attempts: attempts
            .into_iter()
            .map(|a| AttemptOut { attempt: a.attempt, at: Timestamp(a.at).to_rfc3339(), ok: a.ok, result: a.result })
            .collect(),
    })
}

/// Every notification of a case, for whoever may read the case.
pub async fn of_case(app: &App, caller: &Caller, id: &str) -> AppResult<Vec<NotificationOut>> {
    crate::cases::case_file(app, caller, id).await?;
    let mut v = Vec::new();
    for (n, _) in app.db.list_notifications(Some(id), None, 500).await? {
        v.push(out(app, n).await?);
    }
    Ok(v)
}

/// Every notification of the county's tree (optionally in one state), newest first.
pub async fn list(app: &App, caller: &Caller, state: Option<&str>, limit: Option<i64>) -> AppResult<Vec<NotificationOut>> {
    app.authorize(caller, Act::ManageNotifications)?;
    let state = state.map(|s| Delivery::parse(s, "state")).transpose()?;
    let mut v = Vec::new();
    // Another county's notifications on the same database are not this county's business.
    for (n, unit) in app.db.list_notifications(None, state, limit.unwrap_or(100).clamp(1, 1000)).await? {
        if unit.is_some_and(|u| app.may(caller, Act::ManageNotifications, &u)) {
            v.push(out(app, n).await?);
        }
    }
    Ok(v)
}

/// Re-runs a notification that was given up (or never sent for want of a transport).
pub async fn retry(app: &App, caller: &Caller, id: &str) -> AppResult<NotificationOut> {
    app.authorize(caller, Act::ManageNotifications)?;
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(AppError::NotFound("通知"));
    }
    let n = app.db.get_notification(id).await?.ok_or(AppError::NotFound("通知"))?;
    // A case's message belongs to the case's unit; an invitation's to its matter's.
    let unit = match (&n.n.case_id, &n.n.matter_id) {
        (Some(case_id), _) => app.db.get_case(case_id).await?.map(|(s, _)| s.case.unit_code),
        (None, Some(matter_id)) => app.db.matter_unit(matter_id).await?,
        (None, None) => None,
    };
    let unit = unit.ok_or(AppError::NotFound("通知"))?;
    app.authorize_found(caller, Act::ManageNotifications, &Target::unit(&unit), "通知")?;
    if !app.db.retry_notification(id, Timestamp::now().micros()).await? {
        return Err(AppError::conflict(
            "not_retryable",
            format!("该通知当前状态为 {}，只有已放弃（dead）或未发送（unsent）的通知可以重发", n.state.code()),
            None,
        ));
    }
    let n = app.db.get_notification(id).await?.ok_or(AppError::NotFound("通知"))?;
    out(app, n).await
}

/// One message as a transport sees it.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    /// the notification id: gateways that deduplicate can use it
    pub id: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

pub type SendResult<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// A way to deliver messages of one channel. `Ok` carries what the far end answered, `Err` why it failed.
pub trait Transport: Send + Sync {
    fn send<'a>(&'a self, msg: &'a Outgoing<'a>) -> SendResult<'a>;
}

/// The transports of this node and the retry policy.
#[derive(Clone, Default)]
pub struct Notifier {
    pub sms: Option<Arc<dyn Transport>>,
    pub email: Option<Arc<dyn Transport>>,
    /// first retry after this many seconds, doubling each time
    pub retry_base_secs: i64,
    /// attempts before a notification is left `dead`
    pub max_attempts: i64,
}

impl Notifier {
    pub fn new(sms: Option<Arc<dyn Transport>>, email: Option<Arc<dyn Transport>>) -> Self {
        Notifier { sms, email, retry_base_secs: 30, max_attempts: 6 }
    }
}

/// What an event of a case means for the people to be told.
fn happening(e: &CaseEvent) -> Option<Happening> {
    Some(match e.detail().ok()? {
        EventDetail::Extended { new_reply_by, reason, .. } => Happening::Extended { new_reply_by: new_reply_by.date(), reason },
        EventDetail::Replied { text, .. } => Happening::Replied { text },
        EventDetail::Verdict { .. } if e.is_reopening() => Happening::Reopened,
        EventDetail::Overdue { step, deadline, .. } => Happening::Overdue { step, deadline: deadline.date() },
        EventDetail::DueWarning { step, deadline, .. } => Happening::DueToday { step, deadline: deadline.date() },
        EventDetail::AppealApplied { route, .. } => Happening::AppealApplied { to_bureau_next: route == hcp_domain::appeal::Route::Hall },
        EventDetail::AppealOpinion { agree, appeal_state: hcp_domain::appeal::AppealState::PendingBureau, .. } => {
            Happening::AppealOpinion { agree }
        }
        EventDetail::AppealDecided { upheld, .. } => Happening::AppealDecided { upheld },
        EventDetail::Merged { .. } => Happening::Merged,
        EventDetail::RectificationOverdue { rectify_by, .. } => Happening::RectificationOverdue { rectify_by: rectify_by.date() },
        EventDetail::RectificationDone { note, .. } => Happening::RectificationDone { note },
        EventDetail::DeadlinesRecomputed { respond_by, reply_by, previous_respond_by, previous_reply_by, .. } => {
            Happening::DeadlinesRecomputed {
                respond_by: (respond_by != previous_respond_by).then(|| respond_by.date()),
                reply_by: (reply_by != previous_reply_by).then(|| reply_by.date()),
            }
        }
        _ => return None,
    })
}

/// The notification rows for one happening of one case.
async fn rows_for(app: &App, source: &str, s: &CaseSummary, h: &Happening) -> AppResult<Vec<NewNotification>> {
    let master = app.master();
    let c = &s.case;
    let ctx = CaseContext {
        sender: app.config.sender_name.clone(),
        case_ref: c.id.chars().rev().take(8).collect::<Vec<_>>().into_iter().rev().collect(),
        unit_name: master.unit_name(&c.unit_code).unwrap_or_else(|| c.unit_code.clone()),
        item_name: master.item_name(&c.item_code),
        kind_label: c.kind.label().to_string(),
        respond_by: s.respond_by.date(),
        reply_by: s.reply_by.date(),
        // The personal link is made at sending time: neither the database nor staff ever hold it.
        feedback_url: matches!(h, Happening::Replied { .. }).then(|| FEEDBACK_PLACEHOLDER.to_string()),
    };
    let mut out = Vec::new();
    for n in notices(h, &ctx) {
        let mut add = |recipient: String, channel: &str, address: Vec<u8>, masked: String, n: &Notice| {
            out.push(NewNotification {
                id: uuid::Uuid::now_v7().to_string(),
                source: source.to_string(),
                case_id: Some(c.id.clone()),
                matter_id: None,
                recipient,
                channel: channel.to_string(),
                address,
                address_masked: masked,
                template: n.template.to_string(),
                subject: n.subject.clone(),
                body: n.body.clone(),
            })
        };
        match n.audience {
            Audience::Rater => {
                let phone = match &c.rating_id {
                    Some(r) => match app.db.get_rating(r).await? {
                        // The applicant rated as themselves: their number is the matter's.
                        Some(r) if r.rater_from_applicant => app.db.find_matter(&r.matter_no).await?.and_then(|m| m.applicant_phone),
                        Some(r) => r.rater_phone,
                        None => None,
                    },
                    None => app.db.complaint_of_case(&c.id).await?.and_then(|q| q.contact_phone),
                };
                if let Some(env) = phone {
                    let masked = mask_phone(&app.secrets.decrypt(&env)?);
                    add("rater".into(), "sms", env, masked, &n);
                }
            }
            Audience::Unit | Audience::UnitApprovers | Audience::County => {
                let (units, roles): (Vec<String>, &[Role]) = match n.audience {
                    // A village station's or town centre's case reaches its town too (the town answers for it).
                    Audience::Unit => (master.answering_units(&c.unit_code), &[Role::UnitHandler, Role::UnitApprover, Role::TownAdmin]),
                    Audience::UnitApprovers => (master.answering_units(&c.unit_code), &[Role::UnitApprover]),
                    _ => (vec![master.top_of(&c.unit_code)], &[Role::BureauAdmin]),
                };
                for (user, email, mobile) in app.db.staff_contacts(&units, roles).await? {
                    if let Some(e) = email.filter(|e| !e.is_empty()) {
                        add(format!("staff:{user}"), "email", app.secrets.encrypt(&e)?, mask_email(&e), &n);
                    }
                    if let Some(env) = mobile {
                        // An SMS has no subject line: it leads the text.
                        let masked = mask_phone(&app.secrets.decrypt(&env)?);
                        let sms =
                            Notice { body: format!("{}：{}", n.subject, n.body.replace("\n\n", " ").replace('\n', " ")), ..n.clone() };
                        add(format!("staff:{user}"), "sms", env, masked, &sms);
                    }
                }
            }
        }
    }
    Ok(out)
}

const DERIVE_BATCH: i64 = 200;

/// Turns the case records on the ledger after the cursor into notifications, a batch at a time. Returns how
/// many were stored and whether more may be waiting. A record that cannot be turned into messages is logged
/// and passed over, so that one bad record cannot stop every notification after it.
#[tracing::instrument(skip_all)]
pub async fn derive(app: &App) -> AppResult<(usize, bool)> {
    let (cursor, upto, entries) = app.db.notify_backlog(DERIVE_BATCH).await?;
    if upto == cursor {
        return Ok((0, false));
    }
    let mut rows = Vec::new();
    for (seq, kind, ref_id) in &entries {
        match rows_for_entry(app, kind, ref_id).await {
            Ok(r) => rows.extend(r),
            Err(e) => tracing::warn!(error = %e, seq, "a ledger record could not be turned into notifications; passed over"),
        }
    }
    let n = rows.len();
    let more = entries.len() as i64 == DERIVE_BATCH;
    Ok(if app.db.commit_notifications(cursor, upto, &rows, Timestamp::now().micros()).await? { (n, more) } else { (0, true) })
}

async fn rows_for_entry(app: &App, kind: &str, ref_id: &str) -> AppResult<Vec<NewNotification>> {
    let kind = RecordKind::parse(kind);
    let case_id = match kind {
        Some(RecordKind::CaseOpened) => ref_id.to_string(),
        _ => match app.db.case_of_event(ref_id).await? {
            Some(c) => c,
            None => return Ok(Vec::new()),
        },
    };
    let Some((summary, events)) = app.db.get_case(&case_id).await? else { return Ok(Vec::new()) };
    let h = match kind {
        Some(RecordKind::CaseOpened) => Happening::Opened,
        _ => match events.iter().find(|e| e.id == ref_id).and_then(happening) {
            Some(h) => h,
            None => return Ok(Vec::new()),
        },
    };
    rows_for(app, ref_id, &summary, &h).await
}

/// Jobs claimed at once: each send may take up to the transport's timeout (15 s), all within the lease.
pub const SEND_BATCH: i64 = 5;
const LEASE_MICROS: i64 = 180_000_000;

/// Sends the notifications whose jobs are due. Returns how many jobs were claimed.
#[tracing::instrument(skip_all)]
pub async fn send_due(app: &App, notifier: &Notifier) -> AppResult<usize> {
    let now = Timestamp::now().micros();
    let jobs = app.db.claim_jobs("notify", now, LEASE_MICROS, SEND_BATCH).await?;
    for job in &jobs {
        if let Err(e) = send_one(app, notifier, job).await {
            // Whatever went wrong (an address that no longer decrypts, a database hiccup): give this one up
            // visibly rather than leave it to be claimed again for ever.
            tracing::warn!(error = %e, job = %job.id, "notification job failed");
            metrics::counter!("hcp_notification_failures_total").increment(1);
            let why = format!("发送失败：{}", e.message());
            let _ = app.db.finish_job(job, JobOutcome::Dead { error: &why }).await;
        }
    }
    Ok(jobs.len())
}

async fn send_one(app: &App, notifier: &Notifier, job: &ClaimedJob) -> AppResult<()> {
    let id = serde_json::from_str::<serde_json::Value>(&job.payload)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(String::from))
        .unwrap_or_default();
    let Some(note) = app.db.get_notification(&id).await? else {
        app.db.finish_job(job, JobOutcome::Dead { error: "通知不存在" }).await?;
        return Ok(());
    };
    if note.state == Delivery::Sent {
        app.db.finish_job(job, JobOutcome::Done).await?;
        return Ok(());
    }
    let transport = match note.n.channel.as_str() {
        "sms" => notifier.sms.as_ref(),
        _ => notifier.email.as_ref(),
    };
    let at = Timestamp::now().micros();
    // Attempts are numbered per notification, across the jobs an administrator may re-run.
    let attempt = note.attempts + 1;
    let Some(transport) = transport else {
        let why = if note.n.channel == "sms" { "未配置短信网关，未发送" } else { "未配置邮件服务器，未发送" };
        app.db.record_attempt(&id, attempt, false, Delivery::Unsent, why, at).await?;
        app.db.finish_job(job, JobOutcome::Done).await?;
        return Ok(());
    };
    if let Err(why) = crate::invitations::still_wanted(app, &note.n.source).await? {
        app.db.record_attempt(&id, attempt, false, Delivery::Dead, why, at).await?;
        app.db.finish_job(job, JobOutcome::Done).await?;
        return Ok(());
    }
    let to = app.secrets.decrypt(&note.n.address)?;
    let mut body = match (&note.n.case_id, note.n.recipient.as_str()) {
        (Some(case_id), "rater") => note.n.body.replace(FEEDBACK_PLACEHOLDER, &app.feedback_url(case_id)),
        _ => note.n.body.clone(),
    };
    if body.contains(crate::invitations::RATING_PLACEHOLDER) {
        let link = crate::invitations::rating_link(app, &note.n.source).await?.ok_or(AppError::NotFound("办件"))?;
        body = body.replace(crate::invitations::RATING_PLACEHOLDER, &link);
    }
    let msg = Outgoing { id: &id, to: &to, subject: &note.n.subject, body: &body };
    match transport.send(&msg).await {
        Ok(result) => {
            app.db.record_attempt(&id, attempt, true, Delivery::Sent, &result, at).await?;
            app.db.finish_job(job, JobOutcome::Done).await?;
        }
        Err(error) if job.attempt >= notifier.max_attempts => {
            tracing::warn!(notification = %id, attempt, %error, "notification given up");
            metrics::counter!("hcp_notification_failures_total").increment(1);
            app.db.record_attempt(&id, attempt, false, Delivery::Dead, &error, at).await?;
            app.db.finish_job(job, JobOutcome::Dead { error: &error }).await?;
        }
        Err(error) => {
            metrics::counter!("hcp_notification_failures_total").increment(1);
            let delay = notifier.retry_base_secs.max(1).saturating_mul(1 << (job.attempt - 1).clamp(0, 16));
            app.db.record_attempt(&id, attempt, false, Delivery::Retrying, &error, at).await?;
            let retry_at = Timestamp(at).plus_seconds(delay).micros();
            app.db.finish_job(job, JobOutcome::Retry { at: retry_at, error: &error }).await?;
        }
    }
    Ok(())
}

/// Skips the notifications of everything on the ledger so far (a seeded history is not news to anyone).
pub async fn skip_history(app: &App) -> AppResult<()> {
    Ok(app.db.skip_notifications_to_head().await?)
}
