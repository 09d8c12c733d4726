//! Who may do what, where in the unit tree: one function, [`can`], that every endpoint and page asks.
//!
//! A principal is a staff member with a role and a unit, a machine key with a kind and a unit (a device key
//! also with a window), the holder of a rating token, a rater through their feedback link, or the public.
//! Scope is the principal's unit and the units below it, except window staff, who see their own unit only
//! (they may be the person a review is about). Rating is an act like any other: each credential rates through
//! its own channels, within its own scope.

use crate::channel::Channel;
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

    /// A role given by an operator or a form.
    pub fn parse_field(s: &str, field: &str) -> Result<Role, DomainError> {
        Self::parse(s).ok_or_else(|| {
            let all: Vec<&str> = Role::ALL.iter().map(|r| r.code()).collect();
            DomainError::new("invalid_role", field, format!("角色无效，可选：{}", all.join("、")))
        })
    }

    /// Roles whose sign-in needs a second factor.
    pub fn needs_second_factor(self) -> bool {
        matches!(self, Role::BureauAdmin)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// a business system of a unit (部门办事系统) or the county platform
    System,
    /// a rating device bound to one window
    Device,
    /// the service hotline
    Hotline,
    /// the SMS gateway's inbound webhook (replies to invitations)
    SmsGateway,
    /// the provincial 好差评 system, submitting ratings given on its channels for matters handled here
    Province,
}

impl KeyKind {
    pub const ALL: [KeyKind; 5] = [KeyKind::System, KeyKind::Device, KeyKind::Hotline, KeyKind::SmsGateway, KeyKind::Province];

    pub fn code(self) -> &'static str {
        match self {
            KeyKind::System => "system",
            KeyKind::Device => "device",
            KeyKind::Hotline => "hotline",
            KeyKind::SmsGateway => "sms_gateway",
            KeyKind::Province => "province",
        }
    }

    pub fn parse(s: &str) -> Option<KeyKind> {
        Self::ALL.into_iter().find(|k| k.code() == s)
    }

    /// A kind given by an operator or a form.
    pub fn parse_field(s: &str, field: &str) -> Result<KeyKind, DomainError> {
        Self::parse(s).ok_or_else(|| {
            DomainError::new("invalid_key_kind", field, "密钥类型无效，可选：system、device、hotline、sms_gateway、province")
        })
    }

    pub fn label(self) -> &'static str {
        match self {
            KeyKind::System => "业务系统",
            KeyKind::Device => "评价器",
            KeyKind::Hotline => "热线",
            KeyKind::SmsGateway => "短信网关",
            KeyKind::Province => "省好差评系统",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Staff {
        username: String,
        role: Role,
        unit: String,
    },
    /// a machine key; a device key is bound to a window
    Key {
        kind: KeyKind,
        unit: String,
        window: Option<String>,
    },
    /// whoever holds a rating token (the QR code on a receipt, a push link): rates the matter it names
    RatingToken,
    /// the rater, through the feedback link of their own case
    Rater {
        case_id: String,
    },
    Public,
}

impl Principal {
    /// The name the case history and the audit trail give the actor.
    pub fn actor(&self) -> String {
        match self {
            Principal::Staff { username, .. } => format!("staff:{username}"),
            Principal::Key { .. } => "key".into(),
            Principal::RatingToken => "rating_token".into(),
            Principal::Rater { .. } => "rater".into(),
            Principal::Public => "public".into(),
        }
    }

    fn unit(&self) -> Option<&str> {
        match self {
            Principal::Staff { unit, .. } | Principal::Key { unit, .. } => Some(unit),
            _ => None,
        }
    }
}

/// Everything a caller may ask to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Act {
    /// submit a rating through a channel: each credential has its channels (a rating token the online ones, a
    /// device key the window's, the hotline the phone, a business system its own, staff the paper form)
    Rate(Channel),
    /// register a matter or its completion, record a service occasion, print a receipt
    RegisterMatter,
    ReadMaster,
    ReadRating,
    ReadCases,
    /// take a step of a case's handling
    HandleCase,
    /// the rater's verdict on the handling: the rater's own, or taken down by the county or a county-wide system,
    /// never by the unit that handled the case
    GiveVerdict,
    /// one follow-up rating (追评) through the rater's own link
    FollowUp,
    /// see the rater's full contact details for a callback (recorded in the audit log)
    ViewContact,
    ApplyAppeal,
    /// a unit's opinion or decision on a 复核 application (the appeal rules then check the level); never on
    /// one's own application
    ReviewAppeal,
    /// the county's decision on a hall-stationed unit's application; never on one's own application
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
    /// the county's shared settings: the working-day calendar and master data
    ManageSettings,
    /// watch the provincial link, and send rejected records again after a fix
    ManageProvinceLink,
    /// pass on the citizens' SMS replies (the SMS gateway's webhook): ratings, reasons and opt-outs
    ReceiveSms,
}

