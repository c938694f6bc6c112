//! The few fields of an X.509 certificate that pinning and `--insecure` need,
//! read from its DER without webpki: webpki refuses X.509 v1 certificates
//! (still made by `openssl x509 -req` without extensions), and a pinned or
//! `--insecure` peer must still prove it holds its key.

/// Fields borrowed from a certificate's DER.
#[derive(Debug, PartialEq, Eq)]
pub struct Cert<'a> {
    /// The issuer and subject names, whole DER elements.
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    /// Validity, in seconds since the Unix epoch.
    pub not_before: i64,
    pub not_after: i64,
    /// `SubjectPublicKeyInfo`, the whole DER element.
    pub spki: &'a [u8],
}

const SEQUENCE: u8 = 0x30;
const VERSION: u8 = 0xa0; // [0] EXPLICIT
const INTEGER: u8 = 0x02;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// Reads a certificate; `None` if it is not DER as X.509 lays it out.
pub fn parse(der: &[u8]) -> Option<Cert<'_>> {
    let (tag, cert, _, _) = element(der)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, tbs, _, _) = element(cert)?;
    if tag != SEQUENCE {
        return None;
    }
    let mut rest = tbs;
    let mut next = |want: u8| -> Option<(&[u8], &[u8])> {
        let (tag, value, whole, after) = element(rest)?;
        rest = after;
        (tag == want).then_some((value, whole))
    };
    // v1 certificates have no version field.
    if tbs.first() == Some(&VERSION) {
        next(VERSION)?;
    }
    next(INTEGER)?; // serial number
    next(SEQUENCE)?; // signature algorithm
    let (_, issuer) = next(SEQUENCE)?;
    let (validity, _) = next(SEQUENCE)?;
    let (_, subject) = next(SEQUENCE)?;
    let (_, spki) = next(SEQUENCE)?;
    let (tag, before, _, after) = element(validity)?;
    let not_before = time(tag, before)?;
    let (tag, value, _, _) = element(after)?;
    let not_after = time(tag, value)?;
    Some(Cert {
        issuer,
        subject,
        not_before,
        not_after,
        spki,
    })
}

/// One DER element: (tag, value, the whole element, what follows it).
type Element<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

fn element(input: &[u8]) -> Option<Element<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, after) = rest.split_at_checked(count)?;
        rest = after;
        bytes.iter().fold(0, |n, &b| (n << 8) | usize::from(b))
    };
    let (value, after) = rest.split_at_checked(len)?;
    let header = input.len() - rest.len();
    Some((tag, value, &input[..header + len], after))
}

/// `UTCTime` (`YYMMDDHHMMSSZ`, years 1950–2049) or `GeneralizedTime`
/// (`YYYYMMDDHHMMSSZ`), as RFC 5280 allows them, in Unix seconds.
fn time(tag: u8, text: &[u8]) -> Option<i64> {
    let digits = text.strip_suffix(b"Z")?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num = |s: &[u8]| s.iter().fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
    let (year, rest) = match (tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy = num(&digits[..2]);
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &digits[2..])
        }
        (GENERALIZED_TIME, 14) => (num(&digits[..4]), &digits[4..]),
        _ => return None,
    };
    let field = |i: usize| num(&rest[i * 2..i * 2 + 2]);
    let (month, day, hour, min, sec) = (field(0), field(1), field(2), field(3), field(4));
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + min * 60 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(time(UTC_TIME, b"700101000000Z"), Some(0));
        assert_eq!(time(UTC_TIME, b"491231235959Z"), Some(2_524_607_999));
        assert_eq!(
            time(GENERALIZED_TIME, b"20261128173100Z"),
            Some(1_795_887_060)
        );
        assert_eq!(
            time(GENERALIZED_TIME, b"19000301000000Z"),
            Some(-2_203_891_200)
        );
        for bad in [
            &b"700101000000"[..],
            b"7001010000Z",
            b"701301000000Z",
            b"70010100000xZ",
        ] {
            assert_eq!(time(UTC_TIME, bad), None, "{bad:?}");
        }
        assert_eq!(time(GENERALIZED_TIME, b"700101000000Z"), None);
        // UTCTime's century turns at 50; a leap second is a time.
        assert_eq!(time(UTC_TIME, b"500101000000Z"), Some(-631_152_000));
        assert_eq!(time(UTC_TIME, b"161231235960Z"), Some(1_483_228_800));
        assert_eq!(time(UTC_TIME, b"161231235961Z"), None);
        assert_eq!(time(UTC_TIME, b"161231240000Z"), None);
        assert_eq!(time(UTC_TIME, b"161231236000Z"), None);
        assert_eq!(time(UTC_TIME, b"161232000000Z"), None);
        assert_eq!(time(UTC_TIME, b"161200000000Z"), None);
        assert_eq!(time(UTC_TIME, b"160001000000Z"), None);
    }

    #[test]
    fn days() {
        // January, February and March, around leap days and century years.
        for (date, days) in [
            ((1970, 1, 1), 0),
            ((1970, 2, 28), 58),
            ((1970, 3, 1), 59),
            ((2000, 2, 29), 11_016),
            ((2000, 3, 1), 11_017),
            ((2100, 2, 28), 47_540),
            ((2100, 3, 1), 47_541),
            ((1969, 12, 31), -1),
            ((1600, 1, 1), -135_140),
        ] {
            assert_eq!(days_from_civil(date.0, date.1, date.2), days, "{date:?}");
        }
    }

    #[test]
    fn elements() {
        assert_eq!(
            element(&[0x30, 2, 1, 2, 9]),
            Some((0x30, &[1u8, 2][..], &[0x30u8, 2, 1, 2][..], &[9u8][..]))
        );
        let long = [&[0x04, 0x81, 3][..], &[7, 7, 7]].concat();
        assert_eq!(element(&long).unwrap().1, &[7, 7, 7]);
        // Lengths of two and four bytes, big-endian; the whole element is
        // its header and value.
        let two = [&[0x04, 0x82, 1, 2][..], &[7; 258], &[9]].concat();
        let (_, value, whole, after) = element(&two).unwrap();
        assert_eq!((value.len(), whole.len(), after), (258, 262, &[9u8][..]));
        let four = [&[0x04, 0x84, 0, 0, 1, 0][..], &[7; 256]].concat();
        assert_eq!(element(&four).unwrap().1.len(), 256);
        // 0x80 is the indefinite length DER forbids, not 128 bytes.
        let indefinite = [&[0x04, 0x80][..], &[7; 200]].concat();
        assert_eq!(element(&indefinite), None);
        for bad in [
            &[][..],
            &[0x30],
            &[0x30, 3, 1],
            &[0x30, 0x80],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
        ] {
            assert_eq!(element(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn garbage_is_no_certificate() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"\x30\x03\x30\x01\x00"), None);
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            let _ = parse(&bytes); // never panics
        }
    }
}
