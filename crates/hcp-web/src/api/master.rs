//! Master data as the API lists it: units, windows and items are public; staff are for keys and sessions of
//! their tree.

use axum::Json;
use axum::extract::State;
use hcp_domain::access::Act;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::meta::ErrorBody;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::extract::caller::Who;
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitFilter {
    pub parent_code: Option<String>,
    pub kind: Option<String>,
    pub hall_stationed: Option<bool>,
    /// units within this one (itself included)
    pub within: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UnitOut {
    pub code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub kind: String,
    pub region_code: String,
    pub credit_code: Option<String>,
    pub hall_stationed: bool,
}

#[utoipa::path(get, path = "/api/v1/units", tag = "master", params(UnitFilter), responses((status = 200, body = [UnitOut])))]
pub async fn list_units(State(state): State<AppState>, ApiQuery(f): ApiQuery<UnitFilter>) -> Json<Vec<UnitOut>> {
    let m = state.master();
    let out = m
        .sorted_units()
        .into_iter()
        .filter(|u| f.parent_code.as_ref().is_none_or(|p| u.parent_code.as_ref() == Some(p)))
        .filter(|u| f.kind.as_ref().is_none_or(|k| u.kind.code() == k))
        .filter(|u| f.hall_stationed.is_none_or(|h| u.hall_stationed == h))
        .filter(|u| f.within.as_ref().is_none_or(|w| m.is_within(&u.code, w)))
        .map(|u| UnitOut {
            code: u.code.clone(),
            name: u.name.clone(),
            parent_code: u.parent_code.clone(),
            kind: u.kind.code().into(),
            region_code: u.region_code.clone(),
            credit_code: u.credit_code.clone(),
            hall_stationed: u.hall_stationed,
        })
        .collect();
    Json(out)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UnitCodeFilter {
    pub unit_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct WindowOut {
    pub code: String,
    pub name: String,
    pub unit_code: String,
}

#[utoipa::path(get, path = "/api/v1/windows", tag = "master", params(UnitCodeFilter), responses((status = 200, body = [WindowOut])))]
pub async fn list_windows(State(state): State<AppState>, ApiQuery(f): ApiQuery<UnitCodeFilter>) -> Json<Vec<WindowOut>> {
    let m = state.master();
    let mut out: Vec<WindowOut> = m
        .windows
        .values()
        .filter(|w| f.unit_code.as_ref().is_none_or(|u| &w.unit_code == u))
        .map(|w| WindowOut { code: w.code.clone(), name: w.name.clone(), unit_code: w.unit_code.clone() })
        .collect();
    out.sort_by(|a, b| a.code.cmp(&b.code));
    Json(out)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemFilter {
    pub owner_unit_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ItemOut {
    pub code: String,
    pub name: String,
    pub item_type: String,
    pub owner_unit_code: String,
}

#[utoipa::path(get, path = "/api/v1/items", tag = "master", params(ItemFilter), responses((status = 200, body = [ItemOut])))]
pub async fn list_items(State(state): State<AppState>, ApiQuery(f): ApiQuery<ItemFilter>) -> Json<Vec<ItemOut>> {
    let m = state.master();
    let mut out: Vec<ItemOut> = m
        .items
        .values()
        .filter(|i| f.owner_unit_code.as_ref().is_none_or(|u| &i.owner_unit_code == u))
        .map(|i| ItemOut {
            code: i.code.clone(),
            name: i.name.clone(),
            item_type: i.item_type.clone(),
            owner_unit_code: i.owner_unit_code.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.code.cmp(&b.code));
    Json(out)
}

#[derive(Serialize, ToSchema)]
pub struct StaffOut {
    pub code: String,
    pub name: String,
    pub unit_code: String,
    pub window_code: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/staff", tag = "master", params(UnitCodeFilter),
    security(("machine_key" = []), ("session" = [])),
    responses((status = 200, body = [StaffOut]), (status = 401, body = ErrorBody)))]
pub async fn list_staff(
    State(state): State<AppState>,
    Who(caller): Who,
    ApiQuery(f): ApiQuery<UnitCodeFilter>,
) -> ApiResult<Json<Vec<StaffOut>>> {
    state.authorize(&caller, Act::ReadMaster)?;
    let m = state.master();
    let mut out: Vec<StaffOut> = m
        .staff
        .values()
        .filter(|s| state.may(&caller, Act::ReadMaster, &s.unit_code))
        .filter(|s| f.unit_code.as_ref().is_none_or(|u| &s.unit_code == u))
        .map(|s| StaffOut {
            code: s.code.clone(),
            name: s.name.clone(),
            unit_code: s.unit_code.clone(),
            window_code: s.window_code.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(Json(out))
}
