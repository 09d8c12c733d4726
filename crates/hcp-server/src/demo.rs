//! Demo data of Long County (陇县, 行政区划 610327): its halls, departments, ten towns with village stations,
//! windows, service items and staff (from `data/demo/*.csv`), staff logins, keys, and a few thousand matters
//! and ratings over the past months with a realistic mix of channels and levels.
//!
//! The history is backdated, so it is written below the rating use case (which dates a rating when it
//! arrives): matters are sealed and stored as registration does (`hcp_app::matters`), ratings go through the
//! batch writer with the case each bad review opens (`hcp_app::ratings::case_for`), so everything is on the
//! ledger and in the rollups; the cases are then walked through typed steps. Raters' data is fictional and
//! encrypted.

use anyhow::Context;
use hcp_app::App;
use hcp_app::matters::{Applicant, Details, MatterRecord, seal, store};
use hcp_app::passwords;
use hcp_domain::access::{KeyKind, Role};
use hcp_domain::case_event::EventDetail;
use hcp_domain::case_flow::{Action, CaseState, Outcome, Verdict};
use hcp_domain::case_history::detail_of;
use hcp_domain::master::MasterData;
use hcp_domain::national::{Handling, LimitUnit, ProcChannel, TimeLimit};
use hcp_domain::records::{CaseEvent, Rating};
use hcp_domain::{BizDay, Channel, Level, Timestamp};
use hcp_storage::Db;
use hcp_storage::matters::Registered;
use hcp_storage::ratings::NewRating;

pub const DEMO_PASSWORD: &str = "Longxian-2026";

pub struct DemoInfo {
    pub users: Vec<(String, String, String)>,
    pub keys: Vec<(String, String, String)>,
    pub matters: usize,
    pub ratings: usize,
    /// the administrator's second-factor secret (base32) and its otpauth URI
    pub admin_totp: (String, String),
    /// a matter served a moment ago at window ZX-01 and not yet rated: `(matter_no, service seq, served at)`
    pub try_matter: (String, i64, hcp_domain::Timestamp),
}

/// A small deterministic generator (xorshift64*), so every demo database looks the same.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(1000) < percent * 10
    }
}

const SURNAMES: &[&str] =
    &["王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "罗", "梁"];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英",
    "建国", "小红", "志明",
];
const BAD_TEXTS: &[&str] = &[
    "排队等了很久，窗口只开了一个",
    "材料说明不清楚，来回跑了两趟",
    "工作人员态度不耐烦",
    "系统一直卡，提交不了",
    "办理时间超过了承诺时限",
];
const GOOD_TEXTS: &[&str] = &["服务很热情，一次就办好了", "效率高，点赞", "帮我把材料都核对好了，谢谢", "流程清楚，很方便"];

fn person(g: &mut Gen) -> String {
    format!("{}{}", g.pick(SURNAMES), g.pick(GIVEN))
}

fn phone(g: &mut Gen) -> String {
    let prefixes = ["133", "135", "136", "138", "139", "150", "151", "158", "177", "180", "187", "189"];
    format!("{}{:08}", g.pick(&prefixes), g.below(100_000_000))
}

fn id_number(g: &mut Gen) -> Option<String> {
    let birth_year = 1950 + g.below(55);
    let body = format!("610327{}{:02}{:02}{:03}", birth_year, 1 + g.below(12), 1 + g.below(28), g.below(1000));
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = body.chars().zip(WEIGHTS).map(|(c, w)| c.to_digit(10).unwrap_or(0) * w).sum();
    Some(format!("{body}{}", CHECK[(sum % 11) as usize]))
}

/// A made-up 统一社会信用代码 of a company registered in the county, with a correct check character.
fn credit_code(g: &mut Gen) -> Option<String> {
    const CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut body = String::from("91610327");
    for _ in 0..9 {
        body.push(char::from(CHARS[g.below(31) as usize]));
    }
    let (mut weight, mut sum) = (1_usize, 0_usize);
    for c in body.bytes() {
        sum += CHARS.iter().position(|x| *x == c).unwrap_or(0) * weight;
        weight = weight * 3 % 31;
    }
    Some(format!("{body}{}", char::from(CHARS[(31 - sum % 31) % 31])))
}

