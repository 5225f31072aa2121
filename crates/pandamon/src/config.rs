//! Configuration: one file (`pandamon.toml`) plus `PANDAMON_*` environment variables, with
//! command-line flags on top. Precedence: flag > environment > file > default.

use anyhow::{Context, bail};
use pandamon_store::Schemas;
use pandamon_web::kit::profile::{DEFAULT_PROFILE, Profile};
use serde::Deserialize;
use std::path::Path;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    /// Per-experiment defaults: `atlas` or `doma`.
    pub profile: Option<String>,
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    pub modules: ModulesConfig,
    pub state: StateSection,
    /// `[alerts]`: the alert rules, their recipients and the mail server.
    pub alerts: Option<toml::Table>,
    /// `[auth]`: login through OpenID Connect.
    pub auth: Option<toml::Table>,
}

/// `[state]`: where pandamon keeps its own tables.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateSection {
    /// A database of its own for pandamon's tables.
    pub db: Option<String>,
    /// The SQLite file used when the PanDA account may not create tables.
    pub file: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    pub url: Option<String>,
    /// Seconds a statement serving a request may run before the server ends it.
    pub statement_timeout: Option<f64>,
    pub schemas: SchemaNames,
}

/// Schema names as the file gives them; the profile fills the rest.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchemaNames {
    pub panda: Option<String>,
    pub arch: Option<String>,
    pub idds: Option<String>,
    pub meta: Option<String>,
}

/// `[modules]`: `enabled = [...]` and one `[modules.<name>]` table per module setting.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ModulesConfig {
    pub enabled: Option<Vec<String>>,
    #[serde(flatten)]
    pub sections: toml::Table,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: Option<String>,
    /// Connections held at once (default: below the file-descriptor limit).
    pub max_connections: Option<usize>,
    /// Seconds a client may take to send a request's headers; also the idle keep-alive time.
    pub header_timeout: Option<f64>,
    /// Seconds one request may take before it answers 503.
    pub request_timeout: Option<f64>,
    /// Requests one client address may have in progress at once (0: no limit).
    pub per_client_requests: Option<usize>,
    /// MiB of answers the answer cache keeps at most (default: a quarter of `memory_mb`).
    pub cache_mb: Option<usize>,
    /// MiB that answering requests may use: the cache and the answers being computed (the
    /// live index is apart).
    pub memory_mb: Option<usize>,
}

/// The settings every command resolves before it runs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub db_url: Option<String>,
    pub schemas: Schemas,
    pub listen: Option<String>,
    pub profile: &'static Profile,
    /// The modules switched on, by name, in registry order.
    pub modules: Vec<&'static str>,
    /// `[modules.<name>]` sections.
    pub module_config: serde_json::Map<String, serde_json::Value>,
    /// Where pandamon's own tables go.
    pub state: pandamon_store::StateConfig,
    /// `[alerts]` with `PANDAMON_SMTP`, checked.
    pub alerts: pandamon_alerts::AlertsConfig,
    /// How long a statement serving a request may run (`[database] statement_timeout`).
    pub statement_timeout: std::time::Duration,
    /// `[server]` connection, request and memory limits.
    pub server_limits: pandamon_web::kit::limits::ServerLimits,
    /// `[auth]` with the secrets of the environment, checked; `None`: no login.
    pub auth: Option<pandamon_web::kit::auth::AuthConfig>,
}

pub const DEFAULT_CONFIG: &str = "pandamon.toml";

/// Environment variables pandamon reads, in one place.
pub mod env {
    pub const DB: &str = "PANDAMON_DB";
    pub const LISTEN: &str = "PANDAMON_LISTEN";
    pub const CONFIG: &str = "PANDAMON_CONFIG";
    pub const SCHEMA_PANDA: &str = "PANDAMON_SCHEMA_PANDA";
    pub const SCHEMA_ARCH: &str = "PANDAMON_SCHEMA_ARCH";
    pub const SCHEMA_IDDS: &str = "PANDAMON_SCHEMA_IDDS";
    pub const SCHEMA_META: &str = "PANDAMON_SCHEMA_META";
    pub const LOG: &str = "PANDAMON_LOG";
    pub const MODULES: &str = "PANDAMON_MODULES";
    pub const PROFILE: &str = "PANDAMON_PROFILE";
    pub const STATE_DB: &str = "PANDAMON_STATE_DB";
    pub const SMTP: &str = "PANDAMON_SMTP";
    pub const STATEMENT_TIMEOUT: &str = "PANDAMON_STATEMENT_TIMEOUT";
    pub const AUTH_CLIENT_SECRET: &str = "PANDAMON_AUTH_CLIENT_SECRET";
    pub const AUTH_SESSION_KEY: &str = "PANDAMON_AUTH_SESSION_KEY";
}

