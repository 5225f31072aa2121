//! The module registry: every page family, listed once. A module is one folder here plus one
//! line in [`REGISTRY`]; configuration switches each on or off by name.

mod accounting;
mod alerts;
mod dashboards;
mod datacarousel;
mod errors;
mod files;
mod globalshares;
mod harvester;
mod idds;
mod jobs;
mod login;
mod mybigpanda;
mod overview;
mod search;
mod sites;
mod status;
mod tasks;
mod users;

use crate::kit::module::Module;

/// The facets of the job attribute summary, for the bench (which measures what `/jobs/` asks).
pub use jobs::FACETS as JOB_FACETS;

/// The facets of the Harvester worker summary, for the bench.
pub use harvester::WORKER_FACETS;

/// Every module, in navigation order.
pub static REGISTRY: &[&dyn Module] = &[
    &overview::Overview,
    &status::Status,
    &jobs::Jobs,
    &tasks::Tasks,
    &errors::Errors,
    &dashboards::Dashboards,
    &sites::Sites,
    &users::Users,
    &mybigpanda::MyBigPanda,
    &files::Files,
    &search::Search,
    &harvester::Harvester,
    &globalshares::GlobalShares,
    &datacarousel::DataCarousel,
    &idds::Idds,
    &accounting::Accounting,
    &alerts::Alerts,
    &login::Login,
];

/// Every registered module.
pub fn all() -> Vec<&'static dyn Module> {
    REGISTRY.to_vec()
}

/// The names of every registered module.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|m| m.name()).collect()
}

/// The modules named, in registry order; an unknown name is an error that lists the known ones.
pub fn select<S: AsRef<str>>(wanted: &[S]) -> Result<Vec<&'static dyn Module>, String> {
    let known = names();
    if let Some(bad) = wanted
        .iter()
        .map(|w| w.as_ref().trim())
        .find(|w| !known.contains(w))
    {
        return Err(format!(
            "unknown module '{bad}'; known modules: {}",
            known.join(", ")
        ));
    }
    Ok(REGISTRY
        .iter()
        .copied()
        .filter(|m| wanted.iter().any(|w| w.as_ref().trim() == m.name()))
        .collect())
}

/// Checks `[modules.<name>]` sections: each names a known module and only keys it declares,
/// with valid values. The error names the key.
pub fn check_config(sections: &serde_json::Map<String, serde_json::Value>) -> Result<(), String> {
    for (name, section) in sections {
        if name == "enabled" {
            continue;
        }
        let module = REGISTRY.iter().find(|m| m.name() == name).ok_or_else(|| {
            format!(
                "[modules.{name}]: unknown module; known modules: {}",
                names().join(", ")
            )
        })?;
        let Some(table) = section.as_object() else {
            return Err(format!("[modules.{name}]: expected a table"));
        };
        for (key, value) in table {
            let declared = module.config_keys().iter().find(|k| k.name == key);
            let Some(declared) = declared else {
                let known: Vec<&str> = module.config_keys().iter().map(|k| k.name).collect();
                return Err(format!(
                    "modules.{name}.{key}: unknown setting; known: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            };
            (declared.check)(value).map_err(|e| format!("modules.{name}.{key}: {e}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tables_modules_read_are_in_the_catalogue() {
        let catalog = pandamon_store::Catalog::get();
        for m in REGISTRY {
            for t in m.tables() {
                assert!(catalog.find(t).is_some(), "module {}: table {t}", m.name());
            }
        }
    }

    #[test]
    fn module_names_and_paths_are_unique() {
        let mut names = HashSet::new();
        let mut paths = HashSet::new();
        for m in REGISTRY {
            assert!(names.insert(m.name()), "module {} twice", m.name());
            for r in m.routes() {
                assert!(paths.insert(r.path), "path {} twice", r.path);
            }
        }
        for r in crate::kit::platform_routes() {
            assert!(paths.insert(r.path), "path {} twice", r.path);
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let err = select(&["jobs", "harvestr"]).err().unwrap();
        assert!(
            err.contains("'harvestr'") && err.contains("jobs, tasks"),
            "{err}"
        );
        let picked = select(&["tasks", "jobs"]).unwrap();
        assert_eq!(
            picked.iter().map(|m| m.name()).collect::<Vec<_>>(),
            ["jobs", "tasks"]
        );
    }

    #[test]
    fn module_config_is_checked_key_by_key() {
        let ok = serde_json::json!({"jobs": {"default_hours": 6}});
        assert!(check_config(ok.as_object().unwrap()).is_ok());
        let bad = serde_json::json!({"jobs": {"default_hour": 6}});
        let err = check_config(bad.as_object().unwrap()).unwrap_err();
        assert!(err.contains("modules.jobs.default_hour"), "{err}");
        let bad = serde_json::json!({"jobs": {"default_hours": -1}});
        assert!(check_config(bad.as_object().unwrap()).is_err());
        let bad = serde_json::json!({"nope": {}});
        assert!(
            check_config(bad.as_object().unwrap())
                .unwrap_err()
                .contains("unknown module")
        );
    }
}
