//! Per-experiment defaults as data: schema names, the modules switched on, and the words pages
//! use. A deployment picks a profile (`profile = "atlas"`) and overrides what it needs.

/// Words that differ between experiments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Labels {
    /// What a group of sites is called (ATLAS: cloud; DOMA: region).
    pub region: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    /// PostgreSQL schemas: PanDA, its archive, iDDS, the legacy meta tables.
    pub schemas: [&'static str; 4],
    /// The modules on unless the configuration says otherwise.
    pub modules: &'static [&'static str],
    pub labels: Labels,
}

const CORE_MODULES: &[&str] = &[
    "overview",
    "status",
    "jobs",
    "tasks",
    "errors",
    "dashboards",
    "sites",
    "users",
    "mybigpanda",
    "files",
    "search",
    "harvester",
    "globalshares",
    "datacarousel",
    "idds",
    "alerts",
    "accounting",
    "login",
];

pub const PROFILES: &[Profile] = &[
    Profile {
        name: "atlas",
        schemas: [
            "atlas_panda",
            "atlas_pandaarch",
            "atlas_idds",
            "atlas_pandameta",
        ],
        modules: CORE_MODULES,
        labels: Labels { region: "cloud" },
    },
    Profile {
        name: "doma",
        schemas: [
            "doma_panda",
            "doma_pandaarch",
            "doma_idds",
            "doma_pandameta",
        ],
        modules: CORE_MODULES,
        labels: Labels { region: "region" },
    },
];

/// The profile used when none is configured: DOMA's schema names, as Rubin and sPHENIX deploy
/// PanDA on PostgreSQL.
pub const DEFAULT_PROFILE: &str = "doma";

impl Profile {
    pub fn named(name: &str) -> Option<&'static Profile> {
        PROFILES.iter().find(|p| p.name == name)
    }

    pub fn default_profile() -> &'static Profile {
        Profile::named(DEFAULT_PROFILE).unwrap_or(&PROFILES[0])
    }

    pub fn names() -> Vec<&'static str> {
        PROFILES.iter().map(|p| p.name).collect()
    }
}
