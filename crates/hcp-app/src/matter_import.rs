//! Matters from a spreadsheet: a town centre or village station without a business system keeps its 办件 in
//! Excel or WPS and imports the file as CSV. UTF-8 (with or without a byte-order mark) and GBK (as Excel and WPS
//! save CSV on Chinese Windows) are read alike; the header may be in Chinese or in the API's field names. Every
//! row goes through the one registration use case (`matters::register_matter`), so a row is checked, scoped and
//! stored exactly as the API would; registering is idempotent, so a file corrected and imported again only adds
//! what was missing. Each bad row is named by its line, field and a message in Chinese; the good rows stay.

use serde::Serialize;
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::error::{AppError, AppResult};
use crate::matters::{AgentIn, ApplicantIn, MatterIn, TimeLimitIn, register_matter};

/// The columns, by the API's name, with the Chinese headings a county's spreadsheet uses.
const COLUMNS: [(&str, &[&str]); 18] = [
    ("matter_no", &["办件编号"]),
    ("item_code", &["事项编码"]),
    ("unit_code", &["单位编码", "办理单位编码"]),
    ("applicant_kind", &["申请人类型"]),
    ("applicant_prop", &["申请人类型代码"]),
    ("applicant_name", &["申请人", "申请人名称", "申请人姓名"]),
    ("applicant_phone", &["手机号码", "联系电话", "申请人手机"]),
    ("applicant_id", &["证件号码", "身份证号码", "统一社会信用代码"]),
    ("accepted_at", &["受理时间", "收件时间"]),
    ("completed_at", &["办结时间"]),
    ("project_name", &["办件名称"]),
    ("promise_limit", &["承诺时限"]),
    ("legal_limit", &["法定时限"]),
    ("handling", &["办件类型"]),
    ("proc_channel", &["办件渠道", "办理渠道"]),
    ("agent_name", &["代理人", "代理人姓名"]),
    ("agent_id", &["代理人证件号码"]),
    ("handler_code", &["经办人编码", "经办人"]),
];

/// Rows read from one file at most (a year of a town's matters fits many times over).
pub const MAX_ROWS: usize = 20_000;
/// Bad rows reported at most (the rest are counted).
const MAX_ERRORS: usize = 100;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportProblem {
    /// the line of the file (the header is line 1)
    pub line: usize,
    pub code: String,
    /// the column, by the API's name
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MatterImport {
    /// rows that registered a new matter (or recorded a completion)
    pub imported: usize,
    /// rows already registered exactly so
    pub unchanged: usize,
    /// rows refused
    pub failed: usize,
    /// the first refused rows, each named by its line
    pub problems: Vec<ImportProblem>,
}

/// The column of a heading (the API's name or a Chinese heading; spaces, a trailing `*` and `（必填）` ignored).
fn column(heading: &str) -> Option<&'static str> {
    let h = heading.trim().trim_end_matches('*').trim_end_matches("（必填）").trim();
    COLUMNS.iter().find(|(name, zh)| *name == h || zh.contains(&h)).map(|(name, _)| *name)
}

/// The applicant's kind as a spreadsheet writes it.
fn applicant_kind(raw: &str) -> String {
    match raw.trim() {
        "自然人" | "个人" => "person".into(),
        "法人" | "法人或其他组织" | "企业" | "单位" => "legal".into(),
        other => other.to_string(),
    }
}

/// Imports matters from CSV bytes for the caller (each row scoped like a registration through the API).
#[tracing::instrument(skip_all)]
pub async fn import_matters(app: &App, caller: &Caller, bytes: &[u8]) -> AppResult<MatterImport> {
    app.authorize(caller, hcp_domain::access::Act::RegisterMatter)?;
    let text = crate::settings::decode_text(bytes);
    let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(true).from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|_| AppError::invalid("invalid_csv", "csv", "第 1 行（表头）无法读取"))?.clone();
    let columns: Vec<Option<&'static str>> = headers.iter().map(column).collect();
    for required in ["matter_no", "item_code", "unit_code", "applicant_name", "accepted_at"] {
        if !columns.contains(&Some(required)) {
            let zh = COLUMNS.iter().find(|(n, _)| *n == required).map(|(_, zh)| zh[0]).unwrap_or(required);
            return Err(AppError::invalid("missing_column", required, format!("表头缺少“{zh}”列（或 {required}）")));
        }
    }
    let mut out = MatterImport { imported: 0, unchanged: 0, failed: 0, problems: Vec::new() };
    // Lines are counted as the reader goes (from the last record's place), never from the start again.
    let mut lines = LineCounter::default();
    for (i, record) in rdr.records().enumerate() {
        // The file's own line, counting the blank lines the reader skips (it places a record after them at
        // their start).
        let line = match &record {
            Ok(r) => r.position().map(|p| lines.line_at(&text, p.byte() as usize)),
            Err(e) => e.position().map(|p| lines.line_at(&text, p.byte() as usize)),
        }
        .unwrap_or(i + 2);
        if i >= MAX_ROWS {
            return Err(AppError::invalid(
                "too_many_rows",
                "csv",
                format!("一次最多导入 {MAX_ROWS} 行，请分批导入（第 {line} 行起未导入）"),
            ));
        }
        let result = match record {
            Ok(r) => {
                let get = |name: &str| -> Option<String> {
                    columns
                        .iter()
                        .position(|c| *c == Some(name))
                        .and_then(|i| r.get(i))
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                };
                if r.iter().all(|v| v.trim().is_empty()) {
                    continue;
                }
                match row_input(&get) {
                    Ok(input) => register_matter(app, caller, input).await,
                    Err(e) => Err(e),
                }
            }
            Err(_) => Err(AppError::invalid("invalid_csv", "csv", "该行无法读取（引号或分隔符不正确）")),
        };
        match result {
            Ok(m) if m.created => out.imported += 1,
            Ok(_) => out.unchanged += 1,
            Err(e @ (AppError::Unavailable(_) | AppError::Internal(_))) => return Err(e),
            Err(e) => {
                out.failed += 1;
                if out.problems.len() < MAX_ERRORS {
                    let message = match e.field() {
                        Some(f) => format!("第 {line} 行（{}）：{}", heading_of(f), e.message()),
                        None => format!("第 {line} 行：{}", e.message()),
                    };
                    out.problems.push(ImportProblem { line, code: e.code().to_string(), field: e.field().map(str::to_string), message });
                }
            }
        }
    }
    Ok(out)
}