impl Act {
    /// Every act that is not a rating.
    pub const ALL: [Act; 23] = [
        Act::RegisterMatter,
        Act::ReadMaster,
        Act::ReadRating,
        Act::ReadCases,
        Act::HandleCase,
        Act::GiveVerdict,
        Act::FollowUp,
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
        Act::ManageSettings,
        Act::ManageProvinceLink,
        Act::ReceiveSms,
    ];
}

/// What an act is done to: a unit's thing, and where it matters, its window, its case, or who applied for
/// the 复核 at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Target<'a> {
    pub unit: &'a str,
    pub window: Option<&'a str>,
    pub case_id: Option<&'a str>,
    /// the actor who applied for the 复核 being reviewed (`staff:<username>`)
    pub appeal_applicant: Option<&'a str>,
}

impl<'a> Target<'a> {
    pub fn unit(unit: &'a str) -> Self {
        Target { unit, ..Default::default() }
    }
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
        Principal::RatingToken => false,
        Principal::Rater { .. } => matches!(act, GiveVerdict | FollowUp),
        Principal::Key { kind: KeyKind::System, .. } => {
            matches!(
                act,
                RegisterMatter
                    | ReadMaster
                    | ReadRating
                    | ReadCases
                    | HandleCase
                    | GiveVerdict
                    | ReadInspections
                    | ReadLoopStats
                    | ReadStaffStats
            )
        }
        Principal::Key { kind: KeyKind::Hotline, .. } => matches!(act, EnterComplaint | ReadMaster),
        Principal::Key { kind: KeyKind::Device, .. } => matches!(act, ReadMaster),
        // They rate (through their one channel) and do nothing else.
        Principal::Key { kind: KeyKind::SmsGateway, .. } => act == ReceiveSms,
        Principal::Key { kind: KeyKind::Province, .. } => false,
        Principal::Staff { role, .. } => match role {
            // Administers everything in its tree, but contacts are for those who call raters back.
            Role::BureauAdmin => !matches!(act, ViewContact | FollowUp),
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

fn wrong_role() -> Denied {
    Denied::WrongRole(DomainError::new("wrong_role", "credential", "当前角色或凭证无权进行此操作"))
}

fn out_of_scope() -> Denied {
    Denied::OutOfScope(DomainError::new("out_of_scope", "unit", "无权访问该单位的数据"))
}

/// Which channels each credential may rate through.
fn rates_through(p: &Principal, channel: Channel) -> bool {
    use Channel::*;
    match p {
        Principal::RatingToken => matches!(channel, Qr | Mobile | Pc | Sms | HallTerminal),
        Principal::Key { kind: KeyKind::Device, .. } => matches!(channel, Pad | HallTerminal),
        Principal::Key { kind: KeyKind::Hotline, .. } => matches!(channel, Phone),
        Principal::Key { kind: KeyKind::System, .. } => matches!(channel, BusinessSystem | Pc | Mobile | Sms),
        Principal::Key { kind: KeyKind::SmsGateway, .. } => matches!(channel, Sms),
        // Ratings from the province are received only from the province: they are never reported back.
        Principal::Key { kind: KeyKind::Province, .. } => matches!(channel, Province),
        Principal::Staff { .. } => matches!(channel, Paper),
        Principal::Rater { .. } | Principal::Public => false,
    }
}

/// May `p` rate through `channel` the service of `target` (its unit, and its window for a device)?
fn may_rate(p: &Principal, channel: Channel, target: Option<&Target>, tree: &impl UnitTree) -> Result<(), Denied> {
    if matches!(p, Principal::Public) {
        return Err(Denied::SignInRequired);
    }
    if !rates_through(p, channel) {
        return Err(Denied::WrongRole(DomainError::new(
            "channel_not_allowed",
            "channel",
            format!("该凭证不能提交“{}”渠道的评价", channel.label()),
        )));
    }
    let Some(t) = target else { return Ok(()) };
    match p {
        // The token was signed for one matter and occasion: it is its own scope.
        Principal::RatingToken => Ok(()),
        // Paper forms are entered by the unit's handlers, approvers or the county, never by window staff (the
        // form may rate their own service), the oversight office or assessors.
        Principal::Staff { .. } => can(p, Act::EnterPaperRating, Some(&Target::unit(t.unit)), tree),
        // A device sits at a window of the hall and rates the services given there, whichever department's
        // matter they belong to.
        Principal::Key { kind: KeyKind::Device, window, .. } => {
            if t.window.is_some() && t.window == window.as_deref() {
                Ok(())
            } else {
                Err(Denied::OutOfScope(DomainError::new("wrong_window", "service_no", "评价器只能评价本窗口的服务")))
            }
        }
        Principal::Key { unit, .. } if tree.is_within(t.unit, unit) => Ok(()),
        _ => Err(Denied::OutOfScope(DomainError::general("out_of_scope", "该凭证无权评价此单位的办件"))),
    }
}

/// May `p` do `act` on `target`, or in general when `target` is `None`?
pub fn can(p: &Principal, act: Act, target: Option<&Target>, tree: &impl UnitTree) -> Result<(), Denied> {
    if let Act::Rate(channel) = act {
        return may_rate(p, channel, target, tree);
    }
    if matches!(p, Principal::Public | Principal::RatingToken) {
        return Err(Denied::SignInRequired);
    }
    if !allowed(p, act) {
        return Err(match act {
            Act::GiveVerdict => Denied::WrongRole(DomainError::new(
                "verdict_by_rater",
                "action",
                "处理结果的评价须由评价人本人通过反馈链接给出，或由县级部门、热线代为录入",
            )),
            _ => wrong_role(),
        });
    }
    if let Principal::Rater { case_id } = p {
        // A rater acts on their own case only.
        return match target {
            Some(t) if t.case_id == Some(case_id.as_str()) => Ok(()),
            Some(_) => Err(out_of_scope()),
            None => Ok(()),
        };
    }
    let own = p.unit().unwrap_or_default();
    // The county's own acts need its top unit, not just the role; a system key speaks for the rater only when
    // it is the county's (the platform's app, the hotline's system), not a department's.
    let county_only = matches!(
        act,
        Act::DecideAppealAsBureau
            | Act::ManageNotifications
            | Act::ReadAudit
            | Act::ManageSettings
            | Act::ManageProvinceLink
            | Act::ReceiveSms
    ) || (act == Act::GiveVerdict && matches!(p, Principal::Key { .. }));
    if county_only && !tree.is_top(own) {
        return Err(match act {
            Act::GiveVerdict => Denied::WrongRole(DomainError::new(
                "verdict_by_rater",
                "action",
                "处理结果的评价须由评价人本人通过反馈链接给出，或由县级部门、热线代为录入",
            )),
            _ => Denied::WrongRole(DomainError::new("wrong_role", "credential", "只有县级（最上级）单位可以进行此操作")),
        });
    }
    let Some(t) = target else { return Ok(()) };
    // Nobody decides on their own application.
    if matches!(act, Act::ReviewAppeal | Act::DecideAppealAsBureau)
        && let (Some(applicant), Principal::Staff { username, .. }) = (t.appeal_applicant, p)
        && applicant == format!("staff:{username}")
    {
        return Err(Denied::WrongRole(DomainError::general("appeal_forbidden", "申请人不能审核自己的复核申请")));
    }
    let target = t.unit;
    let in_scope = match (p, act) {
        (Principal::Staff { role: Role::WindowStaff, .. }, _) => target == own,
        // A rater's contact is for the unit that calls back: its own handlers and approvers (and a town's
        // administrator for the town's units), not every handler higher up the tree.
        (Principal::Staff { role: Role::UnitHandler | Role::UnitApprover, .. }, Act::ViewContact) => target == own,
        _ => tree.is_within(target, own),
    };
    if in_scope { Ok(()) } else { Err(out_of_scope()) }
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
        Principal::Staff { username: "u".into(), role, unit: unit.into() }
    }

    fn key(kind: KeyKind, unit: &str) -> Principal {
        Principal::Key { kind, unit: unit.into(), window: None }
    }

    fn at(unit: &str) -> Option<Target<'_>> {
        Some(Target::unit(unit))
    }

