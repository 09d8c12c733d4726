//! Personal data of raters and applicants: checked on the way in, masked on the way out.

use crate::error::DomainError;
use crate::ids::parse_text;

/// A mainland mobile number (11 digits starting with 1); spaces, dashes and a +86 prefix are dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl Phone {
    pub fn parse(raw: &str, field: &str) -> Result<Self, DomainError> {
        let mut digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if let Some(rest) = digits.strip_prefix("+86") {
            digits = rest.to_string();
        }
        if digits.len() == 11 && digits.starts_with('1') && digits.chars().all(|c| c.is_ascii_digit()) {
            Ok(Phone(digits))
        } else {
            Err(DomainError::new("invalid_phone", field, "手机号码格式不正确（应为 11 位数字）"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****8000`
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

pub fn mask_phone(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    if chars.len() < 7 {
        return "****".to_string();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

/// `z***@longxian.gov.cn`: the first character of the mailbox and the domain.
pub fn mask_email(e: &str) -> String {
    match e.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().map(String::from).unwrap_or_default()),
        None => "***".to_string(),
    }
}

/// A resident identity card number (18 characters, GB 11643 check digit).
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

impl std::fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl IdNumber {
    pub fn parse(raw: &str, field: &str) -> Result<Self, DomainError> {
        let s = raw.trim().to_ascii_uppercase();
        let bad = || DomainError::new("invalid_id_number", field, "身份证号码格式不正确");
        let chars: Vec<char> = s.chars().collect();
        if chars.len() != 18 || !chars[..17].iter().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
        let sum: u32 = chars[..17].iter().zip(WEIGHTS).map(|(c, w)| c.to_digit(10).unwrap_or(0) * w).sum();
        if CHECK[(sum % 11) as usize] != chars[17] {
            return Err(bad());
        }
        Ok(IdNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `610***********123X`: the region's first three digits and the last four.
    pub fn masked(&self) -> String {
        mask_id_number(&self.0)
    }
}

/// A 统一社会信用代码 (GB 32100-2015): 18 characters of `0-9A-HJ-NP-RTUWXY`, the 18th a check character over
/// the first 17 (weights 3^i mod 31). A legal person's identity; not personal data, but kept like the
/// applicant's other identity numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditCode(String);

const CREDIT_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

impl CreditCode {
    pub fn parse(raw: &str, field: &str) -> Result<Self, DomainError> {
        let s = raw.trim().to_ascii_uppercase();
        let bad = || DomainError::new("invalid_credit_code", field, "统一社会信用代码格式不正确（应为 18 位，且校验位正确）");
        let values: Vec<u32> = s.chars().map(|c| CREDIT_CHARS.find(c).map(|i| i as u32)).collect::<Option<_>>().ok_or_else(bad)?;
        if values.len() != 18 {
            return Err(bad());
        }
        let mut weight = 1_u32;
        let mut sum = 0_u32;
        for v in &values[..17] {
            sum += v * weight;
            weight = weight * 3 % 31;
        }
        let check = (31 - sum % 31) % 31;
        if values[17] != check {
            return Err(bad());
        }
        Ok(CreditCode(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The identity number of a matter's applicant: a resident identity card for a person, a 统一社会信用代码 for a
/// legal person (法人或其他组织).
pub fn applicant_identity(kind: &str, raw: &str, field: &str) -> Result<String, DomainError> {
    if kind == "person" {
        Ok(IdNumber::parse(raw, field)?.as_str().to_string())
    } else {
        Ok(CreditCode::parse(raw, field)?.as_str().to_string())
    }
}

/// `110***********002X` for an 18-character number; `***` for anything else.
pub fn mask_id_number(id: &str) -> String {
    if id.len() == 18 && id.is_ascii() { format!("{}***********{}", &id[..3], &id[14..]) } else { "***".to_string() }
}

/// Masks every run of 11 or more digits (a phone number, an ID number with or without its final `X`) in a text
/// that comes from elsewhere, e.g. a reason the provincial platform gives for refusing a record, before it is
/// stored or shown.
pub fn redact_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if run >= 11 {
            let mut end = i + run;
            if chars.get(end).is_some_and(|c| *c == 'X' || *c == 'x') {
                end += 1;
            }
            let number: String = chars[i..end].iter().collect();
            out.push_str(&if end - i == 18 { mask_id_number(&number) } else { mask_phone(&number) });
            i = end;
        } else if run > 0 {
            out.extend(&chars[i..i + run]);
            i += run;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A person's or organisation's name: 1..=60 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl std::fmt::Debug for PersonName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PersonName({})", self.masked())
    }
}

impl PersonName {
    pub fn parse(raw: &str, field: &str) -> Result<Self, DomainError> {
        let s = parse_text(raw, field, 60)?;
        if s.is_empty() {
            return Err(DomainError::new("missing_field", field, "姓名不能为空"));
        }
        Ok(PersonName(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask_name(&self.0)
    }
}

/// `张*` for two characters, `张*明` for three or more.
pub fn mask_name(n: &str) -> String {
    let chars: Vec<char> = n.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".to_string(),
        2 => format!("{}*", chars[0]),
        len => format!("{}{}{}", chars[0], "*".repeat(len - 2), chars[len - 1]),
    }
}

/// Contact details of a real-name rater or an applicant, as checked input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: Option<PersonName>,
    pub phone: Option<Phone>,
    pub id_number: Option<IdNumber>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_foreign_texts_are_masked() {
        assert_eq!(redact_numbers("mobile 13800138000 格式错误"), "mobile 138****8000 格式错误");
        assert_eq!(redact_numbers("证件号11010519491231002X不符"), "证件号110***********002X不符");
        assert_eq!(redact_numbers("第 12 步，deptCode 11610327MB2960001A"), "第 12 步，deptCode 11610327MB2960001A");
    }

    #[test]
    fn phones() {
        let p = Phone::parse("+86 138-0013-8000", "phone").unwrap();
        assert_eq!(p.as_str(), "13800138000");
        assert_eq!(p.masked(), "138****8000");
        assert_eq!(Phone::parse("12345", "phone").unwrap_err().code, "invalid_phone");
        assert_eq!(Phone::parse("2380013800a", "phone").unwrap_err().code, "invalid_phone");
    }

    #[test]
    fn id_numbers() {
        // A well-formed number with a correct check digit (not a real person's).
        let id = IdNumber::parse("11010519491231002X", "id_number").unwrap();
        assert_eq!(id.masked(), "110***********002X");
        assert!(IdNumber::parse("110105194912310021", "id_number").is_err());
        assert!(IdNumber::parse("1101051949", "id_number").is_err());
    }

    #[test]
    fn credit_codes() {
        // Check characters computed by the standard's rule (weights 1, 3, 9, 27, 19, …): a letter and a digit.
        let ok = CreditCode::parse("91350100m000100y43", "applicant.id_number").unwrap();
        assert_eq!(ok.as_str(), "91350100M000100Y43");
        assert!(CreditCode::parse("11610327MB29600016", "f").is_ok());
        assert!(CreditCode::parse("11610327MB2960001A", "f").is_err(), "the demo data's made-up codes do not check");
        assert_eq!(CreditCode::parse("91350100M000100Y44", "f").unwrap_err().code, "invalid_credit_code");
        // I, O, S, V and Z are not used; 17 or 19 characters are refused.
        assert!(CreditCode::parse("91350100M000100I43", "f").is_err());
        assert!(CreditCode::parse("91350100M000100Y4", "f").is_err());
        assert!(CreditCode::parse("91350100M000100Y433", "f").is_err());
        assert_eq!(applicant_identity("legal", "91350100M000100Y43", "f").unwrap(), "91350100M000100Y43");
        assert_eq!(applicant_identity("person", "91350100M000100Y43", "f").unwrap_err().code, "invalid_id_number");
        assert_eq!(applicant_identity("legal", "11010519491231002X", "f").unwrap_err().code, "invalid_credit_code");
    }

    #[test]
    fn names() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳小明"), "欧**明");
        let p = PersonName::parse("张三丰", "n").unwrap();
        assert_eq!(format!("{p:?}"), "PersonName(张*丰)", "Debug never prints personal data");
        assert_eq!(format!("{:?}", Phone::parse("13800138000", "p").unwrap()), "Phone(138****8000)");
        assert!(PersonName::parse("  ", "name").is_err());
    }
}
