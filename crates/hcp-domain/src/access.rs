//! Who may do what, where in the unit tree: one function, [`can`], that every endpoint and page asks.
//!
//! A principal is a staff member with a role and a unit, a machine key with a kind and a unit (a device key
//! also with a window), or the public. Scope is the principal's unit and the units below it, except window
//! staff, who see their own unit only (they may be the person a review is about). Rating and public
//! submissions are not here: they are authorised by their own signed tokens.

use crate::error::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// 县行政审批服务局 (or a province's bureau): administers the system for its tree
    BureauAdmin,
    /// 督查 / 纪检: reads everything in its tree, changes nothing
    Oversight,
    /// a unit's handler of bad reviews and complaints
    UnitHandler,
    /// a unit's approver: as a handler, and decides 复核 applications of the unit
    UnitApprover,
    /// a town's administrator: handles the town's and its villages' cases
    TownAdmin,
    /// window staff: registers services, applies for 复核 of reviews about them; cannot handle cases
    WindowStaff,
    /// a third-party assessor: records assessments
    Assessor,
}

impl Role {
    pub const ALL: [Role; 7] =
        [Role::BureauAdmin, Role::Oversight, Role::UnitHandler, Role::UnitApprover, Role::TownAdmin, Role::WindowStaff, Role::Assessor];

    pub fn code(self) -> &'static str {
        match self {
            Role::BureauAdmin => "bureau_admin",
            Role::Oversight => "oversight",
            Role::UnitHandler => "unit_handler",
            Role::UnitApprover => "unit_approver",
            Role::TownAdmin => "town_admin",
            Role::WindowStaff => "window_staff",
            Role::Assessor => "assessor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::BureauAdmin => "县级管理员",
            Role::Oversight => "督查（只读）",
            Role::UnitHandler => "单位经办人",
            Role::UnitApprover => "单位审核人",
            Role::TownAdmin => "乡镇管理员",
            Role::WindowStaff => "窗口工作人员",
            Role::Assessor => "第三方评估",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == s)
    }

    /// Roles whose sign-in needs a second factor.
    pub fn needs_second_factor(self) -> bool {
        matches!(self, Role::BureauAdmin)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// a business system of a unit (部门办事系统) or the county platform
    System,
    /// a rating device bound to one window
    Device,
    /// the service hotline
    Hotline,
}

impl KeyKind {
    pub fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "system" => Some(KeyKind::System),
            "device" => Some(KeyKind::Device),
            "hotline" => Some(KeyKind::Hotline),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Staff { role: Role, unit: String },
    Key { kind: KeyKind, unit: String },
    Public,
}

/// Everything a caller may ask to do, apart from rating and public submissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Act {
    /// register a matter or its completion, record a service occasion, print a receipt
    RegisterMatter,
    ReadMaster,
    ReadRating,
    ReadCases,
    /// take a step of a case's handling
    HandleCase,
    /// see the rater's full contact details for a callback (recorded in the audit log)
    ViewContact,
    ApplyAppeal,
    /// a unit's opinion or decision on a 复核 application (the appeal rules then check the level)
    ReviewAppeal,
    /// the county's decision on a hall-stationed unit's application
    DecideAppealAsBureau,
    /// take down a complaint from the phone line or the suggestion box
    EnterComplaint,
    /// enter a paper rating form (书面评价表) for a matter of the unit; not by window staff, whose own service
    /// the form may rate
    EnterPaperRating,
    RecordInspection,
    ReadInspections,
    ReadLoopStats,
    /// per-staff and per-window statistics (results by department are public)
    ReadStaffStats,
    /// every notification of the tree, and re-running those given up
    ManageNotifications,
    ReadAudit,
    /// issue and revoke machine keys (business systems, rating devices, the hotline)
    ManageKeys,
}

impl Act {
    pub const ALL: [Act; 18] = [
        Act::RegisterMatter,
        Act::ReadMaster,
        Act::ReadRating,
        Act::ReadCases,
        Act::HandleCase,
        Act::ViewContact,
        Act::ApplyAppeal,
        Act::ReviewAppeal,
        Act::DecideAppealAsBureau,
        Act::EnterComplaint,
        Act::EnterPaperRating,
        Act::RecordInspection,
        Act::ReadInspections,
        Act::ReadLoopStats,
        Act::ReadStaffStats,
        Act::ManageNotifications,
        Act::ReadAudit,
        Act::ManageKeys,
    ];
}

