//! The county's settings as data: the catalogue in force, the working-day calendar, master data imported from
//! CSV, machine keys and staff accounts. The command line and the settings pages reach the same functions.

use hcp_domain::access::{Act, KeyKind, Role, UnitTree};
use hcp_domain::ids::{parse_code, parse_text};
use hcp_domain::master::{Item, Staff, Unit, UnitKind, Window};
use hcp_domain::work_calendar::{PROVISIONAL_YEARS, WorkCalendar, overdue_from};
use hcp_domain::{BizDay, Catalogue, DomainError, Timestamp};
use hcp_storage::Db;
use hcp_storage::keys::ApiKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::error::{AppError, AppResult};

/// The default catalogue, version 2 (`data/catalogue-v2.toml`).
pub const DEFAULT_CATALOGUE: &str = include_str!("../../../data/catalogue-v2.toml");

/// Earlier default catalogues: a database that still has one of them in force, unchanged, moves to the default
/// (a catalogue a jurisdiction loaded itself stays in force).
const EARLIER_DEFAULTS: [&str; 1] = [include_str!("../../../data/catalogue-v1.toml")];

/// The notices of 2020–2026 (`data/cn-official-calendar-2020-2026.csv`).
pub const DEFAULT_CALENDAR: &str = include_str!("../../../data/cn-official-calendar-2020-2026.csv");

/// Parses a catalogue version (TOML) and puts it in force.
pub async fn load_catalogue(db: &Db, text: &str) -> AppResult<Catalogue> {
    let cat = Catalogue::from_toml(text)?;
    db.store_catalogue(cat.version, &cat.name, text).await?;
    Ok(cat)
}

/// The catalogue in force; the default one is put in force on first start, and in place of an earlier default
/// still in force as shipped. Ratings keep the version they were given under.
pub async fn ensure_catalogue(db: &Db) -> AppResult<Catalogue> {
    match db.catalogue_text_in_force().await? {
        Some(text) if EARLIER_DEFAULTS.contains(&text.as_str()) => load_catalogue(db, DEFAULT_CATALOGUE).await,
        Some(text) => Catalogue::from_toml(&text).map_err(|e| AppError::internal(format!("the catalogue in force does not parse: {e}"))),
        None => load_catalogue(db, DEFAULT_CATALOGUE).await,
    }
}

/// The calendar; the shipped notices are loaded on first start.
pub async fn ensure_calendar(db: &Db) -> AppResult<WorkCalendar> {
    let cal = db.load_calendar().await?;
    if cal.loaded_years().next().is_some() {
        return Ok(cal);
    }
    db.store_calendar(&WorkCalendar::parse_csv(DEFAULT_CALENDAR)?, "国务院办公厅节假日安排 2020–2026（随程序提供）").await?;
    Ok(db.load_calendar().await?)
}

/// Text of a file as an office saved it: UTF-8 (with or without a byte-order mark), else GBK, as Excel and WPS
/// write CSV on Chinese Windows.
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GBK.decode(bytes).0.into_owned(),
    }
}

/// What loading holiday notices did.
#[derive(Debug, Clone)]
pub struct CalendarLoaded {
    pub years: Vec<i32>,
    /// open cases whose provisional deadlines moved (their units are told)
    pub changed: Vec<crate::sweeps::DeadlineChange>,
}

/// Loads a year's holiday notice (CSV `date,kind,holiday`); each year in the file is replaced. The provisional
/// deadlines of open cases are then recomputed on it.
#[tracing::instrument(skip_all)]
pub async fn import_calendar(app: &App, bytes: &[u8], source: &str) -> AppResult<CalendarLoaded> {
    let days = WorkCalendar::parse_csv(&decode_text(bytes))?;
    if days.is_empty() {
        return Err(AppError::invalid("invalid_calendar", "csv", "文件中没有节假日安排"));
    }
    let years = app.db.store_calendar(&days, source).await?;
    app.reload_calendar().await?;
    let changed = crate::sweeps::recompute_deadlines(app, &years).await?;
    Ok(CalendarLoaded { years, changed })
}

/// The same from the settings page: the county's administrators only (the calendar is shared by every tree).
pub async fn import_calendar_as(app: &App, caller: &Caller, bytes: &[u8]) -> AppResult<CalendarLoaded> {
    app.authorize(caller, Act::ManageSettings)?;
    import_calendar(app, bytes, &format!("web:{}", caller.actor())).await
}

#[derive(Deserialize)]
struct UnitRow {
    code: String,
    name: String,
    parent_code: Option<String>,
    kind: String,
    region_code: String,
    credit_code: Option<String>,
    hall_stationed: String,
}

