//! Statistics, read from the rollups kept at write time: satisfaction by unit, item, window, staff member,
//! channel or all (S-15); the public results by unit (结果公开, S-22); and the staff dashboard, which puts the
//! loop's figures beside them.

use hcp_domain::access::Act;
use hcp_domain::bizday::Period;
use hcp_domain::case_flow::CaseState;
use hcp_domain::case_metrics::{CaseFactsForMetrics, LoopMetrics, loop_metrics};
use hcp_domain::stats::{Dim, LevelCounts, rate};
use hcp_domain::{BizDay, Channel};
use hcp_storage::cases::CaseSummary;
use serde::Serialize;
use utoipa::ToSchema;

use crate::App;
use crate::caller::Caller;
use crate::error::AppResult;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LevelCountsOut {
    pub level5: i64,
    pub level4: i64,
    pub level3: i64,
    pub level2: i64,
    pub level1: i64,
}

impl From<LevelCounts> for LevelCountsOut {
    fn from(c: LevelCounts) -> Self {
        LevelCountsOut { level5: c.by_level[4], level4: c.by_level[3], level3: c.by_level[2], level2: c.by_level[1], level1: c.by_level[0] }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupOut {
    pub key: String,
    pub name: Option<String>,
    pub total: i64,
    pub counts: LevelCountsOut,
    pub bad_reviews: i64,
    /// levels 3–5 / all
    pub satisfaction_rate: Option<f64>,
    /// levels 4–5 / all
    pub good_rate: Option<f64>,
    pub completed_matters: Option<i64>,
    pub rated_matters: Option<i64>,
    /// rated matters / completed matters (unit, item and all only)
    pub participation_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatsOut {
    pub by: String,
    pub from: String,
    pub to: String,
    pub groups: Vec<GroupOut>,
}

/// The name of a group's key.
pub fn group_name(app: &App, dim: Dim, key: &str) -> Option<String> {
    let m = app.master();
    match dim {
        Dim::Unit => m.unit_name(key),
        Dim::Item => m.item_name(key),
        Dim::Window => m.window_name(key),
        Dim::Staff => m.staff_name(key),
        Dim::Channel => Channel::parse(key, "key").ok().map(|c| c.label().to_string()),
        Dim::All => Some("全部".into()),
    }
}

/// Satisfaction per group of `by` for a period. By unit, item and channel the results are public (结果公开); by
/// window or person they are for the units' own staff and the county, each seeing only its tree.
#[tracing::instrument(skip_all)]
pub async fn satisfaction(app: &App, caller: &Caller, by: Option<&str>, period: Period, key: Option<&str>) -> AppResult<StatsOut> {
    let dim = Dim::parse(by.unwrap_or("unit"), "by")?;
    if dim.is_personal() {
        app.authorize(caller, Act::ReadStaffStats)?;
    }
    if let Some(k) = key {
        hcp_domain::ids::parse_code(k, "key", 40)?;
    }
    let groups = app.db.satisfaction(dim, period.from, period.to, key).await?;
    let m = app.master();
    let in_scope = |key: &str| {
        let unit = match dim {
            Dim::Window => m.windows.get(key).map(|w| w.unit_code.as_str()),
            _ => m.staff.get(key).map(|s| s.unit_code.as_str()),
        };
        unit.is_some_and(|u| app.may(caller, Act::ReadStaffStats, u))
    };
    let groups = groups
        .into_iter()
        .filter(|g| !dim.is_personal() || in_scope(&g.key))
        .map(|g| {
            let c = g.counts;
            GroupOut {
                name: group_name(app, dim, &g.key),
                key: g.key,
                total: c.total(),
                counts: LevelCountsOut::from(c),
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
    Ok(StatsOut { by: dim.code().into(), from: period.from.to_string(), to: period.to.to_string(), groups })
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IndicatorOut {
    pub code: String,
    pub label: String,
    /// `base` (基础测评内容) or `extended` (扩展测评内容)
    pub set: String,
    /// `online`, `offline`
    pub modes: Vec<String>,
    /// raters who gave this indicator a level
    pub total: i64,
    pub counts: LevelCountsOut,
    /// the mean level, 1–5
    pub mean: Option<f64>,
    /// levels 3–5 / all
    pub satisfaction_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IndicatorStatsOut {
    pub from: String,
    pub to: String,
    /// the unit, or none for the whole county
    pub unit_code: Option<String>,
    pub unit_name: Option<String>,
    /// the indicators of the catalogue in force, each with what raters gave it (none given: a total of 0); an
    /// indicator of an earlier catalogue that raters still gave appears after them
    pub indicators: Vec<IndicatorOut>,
}

/// What raters gave each indicator (二级指标) of the catalogue (S-2), county-wide or within a unit: public like
/// satisfaction by unit. Ratings found untrue are not counted.
#[tracing::instrument(skip_all)]
pub async fn indicators(app: &App, period: Period, unit: Option<&str>) -> AppResult<IndicatorStatsOut> {
    let unit = unit.map(|u| hcp_domain::ids::parse_code(u, "unit", 40)).transpose()?;
    let master = match &unit {
        Some(u) => app.master_with_unit(u).await?,
        None => app.master(),
    };
    if let Some(u) = &unit
        && !master.units.contains_key(u)
    {
        return Err(crate::AppError::invalid("unknown_reference", "unit", format!("单位编码 {u} 不存在")));
    }
    let mut counts = app.db.indicator_counts(period.from, period.to, unit.as_deref()).await?;
    let out = |code: String, label: String, set: String, modes: Vec<String>, c: LevelCounts| {
        let total = c.total();
        let weighted: i64 = c.by_level.iter().enumerate().map(|(i, n)| (i as i64 + 1) * n).sum();
        IndicatorOut {
            code,
            label,
            set,
            modes,
            total,
            counts: LevelCountsOut::from(c),
            mean: (total > 0).then(|| (weighted as f64 / total as f64 * 100.0).round() / 100.0),
            satisfaction_rate: c.satisfaction_rate(),
        }
    };
    let mut list = Vec::new();
    for ind in &app.catalogue.indicators {
        let c = counts.iter().position(|(code, _)| *code == ind.code).map(|i| counts.remove(i).1).unwrap_or_default();
        list.push(out(ind.code.clone(), ind.label.clone(), ind.set.clone(), ind.modes.clone(), c));
    }
    for (code, c) in counts {
        list.push(out(code.clone(), code, String::new(), Vec::new(), c));
    }
    Ok(IndicatorStatsOut {
        from: period.from.to_string(),
        to: period.to.to_string(),
        unit_name: unit.as_deref().and_then(|u| master.unit_name(u)),
        unit_code: unit,
        indicators: list,
    })
}

/// One group's figures with the loop's, where the loop is defined for the group.
#[derive(Debug, Clone)]
pub struct GroupResult {
    pub key: String,
    pub name: String,
    pub counts: LevelCounts,
    /// cases of the group closed so far
    pub closed: i64,
    /// the loop's figures (none for channels: a case belongs to a unit and an item, not a channel)
    pub loop_metrics: Option<LoopMetrics>,
}

fn results_of(
    app: &App,
    dim: Dim,
    groups: Vec<hcp_storage::stats::GroupStats>,
    cases: &[(CaseSummary, Option<CaseFactsForMetrics>)],
    keep: impl Fn(&str) -> bool,
) -> Vec<GroupResult> {
    let today = BizDay::today().date();
    groups
        .into_iter()
        .filter(|g| g.counts.total() > 0 && keep(&g.key))
        .map(|g| {
            let of_group = |s: &CaseSummary| match dim {
                Dim::Unit => s.case.unit_code == g.key,
                Dim::Item => s.case.item_code == g.key,
                _ => false,
            };
            let mine: Vec<&(CaseSummary, Option<CaseFactsForMetrics>)> = cases.iter().filter(|(s, _)| of_group(s)).collect();
            let facts: Vec<CaseFactsForMetrics> = mine.iter().filter_map(|(_, f)| f.clone()).collect();
            GroupResult {
                name: group_name(app, dim, &g.key).unwrap_or_else(|| g.key.clone()),
                closed: mine.iter().filter(|(s, _)| s.state == CaseState::Closed).count() as i64,
                loop_metrics: matches!(dim, Dim::Unit | Dim::Item).then(|| loop_metrics(facts.iter(), today)),
                counts: g.counts,
                key: g.key,
            }
        })
        .collect()
}

/// The public results of every unit for a period: ratings, satisfaction, bad reviews and how they were handled.
/// Never any rater's identity.
#[tracing::instrument(skip_all)]
pub async fn public_results(app: &App, period: Period) -> AppResult<Vec<GroupResult>> {
    let groups = app.db.satisfaction(Dim::Unit, period.from, period.to, None).await?;
    let units: Vec<String> = groups.iter().map(|g| g.key.clone()).collect();
    let cases = crate::cases::loop_facts(app, &units, period).await?;
    Ok(results_of(app, Dim::Unit, groups, &cases, |_| true))
}

/// The staff dashboard: by unit, item and channel, what lies in the caller's tree (channels are the county's).
#[tracing::instrument(skip_all)]
pub async fn dashboard(app: &App, caller: &Caller, period: Period) -> AppResult<Vec<(Dim, Vec<GroupResult>)>> {
    app.authorize(caller, Act::ReadLoopStats)?;
    let units = app.units_for(caller, Act::ReadLoopStats);
    let cases = crate::cases::loop_facts(app, &units, period).await?;
    let master = app.master();
    let county = caller.unit().map(|u| master.top_of(u)).is_some_and(|top| app.may(caller, Act::ReadLoopStats, &top));
    let mut out = Vec::new();
    for dim in [Dim::Unit, Dim::Item, Dim::Channel] {
        let groups = app.db.satisfaction(dim, period.from, period.to, None).await?;
        let keep = |key: &str| match dim {
            Dim::Unit => units.iter().any(|u| u == key),
            Dim::Item => master.items.get(key).is_some_and(|i| units.contains(&i.owner_unit_code)),
            _ => county,
        };
        out.push((dim, results_of(app, dim, groups, &cases, keep)));
    }
    Ok(out)
}

/// Sets the gauges a scrape reads: the provincial outbox's depth by op and the notifier's queue, cases open and
/// overdue.
pub async fn refresh_gauges(app: &App) -> AppResult<()> {
    let mut depth = crate::province::depth(&app.db.province_status().await?);
    depth.insert("notify".into(), 0);
    depth.extend(app.db.outbox_depth().await?);
    for (kind, n) in depth {
        metrics::gauge!("hcp_outbox_depth", "kind" => kind).set(n as f64);
    }
    let (open, overdue) = app.db.case_counts(BizDay::today()).await?;
    metrics::gauge!("hcp_cases_open").set(open as f64);
    metrics::gauge!("hcp_cases_overdue").set(overdue as f64);
    Ok(())
}