/// The unit tree, as `can` needs it.
pub trait UnitTree {
    /// whether `unit` is `ancestor` or lies below it
    fn is_within(&self, unit: &str, ancestor: &str) -> bool;
    /// whether `unit` is the top of its tree (a county or a province)
    fn is_top(&self, unit: &str) -> bool;
}

/// Why an act was refused. `OutOfScope` on a resource addressed by id should be answered as "not found", so
/// that nothing about other units leaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    SignInRequired,
    /// the role or credential may never do this
    WrongRole(DomainError),
    /// allowed in general, not for this unit
    OutOfScope(DomainError),
}

/// What those who handle a unit's cases may do.
fn handles(act: Act) -> bool {
    use Act::*;
    matches!(
        act,
        RegisterMatter
            | ReadMaster
            | ReadRating
            | ReadCases
            | HandleCase
            | ViewContact
            | ApplyAppeal
            | EnterComplaint
            | EnterPaperRating
            | ReadInspections
            | ReadLoopStats
            | ReadStaffStats
    )
}

fn allowed(p: &Principal, act: Act) -> bool {
    use Act::*;
    match p {
        Principal::Public => false,
        Principal::Key { kind: KeyKind::System, .. } => {
            matches!(
                act,
                RegisterMatter | ReadMaster | ReadRating | ReadCases | HandleCase | ReadInspections | ReadLoopStats | ReadStaffStats
            )
        }
        Principal::Key { kind: KeyKind::Hotline, .. } => matches!(act, EnterComplaint | ReadMaster),
        Principal::Key { kind: KeyKind::Device, .. } => matches!(act, ReadMaster),
        Principal::Staff { role, .. } => match role {
            // Administers everything in its tree, but contacts are for those who call raters back.
            Role::BureauAdmin => act != ViewContact,
            Role::Oversight => {
                matches!(act, ReadMaster | ReadRating | ReadCases | ReadInspections | ReadLoopStats | ReadStaffStats | ReadAudit)
            }
            Role::UnitHandler | Role::TownAdmin => handles(act),
            Role::UnitApprover => handles(act) || act == ReviewAppeal,
            Role::WindowStaff => matches!(act, RegisterMatter | ReadMaster | ReadCases | ApplyAppeal | EnterComplaint),
            Role::Assessor => matches!(act, ReadMaster | RecordInspection | ReadInspections),
        },
    }
}

