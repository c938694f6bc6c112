//! Port numbers, ranges and lists as written on the command line.

use std::fmt;

/// An inclusive range of ports, `low..=high`, with `1 <= low <= high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl PortRange {
    pub fn contains(self, port: u16) -> bool {
        (self.low..=self.high).contains(&port)
    }

    pub fn iter(self) -> impl Iterator<Item = u16> {
        self.low..=self.high
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.low, self.high)
    }
}

/// Parses one port, 1-65535.
pub fn parse_port(text: &str) -> Result<u16, String> {
    if let Ok(port @ 1..=65535) = text.trim().parse::<u32>() {
        Ok(port as u16)
    } else {
        Err(format!(
            "invalid port '{text}': expected a number from 1 to 65535"
        ))
    }
}

/// Parses `LOW-HIGH` (or a single port, a range of one).
pub fn parse_range(text: &str) -> Result<PortRange, String> {
    let (low, high) = text.split_once('-').unwrap_or((text, text));
    let (low, high) = (parse_port(low)?, parse_port(high)?);
    if low > high {
        return Err(format!(
            "invalid range '{text}': expected LOW-HIGH with LOW <= HIGH"
        ));
    }
    Ok(PortRange { low, high })
}

/// Parses a comma-separated list of ports and ranges: `8080,9000-9100`.
pub fn parse_ports(text: &str) -> Result<Vec<PortRange>, String> {
    text.split(',').map(parse_range).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ports() {
        assert_eq!(parse_port("1"), Ok(1));
        assert_eq!(parse_port("65535"), Ok(65535));
        for bad in ["0", "65536", "70000", "", "-1", "x", "80a"] {
            let err = parse_port(bad).unwrap_err();
            assert!(err.contains("expected a number from 1 to 65535"), "{err}");
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(
            parse_range("20000-30000"),
            Ok(PortRange {
                low: 20000,
                high: 30000
            })
        );
        assert_eq!(parse_range("80"), Ok(PortRange { low: 80, high: 80 }));
        assert!(parse_range("30-20").unwrap_err().contains("LOW <= HIGH"));
        assert!(parse_range("20-").is_err());
        assert!(parse_range("-20").is_err());
        assert!(parse_range("1-2-3").is_err());
    }

    #[test]
    fn lists() {
        let list = parse_ports("80,9000-9001").unwrap();
        assert_eq!(list.len(), 2);
        assert!(list[1].contains(9001) && !list[1].contains(9002));
        assert!(parse_ports("80,,90").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse_ports(&text);
        }

        #[test]
        fn ranges_round_trip(a in 1u16.., b in 1u16..) {
            let (low, high) = (a.min(b), a.max(b));
            let range = parse_range(&format!("{low}-{high}")).unwrap();
            prop_assert_eq!(range.to_string(), format!("{low}-{high}"));
            prop_assert_eq!(range.iter().count(), usize::from(high - low) + 1);
        }
    }
}
