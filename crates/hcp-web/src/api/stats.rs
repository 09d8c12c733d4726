use axum::Json;
use axum::extract::{Query, State};
use hcp_domain::DomainError;
use hcp_domain::stats::rate;
use hcp_domain::timestamp::{Timestamp, date_key, format_date, parse_date};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::state::AppState;

/// A reporting period of Asia/Shanghai days from optional `from`/`to` parameters: by default the current month up
/// to today; `to` before `from` is refused.
pub(crate) fn parse_period(from: Option<&str>, to: Option<&str>) -> Result<(time::Date, time::Date), DomainError> {
    let today = Timestamp::now().biz_date();
    let from = match from {
        Some(f) => parse_date(f, "from")?,
        None => today.replace_day(1).unwrap_or(today),
    };
    let to = match to {
        Some(t) => parse_date(t, "to")?,
        None => today,
    };
    if to < from {
        return Err(DomainError::new("invalid_period", "to", "结束日期不能早于开始日期"));
    }
    Ok((from, to))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// `unit`, `item`, `window`, `staff`, `channel` or `all`
    pub by: Option<String>,
    /// first day, `YYYY-MM-DD` (Asia/Shanghai); default: the first day of the current month
    pub from: Option<String>,
    /// last day, inclusive; default: today
    pub to: Option<String>,
    /// only this group (e.g. one unit code)
    pub key: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LevelCountsOut {
    /// 非常满意
    pub level5: i64,
    /// 满意
    pub level4: i64,
    /// 基本满意
    pub level3: i64,
    /// 不满意
    pub level2: i64,
    /// 非常不满意
    pub level1: i64,
}

#[derive(Serialize, ToSchema)]
pub struct GroupOut {
    pub key: String,
    /// the unit, item, window or staff name where known
    pub name: Option<String>,
    pub total: i64,
    pub counts: LevelCountsOut,
    pub bad_reviews: i64,
    /// (level 3..5) / total; null when nothing was rated
    pub satisfaction_rate: Option<f64>,
    /// (level 4..5) / total
    pub good_rate: Option<f64>,
    /// completed matters in the period (by unit, item and all only)
    pub completed_matters: Option<i64>,
    /// completed matters of the period that were rated
    pub rated_matters: Option<i64>,
    /// 参评率 = rated matters / completed matters
    pub participation_rate: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct StatsOut {
    pub by: String,
    pub from: String,
    pub to: String,
    pub groups: Vec<GroupOut>,
}

/// Satisfaction per group and period, read from rollups kept current at write time. Ratings found untrue
/// (不属实) are excluded.
#[utoipa::path(get, path = "/api/v1/stats/satisfaction", tag = "stats", params(StatsQuery),
    responses((status = 200, body = StatsOut), (status = 401, body = ErrorBody, description = "by window or staff without a sign-in"),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn satisfaction(
    State(state): State<AppState>,
    caller: crate::auth::Caller,
    Query(q): Query<StatsQuery>,
) -> ApiResult<Json<StatsOut>> {
    let by = q.by.unwrap_or_else(|| "unit".into());
    if !hcp_storage::stats::DIMENSIONS.contains(&by.as_str()) {
        return Err(DomainError::new("invalid_dimension", "by", "by 应为 unit、item、window、staff、channel 或 all").into());
    }
    // Results by unit, item and channel are public (结果公开); by window or person they are for the units'
    // own staff and the county, each seeing only its tree.
    let personal = matches!(by.as_str(), "window" | "staff");
    if personal {
        crate::access::authorize(&state, &caller, hcp_domain::access::Act::ReadStaffStats, None)?;
    }
    let (from, to) = parse_period(q.from.as_deref(), q.to.as_deref())?;
    if let Some(k) = &q.key {
        hcp_domain::ids::parse_code(k, "key", 40)?;
    }
    let groups = state.db.satisfaction(&by, date_key(from), date_key(to), q.key.as_deref()).await?;
    let m = state.master();
    let p = crate::access::principal(&caller);
    let in_scope = |key: &str| {
        let unit = match by.as_str() {
            "window" => m.windows.get(key).map(|w| w.unit_code.as_str()),
            _ => m.staff.get(key).map(|s| s.unit_code.as_str()),
        };
        unit.is_some_and(|u| hcp_domain::access::can(&p, hcp_domain::access::Act::ReadStaffStats, Some(u), &*m).is_ok())
    };
    let groups = groups
        .into_iter()
        .filter(|g| !personal || in_scope(&g.key))
        .map(|g| {
            let name = match by.as_str() {
                "unit" => m.units.get(&g.key).map(|u| u.name.clone()),
                "item" => m.items.get(&g.key).map(|i| i.name.clone()),
                "window" => m.windows.get(&g.key).map(|w| w.name.clone()),
                "staff" => m.staff.get(&g.key).map(|s| s.name.clone()),
                "channel" => hcp_domain::Channel::parse(&g.key, "key").ok().map(|c| c.label().to_string()),
                _ => Some("全部".into()),
            };
            let c = g.counts;
            GroupOut {
                key: g.key,
                name,
                total: c.total(),
                counts: LevelCountsOut {
                    level5: c.by_level[4],
                    level4: c.by_level[3],
                    level3: c.by_level[2],
                    level2: c.by_level[1],
                    level1: c.by_level[0],
                },
                bad_reviews: c.bad(),
                satisfaction_rate: c.satisfaction_rate(),
                good_rate: c.good_rate(),
                completed_matters: g.completed,
                rated_matters: g.rated_matters,
                participation_rate: match (g.rated_matters, g.completed) {
                    (Some(r), Some(c)) => rate(r, c),
                    _ => None,
                },
            }
        })
        .collect();
    Ok(Json(StatsOut { by, from: format_date(from), to: format_date(to), groups }))
}