/// Loads the config file (an explicit path must exist; the default one may be absent), then
/// applies the environment, then the flags.
pub fn load(
    explicit: Option<&Path>,
    db_flag: Option<&str>,
    listen_flag: Option<&str>,
    getenv: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Settings> {
    let explicit = explicit
        .map(Path::to_path_buf)
        .or_else(|| getenv(env::CONFIG).map(Into::into));
    let file = match &explicit {
        Some(path) => read_file(path)?,
        None if Path::new(DEFAULT_CONFIG).exists() => read_file(Path::new(DEFAULT_CONFIG))?,
        None => FileConfig::default(),
    };
    let profile_name = getenv(env::PROFILE)
        .or(file.profile.clone())
        .unwrap_or_else(|| DEFAULT_PROFILE.to_string());
    let Some(profile) = Profile::named(profile_name.trim()) else {
        bail!(
            "unknown profile '{profile_name}' (from {} or `profile` in the config file); known profiles: {}",
            env::PROFILE,
            Profile::names().join(", ")
        );
    };
    let named = file.database.schemas;
    let pick = |var: &str, file: Option<String>, default: &str| {
        getenv(var).or(file).unwrap_or_else(|| default.to_string())
    };
    let schemas = Schemas {
        panda: pick(env::SCHEMA_PANDA, named.panda, profile.schemas[0]),
        arch: pick(env::SCHEMA_ARCH, named.arch, profile.schemas[1]),
        idds: pick(env::SCHEMA_IDDS, named.idds, profile.schemas[2]),
        meta: pick(env::SCHEMA_META, named.meta, profile.schemas[3]),
    };
    let enabled: Vec<String> = match getenv(env::MODULES) {
        Some(list) => list
            .split(',')
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect(),
        None => file
            .modules
            .enabled
            .clone()
            .unwrap_or_else(|| profile.modules.iter().map(|m| m.to_string()).collect()),
    };
    let modules = pandamon_web::modules::select(&enabled).map_err(|e| {
        anyhow::anyhow!(
            "{e} (check {} or [modules] enabled in the config file)",
            env::MODULES
        )
    })?;
    let module_config = match serde_json::to_value(&file.modules.sections) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    pandamon_web::modules::check_config(&module_config)
        .map_err(|e| anyhow::anyhow!("config file: {e}"))?;
    let alerts_section = match &file.alerts {
        Some(table) => Some(serde_json::to_value(table).context("config file: [alerts]")?),
        None => None,
    };
    let alerts = pandamon_alerts::from_json(alerts_section.as_ref(), getenv(env::SMTP).as_deref())
        .map_err(|e| anyhow::anyhow!("config file: {e}"))?;
    let auth_section = match &file.auth {
        Some(table) => Some(serde_json::to_value(table).context("config file: [auth]")?),
        None => None,
    };
    let auth = pandamon_web::kit::auth::AuthConfig::from_json(
        auth_section.as_ref(),
        getenv(env::AUTH_CLIENT_SECRET),
        getenv(env::AUTH_SESSION_KEY),
    )
    .map_err(|e| anyhow::anyhow!("config file: {e}"))?;
    // Seconds above 0 and at most a day; `place` names where the value came from.
    let seconds = |place: &str, value: Option<f64>, default: std::time::Duration| match value {
        None => Ok(default),
        Some(s) if s > 0.0 && s <= 86_400.0 => Ok(std::time::Duration::from_secs_f64(s)),
        Some(_) => bail!("{place}: expected a number of seconds above 0 and at most 86400"),
    };
    let statement_timeout = match getenv(env::STATEMENT_TIMEOUT) {
        Some(text) => seconds(
            env::STATEMENT_TIMEOUT,
            Some(text.trim().parse().unwrap_or(f64::NAN)),
            pandamon_store::db::DEFAULT_STATEMENT_TIMEOUT,
        )?,
        None => seconds(
            "config file: [database] statement_timeout",
            file.database.statement_timeout,
            pandamon_store::db::DEFAULT_STATEMENT_TIMEOUT,
        )?,
    };
    // MiB from 1 to 1 TiB, in bytes.
    let mebibytes = |key: &str, value: Option<usize>| match value {
        None => Ok(None),
        Some(mb) if (1..=1 << 20).contains(&mb) => Ok(Some(mb << 20)),
        Some(_) => bail!("config file: [server] {key}: expected MiB from 1 to 1048576"),
    };
    let ceiling = mebibytes("memory_mb", file.server.memory_mb)?
        .unwrap_or_else(pandamon_web::kit::limits::MemoryBudget::default_ceiling);
    let cache = mebibytes("cache_mb", file.server.cache_mb)?;
    if cache.is_some_and(|c| c > ceiling) {
        bail!("config file: [server] cache_mb: the cache cannot be larger than memory_mb");
    }
    let defaults = pandamon_web::kit::limits::ServerLimits::default();
    let server_limits = pandamon_web::kit::limits::ServerLimits {
        max_connections: file
            .server
            .max_connections
            .unwrap_or(defaults.max_connections),
        header_timeout: seconds(
            "config file: [server] header_timeout",
            file.server.header_timeout,
            defaults.header_timeout,
        )?,
        request_timeout: seconds(
            "config file: [server] request_timeout",
            file.server.request_timeout,
            defaults.request_timeout,
        )?,
        per_client: file
            .server
            .per_client_requests
            .unwrap_or(defaults.per_client),
        memory: pandamon_web::kit::limits::MemoryBudget::new(ceiling, cache),
    };
    schemas.validate().context(
        "check [database.schemas] in the config file or the PANDAMON_SCHEMA_* variables",
    )?;
    Ok(Settings {
        db_url: db_flag
            .map(str::to_string)
            .or_else(|| getenv(env::DB))
            .or(file.database.url),
        listen: listen_flag
            .map(str::to_string)
            .or_else(|| getenv(env::LISTEN))
            .or(file.server.listen),
        schemas,
        profile,
        modules: modules.iter().map(|m| m.name()).collect(),
        module_config,
        state: pandamon_store::StateConfig {
            url: getenv(env::STATE_DB).or(file.state.db),
            file: file.state.file,
        },
        alerts,
        statement_timeout,
        server_limits,
        auth,
    })
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    match toml::from_str(&text) {
        Ok(config) => Ok(config),
        Err(e) => bail!(
            "config file {} is not valid: {}",
            path.display(),
            e.message().to_lowercase()
        ),
    }
}

impl Settings {
    pub fn require_db(&self) -> anyhow::Result<&str> {
        match self.db_url.as_deref() {
            Some(url) => Ok(url),
            None => bail!(
                "no database given: pass --db URL, set {} or put url under [database] in {}",
                env::DB,
                DEFAULT_CONFIG
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn flags_beat_environment_beat_file() {
        let dir = std::env::temp_dir().join(format!("pandamon-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.toml");
        std::fs::write(
            &path,
            "[database]\nurl = \"sqlite://file.db\"\n[database.schemas]\npanda = \"atlas_panda\"\n[server]\nlisten = \"0.0.0.0:1\"\n",
        )
        .unwrap();
        let s = load(Some(&path), None, None, no_env).unwrap();
        assert_eq!(s.db_url.as_deref(), Some("sqlite://file.db"));
        assert_eq!(s.schemas.panda, "atlas_panda");
        assert_eq!(s.schemas.arch, "doma_pandaarch");
        let env: HashMap<&str, &str> =
            [(env::DB, "sqlite://env.db"), (env::LISTEN, "127.0.0.1:2")].into();
        let getenv = |k: &str| env.get(k).map(|v| v.to_string());
        let s = load(Some(&path), None, None, getenv).unwrap();
        assert_eq!(s.db_url.as_deref(), Some("sqlite://env.db"));
        assert_eq!(s.listen.as_deref(), Some("127.0.0.1:2"));
        let s = load(
            Some(&path),
            Some("sqlite://flag.db"),
            Some("127.0.0.1:3"),
            getenv,
        )
        .unwrap();
        assert_eq!(s.db_url.as_deref(), Some("sqlite://flag.db"));
        assert_eq!(s.listen.as_deref(), Some("127.0.0.1:3"));
    }

    #[test]
    fn limits_come_from_the_file_and_bad_ones_name_their_key() {
        let dir = std::env::temp_dir().join(format!("pandamon-limits-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("limits.toml");
        let write = |text: &str| std::fs::write(&path, text).unwrap();
        write(
            "[database]\nstatement_timeout = 5\n[server]\nheader_timeout = 2.5\nrequest_timeout = 20\nper_client_requests = 0\nmax_connections = 100\ncache_mb = 64\n",
        );
        let s = load(Some(&path), None, None, no_env).unwrap();
        assert_eq!(s.statement_timeout, std::time::Duration::from_secs(5));
        assert_eq!(
            s.server_limits.header_timeout,
            std::time::Duration::from_millis(2_500)
        );
        assert_eq!(
            s.server_limits.request_timeout,
            std::time::Duration::from_secs(20)
        );
        assert_eq!(s.server_limits.per_client, 0);
        assert_eq!(s.server_limits.max_connections, 100);
        assert_eq!(s.server_limits.memory.cache_bytes, 64 << 20);
        // The environment wins over the file for the statement timeout.
        let s = load(Some(&path), None, None, |k: &str| {
            (k == env::STATEMENT_TIMEOUT).then(|| "0.5".to_string())
        })
        .unwrap();
        assert_eq!(s.statement_timeout, std::time::Duration::from_millis(500));
        let err = load(Some(&path), None, None, |k: &str| {
            (k == env::STATEMENT_TIMEOUT).then(|| "soon".to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains(env::STATEMENT_TIMEOUT), "{err}");
        for (text, key) in [
            ("[server]\nheader_timeout = 0\n", "header_timeout"),
            ("[server]\nrequest_timeout = -1\n", "request_timeout"),
            ("[server]\ncache_mb = 0\n", "cache_mb"),
            ("[server]\nmemory_mb = 0\n", "memory_mb"),
            ("[server]\nmemory_mb = 100\ncache_mb = 200\n", "cache_mb"),
            ("[database]\nstatement_timeout = 0\n", "statement_timeout"),
        ] {
            write(text);
            let err = load(Some(&path), None, None, no_env)
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn bad_config_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("pandamon-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.toml");
        std::fs::write(&path, "[database]\nurll = 1\n").unwrap();
        let err = load(Some(&path), None, None, no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is not valid") && err.contains("urll"),
            "{err}"
        );
        let err = load(Some(&dir.join("missing.toml")), None, None, no_env)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read config file"), "{err}");
        let env = |k: &str| (k == env::SCHEMA_PANDA).then(|| "Bad-Name".to_string());
        let err = format!("{:#}", load(None, None, None, env).unwrap_err());
        assert!(err.contains("invalid schema name"), "{err}");
        let s = load(None, None, None, no_env).unwrap();
        assert!(s.require_db().unwrap_err().to_string().contains("--db"));
    }

    #[test]
    fn the_state_store_comes_from_file_and_environment() {
        let dir = std::env::temp_dir().join(format!("pandamon-config-st-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.toml");
        std::fs::write(
            &path,
            "[state]\ndb = \"postgres://pm@h/state\"\nfile = \"/var/lib/pandamon/state.db\"\n",
        )
        .unwrap();
        let s = load(Some(&path), None, None, no_env).unwrap();
        assert_eq!(s.state.url.as_deref(), Some("postgres://pm@h/state"));
        assert_eq!(
            s.state.file.as_deref(),
            Some(Path::new("/var/lib/pandamon/state.db"))
        );
        let env = |k: &str| (k == env::STATE_DB).then(|| "mysql://pm@h/st".to_string());
        let s = load(Some(&path), None, None, env).unwrap();
        assert_eq!(s.state.url.as_deref(), Some("mysql://pm@h/st"));
        let s = load(None, None, None, no_env).unwrap();
        assert_eq!(s.state.url, None);
        std::fs::write(&path, "[state]\nurl = \"x\"\n").unwrap();
        let err = load(Some(&path), None, None, no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown field") && err.contains("url"),
            "{err}"
        );
    }

    #[test]
    fn alerts_come_from_file_and_environment_and_bad_keys_are_named() {
        let dir = std::env::temp_dir().join(format!("pm-alerts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("pandamon.toml");
        std::fs::write(
            &path,
            "[alerts]\nexperts = [\"adc@example.org\"]\n[alerts.rules.stalled_staging]\ndays = 7\n",
        )
        .unwrap();
        let s = load(Some(&path), None, None, no_env).unwrap();
        assert_eq!(s.alerts.experts, ["adc@example.org"]);
        assert_eq!(s.alerts.stalled_staging.days, 7.0);
        let smtp = |k: &str| (k == env::SMTP).then(|| "smtp://mail.example.org:25".to_string());
        let s = load(Some(&path), None, None, smtp).unwrap();
        assert_eq!(s.alerts.smtp, "smtp://mail.example.org:25");
        std::fs::write(
            &path,
            "[alerts.rules.stalled_staging]\nschedule = \"whenever\"\n",
        )
        .unwrap();
        let err = load(Some(&path), None, None, no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("alerts.rules.stalled_staging.schedule"),
            "{err}"
        );
        std::fs::write(&path, "[alerts.rules.unknown_rule]\n").unwrap();
        let err = load(Some(&path), None, None, no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("alerts.rules.unknown_rule: unknown rule"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn modules_and_profiles_come_from_file_and_environment() {
        let s = load(None, None, None, no_env).unwrap();
        assert_eq!(s.profile.name, "doma");
        assert!(s.modules.contains(&"tasks") && s.modules.contains(&"jobs"));
        let env = |k: &str| (k == env::MODULES).then(|| "jobs, errors".to_string());
        let s = load(None, None, None, env).unwrap();
        assert_eq!(s.modules, ["jobs", "errors"]);
        let env = |k: &str| (k == env::MODULES).then(|| "jobs,harvestr".to_string());
        let err = format!("{:#}", load(None, None, None, env).unwrap_err());
        assert!(
            err.contains("unknown module 'harvestr'")
                && err.contains("known modules: overview, status, jobs"),
            "{err}"
        );
        let env = |k: &str| (k == env::PROFILE).then(|| "atlas".to_string());
        let s = load(None, None, None, env).unwrap();
        assert_eq!(s.schemas.panda, "atlas_panda");
        let env = |k: &str| (k == env::PROFILE).then(|| "lhcb".to_string());
        let err = format!("{:#}", load(None, None, None, env).unwrap_err());
        assert!(
            err.contains("unknown profile 'lhcb'") && err.contains("atlas, doma"),
            "{err}"
        );

        let dir = std::env::temp_dir().join(format!("pandamon-config-mod-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.toml");
        std::fs::write(
            &path,
            "profile = \"atlas\"\n[database.schemas]\npanda = \"x_panda\"\n[modules]\nenabled = [\"jobs\", \"tasks\"]\n[modules.jobs]\ndefault_hours = 6\n",
        )
        .unwrap();
        let s = load(Some(&path), None, None, no_env).unwrap();
        assert_eq!(s.modules, ["jobs", "tasks"]);
        assert_eq!(
            (s.schemas.panda.as_str(), s.schemas.arch.as_str()),
            ("x_panda", "atlas_pandaarch")
        );
        assert_eq!(s.module_config["jobs"]["default_hours"], 6);
        std::fs::write(&path, "[modules.jobs]\ndefault_hourz = 6\n").unwrap();
        let err = format!("{:#}", load(Some(&path), None, None, no_env).unwrap_err());
        assert!(err.contains("modules.jobs.default_hourz"), "{err}");
    }
}
