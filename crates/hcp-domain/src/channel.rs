use crate::error::DomainError;

/// The channel a rating came through (API.md), with its national `pf` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Pc,
    Mobile,
    Qr,
    Pad,
    HallTerminal,
    Phone,
    Sms,
    Paper,
    BusinessSystem,
    Province,
}

/// Whether the indicators of on-site or of online service apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Online,
    Offline,
}

impl Channel {
    pub const ALL: [Channel; 10] = [
        Channel::Pc,
        Channel::Mobile,
        Channel::Qr,
        Channel::Pad,
        Channel::HallTerminal,
        Channel::Phone,
        Channel::Sms,
        Channel::Paper,
        Channel::BusinessSystem,
        Channel::Province,
    ];

    pub fn parse(code: &str, field: &str) -> Result<Self, DomainError> {
        Self::ALL.into_iter().find(|c| c.code() == code).ok_or_else(|| {
            DomainError::new(
                "invalid_channel",
                field,
                "评价渠道无效，可选：pc、mobile、qr、pad、hall_terminal、phone、sms、paper、business_system、province",
            )
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            Channel::Pc => "pc",
            Channel::Mobile => "mobile",
            Channel::Qr => "qr",
            Channel::Pad => "pad",
            Channel::HallTerminal => "hall_terminal",
            Channel::Phone => "phone",
            Channel::Sms => "sms",
            Channel::Paper => "paper",
            Channel::BusinessSystem => "business_system",
            Channel::Province => "province",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Channel::Pc => "PC端",
            Channel::Mobile => "移动端",
            Channel::Qr => "二维码",
            Channel::Pad => "窗口评价器",
            Channel::HallTerminal => "大厅自助终端",
            Channel::Phone => "政务服务热线",
            Channel::Sms => "短信",
            Channel::Paper => "书面评价表",
            Channel::BusinessSystem => "部门办事系统",
            Channel::Province => "省好差评系统",
        }
    }

    /// National `pf` code (1 pc … 7 sms); the other channels map to `other_pf`, which is configuration.
    pub fn pf_code(self, other_pf: u8) -> u8 {
        match self {
            Channel::Pc => 1,
            Channel::Mobile => 2,
            Channel::Qr => 3,
            Channel::Pad => 4,
            Channel::HallTerminal => 5,
            Channel::Phone => 6,
            Channel::Sms => 7,
            Channel::Paper | Channel::BusinessSystem | Channel::Province => other_pf,
        }
    }

    /// On-site channels rate a service occasion at the hall; the others rate a matter handled online.
    pub fn mode(self) -> Mode {
        match self {
            Channel::Pad | Channel::HallTerminal | Channel::Paper | Channel::Qr => Mode::Offline,
            _ => Mode::Online,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_map_to_pf() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.code(), "channel").unwrap(), c);
        }
        assert_eq!(Channel::Pad.pf_code(9), 4);
        assert_eq!(Channel::Sms.pf_code(9), 7);
        assert_eq!(Channel::Paper.pf_code(9), 9);
        assert_eq!(Channel::parse("fax", "channel").unwrap_err().code, "invalid_channel");
    }
}
