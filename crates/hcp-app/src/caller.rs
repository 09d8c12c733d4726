//! Who is asking: a machine key, a signed-in staff member, or nobody in particular. Use cases take a caller
//! and ask the domain's `can` through the helpers here; nothing compares roles or key kinds itself.

use hcp_domain::access::{Act, Principal, Target, can};
use hcp_storage::keys::ApiKey;
use hcp_storage::users::User;

use crate::App;
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone)]
pub enum Caller {
    Key(ApiKey),
    Staff(User),
    /// No credential of its own (a rating or feedback token may travel with the request; the use case that
    /// takes one checks it).
    Anonymous,
}

impl Caller {
    pub fn principal(&self) -> Principal {
        match self {
            Caller::Staff(u) => Principal::Staff { username: u.username.clone(), role: u.role, unit: u.unit_code.clone() },
            Caller::Key(k) => Principal::Key { kind: k.kind, unit: k.unit_code.clone(), window: k.window_code.clone() },
            Caller::Anonymous => Principal::Public,
        }
    }

    /// The unit a machine key or staff member belongs to.
    pub fn unit(&self) -> Option<&str> {
        match self {
            Caller::Key(k) => Some(&k.unit_code),
            Caller::Staff(u) => Some(&u.unit_code),
            Caller::Anonymous => None,
        }
    }

    pub fn id(&self) -> Option<&str> {
        match self {
            Caller::Key(k) => Some(&k.id),
            Caller::Staff(u) => Some(&u.id),
            Caller::Anonymous => None,
        }
    }

    pub fn staff(&self) -> Option<&User> {
        match self {
            Caller::Staff(u) => Some(u),
            _ => None,
        }
    }

    /// The actor as the case history and the audit trail name it.
    pub fn actor(&self) -> String {
        match self {
            Caller::Staff(u) => format!("staff:{}", u.username),
            Caller::Key(k) => format!("key:{}", k.label),
            Caller::Anonymous => "anonymous".into(),
        }
    }
}

impl App {
    /// May the principal do `act` (on `target`)? 401 without a credential, 403 otherwise.
    pub fn allow(&self, p: &Principal, act: Act, target: Option<&Target>) -> AppResult<()> {
        can(p, act, target, &*self.master()).map_err(AppError::from)
    }

    /// May the caller do `act`, in general?
    pub fn authorize(&self, caller: &Caller, act: Act) -> AppResult<()> {
        self.allow(&caller.principal(), act, None)
    }

    /// May the caller do `act` on something of `unit`?
    pub fn authorize_in(&self, caller: &Caller, act: Act, unit: &str) -> AppResult<()> {
        self.allow(&caller.principal(), act, Some(&Target::unit(unit)))
    }

    /// As `authorize_in`, for a resource addressed by id: out of scope is answered "not found".
    pub fn authorize_found(&self, caller: &Caller, act: Act, target: &Target, what: &'static str) -> AppResult<()> {
        self.allow(&caller.principal(), act, Some(target)).map_err(|e| e.hide_as(what))
    }

    /// Whether the caller may do `act` on something of `unit` (for what a page offers).
    pub fn may(&self, caller: &Caller, act: Act, unit: &str) -> bool {
        self.authorize_in(caller, act, unit).is_ok()
    }

    /// The units in which the caller may do `act` (for lists and statistics).
    pub fn units_for(&self, caller: &Caller, act: Act) -> Vec<String> {
        let p = caller.principal();
        let master = self.master();
        let mut v: Vec<String> = master.units.keys().filter(|u| can(&p, act, Some(&Target::unit(u)), &*master).is_ok()).cloned().collect();
        v.sort();
        v
    }

    /// The units a list or statistic covers: the one asked for (refused when out of the caller's scope), or every
    /// unit in scope.
    pub fn scoped_units(&self, caller: &Caller, act: Act, unit: Option<&str>) -> AppResult<Vec<String>> {
        self.authorize(caller, act)?;
        match unit {
            Some(u) => {
                hcp_domain::ids::parse_code(u, "unit", 40)?;
                self.authorize_in(caller, act, u)?;
                Ok(vec![u.to_string()])
            }
            None => Ok(self.units_for(caller, act)),
        }
    }
}
