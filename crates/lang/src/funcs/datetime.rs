//! Date and time functions: `formatdate`, `timeadd` and `timecmp`, on RFC 3339
//! timestamps as Terraform reads and writes them (`timestamp` and `plantimestamp` are
//! the evaluator's: they read the clock).
//!
//! Timestamps keep the offset they were written with; `timeadd` writes the result in
//! that offset, whole seconds, `Z` for UTC (Go's `time.RFC3339` layout, which is what
//! Terraform prints).

use chrono::{DateTime, Datelike, FixedOffset, SecondsFormat, Timelike};
use terrane_core::Value;

use super::{Args, Func, FuncContext};

/// This family's rows of the registration table.
pub(super) const FUNCS: &[Func] = &[
    Func::exactly("formatdate", 2, formatdate),
    Func::exactly("timeadd", 2, timeadd),
    Func::exactly("timecmp", 2, timecmp),
];

/// An RFC 3339 timestamp, or the error Terraform gives for anything else.
fn parse(a: &Args, i: usize) -> Result<DateTime<FixedOffset>, String> {
    let s = a.str(i)?;
    DateTime::parse_from_rfc3339(&s).map_err(|_| {
        format!(
            "{}() argument {}: {s:?} is not a valid RFC 3339 timestamp (write it like \"2024-03-05T07:08:09Z\")",
            a.name,
            i + 1
        )
    })
}

/// A timestamp as Go's `time.RFC3339` layout writes it: whole seconds, `Z` for UTC.
pub(crate) fn rfc3339(t: &DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn timecmp(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let (x, y) = (parse(a, 0)?, parse(a, 1)?);
    Ok(Value::from(x.cmp(&y) as i32))
}

fn timeadd(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let t = parse(a, 0)?;
    let text = a.str(1)?;
    let nanos = duration_nanos(&text).ok_or_else(|| {
        format!("timeadd() argument 2: {text:?} is not a duration (write it like \"1h30m\", \"-10m\" or \"2.5s\"; units are ns, us, ms, s, m and h)")
    })?;
    let out = t
        .checked_add_signed(chrono::TimeDelta::nanoseconds(nanos))
        .ok_or_else(|| "timeadd() result is out of the range of timestamps".to_string())?;
    Ok(Value::String(rfc3339(&out)))
}

/// A Go duration (`time.ParseDuration`): an optional sign, then one or more decimal
/// numbers each with a unit (ns, us, µs, ms, s, m, h); `0` alone is zero.
pub(super) fn duration_nanos(s: &str) -> Option<i64> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        if num.is_empty() || num == "." {
            return None;
        }
        let value: f64 = num.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * scale;
        rest = tail;
    }
    // Go's limit: about 292 years either way.
    (total <= i64::MAX as f64).then(|| {
        let n = total.round() as i64;
        if neg {
            -n
        } else {
            n
        }
    })
}

/// `formatdate(spec, timestamp)`: runs of one letter are verbs (`YYYY`, `MMM`, `hh`,
/// `ZZZZZ`, ...), text in single quotes is literal (`''` is a quote), anything else
/// that is not a letter is copied.
fn formatdate(a: &Args, _: &FuncContext) -> Result<Value, String> {
    let spec = a.str(0)?;
    let t = parse(a, 1)?;
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // A quoted literal; '' inside or alone is one quote.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(
                        "formatdate() format has an unterminated quoted literal (close it with ')"
                            .into(),
                    ),
                    Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                        out.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        out.push(ch);
                        i += 1;
                    }
                }
            }
            continue;
        }
        let run = chars[i..].iter().take_while(|&&x| x == c).count();
        i += run;
        if !c.is_alphabetic() {
            out.extend(std::iter::repeat_n(c, run));
            continue;
        }
        out.push_str(&verb(c, run, &t)?);
    }
    Ok(Value::String(out))
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// One verb of a `formatdate` spec: `run` repetitions of the letter `c`.
fn verb(c: char, run: usize, t: &DateTime<FixedOffset>) -> Result<String, String> {
    let hour12 = match t.hour() % 12 {
        0 => 12,
        h => h,
    };
    let offset = t.offset().local_minus_utc();
    let (sign, abs) = if offset < 0 {
        ('-', -offset)
    } else {
        ('+', offset)
    };
    let (oh, om) = (abs / 3600, abs / 60 % 60);
    let name = |all: &[&str], i: usize, n: usize| all[i].chars().take(n).collect::<String>();
    Ok(match (c, run) {
        ('Y', 4) => format!("{:04}", t.year()),
        ('Y', 2) => format!("{:02}", t.year().rem_euclid(100)),
        ('M', 4) => MONTHS[t.month0() as usize].to_string(),
        ('M', 3) => name(&MONTHS, t.month0() as usize, 3),
        ('M', 2) => format!("{:02}", t.month()),
        ('M', 1) => t.month().to_string(),
        ('D', 2) => format!("{:02}", t.day()),
        ('D', 1) => t.day().to_string(),
        ('E', 4) => DAYS[t.weekday().num_days_from_monday() as usize].to_string(),
        ('E', 3) => name(&DAYS, t.weekday().num_days_from_monday() as usize, 3),
        ('h', 2) => format!("{:02}", t.hour()),
        ('h', 1) => t.hour().to_string(),
        ('H', 2) => format!("{hour12:02}"),
        ('H', 1) => hour12.to_string(),
        ('A', 2) => if t.hour() < 12 { "AM" } else { "PM" }.to_string(),
        ('a', 2) => if t.hour() < 12 { "am" } else { "pm" }.to_string(),
        ('m', 2) => format!("{:02}", t.minute()),
        ('m', 1) => t.minute().to_string(),
        ('s', 2) => format!("{:02}", t.second()),
        ('s', 1) => t.second().to_string(),
        ('Z', 5) => format!("{sign}{oh:02}:{om:02}"),
        ('Z', 4) => format!("{sign}{oh:02}{om:02}"),
        ('Z', 3) if offset == 0 => "UTC".to_string(),
        ('Z', 3) => format!("{sign}{oh:02}{om:02}"),
        ('Z', 1) if offset == 0 => "Z".to_string(),
        ('Z', 1) => format!("{sign}{oh:02}:{om:02}"),
        _ => {
            let verb: String = std::iter::repeat_n(c, run).collect();
            return Err(format!(
                "formatdate() format has an invalid date format verb {verb:?} (put literal text in single quotes, e.g. 'at')"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::duration_nanos;

    #[test]
    fn go_durations() {
        assert_eq!(duration_nanos("1h30m"), Some(5_400_000_000_000));
        assert_eq!(duration_nanos("-10m1.5s"), Some(-601_500_000_000));
        assert_eq!(duration_nanos("0"), Some(0));
        assert_eq!(duration_nanos("1µs"), Some(1000));
        assert_eq!(duration_nanos("5"), None);
        assert_eq!(duration_nanos("1d"), None);
        assert_eq!(duration_nanos(""), None);
        assert_eq!(duration_nanos("-"), None);
    }
}
