//! Checked codes and numbers used as keys (事项编码, 办件编号, unit and window codes …).

use crate::error::DomainError;

/// A code made of ASCII letters, digits, `-` and `_`, 1..=max characters.
pub fn parse_code(raw: &str, field: &str, max: usize) -> Result<String, DomainError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(DomainError::new("missing_field", field, format!("{field} 不能为空")));
    }
    if s.chars().count() > max {
        return Err(DomainError::new("too_long", field, format!("{field} 不能超过 {max} 个字符")));
    }
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(DomainError::new("invalid_code", field, format!("{field} 只能包含字母、数字、“-”和“_”")));
    }
    Ok(s.to_string())
}

/// Free text of a person (a name, a comment): trimmed, no control characters, at most `max` characters.
pub fn parse_text(raw: &str, field: &str, max: usize) -> Result<String, DomainError> {
    let s = raw.trim();
    if s.chars().count() > max {
        return Err(DomainError::new("too_long", field, format!("{field} 不能超过 {max} 个字符")));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(DomainError::new("invalid_text", field, format!("{field} 含有不可见的控制字符")));
    }
    Ok(s.to_string())
}

/// The number of a matter's service occasion (一次一评): `MATTERNO-S3`.
pub fn service_no(matter_no: &str, seq: i64) -> String {
    format!("{matter_no}-S{seq}")
}

/// Parses `MATTERNO-S3` into the matter number and 3.
pub fn parse_service_no(raw: &str) -> Result<(String, i64), DomainError> {
    let bad = || DomainError::new("invalid_service_no", "service_no", "服务编号格式不正确，应为“办件编号-S序号”");
    let (m, seq) = raw.rsplit_once("-S").ok_or_else(bad)?;
    let seq: i64 = seq.parse().map_err(|_| bad())?;
    if seq < 1 {
        return Err(bad());
    }
    Ok((m.to_string(), seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert_eq!(parse_code(" BJ-001 ", "matter_no", 50).unwrap(), "BJ-001");
        assert_eq!(parse_code("", "matter_no", 50).unwrap_err().code, "missing_field");
        assert_eq!(parse_code("a b", "matter_no", 50).unwrap_err().code, "invalid_code");
        assert_eq!(parse_code("x'; drop table", "matter_no", 50).unwrap_err().code, "invalid_code");
        assert_eq!(parse_code(&"9".repeat(51), "matter_no", 50).unwrap_err().code, "too_long");
    }

    #[test]
    fn text() {
        assert_eq!(parse_text(" 很好 ", "text", 10).unwrap(), "很好");
        assert_eq!(parse_text("\u{7}", "text", 10).unwrap_err().code, "invalid_text");
        assert_eq!(parse_text(&"字".repeat(11), "text", 10).unwrap_err().code, "too_long");
    }
}