/// Imports the master data of Long County from the CSV files shipped with the program.
pub async fn seed_master(db: &Db) -> anyhow::Result<()> {
    use hcp_app::settings::import_master_into;
    import_master_into(db, "units", include_bytes!("../../../data/demo/units.csv")).await.context("导入单位")?;
    import_master_into(db, "windows", include_bytes!("../../../data/demo/windows.csv")).await.context("导入窗口")?;
    import_master_into(db, "items", include_bytes!("../../../data/demo/items.csv")).await.context("导入事项")?;
    import_master_into(db, "staff", include_bytes!("../../../data/demo/staff.csv")).await.context("导入工作人员")?;
    Ok(())
}

/// Seeds everything into the application's empty database. `matters` is how many matters to spread over the
/// past 120 days.
pub async fn seed(app: &App, matters: usize) -> anyhow::Result<DemoInfo> {
    let db = &app.db;
    let secrets = &app.secrets;
    anyhow::ensure!(db.is_empty().await?, "数据库不是空的：演示数据只写入空数据库");
    seed_master(db).await?;
    let master = app.reload_master().await?;

    let hash = passwords::hash(DEMO_PASSWORD)?;
    let users: Vec<(String, String, String)> = [
        ("admin", Role::BureauAdmin, "LX"),
        ("duban", Role::Oversight, "LX"),
        ("gaj_handler", Role::UnitHandler, "LX-GAJ"),
        ("chengguan", Role::TownAdmin, "LX-CG"),
        ("cg_shenhe", Role::UnitApprover, "LX-CG-BMZX"),
        ("dongguan", Role::UnitHandler, "LX-CG-V1"),
    ]
    .into_iter()
    .map(|(u, r, unit)| (u.to_string(), r.code().to_string(), unit.to_string()))
    .collect();
    for (u, role, unit) in &users {
        db.insert_user(u, &hash, Role::parse(role).unwrap_or(Role::UnitHandler), unit).await?;
        // Work addresses for notifications (recorded as unsent until a mail server is configured).
        db.set_user_contact(u, Some(&format!("{u}@longxian.example")), None).await?;
    }
    // Administrators sign in with a second factor: the demo's is enrolled and printed.
    let raw: [u8; 20] = rand::random();
    let b32 = hcp_domain::totp::base32_encode(&raw);
    db.set_totp_secret("admin", Some(secrets.encrypt(&b32)?)).await?;
    let admin_totp = (b32, hcp_domain::totp::otpauth_uri("陇县好差评", "admin", &raw));
    let mut keys = Vec::new();
    for (kind, unit, window, label) in [
        (KeyKind::System, "LX", None, "县一体化政务服务平台（部门办事系统）"),
        (KeyKind::Device, "LX-ZWZX", Some("ZX-01"), "综合受理1号窗口评价器"),
        (KeyKind::Hotline, "LX", None, "12345 政务服务热线"),
    ] {
        let (_, key) = hcp_app::settings::issue_key(app, kind, unit, window, label).await?;
        keys.push((kind.code().to_string(), label.to_string(), key));
    }

    let ratings = seed_activity(app, &master, matters).await?;
    walk_cases(db).await?;
    // One matter to try the rating page with, served a moment ago and not yet rated.
    let now = hcp_domain::Timestamp::now();
    let applicant = Applicant { kind: "person", prop: None, name: "试用申请人", phone: Some("13800001234"), id_number: None };
    let try_it = MatterRecord {
        matter_no: "LX-DEMO-0001".into(),
        item_code: "61032707009".into(),
        unit_code: "LX-GAJ".into(),
        applicant,
        accepted_at: now.plus_seconds(-1_800),
        completed_at: Some(now.plus_seconds(-60)),
        details: Details { handling: Some(Handling::Instant), proc_channel: Some(ProcChannel::Offline), ..Details::default() },
    };
    let m = match store(db, secrets, &seal(secrets, try_it, ("demo", None))?, "试用申请人", None).await? {
        Registered::Created(m) | Registered::Existing { matter: m, .. } => m,
    };
    let served = db.add_service(&m.id, Some("ZX-01"), Some("P001"), now.plus_seconds(-120)).await?;
    // The demo's history is not news to anyone: notify only what happens from now on.
    hcp_app::notifications::skip_history(app).await?;
    Ok(DemoInfo { users, keys, matters, ratings, admin_totp, try_matter: (m.matter_no.clone(), served.seq, served.served_at) })
}