/// May `p` do `act` on something of `target` (a unit code), or in general when `target` is `None`?
pub fn can(p: &Principal, act: Act, target: Option<&str>, tree: &impl UnitTree) -> Result<(), Denied> {
    let own = match p {
        Principal::Public => return Err(Denied::SignInRequired),
        Principal::Staff { unit, .. } | Principal::Key { unit, .. } => unit.as_str(),
    };
    if !allowed(p, act) {
        return Err(Denied::WrongRole(DomainError::new("wrong_role", "credential", "当前角色或凭证无权进行此操作")));
    }
    // The county's own acts need its top unit, not just the role.
    if matches!(act, Act::DecideAppealAsBureau | Act::ManageNotifications | Act::ReadAudit) && !tree.is_top(own) {
        return Err(Denied::WrongRole(DomainError::new("wrong_role", "credential", "只有县级（最上级）单位可以进行此操作")));
    }
    let Some(target) = target else { return Ok(()) };
    let in_scope = match (p, act) {
        (Principal::Staff { role: Role::WindowStaff, .. }, _) => target == own,
        // A rater's contact is for the unit that calls back: its own handlers and approvers (and a town's
        // administrator for the town's units), not every handler higher up the tree.
        (Principal::Staff { role: Role::UnitHandler | Role::UnitApprover, .. }, Act::ViewContact) => target == own,
        _ => tree.is_within(target, own),
    };
    if in_scope { Ok(()) } else { Err(Denied::OutOfScope(DomainError::new("out_of_scope", "unit", "无权访问该单位的数据"))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LX (county) ⊃ LX-GAJ (department); LX ⊃ LX-CG (town) ⊃ LX-CG-V1 (village)
    struct Tree;
    impl UnitTree for Tree {
        fn is_within(&self, unit: &str, ancestor: &str) -> bool {
            unit == ancestor || ancestor == "LX" || (ancestor == "LX-CG" && unit.starts_with("LX-CG-"))
        }
        fn is_top(&self, unit: &str) -> bool {
            unit == "LX"
        }
    }

    fn staff(role: Role, unit: &str) -> Principal {
        Principal::Staff { role, unit: unit.into() }
    }

    #[test]
    fn roles_and_scopes() {
        let t = Tree;
        assert_eq!(can(&Principal::Public, Act::ReadCases, None, &t), Err(Denied::SignInRequired));
        // Oversight reads everything and changes nothing.
        let o = staff(Role::Oversight, "LX");
        assert!(can(&o, Act::ReadCases, Some("LX-CG-V1"), &t).is_ok());
        assert!(matches!(can(&o, Act::HandleCase, Some("LX-GAJ"), &t), Err(Denied::WrongRole(_))));
        // A town administrator: its town and villages, not a county department.
        let town = staff(Role::TownAdmin, "LX-CG");
        assert!(can(&town, Act::HandleCase, Some("LX-CG-V1"), &t).is_ok());
        assert!(matches!(can(&town, Act::HandleCase, Some("LX-GAJ"), &t), Err(Denied::OutOfScope(_))));
        // Window staff: their own unit only, and no handling.
        let clerk = staff(Role::WindowStaff, "LX-CG");
        assert!(can(&clerk, Act::ReadCases, Some("LX-CG"), &t).is_ok());
        assert!(matches!(can(&clerk, Act::ReadCases, Some("LX-CG-V1"), &t), Err(Denied::OutOfScope(_))));
        assert!(matches!(can(&clerk, Act::HandleCase, Some("LX-CG"), &t), Err(Denied::WrongRole(_))));
        // The county's acts need the top unit as well as the role.
        assert!(can(&staff(Role::BureauAdmin, "LX"), Act::ReadAudit, None, &t).is_ok());
        assert!(matches!(can(&staff(Role::BureauAdmin, "LX-CG"), Act::ReadAudit, None, &t), Err(Denied::WrongRole(_))));
        // Machine keys.
        let device = Principal::Key { kind: KeyKind::Device, unit: "LX".into() };
        assert!(matches!(can(&device, Act::ReadCases, None, &t), Err(Denied::WrongRole(_))));
        let system = Principal::Key { kind: KeyKind::System, unit: "LX-CG".into() };
        assert!(can(&system, Act::HandleCase, Some("LX-CG-V1"), &t).is_ok());
        assert!(matches!(can(&system, Act::ViewContact, Some("LX-CG"), &t), Err(Denied::WrongRole(_))));
    }

    #[test]
    fn nobody_but_staff_of_the_unit_sees_contacts() {
        let t = Tree;
        let who_may: Vec<&str> = Role::ALL
            .into_iter()
            .filter(|r| can(&staff(*r, "LX-GAJ"), Act::ViewContact, Some("LX-GAJ"), &t).is_ok())
            .map(Role::code)
            .collect();
        assert_eq!(who_may, ["unit_handler", "unit_approver", "town_admin"]);
        // Not a handler higher up the tree; a town's administrator for the town's villages.
        assert!(matches!(can(&staff(Role::UnitHandler, "LX"), Act::ViewContact, Some("LX-GAJ"), &t), Err(Denied::OutOfScope(_))));
        assert!(can(&staff(Role::TownAdmin, "LX-CG"), Act::ViewContact, Some("LX-CG-V1"), &t).is_ok());
        for k in [KeyKind::System, KeyKind::Device, KeyKind::Hotline] {
            assert!(can(&Principal::Key { kind: k, unit: "LX".into() }, Act::ViewContact, Some("LX"), &t).is_err());
        }
    }
}