#[derive(Deserialize)]
struct WindowRow {
    code: String,
    name: String,
    unit_code: String,
}

#[derive(Deserialize)]
struct ItemRow {
    code: String,
    name: String,
    item_type: String,
    owner_unit_code: String,
}

#[derive(Deserialize)]
struct StaffRow {
    code: String,
    name: String,
    unit_code: String,
    window_code: Option<String>,
}

fn opt(s: Option<String>) -> Option<String> {
    s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn name(raw: &str) -> Result<String, DomainError> {
    let n = parse_text(raw, "name", 100)?;
    if n.is_empty() {
        return Err(DomainError::new("missing_field", "name", "名称不能为空"));
    }
    Ok(n)
}

fn flag(raw: &str) -> Result<bool, DomainError> {
    match raw.trim() {
        "1" | "true" | "是" | "yes" => Ok(true),
        "0" | "false" | "否" | "no" | "" => Ok(false),
        other => Err(DomainError::new(
            "invalid_flag",
            "hall_stationed",
            format!("hall_stationed 应为 1/0、true/false 或 是/否，而不是“{other}”"),
        )),
    }
}

/// The kinds of master data a CSV file can hold.
pub const IMPORT_KINDS: [&str; 4] = ["units", "windows", "items", "staff"];

/// Imports master data of `kind` (`units`, `windows`, `items`, `staff`) from CSV with a header row, in order
/// (parents before children). The first bad row stops the import, naming its line; rows before it stay.
#[tracing::instrument(skip_all, fields(kind))]
pub async fn import_master(app: &App, kind: &str, bytes: &[u8]) -> AppResult<usize> {
    let n = import_master_into(&app.db, kind, bytes).await;
    app.reload_master().await?;
    n
}

/// As `import_master`, into a database no application serves yet (seeding, the command line).
pub async fn import_master_into(db: &Db, kind: &str, bytes: &[u8]) -> AppResult<usize> {
    let text = decode_text(bytes);
    let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let at = |line: usize, e: AppError| match e {
        AppError::Invalid(d) => AppError::Invalid(DomainError { message: format!("第 {line} 行：{}", d.message), ..d }),
        AppError::Conflict { code, message, existing_id } => {
            AppError::Conflict { code, message: format!("第 {line} 行：{message}"), existing_id }
        }
        other => other,
    };
    let bad_row = |line: usize| AppError::invalid("invalid_csv", "csv", format!("第 {line} 行格式错误（列名见 README）"));
    let mut n = 0;
    macro_rules! rows {
        ($t:ty, |$r:ident| $body:expr) => {
            for (i, rec) in rdr.deserialize::<$t>().enumerate() {
                let line = i + 2;
                let $r = rec.map_err(|_| bad_row(line))?;
                let res: AppResult<()> = async { $body }.await;
                res.map_err(|e| at(line, e))?;
                n += 1;
            }
        };
    }
    match kind {
        "units" => rows!(UnitRow, |r| {
            let unit = Unit {
                code: parse_code(&r.code, "code", 40)?,
                name: name(&r.name)?,
                parent_code: opt(r.parent_code).map(|p| parse_code(&p, "parent_code", 40)).transpose()?,
                kind: UnitKind::parse(r.kind.trim(), "kind")?,
                region_code: parse_code(&r.region_code, "region_code", 12)?,
                credit_code: opt(r.credit_code).map(|c| parse_code(&c, "credit_code", 18)).transpose()?,
                hall_stationed: flag(&r.hall_stationed)?,
            };
            Ok(db.insert_unit(&unit).await?)
        }),
        "windows" => rows!(WindowRow, |r| {
            let w = Window {
                code: parse_code(&r.code, "code", 40)?,
                name: name(&r.name)?,
                unit_code: parse_code(&r.unit_code, "unit_code", 40)?,
            };
            Ok(db.insert_window(&w).await?)
        }),
        "items" => rows!(ItemRow, |r| {
            let it = Item {
                code: parse_code(&r.code, "code", 40)?,
                name: name(&r.name)?,
                item_type: parse_code(&r.item_type, "item_type", 4)?,
                owner_unit_code: parse_code(&r.owner_unit_code, "owner_unit_code", 40)?,
            };
            Ok(db.insert_item(&it).await?)
        }),
        "staff" => rows!(StaffRow, |r| {
            let s = Staff {
                code: parse_code(&r.code, "code", 40)?,
                name: name(&r.name)?,
                unit_code: parse_code(&r.unit_code, "unit_code", 40)?,
                window_code: opt(r.window_code).map(|w| parse_code(&w, "window_code", 40)).transpose()?,
            };
            Ok(db.insert_staff(&s).await?)
        }),
        other => {
            return Err(AppError::invalid("invalid_kind", "kind", format!("未知的导入类型 {other}（可选 units、windows、items、staff）")));
        }
    }
    Ok(n)
}

/// The same from the settings page: the county's administrators only.
pub async fn import_master_as(app: &App, caller: &Caller, kind: &str, bytes: &[u8]) -> AppResult<usize> {
    app.authorize(caller, Act::ManageSettings)?;
    import_master(app, kind, bytes).await
}

/// A new machine key of `kind`: `hcp_<kind>_<48 hex>` (192 bits of randomness).
pub fn new_key(kind: KeyKind) -> String {
    let mut bytes = [0u8; 24];
    rand::fill(&mut bytes);
    format!("hcp_{}_{}", kind.code(), hex::encode(bytes))
}

/// Issues a machine key; only its hash is stored. Returns `(id, key)`: the key is shown once.
pub async fn issue_key(app: &App, kind: KeyKind, unit: &str, window: Option<&str>, label: &str) -> AppResult<(String, String)> {
    let unit = parse_code(unit, "unit", 40)?;
    let label = parse_text(label, "label", 100)?;
    let window = window.map(|w| parse_code(w, "window", 40)).transpose()?;
    let master = app.reload_master().await?;
    if !master.units.contains_key(&unit) {
        return Err(AppError::invalid("unknown_reference", "unit", format!("单位 {unit} 不存在")));
    }
    match (&window, kind) {
        (None, KeyKind::Device) => return Err(AppError::invalid("missing_field", "window", "评价器密钥必须绑定一个窗口")),
        (Some(_), KeyKind::SmsGateway | KeyKind::Province) => {
            return Err(AppError::invalid("window_not_allowed", "window", format!("{}密钥不绑定窗口", kind.label())));
        }
        // The SMS gateway answers for every phone of the county: it belongs to the county itself.
        (None, KeyKind::SmsGateway) if !master.is_top(&unit) => {
            return Err(AppError::invalid("county_only", "unit", "短信网关密钥须属于县级（最上级）单位"));
        }
        (Some(w), _) if master.windows.get(w).is_none_or(|x| !master.is_within(&x.unit_code, &unit)) => {
            return Err(AppError::invalid("unknown_reference", "window", format!("窗口 {w} 不存在或不属于该单位")));
        }
        _ => {}
    }
    let label = if label.is_empty() { format!("{} {unit}", kind.label()) } else { label };
    let key = new_key(kind);
    let id = app.db.insert_api_key(kind, &unit, window.as_deref(), &label, &key).await?;
    Ok((id, key))
}

/// The same from the keys page: an administrator within its tree.
pub async fn issue_key_as(app: &App, caller: &Caller, kind: &str, unit: &str, window: Option<&str>, label: &str) -> AppResult<String> {
    let kind = KeyKind::parse_field(kind, "kind")?;
    app.authorize_in(caller, Act::ManageKeys, unit.trim())?;
    Ok(issue_key(app, kind, unit, window, label).await?.1)
}

/// The keys an administrator may see, newest first, with when each was issued.
pub async fn keys_of(app: &App, caller: &Caller) -> AppResult<Vec<(ApiKey, Timestamp)>> {
    app.authorize(caller, Act::ManageKeys)?;
    Ok(app
        .db
        .list_api_keys()
        .await?
        .into_iter()
        .filter(|(k, _)| app.may(caller, Act::ManageKeys, &k.unit_code))
        .map(|(k, at)| (k, Timestamp(at)))
        .collect())
}

/// Revokes a key of the caller's tree (a node's cache forgets it within seconds).
pub async fn revoke_key_as(app: &App, caller: &Caller, id: &str) -> AppResult<()> {
    let known = keys_of(app, caller).await?.into_iter().find(|(k, _)| k.id == id).ok_or(AppError::NotFound("密钥"))?;
    app.db.revoke_api_key(&known.0.id).await?;
    app.forget_keys();
    Ok(())
}

/// Creates a staff account (the command line).
pub async fn create_user(app: &App, username: &str, password: &str, role: &str, unit: &str) -> AppResult<String> {
    crate::passwords::check_policy(password).map_err(|m| AppError::invalid("weak_password", "password", m))?;
    let role = Role::parse_field(role, "role")?;
    let username = parse_code(username, "username", 64)?;
    let hash = crate::passwords::hash(password)?;
    Ok(app.db.insert_user(&username, &hash, role, unit).await?)
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AddOut {
    /// the last allowed day
    pub date: String,
    /// RFC 3339: 00:00 Asia/Shanghai of the next day
    pub overdue_from: String,
    /// computed across a year whose notice is not loaded (Monday–Friday assumed)
    pub provisional: bool,
    pub missing_years: Vec<i32>,
    pub warning: Option<String>,
}

fn missing_warning(years: &[i32]) -> Option<String> {
    if years.is_empty() {
        None
    } else {
        let y: Vec<String> = years.iter().map(|y| y.to_string()).collect();
        Some(format!("{} 年的节假日安排尚未导入，已按周一至周五推算；导入后请重新计算", y.join("、")))
    }
}

/// The `days`-th working day after `date` (the day of arrival not counted).
pub async fn add_working_days(app: &App, date: &str, days: &str) -> AppResult<AddOut> {
    let date = BizDay::parse(date, "date")?;
    let days: i64 = days.trim().parse().map_err(|_| DomainError::new("invalid_days", "days", "days 应为 0 到 366 之间的整数"))?;
    let cal = app.calendar().await?;
    let r = cal.add_working_days(date.date(), days, "date")?;
    Ok(AddOut {
        date: BizDay::from(r.date).to_string(),
        overdue_from: overdue_from(r.date).to_rfc3339(),
        provisional: r.provisional,
        warning: missing_warning(&r.missing_years),
        missing_years: r.missing_years,
    })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarDayOut {
    pub date: String,
    /// `holiday` (a weekday off) or `workday` (a make-up working weekend)
    pub kind: String,
    pub working_day: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CalendarOut {
    pub year: i32,
    pub loaded: bool,
    pub loaded_years: Vec<i32>,
    /// the exceptions to Monday–Friday
    pub days: Vec<CalendarDayOut>,
    pub working_days_in_year: i64,
    pub warnings: Vec<String>,
}

/// Warnings an administrator should act on: this year's or next year's notice missing.
pub fn calendar_warnings(cal: &WorkCalendar, year: i32, today: BizDay) -> Vec<String> {
    let mut warnings = Vec::new();
    if !cal.has_year(year) {
        warnings.push(format!("{year} 年的节假日安排尚未导入，期限按周一至周五推算"));
    }
    if !cal.has_year(today.year() + 1) && u8::from(today.date().month()) >= 10 {
        warnings.push(format!(
            "{} 年的节假日安排尚未导入：国务院办公厅通知发布后请及时导入（haochaping calendar import 文件）",
            today.year() + 1
        ));
    }
    warnings
}

/// A year's exceptions to Monday–Friday, as loaded.
pub async fn calendar_year(app: &App, year: Option<i32>) -> AppResult<CalendarOut> {
    let today = BizDay::today();
    let year = year.unwrap_or(today.year());
    let cal = app.calendar().await?;
    let loaded_years: Vec<i32> = cal.loaded_years().collect();
    let (Some(first), Some(last)) = (loaded_years.first().copied(), loaded_years.last().copied()) else {
        return Err(AppError::invalid("calendar_not_loaded", "year", "尚未导入任何年度的节假日安排"));
    };
    if year < first || year > last + PROVISIONAL_YEARS {
        return Err(AppError::invalid(
            "calendar_not_loaded",
            "year",
            format!("{year} 年不在已导入的节假日安排范围内（{first}–{last} 年）"),
        ));
    }
    let bad_year = || DomainError::new("invalid_date", "year", "年份无效");
    let start = time::Date::from_calendar_date(year, time::Month::January, 1).map_err(|_| bad_year())?;
    let end = time::Date::from_calendar_date(year, time::Month::December, 31).map_err(|_| bad_year())?;
    let mut days = Vec::new();
    let mut d = start;
    while d <= end {
        let weekend = matches!(d.weekday(), time::Weekday::Saturday | time::Weekday::Sunday);
        let working = cal.is_working_day(d);
        if working == weekend {
            days.push(CalendarDayOut {
                date: BizDay::from(d).to_string(),
                kind: if working { "workday".into() } else { "holiday".into() },
                working_day: working,
            });
        }
        match d.next_day() {
            Some(n) => d = n,
            None => break,
        }
    }
    Ok(CalendarOut {
        year,
        loaded: cal.has_year(year),
        working_days_in_year: cal.working_days_between(start, end),
        warnings: calendar_warnings(&cal, year, today),
        loaded_years,
        days,
    })
}
