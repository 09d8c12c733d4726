//! The web side of authorisation: who the caller is, as the domain's `can` sees it, and its answer as an
//! HTTP error. Handlers call `authorize` (or `authorize_found` for a resource addressed by id, where another
//! unit's resource must look exactly like a missing one).

use hcp_domain::access::{Act, Denied, KeyKind, Principal, Role, can};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub fn principal(caller: &Caller) -> Principal {
    match caller {
        Caller::Staff(u) => match Role::parse(&u.role) {
            Some(role) => Principal::Staff { role, unit: u.unit_code.clone() },
            None => Principal::Public,
        },
        Caller::Key(k) => match KeyKind::parse(&k.kind) {
            Some(kind) => Principal::Key { kind, unit: k.unit_code.clone() },
            None => Principal::Public,
        },
        Caller::Anonymous { .. } => Principal::Public,
    }
}

fn to_error(d: Denied) -> ApiError {
    match d {
        Denied::SignInRequired => ApiError::unauthorized(),
        Denied::WrongRole(e) | Denied::OutOfScope(e) => {
            let mut err = ApiError::from(e);
            err.status = axum::http::StatusCode::FORBIDDEN;
            err
        }
    }
}

/// May the caller do `act` (on something of unit `target`)? 401 without a credential, 403 otherwise.
pub fn authorize(state: &AppState, caller: &Caller, act: Act, target: Option<&str>) -> Result<(), ApiError> {
    can(&principal(caller), act, target, &*state.master()).map_err(to_error)
}

/// As `authorize`, for a resource addressed by id: out of scope is answered "not found".
pub fn authorize_found(state: &AppState, caller: &Caller, act: Act, target: &str, what: &str) -> Result<(), ApiError> {
    match can(&principal(caller), act, Some(target), &*state.master()) {
        Ok(()) => Ok(()),
        Err(Denied::OutOfScope(_)) => Err(ApiError::not_found(what)),
        Err(d) => Err(to_error(d)),
    }
}

/// The units in which the caller may do `act` (for lists and statistics).
pub fn units_for(state: &AppState, caller: &Caller, act: Act) -> Vec<String> {
    let p = principal(caller);
    let master = state.master();
    let mut v: Vec<String> = master.units.keys().filter(|u| can(&p, act, Some(u), &*master).is_ok()).cloned().collect();
    v.sort();
    v
}

/// The units a list or statistic covers: the one asked for (refused when out of the caller's scope), or every
/// unit in scope.
pub fn scoped_units(state: &AppState, caller: &Caller, act: Act, unit: Option<&str>) -> Result<Vec<String>, ApiError> {
    authorize(state, caller, act, None)?;
    match unit {
        Some(u) => {
            hcp_domain::ids::parse_code(u, "unit", 40)?;
            authorize(state, caller, act, Some(u))?;
            Ok(vec![u.to_string()])
        }
        None => Ok(units_for(state, caller, act)),
    }
}