/// Handles the demo's bad reviews as a county would have: most older cases responded to in time, called back,
/// decided, replied to and closed; a few late; the recent ones still open. Each step is the domain's typed event
/// through the same storage call as the API, so it is on the ledger.
async fn walk_cases(db: &Db) -> anyhow::Result<()> {
    let units: Vec<String> = db.load_master().await?.units.keys().cloned().collect();
    let first = BizDay::from_key(19_700_101).unwrap_or_else(BizDay::today);
    let all = db.cases_with_events(&units, first, BizDay::today()).await?;
    let mut g = Gen(0x0c45_e5a1_2026_1130);
    let now = Timestamp::now();
    for (summary, _) in all {
        let c = &summary.case;
        // Cases of the last week stay open for the handlers to work on.
        if c.arrival_day.plus_days(7).start() > now {
            continue;
        }
        let late = g.chance(8);
        let respond_at = if late { c.respond_by.plus_days(1).at_hour(10) } else { c.arrival_day.at_hour(10) };
        let (reply_day, reply_plus) = if late { (summary.reply_by, 2) } else { (c.respond_by, 0) };
        let mut steps: Vec<(Action, Timestamp)> = vec![(Action::Respond { note: "已安排专人核实".into() }, respond_at)];
        if c.real_name {
            let callback =
                Action::Callback { method: "电话".into(), reached: true, summary: "已与评价人核实情况并致歉".into() };
            steps.push((callback, respond_at.plus_seconds(3_600)));
        }
        let outcome = match g.below(10) {
            0..=5 => Outcome::FixedAtOnce { fixed: "已对窗口人员进行提醒并优化流程".into() },
            6..=7 => Outcome::Explained {
                explanation: "该材料为法定要件，已向评价人解释".into(),
                legal_basis: "《中华人民共和国行政许可法》第三十一条".into(),
            },
            8 => Outcome::Ledger { reason: "涉及系统改造".into(), rectify_by: reply_day.plus_days(90).date() },
            _ => Outcome::Invalid { evidence: "叫号记录与监控显示情况不符".into() },
        };
        steps.push((Action::Decide(outcome), reply_day.plus_days(reply_plus).at_hour(11)));
        steps.push((Action::Reply { text: "您反映的问题已核实处理，感谢您的监督".into() }, reply_day.plus_days(reply_plus).at_hour(15)));
        if c.arrival_day.plus_days(14).start() <= now {
            let verdict = if g.chance(85) { Verdict::Satisfied } else { Verdict::BasicallySatisfied };
            steps.push((Action::Verdict(verdict), reply_day.plus_days(reply_plus + 2).at_hour(10)));
        }
        let mut state = summary.state;
        for (action, at) in steps {
            let after = match &action {
                Action::Respond { .. } | Action::Callback { .. } => CaseState::Responded,
                Action::Decide(_) => CaseState::Decided,
                Action::Reply { .. } => CaseState::Replied,
                _ => CaseState::Closed,
            };
            let after = if matches!(action, Action::Callback { .. }) { state } else { after };
            let detail: EventDetail = detail_of(&action, matches!(action, Action::Verdict(_)), None);
            let event = CaseEvent::new(&c.id, "staff:demo", at, after, &detail);
            db.append_case_event(&event, state, None).await?;
            state = after;
        }
    }
    Ok(())
}

