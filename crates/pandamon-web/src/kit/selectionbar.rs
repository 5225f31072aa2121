//! The selection made visible: a chip for every condition of the URL (each removable), the
//! time window's presets and a custom range. Job, task and error pages show it above their
//! summaries (`selection.html`).

use crate::kit::links::url_with;
use pandamon_query::Selection;

/// Parameters that shape the answer without selecting anything: no chip.
const PRESENTATION: &[&str] = &[
    "json",
    "_",
    "timestamp",
    "page",
    "sortby",
    "display_limit",
    "fields",
];

/// Parameters that name the time window: one chip for all of them, replaced by the presets.
const WINDOW: &[&str] = &[
    "hours",
    "days",
    "date_from",
    "date_to",
    "earlierthan",
    "earlierthandays",
];

/// The window presets, in hours.
const PRESETS: &[(&str, i64)] = &[
    ("1 h", 1),
    ("6 h", 6),
    ("12 h", 12),
    ("1 d", 24),
    ("3 d", 72),
    ("7 d", 168),
];

/// One active condition: what it says and the link that removes it.
pub struct Chip {
    pub name: String,
    pub value: String,
    pub remove: String,
}

/// A window preset: its label, its link, whether it is the window shown.
pub struct Preset {
    pub label: &'static str,
    pub href: String,
    pub active: bool,
}

/// Everything `selection.html` draws.
pub struct SelectionBar {
    pub chips: Vec<Chip>,
    pub presets: Vec<Preset>,
    /// The parameters the custom-range form keeps (all but the window's).
    pub keep: Vec<(String, String)>,
    /// The window's ends as `datetime-local` values (UTC), empty without a window.
    pub from: String,
    pub to: String,
    /// Whether the page's window can be chosen (no id lifted it).
    pub windowed: bool,
}

fn is_window(name: &str) -> bool {
    WINDOW.contains(&name) || name.ends_with("range")
}

impl SelectionBar {
    /// The bar of a page at `path` answering `params`, whose default window is `default_hours`.
    pub fn new(
        path: &str,
        params: &[(String, String)],
        selection: &Selection,
        default_hours: i64,
    ) -> SelectionBar {
        let without = |skip: &dyn Fn(&str, &str) -> bool| -> Vec<(String, String)> {
            params
                .iter()
                .filter(|(k, v)| k != "page" && k != "json" && !skip(k, v))
                .cloned()
                .collect()
        };
        let link = |kept: &[(String, String)]| url_with(path, kept, &[]);
        let mut chips: Vec<Chip> = params
            .iter()
            .filter(|(k, v)| {
                !PRESENTATION.contains(&k.as_str()) && !is_window(k) && !v.trim().is_empty()
            })
            .map(|(k, v)| Chip {
                name: k.clone(),
                value: v.clone(),
                remove: link(&without(&|a, b| a == k && b == v)),
            })
            .collect();
        let window_params: Vec<&(String, String)> =
            params.iter().filter(|(k, _)| is_window(k)).collect();
        if !window_params.is_empty() {
            chips.push(Chip {
                name: "window".to_string(),
                value: window_params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                remove: link(&without(&|a, _| is_window(a))),
            });
        }
        let keep = without(&|a, _| is_window(a));
        let hours_given = params
            .iter()
            .find(|(k, _)| k == "hours")
            .and_then(|(_, v)| v.trim().parse::<i64>().ok())
            .or_else(|| {
                params
                    .iter()
                    .find(|(k, _)| k == "days")
                    .and_then(|(_, v)| v.trim().parse::<i64>().ok())
                    .map(|d| d * 24)
            });
        let current = match (window_params.is_empty(), hours_given) {
            (true, _) => Some(default_hours),
            (false, h) if window_params.len() == 1 => h,
            _ => None,
        };
        let presets = PRESETS
            .iter()
            .map(|(label, hours)| {
                let mut with = keep.clone();
                with.push(("hours".to_string(), hours.to_string()));
                Preset {
                    label,
                    href: link(&with),
                    active: selection.window.is_some() && current == Some(*hours),
                }
            })
            .collect();
        let show = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .map_or(String::new(), |t| t.format("%Y-%m-%dT%H:%M").to_string())
        };
        let (from, to) = selection
            .window
            .map_or((String::new(), String::new()), |(a, b)| (show(a), show(b)));
        SelectionBar {
            chips,
            presets,
            keep,
            from,
            to,
            windowed: selection.window.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pandamon_query::Defaults;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn selection(p: &[(String, String)]) -> Selection {
        let pairs: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Selection::parse(
            pairs,
            Defaults {
                window_hours: 12,
                now: 1_700_000_000,
                vocabulary: &pandamon_query::fields::JOBS,
            },
        )
        .unwrap()
    }

    #[test]
    fn every_condition_is_a_removable_chip() {
        let p = params(&[
            ("computingsite", "CERN"),
            ("jobstatus", "failed"),
            ("hours", "6"),
            ("page", "3"),
            ("sortby", "pandaid-ascending"),
        ]);
        let bar = SelectionBar::new("/jobs/", &p, &selection(&p), 12);
        let names: Vec<&str> = bar.chips.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["computingsite", "jobstatus", "window"]);
        assert_eq!(
            bar.chips[0].remove,
            "/jobs/?jobstatus=failed&hours=6&sortby=pandaid-ascending"
        );
        assert_eq!(
            bar.chips[2].remove,
            "/jobs/?computingsite=CERN&jobstatus=failed&sortby=pandaid-ascending"
        );
        let active: Vec<&str> = bar
            .presets
            .iter()
            .filter(|p| p.active)
            .map(|p| p.label)
            .collect();
        assert_eq!(active, ["6 h"]);
        assert!(bar.presets[0].href.ends_with("&hours=1"));
        assert!(!bar.keep.iter().any(|(k, _)| k == "hours" || k == "page"));
    }

    #[test]
    fn the_default_window_is_the_active_preset() {
        let p = params(&[]);
        let bar = SelectionBar::new("/jobs/", &p, &selection(&p), 12);
        assert!(bar.chips.is_empty());
        assert!(bar.presets.iter().any(|p| p.active && p.label == "12 h"));
        assert_eq!(bar.to, "2023-11-14T22:13");
    }
}
