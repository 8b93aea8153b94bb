//! Go duration strings, as mqtt-stresser's flags take them (`time.ParseDuration`: `500ms`,
//! `5s`, `1m30s`, `1.5h`, `-2s`, `0`) and print them (`time.Duration.String()`: `500ms`,
//! `1m30s`, `1h0m0s`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A Go `time.Duration`: signed nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(pub i64);

/// Why a string is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a valid duration: write a number and a unit (ns, us, µs, ms, s, m, h), e.g. 500ms, 5s, 1m30s"
)]
pub struct DurationError(pub String);

const NANOS_PER: [(&str, u64); 8] = [
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),  // U+00B5 micro sign
    ("\u{3bc}s", 1_000), // U+03BC Greek small letter mu
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

impl GoDuration {
    /// Zero.
    pub const ZERO: GoDuration = GoDuration(0);

    /// Parses as Go's `time.ParseDuration` does: an optional sign, then one or more decimal
    /// numbers each with a unit; `0` alone needs no unit.
    pub fn parse(text: &str) -> Result<GoDuration, DurationError> {
        let err = || DurationError(text.to_string());
        let mut s = text.as_bytes();
        let mut negative = false;
        if let Some(&c) = s.first()
            && (c == b'-' || c == b'+')
        {
            negative = c == b'-';
            s = &s[1..];
        }
        if s == b"0" {
            return Ok(GoDuration(0));
        }
        if s.is_empty() {
            return Err(err());
        }
        let mut total: u64 = 0;
        while !s.is_empty() {
            if !(s[0] == b'.' || s[0].is_ascii_digit()) {
                return Err(err());
            }
            // The integer part.
            let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut whole: u64 = 0;
            for &c in &s[..digits] {
                whole = whole
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(c - b'0')))
                    .ok_or_else(err)?;
                if whole > 1 << 63 {
                    return Err(err());
                }
            }
            let had_whole = digits > 0;
            s = &s[digits..];
            // The fraction, kept as digits over a power of ten (extra digits are dropped as Go does).
            let mut fraction: u64 = 0;
            let mut scale: f64 = 1.0;
            let mut had_fraction = false;
            if s.first() == Some(&b'.') {
                s = &s[1..];
                let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
                let mut overflow = false;
                for &c in &s[..digits] {
                    if overflow {
                        continue;
                    }
                    if fraction > (i64::MAX as u64 - 9) / 10 {
                        overflow = true;
                        continue;
                    }
                    fraction = fraction * 10 + u64::from(c - b'0');
                    scale *= 10.0;
                }
                had_fraction = digits > 0;
                s = &s[digits..];
            }
            if !had_whole && !had_fraction {
                return Err(err());
            }
            // The unit.
            let unit_len = s
                .iter()
                .position(|&c| c == b'.' || c.is_ascii_digit())
                .unwrap_or(s.len());
            if unit_len == 0 {
                return Err(err());
            }
            let unit = std::str::from_utf8(&s[..unit_len]).map_err(|_| err())?;
            s = &s[unit_len..];
            let per = NANOS_PER
                .iter()
                .find(|(name, _)| *name == unit)
                .map(|&(_, n)| n)
                .ok_or_else(err)?;
            let mut value = whole.checked_mul(per).ok_or_else(err)?;
            if value > 1 << 63 {
                return Err(err());
            }
            if fraction > 0 {
                value = value
                    .checked_add((fraction as f64 * (per as f64 / scale)) as u64)
                    .ok_or_else(err)?;
                if value > 1 << 63 {
                    return Err(err());
                }
            }
            total = total.checked_add(value).ok_or_else(err)?;
            if total > 1 << 63 {
                return Err(err());
            }
        }
        if negative {
            Ok(GoDuration((total as i128).wrapping_neg() as i64))
        } else if total > i64::MAX as u64 {
            Err(err())
        } else {
            Ok(GoDuration(total as i64))
        }
    }

    /// As a `std` duration; negative durations become zero (Go sleeps for no time then).
    pub fn to_std(self) -> Duration {
        Duration::from_nanos(self.0.max(0) as u64)
    }

    /// From a `std` duration (saturating at Go's maximum of about 292 years).
    pub fn from_std(d: Duration) -> GoDuration {
        GoDuration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
    }

    /// True for zero and negative durations.
    pub fn is_zero_or_negative(self) -> bool {
        self.0 <= 0
    }
}

