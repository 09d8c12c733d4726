//! CSV import of master data. Each file has a header row; rows are inserted in order (parents before
//! children), and the first bad row stops the import naming its line. Rows already inserted stay.

use std::path::Path;

use anyhow::{Context, bail};
use hcp_domain::ids::{parse_code, parse_text};
use hcp_storage::Db;
use hcp_storage::master::{Item, Staff, Unit, Window};
use serde::Deserialize;

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

fn name(raw: &str) -> anyhow::Result<String> {
    let n = parse_text(raw, "name", 100)?;
    if n.is_empty() {
        bail!("名称不能为空");
    }
    Ok(n)
}

fn flag(raw: &str) -> anyhow::Result<bool> {
    match raw.trim() {
        "1" | "true" | "是" | "yes" => Ok(true),
        "0" | "false" | "否" | "no" | "" => Ok(false),
        other => bail!("hall_stationed 应为 1/0、true/false 或 是/否，而不是“{other}”"),
    }
}

/// Imports one CSV file of `kind` (`units`, `windows`, `items`, `staff`); returns the number of rows.
pub async fn import_csv(db: &Db, kind: &str, path: &Path) -> anyhow::Result<usize> {
    let text = std::fs::read_to_string(path).with_context(|| format!("无法读取 {}", path.display()))?;
    import_text(db, kind, &text).await
}

pub async fn import_text(db: &Db, kind: &str, text: &str) -> anyhow::Result<usize> {
    let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut n = 0;
    macro_rules! rows {
        ($t:ty, |$r:ident| $body:expr) => {
            for (i, rec) in rdr.deserialize::<$t>().enumerate() {
                let line = i + 2;
                let $r = rec.with_context(|| format!("第 {line} 行格式错误"))?;
                let res: anyhow::Result<()> = async { $body }.await;
                res.with_context(|| format!("第 {line} 行"))?;
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
                kind: r.kind.trim().to_string(),
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
        other => bail!("未知的导入类型 {other}（可选 units、windows、items、staff）"),
    }
    Ok(n)
}
