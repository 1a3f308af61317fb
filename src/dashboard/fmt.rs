//! Human forms of numbers: sizes, rates, durations, times of day, short ids.
//!
//! Kept apart from the widgets so every tab prints the same unit the same
//! way, and so the forms are unit-tested once.

/// Bytes in binary units with one decimal above KiB: `0 B`, `512 B`, `1.5 KiB`, `3.0 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A rate in bytes per second: `1.5 MiB/s`.
pub fn rate(n: u64) -> String {
    format!("{}/s", bytes(n))
}

/// A duration in the two largest units: `45s`, `3m05s`, `2h07m`, `4d03h`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// The UTC time of day of a unix-milliseconds instant: `13:04:59`.
pub fn time_of_day(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

/// The first `n` characters of an id, with `…` when cut.
pub fn short(id: &str, n: usize) -> String {
    if id.chars().count() <= n {
        id.to_owned()
    } else {
        let mut s: String = id.chars().take(n.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// A signed amount with a sign: `+12`, `-3`, `0`.
pub fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

/// `text` cut to at most `width` columns (by chars; the dashboard's text is
/// ASCII apart from its own symbols), with `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    if width == 0 {
        return String::new();
    }
    short(text, width)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_use_binary_units_with_one_decimal() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(bytes(u64::MAX), "16.0 EiB");
        assert_eq!(rate(2 << 20), "2.0 MiB/s");
    }

    #[test]
    fn durations_show_the_two_largest_units() {
        assert_eq!(duration(45), "45s");
        assert_eq!(duration(185), "3m05s");
        assert_eq!(duration(7620), "2h07m");
        assert_eq!(duration(356_400), "4d03h");
    }

    #[test]
    fn times_of_day_are_utc_clock_times() {
        assert_eq!(time_of_day(0), "00:00:00");
        assert_eq!(time_of_day(86_399_999), "23:59:59");
        assert_eq!(time_of_day(1_700_000_000_000), "22:13:20");
    }

    #[test]
    fn short_ids_are_cut_with_an_ellipsis() {
        assert_eq!(short("abcdef", 10), "abcdef");
        assert_eq!(short("abcdefghijkl", 5), "abcd…");
        assert_eq!(fit("abc", 0), "");
        assert_eq!(signed(5), "+5");
        assert_eq!(signed(-5), "-5");
    }
}
