//! Wanted statuses: `200`, `200-299`, `200-299,301`.

use std::fmt;

/// A set of HTTP status codes, as ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(Vec<(u16, u16)>);

impl StatusSet {
    /// Parses a comma-separated list of codes (100–599) and ranges.
    pub fn parse(text: &str) -> Result<StatusSet, String> {
        let code = |s: &str| match s.trim().parse::<u16>() {
            Ok(n @ 100..=599) if s.trim().bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(format!(
                "invalid status '{}' in '{text}': expected a code from 100 to 599, \
                 or a range such as 200-299",
                s.trim()
            )),
        };
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let (low, high) = part.split_once('-').unwrap_or((part, part));
            let (low, high) = (code(low)?, code(high)?);
            if low > high {
                return Err(format!(
                    "invalid status range '{}' in '{text}': {low} is above {high}",
                    part.trim()
                ));
            }
            ranges.push((low, high));
        }
        Ok(StatusSet(ranges))
    }

    pub fn contains(&self, status: u16) -> bool {
        self.0
            .iter()
            .any(|&(low, high)| (low..=high).contains(&status))
    }
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &(low, high)) in self.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            if low == high {
                write!(f, "{sep}{low}")?;
            } else {
                write!(f, "{sep}{low}-{high}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_ranges() {
        let set = StatusSet::parse("200-299, 301").unwrap();
        assert!(set.contains(200) && set.contains(299) && set.contains(301));
        assert!(!set.contains(300) && !set.contains(302) && !set.contains(199));
        assert_eq!(set.to_string(), "200-299,301");
        let default = StatusSet::parse("200-399").unwrap();
        assert!(default.contains(302) && !default.contains(404));
    }

    #[test]
    fn bad_sets_say_why() {
        for bad in ["", "2xx", "99", "600", "200-", "-200", "+200", "200,,204"] {
            let err = StatusSet::parse(bad).unwrap_err();
            assert!(
                err.contains("expected a code from 100 to 599"),
                "{bad}: {err}"
            );
        }
        let err = StatusSet::parse("299-200").unwrap_err();
        assert!(err.contains("299 is above 200"), "{err}");
    }

    #[test]
    fn never_panics() {
        for len in 0..12 {
            let text: String = (0..len)
                .map(|i| ['1', '-', ',', '9', '0', ' '][i % 6])
                .collect();
            let _ = StatusSet::parse(&text);
        }
    }
}
