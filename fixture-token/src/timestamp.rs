//! YAML 1.1 timestamps, written the way `PyYAML`'s `safe_load` + `str()` shows them.
//!
//! YAML 1.2 has no timestamp type: `2014-02-03T17:22:54Z`
//! stays a string. `PyYAML` (YAML 1.1) turns it into a `datetime`, which Python
//! prints as `2014-02-03 17:22:54+00:00`. Arvados fixtures are full of these, so
//! we rewrite such values to agree with the original tool.

use std::fmt::Write;

/// Returns `PyYAML`'s rendering of `text` if it is a valid YAML 1.1 timestamp
/// with a time part, else `None` (the value is printed as written).
pub fn canonical(text: &str) -> Option<String> {
    let mut p = Cursor(text.as_bytes());
    let year = p.digits(4, 4)?;
    p.byte(b'-')?;
    let month = p.digits(1, 2)?;
    p.byte(b'-')?;
    let day = p.digits(1, 2)?;
    // A bare date (YYYY-MM-DD) prints as written; other shapes are strings.
    if p.0.is_empty() {
        return None;
    }
    if p.byte(b'T').or_else(|| p.byte(b't')).is_none() && p.blanks() == 0 {
        return None;
    }
    let hour = p.digits(1, 2)?;
    p.byte(b':')?;
    let minute = p.digits(2, 2)?;
    p.byte(b':')?;
    let second = p.digits(2, 2)?;
    let mut micros = 0;
    if p.byte(b'.').is_some() {
        let start = p.0;
        while p.0.first().is_some_and(u8::is_ascii_digit) {
            p.0 = &p.0[1..];
        }
        let frac = &start[..start.len() - p.0.len()];
        // PyYAML keeps six digits, padding with zeros.
        for i in 0..6 {
            micros = micros * 10 + frac.get(i).map_or(0, |d| u32::from(d - b'0'));
        }
    }
    p.blanks();
    let offset = if p.0.is_empty() {
        None
    } else if p.byte(b'Z').is_some() {
        Some(0)
    } else {
        let negative = match p.0.first()? {
            b'+' => false,
            b'-' => true,
            _ => return None,
        };
        p.0 = &p.0[1..];
        let hours = p.digits(1, 2)?;
        let minutes = if p.byte(b':').is_some() {
            p.digits(2, 2)?
        } else {
            0
        };
        let total = hours * 60 + minutes;
        Some(if negative {
            -(total as i32)
        } else {
            total as i32
        })
    };
    if !p.0.is_empty() {
        return None;
    }
    // Python's datetime refuses what these reject; PyYAML then fails to load,
    // and we keep the text.
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && year >= 1
        && hour < 24
        && minute < 60
        && second < 60
        && offset.map_or(true, |o: i32| o.abs() < 24 * 60);
    if !valid {
        return None;
    }
    let mut out = format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}");
    if micros > 0 {
        let _ = write!(out, ".{micros:06}");
    }
    if let Some(offset) = offset {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        let _ = write!(out, "{sign}{:02}:{:02}", abs / 60, abs % 60);
    }
    Some(out)
}

pub fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn byte(&mut self, want: u8) -> Option<()> {
        let (&first, rest) = self.0.split_first()?;
        (first == want).then(|| self.0 = rest)
    }

    /// Reads `min..=max` ASCII digits as a number.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let n = self
            .0
            .iter()
            .take(max)
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n < min {
            return None;
        }
        let value = self.0[..n]
            .iter()
            .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'));
        self.0 = &self.0[n..];
        Some(value)
    }

    fn blanks(&mut self) -> usize {
        let n = self
            .0
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        self.0 = &self.0[n..];
        n
    }
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn renders_like_python() {
        let cases = [
            ("2013-12-26T19:22:54Z", "2013-12-26 19:22:54+00:00"),
            ("2038-01-01 00:00:00", "2038-01-01 00:00:00"),
            (
                "2014-08-06T22:11:51.242392Z",
                "2014-08-06 22:11:51.242392+00:00",
            ),
            (
                "2015-02-07T00:21:35.050333Z",
                "2015-02-07 00:21:35.050333+00:00",
            ),
            (
                "2001-12-14t21:59:43.10-05:00",
                "2001-12-14 21:59:43.100000-05:00",
            ),
            (
                "2001-12-14 21:59:43.10 -5",
                "2001-12-14 21:59:43.100000-05:00",
            ),
            ("2001-12-15 2:59:43.10", "2001-12-15 02:59:43.100000"),
            ("2001-2-3\t\t1:02:03.", "2001-02-03 01:02:03"),
            ("2001-02-03 01:02:03 -0", "2001-02-03 01:02:03+00:00"),
            (
                "2001-02-03 01:02:03.1234567+01:30",
                "2001-02-03 01:02:03.123456+01:30",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(canonical(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn leaves_everything_else_alone() {
        for text in [
            "2038-01-01",
            "2038-1-1",
            "2038-01-01x00:00:00",
            "2038-13-01 00:00:00",
            "2039-02-29 00:00:00",
            "2038-01-01 24:00:00",
            "2038-01-01 00:00:00 +24",
            "2038-01-01 00:00:00 junk",
            "0000-01-01 00:00:00",
            "12345-01-01 00:00:00",
            "token",
            "",
        ] {
            assert_eq!(canonical(text), None, "{text}");
        }
        assert!(canonical("2000-02-29 00:00:00").is_some());
    }
}
