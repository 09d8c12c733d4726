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

    /// On-site channels rate a service occasion at the hall; the others rate a matter handled online.
    pub fn mode(self) -> Mode {
        match self {
            Channel::Pad | Channel::HallTerminal | Channel::Paper | Channel::Qr => Mode::Offline,
            _ => Mode::Online,
        }
    }
}

/// The `pf` code (评价渠道) each channel is reported with: configuration of the reporting target, since
/// provinces differ (the national order 1 pc … 7 sms; Zhejiang has 6 短信, 7 系统默认评价), and paper forms,
/// business systems and the province's own ratings have no national code at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PfCodes([u8; 10]);

impl Default for PfCodes {
    /// The national order (`NATIONAL-RULES.md` §5); 9 for the channels without a national code.
    fn default() -> Self {
        PfCodes([1, 2, 3, 4, 5, 6, 7, 9, 9, 9])
    }
}

impl PfCodes {
    pub fn code(&self, c: Channel) -> u8 {
        let i = Channel::ALL.iter().position(|x| *x == c).unwrap_or(0);
        self.0[i]
    }

    /// The default with the given changes, `channel=code,…` (e.g. `sms=6,paper=5`); codes 1–99.
    pub fn parse(text: &str, field: &str) -> Result<Self, DomainError> {
        let mut codes = PfCodes::default();
        for part in text.split([',', '，', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || DomainError::new("invalid_pf_codes", field, format!("“{part}”应为 渠道=代码，如 sms=6（代码 1–99）"));
            let (channel, code) = part.split_once('=').ok_or_else(bad)?;
            let channel = Channel::parse(channel.trim(), field)?;
            let code: u8 = code.trim().parse().ok().filter(|c| (1..=99).contains(c)).ok_or_else(bad)?;
            let i = Channel::ALL.iter().position(|x| *x == channel).unwrap_or(0);
            codes.0[i] = code;
        }
        Ok(codes)
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
        let national = PfCodes::default();
        assert_eq!(Channel::ALL.map(|c| national.code(c)), [1, 2, 3, 4, 5, 6, 7, 9, 9, 9]);
        assert_eq!(Channel::parse("fax", "channel").unwrap_err().code, "invalid_channel");
    }

    #[test]
    fn a_target_maps_its_own_pf_codes() {
        let zhejiang = PfCodes::parse("sms=6, phone=8，paper=5 business_system=1", "pf_codes").unwrap();
        assert_eq!(zhejiang.code(Channel::Sms), 6);
        assert_eq!(zhejiang.code(Channel::Phone), 8);
        assert_eq!(zhejiang.code(Channel::Paper), 5);
        assert_eq!(zhejiang.code(Channel::BusinessSystem), 1);
        assert_eq!(zhejiang.code(Channel::Qr), 3, "unchanged channels keep the national code");
        assert_eq!(PfCodes::parse("", "pf_codes").unwrap(), PfCodes::default());
        for bad in ["sms", "sms=0", "sms=100", "sms=x", "fax=3"] {
            assert!(PfCodes::parse(bad, "pf_codes").is_err(), "{bad}");
        }
    }
}