    #[test]
    fn roles_and_scopes() {
        let t = Tree;
        assert_eq!(can(&Principal::Public, Act::ReadCases, None, &t), Err(Denied::SignInRequired));
        // Oversight reads everything and changes nothing.
        let o = staff(Role::Oversight, "LX");
        assert!(can(&o, Act::ReadCases, at("LX-CG-V1").as_ref(), &t).is_ok());
        assert!(matches!(can(&o, Act::HandleCase, at("LX-GAJ").as_ref(), &t), Err(Denied::WrongRole(_))));
        // A town administrator: its town and villages, not a county department.
        let town = staff(Role::TownAdmin, "LX-CG");
        assert!(can(&town, Act::HandleCase, at("LX-CG-V1").as_ref(), &t).is_ok());
        assert!(matches!(can(&town, Act::HandleCase, at("LX-GAJ").as_ref(), &t), Err(Denied::OutOfScope(_))));
        // Window staff: their own unit only, and no handling.
        let clerk = staff(Role::WindowStaff, "LX-CG");
        assert!(can(&clerk, Act::ReadCases, at("LX-CG").as_ref(), &t).is_ok());
        assert!(matches!(can(&clerk, Act::ReadCases, at("LX-CG-V1").as_ref(), &t), Err(Denied::OutOfScope(_))));
        assert!(matches!(can(&clerk, Act::HandleCase, at("LX-CG").as_ref(), &t), Err(Denied::WrongRole(_))));
        // The county's acts need the top unit as well as the role.
        assert!(can(&staff(Role::BureauAdmin, "LX"), Act::ReadAudit, None, &t).is_ok());
        assert!(matches!(can(&staff(Role::BureauAdmin, "LX-CG"), Act::ReadAudit, None, &t), Err(Denied::WrongRole(_))));
        // Machine keys.
        assert!(matches!(can(&key(KeyKind::Device, "LX"), Act::ReadCases, None, &t), Err(Denied::WrongRole(_))));
        let system = key(KeyKind::System, "LX-CG");
        assert!(can(&system, Act::HandleCase, at("LX-CG-V1").as_ref(), &t).is_ok());
        assert!(matches!(can(&system, Act::ViewContact, at("LX-CG").as_ref(), &t), Err(Denied::WrongRole(_))));
    }