/// Line numbers of places met in order through a text, counted incrementally.
#[derive(Default)]
struct LineCounter {
    byte: usize,
    line: usize,
}

impl LineCounter {
    /// The line (from 1) of the first character at or after `byte` that is not a line break; `byte` does not
    /// go back (records come in order).
    fn line_at(&mut self, text: &str, byte: usize) -> usize {
        let start = text.get(byte..).map(|rest| byte + (rest.len() - rest.trim_start_matches(['\r', '\n']).len())).unwrap_or(byte);
        let start = start.min(text.len()).max(self.byte);
        self.line += text.as_bytes()[self.byte..start].iter().filter(|b| **b == b'\n').count();
        self.byte = start;
        self.line + 1
    }
}

/// The Chinese heading of a field the use case names (`applicant.id_number` → 证件号码).
fn heading_of(field: &str) -> &str {
    let column = match field {
        "applicant.kind" => "applicant_kind",
        "applicant.prop" => "applicant_prop",
        "applicant.name" => "applicant_name",
        "applicant.phone" => "applicant_phone",
        "applicant.id_number" => "applicant_id",
        "agent.name" => "agent_name",
        "agent.id_number" => "agent_id",
        f => f.split('.').next().unwrap_or(f),
    };
    COLUMNS.iter().find(|(n, _)| *n == column).map(|(_, zh)| zh[0]).unwrap_or(field)
}

/// One row as the registration's input: spreadsheet times and limits turned into the API's forms.
fn row_input(get: &dyn Fn(&str) -> Option<String>) -> AppResult<MatterIn> {
    let time = |name: &str| -> AppResult<Option<String>> {
        Ok(get(name).map(|t| hcp_domain::timestamp::parse_local(&t, name)).transpose()?.map(|t| t.to_rfc3339()))
    };
    let limit = |name: &str| -> AppResult<Option<TimeLimitIn>> {
        Ok(get(name)
            .map(|t| hcp_domain::national::TimeLimit::parse_text(&t, name))
            .transpose()?
            .map(|l| TimeLimitIn { amount: l.amount, unit: l.unit.label().to_string() }))
    };
    let prop = get("applicant_prop")
        .map(|p| p.parse::<i64>().map_err(|_| AppError::invalid("invalid_applicant_prop", "applicant.prop", "申请人类型代码应为数字")))
        .transpose()?;
    Ok(MatterIn {
        matter_no: get("matter_no").unwrap_or_default(),
        item_code: get("item_code").unwrap_or_default(),
        unit_code: get("unit_code").unwrap_or_default(),
        applicant: ApplicantIn {
            kind: applicant_kind(&get("applicant_kind").unwrap_or_else(|| "自然人".into())),
            prop,
            name: get("applicant_name").unwrap_or_default(),
            phone: get("applicant_phone"),
            id_number: get("applicant_id"),
        },
        accepted_at: time("accepted_at")?.ok_or_else(|| AppError::invalid("missing_field", "accepted_at", "受理时间不能为空"))?,
        completed_at: time("completed_at")?,
        project_name: get("project_name"),
        promise_limit: limit("promise_limit")?,
        legal_limit: limit("legal_limit")?,
        handling: get("handling"),
        proc_channel: get("proc_channel"),
        agent: match (get("agent_name"), get("agent_id")) {
            (None, None) => None,
            (name, id_number) => Some(AgentIn { name: name.unwrap_or_default(), id_number }),
        },
        handler_code: get("handler_code"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_in_chinese_or_as_the_api_names_them() {
        assert_eq!(column("办件编号"), Some("matter_no"));
        assert_eq!(column(" 受理时间* "), Some("accepted_at"));
        assert_eq!(column("申请人（必填）"), Some("applicant_name"));
        assert_eq!(column("promise_limit"), Some("promise_limit"));
        assert_eq!(column("备注"), None);
        assert_eq!(heading_of("applicant.id_number"), "证件号码");
        assert_eq!(heading_of("promise_limit.unit"), "承诺时限");
        assert_eq!(applicant_kind("法人"), "legal");
        let text = "a,b\n1,2\n\n\r\n3,4\n";
        let mut lines = LineCounter::default();
        assert_eq!((lines.line_at(text, 4), lines.line_at(text, 8), lines.line_at(text, 9)), (2, 5, 5));
    }
}