async fn seed_activity(app: &App, master: &MasterData, count: usize) -> anyhow::Result<usize> {
    let (db, secrets, catalogue) = (&app.db, &app.secrets, &app.catalogue);
    let catalogue_version = catalogue.version;
    let mut g = Gen(0x6c78_2026_0610_327d);
    let mut items: Vec<_> = master.items.values().collect();
    items.sort_by(|a, b| a.code.cmp(&b.code));
    let mut town_windows: Vec<_> =
        master.windows.values().filter(|w| master.units.get(&w.unit_code).is_some_and(|u| !u.kind.is_hall())).collect();
    town_windows.sort_by(|a, b| a.code.cmp(&b.code));
    let staff_at = |window: &str| master.staff.values().find(|s| s.window_code.as_deref() == Some(window)).map(|s| s.code.clone());
    // Department → the hall window that serves it.
    let dept_window = |unit: &str| -> &str {
        match unit {
            "LX-GAJ" => "ZX-GA",
            "LX-RSJ" => "ZX-SB",
            "LX-YBJ" => "ZX-YB",
            "LX-SWJ" => "ZX-SW",
            "LX-SCJ" => "ZX-SC",
            "LX-ZRJ" => "ZX-BDC1",
            "LX-MZJ" => "MZ-01",
            "LX-GJJ" => "GJJ-01",
            _ => "",
        }
    };
    let now = Timestamp::now();
    let mut pending: Vec<NewRating> = Vec::new();
    let mut rated = 0;
    for n in 0..count {
        let item = *g.pick(&items);
        let days_ago = 1 + g.below(120) as i64;
        // Office hours in Shanghai: 08:30 … 17:30 (00:30 … 09:30 UTC).
        let accepted = now
            .plus_seconds(-days_ago * 86_400)
            .plus_seconds(-(now.micros() / 1_000_000 % 86_400))
            .plus_seconds(1_800 + g.below(32_400) as i64);
        let at_town = g.chance(30) && !town_windows.is_empty();
        let (unit, window) = if at_town {
            let w = *g.pick(&town_windows);
            (w.unit_code.clone(), w.code.clone())
        } else {
            let dw = dept_window(&item.owner_unit_code);
            let w = if dw.is_empty() { format!("ZX-{:02}", 1 + g.below(8)) } else { dw.to_string() };
            (item.owner_unit_code.clone(), w)
        };
        let online = !at_town && g.chance(35);
        let completed = accepted.plus_seconds(if g.chance(40) { 600 + g.below(3_000) as i64 } else { 86_400 * (1 + g.below(5) as i64) });
        let completed = if completed > now { None } else { Some(completed) };
        let name = person(&mut g);
        let kind = if g.chance(15) { "legal" } else { "person" };
        let tel = phone(&mut g);
        let id = match kind {
            "legal" => credit_code(&mut g),
            _ if g.chance(40) => id_number(&mut g),
            _ => None,
        };
        let agent = (kind == "person" && g.chance(8)).then(|| person(&mut g));
        let record = MatterRecord {
            matter_no: format!("LX{}{:06}", accepted.biz_day().key(), n + 1),
            item_code: item.code.clone(),
            unit_code: unit.clone(),
            applicant: Applicant { kind, prop: None, name: &name, phone: Some(&tel), id_number: id.as_deref() },
            accepted_at: accepted,
            completed_at: completed,
            details: Details {
                promise: Some(TimeLimit { amount: 5, unit: LimitUnit::WorkingDay }),
                legal: Some(TimeLimit { amount: 20, unit: LimitUnit::WorkingDay }),
                handling: Some(if completed.is_some_and(|c| c.biz_day() == accepted.biz_day()) {
                    Handling::Instant
                } else {
                    Handling::Promised
                }),
                proc_channel: Some(if online { ProcChannel::Online } else { ProcChannel::Offline }),
                agent_name: agent.as_deref(),
                // Handled online: the department's staff member who handled it (经办人).
                handler_code: if online { staff_at(&window) } else { None },
                ..Details::default()
            },
        };
        let matter = match store(db, secrets, &seal(secrets, record, ("demo", None))?, &name, None).await? {
            Registered::Created(m) | Registered::Existing { matter: m, .. } => m,
        };
        let service =
            if online { None } else { Some(db.add_service(&matter.id, Some(&window), staff_at(&window).as_deref(), accepted).await?) };
        if !g.chance(86) {
            continue;
        }
        let channel = if online {
            *g.pick(&[Channel::Mobile, Channel::Mobile, Channel::Pc, Channel::Sms, Channel::BusinessSystem])
        } else if window.contains("-V") {
            Channel::Paper
        } else {
            *g.pick(&[Channel::Pad, Channel::Pad, Channel::Pad, Channel::Pad, Channel::Qr, Channel::HallTerminal, Channel::Phone])
        };
        let reference = match (&service, completed) {
            (Some(s), _) => s.served_at,
            (None, Some(c)) => c,
            (None, None) => continue,
        };
        let rated_at = reference.plus_seconds(20 + g.below(if channel == Channel::Pad { 120 } else { 86_400 }) as i64);
        if rated_at > now {
            continue;
        }
        let roll = g.below(1000);
        let level = match roll {
            0..=6 => 1,
            7..=19 => 2,
            20..=49 => 3,
            50..=139 => 4,
            _ => 5,
        };
        let level = Level::new(level, "level")?;
        let options: Vec<&str> = catalogue.reasons_for(level, channel.mode()).map(|r| r.code.as_str()).collect();
        let mut reasons: Vec<String> = Vec::new();
        if level.is_bad() || g.chance(50) {
            reasons.push((*g.pick(&options)).to_string());
        }
        let text = if level.is_bad() && g.chance(60) {
            Some((*g.pick(BAD_TEXTS)).to_string())
        } else if g.chance(8) {
            Some((*g.pick(GOOD_TEXTS)).to_string())
        } else {
            None
        };
        let anonymous = g.chance(25);
        let separate = !anonymous && g.chance(10);
        let (rn, rp, ix) = if separate {
            let p = phone(&mut g);
            (Some(secrets.encrypt(&person(&mut g))?), Some(secrets.encrypt(&p)?), Some(secrets.phone_index(&p)))
        } else {
            (None, None, None)
        };
        let (credential_kind, client_type) = match channel {
            Channel::Pad => ("device_key", "device"),
            Channel::Phone => ("hotline_key", "hotline"),
            Channel::Paper => ("staff_session", "browser"),
            Channel::BusinessSystem => ("system_key", "system"),
            Channel::Mobile | Channel::Sms => ("rating_token", "mobile_browser"),
            _ => ("rating_token", "browser"),
        };
        reasons.sort();
        // A third of raters also rate some of the mode's indicators, near their overall level.
        let mode = if channel.mode() == hcp_domain::channel::Mode::Online { "online" } else { "offline" };
        let mut given = Vec::new();
        if g.chance(33) {
            for i in catalogue.indicators.iter().filter(|i| i.modes.iter().any(|m| m == mode)) {
                if g.chance(60) {
                    let v = i64::from(level.value()) + [-1, 0, 0, 0, 1][g.below(5) as usize];
                    given.push(format!("{}={}", i.code, v.clamp(1, 5)));
                }
            }
        }
        let indicators = given.join(",");
        let row = Rating {
            id: uuid::Uuid::now_v7().to_string(),
            matter_id: matter.id.clone(),
            matter_no: matter.matter_no.clone(),
            service_seq: service.as_ref().map(|s| s.seq).unwrap_or(0),
            assess_number: 1,
            follows_id: None,
            channel,
            level: i64::from(level.value()),
            indicators,
            referral: catalogue.needs_referral(&reasons),
            reasons: reasons.join(","),
            text,
            anonymous,
            rater_name: rn,
            rater_phone: rp,
            rater_id_number: None,
            rater_phone_ix: ix,
            rater_from_applicant: !anonymous && !separate,
            unit_code: matter.unit_code.clone(),
            item_code: matter.item_code.clone(),
            window_code: service.as_ref().and_then(|s| s.window_code.clone()),
            staff_code: service.as_ref().and_then(|s| s.staff_code.clone()),
            catalogue_version,
            rated_at: rated_at.micros(),
            received_at: rated_at.micros(),
            biz_day: rated_at.biz_day(),
            credential_kind: credential_kind.into(),
            credential_id: None,
            device_id: (channel == Channel::Pad).then(|| format!("PJQ-{window}")),
            source_hash: None,
            client_type: client_type.into(),
            seconds_after_service: Some((rated_at.micros() - reference.micros()) / 1_000_000),
            ledger_seq: 0,
        };
        let case = if level.is_bad() { Some(hcp_app::ratings::case_for(app, &row).await?) } else { None };
        pending.push(NewRating { row, idempotency: None, case });
        if pending.len() >= 256 {
            rated += flush(db, &mut pending).await?;
        }
    }
    rated += flush(db, &mut pending).await?;
    Ok(rated)
}

async fn flush(db: &Db, pending: &mut Vec<NewRating>) -> anyhow::Result<usize> {
    // Ratings go in in the order they were made, as they would have arrived.
    pending.sort_by_key(|r| r.row.rated_at);
    let results = db.write_ratings(pending).await?;
    pending.clear();
    let created = results.into_iter().filter(|r| matches!(r, Ok(hcp_storage::ratings::RatingOutcome::Created { .. }))).count();
    Ok(created)
}