    #[test]
    fn nobody_but_staff_of_the_unit_sees_contacts() {
        let t = Tree;
        let who_may: Vec<&str> = Role::ALL
            .into_iter()
            .filter(|r| can(&staff(*r, "LX-GAJ"), Act::ViewContact, at("LX-GAJ").as_ref(), &t).is_ok())
            .map(Role::code)
            .collect();
        assert_eq!(who_may, ["unit_handler", "unit_approver", "town_admin"]);
        // Not a handler higher up the tree; a town's administrator for the town's villages.
        assert!(matches!(can(&staff(Role::UnitHandler, "LX"), Act::ViewContact, at("LX-GAJ").as_ref(), &t), Err(Denied::OutOfScope(_))));
        assert!(can(&staff(Role::TownAdmin, "LX-CG"), Act::ViewContact, at("LX-CG-V1").as_ref(), &t).is_ok());
        for k in KeyKind::ALL {
            assert!(can(&key(k, "LX"), Act::ViewContact, at("LX").as_ref(), &t).is_err());
        }
    }

    fn code(r: Result<(), Denied>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(Denied::SignInRequired) => "sign_in",
            Err(Denied::WrongRole(e) | Denied::OutOfScope(e)) => e.code,
        }
    }

    #[test]
    fn each_credential_rates_through_its_own_channels_in_its_own_scope() {
        let t = Tree;
        let gaj = Target::unit("LX-GAJ");
        assert_eq!(code(can(&Principal::RatingToken, Act::Rate(Channel::Qr), Some(&gaj), &t)), "ok");
        assert_eq!(code(can(&Principal::RatingToken, Act::Rate(Channel::Pad), Some(&gaj), &t)), "channel_not_allowed");
        assert_eq!(code(can(&Principal::Public, Act::Rate(Channel::Qr), Some(&gaj), &t)), "sign_in");
        assert_eq!(code(can(&key(KeyKind::Hotline, "LX"), Act::Rate(Channel::Phone), Some(&gaj), &t)), "ok");
        assert_eq!(code(can(&key(KeyKind::Hotline, "LX"), Act::Rate(Channel::Paper), Some(&gaj), &t)), "channel_not_allowed");
        assert_eq!(code(can(&key(KeyKind::System, "LX-CG"), Act::Rate(Channel::BusinessSystem), Some(&gaj), &t)), "out_of_scope");
        // The SMS gateway rates by SMS only, the province only as the province; neither does anything else, and
        // no other credential may pass a rating off as the province's (it would never be reported).
        assert_eq!(code(can(&key(KeyKind::SmsGateway, "LX"), Act::Rate(Channel::Sms), Some(&gaj), &t)), "ok");
        assert_eq!(code(can(&key(KeyKind::SmsGateway, "LX"), Act::Rate(Channel::Pc), Some(&gaj), &t)), "channel_not_allowed");
        assert_eq!(code(can(&key(KeyKind::Province, "LX"), Act::Rate(Channel::Province), Some(&gaj), &t)), "ok");
        assert_eq!(code(can(&key(KeyKind::System, "LX"), Act::Rate(Channel::Province), Some(&gaj), &t)), "channel_not_allowed");
        assert_eq!(code(can(&key(KeyKind::SmsGateway, "LX"), Act::ReceiveSms, None, &t)), "ok");
        assert_eq!(code(can(&key(KeyKind::System, "LX"), Act::ReceiveSms, None, &t)), "wrong_role");
        for k in [KeyKind::SmsGateway, KeyKind::Province] {
            assert_eq!(code(can(&key(k, "LX"), Act::ReadMaster, None, &t)), "wrong_role");
            assert_eq!(code(can(&key(k, "LX"), Act::RegisterMatter, None, &t)), "wrong_role");
        }
        // A device rates what was served at its own window, whichever unit's matter it was.
        let pad = Principal::Key { kind: KeyKind::Device, unit: "LX-CG".into(), window: Some("ZX-01".into()) };
        let here = Target { unit: "LX-GAJ", window: Some("ZX-01"), ..Default::default() };
        let there = Target { unit: "LX-GAJ", window: Some("ZX-02"), ..Default::default() };
        assert_eq!(code(can(&pad, Act::Rate(Channel::Pad), Some(&here), &t)), "ok");
        assert_eq!(code(can(&pad, Act::Rate(Channel::Pad), Some(&there), &t)), "wrong_window");
        assert_eq!(code(can(&pad, Act::Rate(Channel::Pad), Some(&gaj), &t)), "wrong_window", "a matter without a service at a window");
        // Paper forms: the unit's handlers, never window staff.
        assert_eq!(code(can(&staff(Role::UnitHandler, "LX-GAJ"), Act::Rate(Channel::Paper), Some(&gaj), &t)), "ok");
        assert_eq!(code(can(&staff(Role::WindowStaff, "LX-GAJ"), Act::Rate(Channel::Paper), Some(&gaj), &t)), "wrong_role");
        assert_eq!(code(can(&staff(Role::UnitHandler, "LX-CG"), Act::Rate(Channel::Paper), Some(&gaj), &t)), "out_of_scope");
    }

    #[test]
    fn the_verdict_is_the_raters_and_nobody_reviews_their_own_appeal() {
        let t = Tree;
        let case = Target { unit: "LX-GAJ", case_id: Some("c1"), ..Default::default() };
        let other = Target { unit: "LX-GAJ", case_id: Some("c2"), ..Default::default() };
        let rater = Principal::Rater { case_id: "c1".into() };
        assert_eq!(code(can(&rater, Act::GiveVerdict, Some(&case), &t)), "ok");
        assert_eq!(code(can(&rater, Act::GiveVerdict, Some(&other), &t)), "out_of_scope");
        assert_eq!(code(can(&rater, Act::HandleCase, Some(&case), &t)), "wrong_role");
        assert_eq!(code(can(&staff(Role::UnitHandler, "LX-GAJ"), Act::GiveVerdict, Some(&case), &t)), "verdict_by_rater");
        assert_eq!(code(can(&staff(Role::BureauAdmin, "LX"), Act::GiveVerdict, Some(&case), &t)), "ok");
        assert_eq!(code(can(&key(KeyKind::System, "LX"), Act::GiveVerdict, Some(&case), &t)), "ok");
        assert_eq!(code(can(&key(KeyKind::System, "LX-GAJ"), Act::GiveVerdict, Some(&case), &t)), "verdict_by_rater");
        let mine = Target { unit: "LX-GAJ", appeal_applicant: Some("staff:u"), ..Default::default() };
        let theirs = Target { unit: "LX-GAJ", appeal_applicant: Some("staff:someone"), ..Default::default() };
        assert_eq!(code(can(&staff(Role::UnitApprover, "LX-GAJ"), Act::ReviewAppeal, Some(&mine), &t)), "appeal_forbidden");
        assert_eq!(code(can(&staff(Role::UnitApprover, "LX-GAJ"), Act::ReviewAppeal, Some(&theirs), &t)), "ok");
        assert_eq!(code(can(&staff(Role::BureauAdmin, "LX"), Act::DecideAppealAsBureau, Some(&mine), &t)), "appeal_forbidden");
    }
}
