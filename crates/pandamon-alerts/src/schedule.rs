//! When a rule runs: `daily HH:MM` (UTC) or `every N` with a unit (`30m`, `2h`, `1d`);
//! `hourly` is `every 1h`. Periodic runs are aligned on the clock (every 15 minutes runs at
//! :00, :15, :30 and :45), so replicas agree on when a run is due.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    Daily {
        hour: u32,
        minute: u32,
    },
    /// Every so many seconds.
    Every(i64),
}

impl Schedule {
    /// The first run strictly after unix time `t`.
    pub fn next_after(self, t: i64) -> i64 {
        match self {
            Schedule::Every(n) => (t.div_euclid(n) + 1) * n,
            Schedule::Daily { hour, minute } => {
                let day = t.div_euclid(86_400) * 86_400;
                let at = day + i64::from(hour) * 3_600 + i64::from(minute) * 60;
                if at > t { at } else { at + 86_400 }
            }
        }
    }
}

impl FromStr for Schedule {
    type Err = String;

    fn from_str(text: &str) -> Result<Schedule, String> {
        let text = text.trim().to_ascii_lowercase();
        let bad = || {
            format!(
                "'{text}' is not a schedule; use \"daily HH:MM\" (UTC), \"every 15m\", \"every 2h\" or \"hourly\""
            )
        };
        if text == "hourly" {
            return Ok(Schedule::Every(3_600));
        }
        if let Some(time) = text.strip_prefix("daily ") {
            let (h, m) = time.trim().split_once(':').ok_or_else(bad)?;
            let (hour, minute) = (
                h.parse::<u32>().map_err(|_| bad())?,
                m.parse::<u32>().map_err(|_| bad())?,
            );
            if hour > 23 || minute > 59 {
                return Err(bad());
            }
            return Ok(Schedule::Daily { hour, minute });
        }
        let period = text.strip_prefix("every ").ok_or_else(bad)?.trim();
        let split = period.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (n, unit) = period.split_at(split);
        let n: i64 = n.parse().map_err(|_| bad())?;
        let seconds = match unit.trim() {
            "s" => n,
            "m" | "min" => n * 60,
            "h" => n * 3_600,
            "d" => n * 86_400,
            _ => return Err(bad()),
        };
        if !(60..=7 * 86_400).contains(&seconds) {
            return Err(format!("'{text}': a period from one minute to seven days"));
        }
        Ok(Schedule::Every(seconds))
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Schedule::Daily { hour, minute } => write!(f, "daily {hour:02}:{minute:02} UTC"),
            Schedule::Every(n) if n % 86_400 == 0 => write!(f, "every {}d", n / 86_400),
            Schedule::Every(n) if n % 3_600 == 0 => write!(f, "every {}h", n / 3_600),
            Schedule::Every(n) => write!(f, "every {}m", n / 60),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_and_find_their_next_run() {
        let daily: Schedule = "daily 10:00".parse().unwrap();
        // 2026-12-01 09:00 UTC → 10:00 the same day; 10:00 → the next day.
        let nine = 1_796_115_600;
        assert_eq!(daily.next_after(nine), nine + 3_600);
        assert_eq!(daily.next_after(nine + 3_600), nine + 3_600 + 86_400);
        let every: Schedule = "every 15m".parse().unwrap();
        assert_eq!(every, Schedule::Every(900));
        assert_eq!(every.next_after(nine + 1), nine + 900);
        assert_eq!(
            "hourly".parse::<Schedule>().unwrap(),
            Schedule::Every(3_600)
        );
        assert_eq!(daily.to_string(), "daily 10:00 UTC");
        for bad in ["daily 25:00", "every", "every 5x", "weekly", "every 10s"] {
            assert!(bad.parse::<Schedule>().is_err(), "{bad}");
        }
    }
}