impl FromStr for GoDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GoDuration::parse(s)
    }
}

impl From<Duration> for GoDuration {
    fn from(d: Duration) -> Self {
        GoDuration::from_std(d)
    }
}

/// Writes the fraction `v / 10^prec` right-aligned before `w` (trailing zeros and a bare point
/// omitted); returns the new start and `v / 10^prec`.
fn write_fraction(buf: &mut [u8], mut w: usize, mut v: u64, prec: usize) -> (usize, u64) {
    let mut print = false;
    for _ in 0..prec {
        let digit = v % 10;
        print = print || digit != 0;
        if print {
            w -= 1;
            buf[w] = b'0' + digit as u8;
        }
        v /= 10;
    }
    if print {
        w -= 1;
        buf[w] = b'.';
    }
    (w, v)
}

/// Writes `v` in decimal right-aligned before `w`; returns the new start.
fn write_integer(buf: &mut [u8], mut w: usize, mut v: u64) -> usize {
    if v == 0 {
        w -= 1;
        buf[w] = b'0';
    } else {
        while v > 0 {
            w -= 1;
            buf[w] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    w
}

/// Go's `Duration.String()`: `0s`, `1.5µs`, `500ms`, `1.5s`, `1m30s`, `2h0m0s`.
impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 32];
        let mut w = buf.len();
        let negative = self.0 < 0;
        let mut u = self.0.unsigned_abs();
        if u < 1_000_000_000 {
            if u == 0 {
                return f.write_str("0s");
            }
            w -= 1;
            buf[w] = b's';
            let prec = if u < 1_000 {
                w -= 1;
                buf[w] = b'n';
                0
            } else if u < 1_000_000 {
                w -= 2;
                buf[w..w + 2].copy_from_slice("\u{b5}".as_bytes());
                3
            } else {
                w -= 1;
                buf[w] = b'm';
                6
            };
            let (nw, nu) = write_fraction(&mut buf, w, u, prec);
            w = write_integer(&mut buf, nw, nu);
        } else {
            w -= 1;
            buf[w] = b's';
            let (nw, nu) = write_fraction(&mut buf, w, u, 9);
            u = nu;
            w = write_integer(&mut buf, nw, u % 60);
            u /= 60;
            if u > 0 {
                w -= 1;
                buf[w] = b'm';
                w = write_integer(&mut buf, w, u % 60);
                u /= 60;
                if u > 0 {
                    w -= 1;
                    buf[w] = b'h';
                    w = write_integer(&mut buf, w, u);
                }
            }
        }
        if negative {
            w -= 1;
            buf[w] = b'-';
        }
        f.write_str(std::str::from_utf8(&buf[w..]).expect("ASCII and µ only"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> i64 {
        GoDuration::parse(s).unwrap().0
    }

    #[test]
    fn parses_what_go_parses() {
        assert_eq!(ns("0"), 0);
        assert_eq!(ns("500ms"), 500_000_000);
        assert_eq!(ns("5s"), 5_000_000_000);
        assert_eq!(ns("1m30s"), 90_000_000_000);
        assert_eq!(ns("1.5h"), 5_400_000_000_000);
        assert_eq!(ns("-2s"), -2_000_000_000);
        assert_eq!(ns("+3us"), 3_000);
        assert_eq!(ns("3µs"), 3_000);
        assert_eq!(ns(".5s"), 500_000_000);
        assert_eq!(ns("1.s"), 1_000_000_000);
        assert_eq!(ns("1h2m3s4ms5us6ns"), 3_723_004_005_006);
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "",
            "5",
            "s",
            "1x",
            "1.5",
            ".s",
            "-",
            "1s2",
            "abc",
            "1 s",
            "9999999999999999999h",
        ] {
            assert!(
                GoDuration::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn prints_like_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (500_000_000, "500ms"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (-5_000_000_000, "-5s"),
            (i64::MAX, "2562047h47m16.854775807s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (n, text) in cases {
            assert_eq!(GoDuration(n).to_string(), text);
        }
    }
}
