//! The fixed part of a simulated grid: sites and PanDA queues, Harvester instances, the global
//! shares tree, users, campaigns and the error catalogue. Built deterministically from the seed.

use crate::rng::{Rng, cumulative, zipf_weights};

/// ATLAS-like clouds (regions) with their sites: (site, tier level, country). The first site of a
/// cloud is its Tier-1.
/// (site, tier level, country).
type SiteSpec = (&'static str, u8, &'static str);
const CLOUDS: &[(&str, &[SiteSpec])] = &[
    (
        "CERN",
        &[
            ("CERN-PROD", 0, "Switzerland"),
            ("CERN-P1", 2, "Switzerland"),
        ],
    ),
    (
        "DE",
        &[
            ("FZK-LCG2", 1, "Germany"),
            ("DESY-HH", 2, "Germany"),
            ("DESY-ZN", 2, "Germany"),
            ("LRZ-LMU", 2, "Germany"),
            ("MPPMU", 2, "Germany"),
            ("GoeGrid", 2, "Germany"),
            ("wuppertalprod", 2, "Germany"),
            ("UNI-FREIBURG", 2, "Germany"),
            ("CSCS-LCG2", 2, "Switzerland"),
            ("UNIBE-LHEP", 2, "Switzerland"),
            ("praguelcg2", 2, "Czechia"),
            ("PSNC", 2, "Poland"),
            ("CYFRONET-LCG2", 2, "Poland"),
        ],
    ),
    (
        "FR",
        &[
            ("IN2P3-CC", 1, "France"),
            ("GRIF", 2, "France"),
            ("IN2P3-CPPM", 2, "France"),
            ("IN2P3-LAPP", 2, "France"),
            ("IN2P3-LPC", 2, "France"),
            ("IN2P3-LPSC", 2, "France"),
            ("RO-07-NIPNE", 2, "Romania"),
            ("TOKYO-LCG2", 2, "Japan"),
            ("BEIJING-LCG2", 2, "China"),
        ],
    ),
    (
        "IT",
        &[
            ("INFN-T1", 1, "Italy"),
            ("INFN-MILANO-ATLASC", 2, "Italy"),
            ("INFN-NAPOLI-ATLAS", 2, "Italy"),
            ("INFN-ROMA1", 2, "Italy"),
            ("INFN-FRASCATI", 2, "Italy"),
        ],
    ),
    (
        "ND",
        &[
            ("NDGF-T1", 1, "Denmark"),
            ("SiGNET", 2, "Slovenia"),
            ("ARNES", 2, "Slovenia"),
            ("UIO", 2, "Norway"),
        ],
    ),
    (
        "NL",
        &[
            ("SARA-MATRIX", 1, "Netherlands"),
            ("NIKHEF-ELPROD", 1, "Netherlands"),
            ("IL-TAU-HEP", 2, "Israel"),
            ("TECHNION-HEP", 2, "Israel"),
            ("WEIZMANN-LCG2", 2, "Israel"),
            ("BEgrid-ULB-VUB", 2, "Belgium"),
        ],
    ),
    (
        "ES",
        &[
            ("pic", 1, "Spain"),
            ("IFIC-LCG2", 2, "Spain"),
            ("IFAE", 2, "Spain"),
            ("UAM-LCG2", 2, "Spain"),
            ("LIP-Lisbon", 2, "Portugal"),
        ],
    ),
    (
        "UK",
        &[
            ("RAL-LCG2", 1, "United Kingdom"),
            ("UKI-NORTHGRID-MAN-HEP", 2, "United Kingdom"),
            ("UKI-NORTHGRID-LANCS-HEP", 2, "United Kingdom"),
            ("UKI-NORTHGRID-LIV-HEP", 2, "United Kingdom"),
            ("UKI-SCOTGRID-GLASGOW", 2, "United Kingdom"),
            ("UKI-SOUTHGRID-OX-HEP", 2, "United Kingdom"),
            ("UKI-LT2-QMUL", 2, "United Kingdom"),
            ("UKI-SCOTGRID-ECDF", 2, "United Kingdom"),
        ],
    ),
    (
        "US",
        &[
            ("BNL-ATLAS", 1, "United States"),
            ("AGLT2", 2, "United States"),
            ("MWT2", 2, "United States"),
            ("NET2", 2, "United States"),
            ("SWT2_CPB", 2, "United States"),
            ("OU_OSCER_ATLAS", 2, "United States"),
            ("SLACXRD", 2, "United States"),
            ("NERSC", 2, "United States"),
            ("TACC", 2, "United States"),
            ("BU_ATLAS_Tier2", 2, "United States"),
        ],
    ),
    (
        "CA",
        &[
            ("TRIUMF-LCG2", 1, "Canada"),
            ("CA-SFU-T2", 2, "Canada"),
            ("CA-VICTORIA-WESTGRID-T2", 2, "Canada"),
            ("CA-WATERLOO-T2", 2, "Canada"),
        ],
    ),
    (
        "TW",
        &[
            ("Taiwan-LCG2", 1, "Taiwan"),
            ("Australia-ATLAS", 2, "Australia"),
        ],
    ),
    (
        "RU",
        &[("RRC-KI-T1", 1, "Russia"), ("JINR-LCG2", 2, "Russia")],
    ),
];

/// Sites that run large HPC or cloud resources in addition to grid queues.
const HPC_QUEUES: &[(&str, &str, &str)] = &[
    ("NERSC_Perlmutter", "NERSC", "HPC"),
    ("TACC_Frontera", "TACC", "HPC"),
    ("LRZ-LMU_C2PAP_MCORE", "LRZ-LMU", "HPC"),
    ("CSCS-LCG2_HPC", "CSCS-LCG2", "HPC"),
    ("SiGNET_Vega", "SiGNET", "HPC"),
    ("MPPMU_Raven", "MPPMU", "HPC"),
    ("BNL_Cloud", "BNL-ATLAS", "cloud"),
    ("CERN-PROD_Cloud", "CERN-PROD", "cloud"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    /// Unified production + analysis queue (`capability` ucore).
    Unified,
    Analysis,
    HighMemory,
    Gpu,
    Hpc,
    Cloud,
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub name: String,
    pub site: String,
    pub cloud: &'static str,
    pub country: &'static str,
    pub tier_level: u8,
    /// Nucleus in the WORLD cloud model (Tier-0/1 and the largest Tier-2s).
    pub nucleus: bool,
    pub kind: QueueKind,
    pub corecount: i64,
    pub corepower: f64,
    /// Relative share of the grid's job throughput.
    pub weight: f64,
    pub harvester: usize,
    /// Failure-rate multiplier: a few queues fail much more often than the rest.
    pub fail_factor: f64,
    /// This queue's typical failure, index into [`FAILURE_MODES`].
    pub fail_mode: usize,
    pub status: &'static str,
    pub ce: String,
}

impl Queue {
    pub fn takes_production(&self) -> bool {
        !matches!(self.kind, QueueKind::Analysis)
    }

    pub fn takes_analysis(&self) -> bool {
        matches!(
            self.kind,
            QueueKind::Analysis | QueueKind::Unified | QueueKind::Gpu
        )
    }

    /// CRIC's `resource_type`: HPC centres attached to a Tier-0/1 run "special" allocations.
    pub fn resource_kind(&self) -> &'static str {
        match self.kind {
            QueueKind::Hpc if self.tier_level <= 1 => "hpc_special",
            QueueKind::Hpc => "hpc",
            QueueKind::Gpu => "GPU",
            QueueKind::Cloud => "cloud",
            _ => "GRID",
        }
    }

    pub fn tier(&self) -> String {
        match self.tier_level {
            0 => "T0".into(),
            1 => "T1".into(),
            _ if self.nucleus => "T2D".into(),
            _ => "T2".into(),
        }
    }

    /// The CRIC-like document stored in `schedconfig_json.data`.
    pub fn json(&self, harvester_id: &str, nucleus_of_cloud: &str) -> serde_json::Value {
        let capability = match self.kind {
            QueueKind::Unified | QueueKind::Hpc | QueueKind::Cloud => "ucore",
            QueueKind::Analysis => "score",
            QueueKind::HighMemory => "himem",
            QueueKind::Gpu => "gpu",
        };
        let kind = match self.kind {
            QueueKind::Analysis => "analysis",
            QueueKind::Unified | QueueKind::Gpu => "unified",
            _ => "production",
        };
        serde_json::json!({
            "siteid": self.name,
            "nickname": self.name,
            "panda_resource": self.name,
            "panda_site": self.site,
            "atlas_site": self.site,
            "site": self.site,
            "rc_site": self.site,
            "gocname": self.site,
            "cloud": self.cloud,
            "country": self.country,
            "tier": self.tier(),
            "tier_level": self.tier_level,
            // The WLCG federation the site's pledge belongs to (one per country and tier).
            "federation": match self.tier_level {
                0 => "CH-CERN".to_string(),
                1 => format!("{}-T1", self.country),
                _ => format!("{}-T2", self.country),
            },
            "role": if self.nucleus { "nucleus" } else { "satellite" },
            "nucleus": if self.nucleus { self.site.as_str() } else { nucleus_of_cloud },
            "vo_name": "atlas",
            "status": self.status,
            "state": "ACTIVE",
            "type": kind,
            "capability": capability,
            "workflow": if matches!(self.kind, QueueKind::Hpc) { "push" } else { "pull_ups" },
            "harvester": harvester_id,
            "pilot_manager": "Harvester",
            "resource_type": self.resource_kind(),
            "corecount": self.corecount,
            "corepower": self.corepower,
            "maxrss": self.corecount.max(1) * if matches!(self.kind, QueueKind::HighMemory) { 4000 } else { 2000 },
            "maxtime": if matches!(self.kind, QueueKind::Hpc) { 172_800 } else { 259_200 },
            "maxwdir": 30_000 * self.corecount.max(1),
            "is_cvmfs": true,
            "queues": [{"ce_endpoint": self.ce, "ce_flavour": if self.cloud == "ND" { "ARC-CE" } else { "HTCONDOR-CE" }}],
            "astorages": {"read_lan": [format!("{}_DATADISK", self.site)], "write_lan": [format!("{}_DATADISK", self.site)]},
        })
    }
}

/// One node of the global shares tree.
#[derive(Debug, Clone)]
pub struct Share {
    pub name: &'static str,
    pub parent: Option<&'static str>,
    pub value: i64,
    pub prodsourcelabel: Option<&'static str>,
    pub processingtype: Option<&'static str>,
    pub queue_id: i64,
}

/// Three levels: type of work, activity, leaf shares that tag tasks and jobs.
/// (name, parent, value, prodsourcelabel regexp, processingtype regexp).
pub type ShareSpec = (
    &'static str,
    Option<&'static str>,
    i64,
    Option<&'static str>,
    Option<&'static str>,
);
pub const SHARES: &[ShareSpec] = &[
    ("Production", None, 80, Some("managed"), None),
    ("Analysis", None, 17, Some("user"), None),
    ("Test", None, 3, Some("prod_test|ptest"), None),
    (
        "Simulation",
        Some("Production"),
        55,
        Some("managed"),
        Some("simul|evgen"),
    ),
    (
        "Processing",
        Some("Production"),
        30,
        Some("managed"),
        Some("reco|reprocessing|pile"),
    ),
    (
        "Derivations",
        Some("Production"),
        15,
        Some("managed"),
        Some("deriv|merge"),
    ),
    (
        "MC Simulation Full",
        Some("Simulation"),
        70,
        Some("managed"),
        Some("simul"),
    ),
    (
        "MC Event Generation",
        Some("Simulation"),
        30,
        Some("managed"),
        Some("evgen"),
    ),
    (
        "MC Reconstruction",
        Some("Processing"),
        60,
        Some("managed"),
        Some("reco|pile"),
    ),
    (
        "Data Reprocessing",
        Some("Processing"),
        40,
        Some("managed"),
        Some("reprocessing"),
    ),
    (
        "Data Derivations",
        Some("Derivations"),
        50,
        Some("managed"),
        Some("deriv"),
    ),
    (
        "MC Merging",
        Some("Derivations"),
        50,
        Some("managed"),
        Some("merge"),
    ),
    ("User Analysis", Some("Analysis"), 80, Some("user"), None),
    (
        "Express Analysis",
        Some("Analysis"),
        5,
        Some("user"),
        Some("express"),
    ),
    (
        "Group Analysis",
        Some("Analysis"),
        15,
        Some("user"),
        Some("group"),
    ),
    (
        "Validation",
        Some("Test"),
        100,
        Some("prod_test|ptest"),
        None,
    ),
];

/// A typical failure: which error columns it fills, with code and diagnostic.
#[derive(Debug, Clone, Copy)]
pub struct FailureMode {
    pub name: &'static str,
    pub errors: &'static [(&'static str, i64, &'static str)],
    /// Fraction of the job's wall time after which it fails.
    pub at_fraction: f64,
}

/// Failure modes, as (component, code, diagnostic) triples per job column family.
pub const FAILURE_MODES: &[FailureMode] = &[
    FailureMode {
        name: "stage-in",
        errors: &[(
            "pilot",
            1099,
            "Failed to stage-in file: rucio download failed: Connection reset by peer",
        )],
        at_fraction: 0.02,
    },
    FailureMode {
        name: "stage-out",
        errors: &[(
            "pilot",
            1137,
            "Failed to stage-out file: transfer to DATADISK failed: Checksum mismatch after copy",
        )],
        at_fraction: 0.98,
    },
    FailureMode {
        name: "lost-heartbeat",
        errors: &[(
            "jobdispatcher",
            100,
            "lost heartbeat : no update from the pilot for 7200 sec",
        )],
        at_fraction: 0.5,
    },
    FailureMode {
        name: "memory",
        errors: &[(
            "pilot",
            1235,
            "Payload exceeded maximum allowed memory: maxPSS 4193021 kB > limit 4000000 kB",
        )],
        at_fraction: 0.7,
    },
    FailureMode {
        name: "looping",
        errors: &[(
            "pilot",
            1150,
            "Looping job killed by pilot: no output file updates for 9000 s",
        )],
        at_fraction: 0.9,
    },
    FailureMode {
        name: "sigterm",
        errors: &[("pilot", 1201, "Payload got SIGTERM from the batch system")],
        at_fraction: 0.6,
    },
    FailureMode {
        name: "batch-time-limit",
        errors: &[(
            "pilot",
            1213,
            "Job reached the batch system time limit and was killed",
        )],
        at_fraction: 1.0,
    },
    FailureMode {
        name: "xrootd",
        errors: &[(
            "pilot",
            1361,
            "Remote file could not be opened: [ERROR] Server responded with an error: [3010] Unable to open file",
        )],
        at_fraction: 0.1,
    },
    FailureMode {
        name: "athena-crash",
        errors: &[
            (
                "pilot",
                1305,
                "Failed to execute payload: non-zero exit code from transformation",
            ),
            ("exe", 65, "Non-zero return code from EVNTtoHITS (8)"),
            ("transform", 65, ""),
        ],
        at_fraction: 0.4,
    },
    FailureMode {
        name: "segfault",
        errors: &[
            (
                "exe",
                68,
                "Athena crashed: segmentation violation in G4 step",
            ),
            ("transform", 68, ""),
        ],
        at_fraction: 0.3,
    },
    FailureMode {
        name: "user-code",
        errors: &[
            (
                "exe",
                1,
                "User payload failed: Traceback in analysis code, KeyError 'jet_pt'",
            ),
            ("transform", 1, ""),
        ],
        at_fraction: 0.05,
    },
    FailureMode {
        name: "adder",
        errors: &[(
            "ddm",
            200,
            "Adder failed: could not add files to dataset: rucio DataIdentifierNotFound",
        )],
        at_fraction: 1.0,
    },
    FailureMode {
        name: "worker-gone",
        errors: &[(
            "sup",
            2,
            "worker already done: batch job finished before the pilot reported",
        )],
        at_fraction: 0.5,
    },
    FailureMode {
        name: "expired",
        errors: &[("taskbuffer", 102, "expired in holding after 3 days")],
        at_fraction: 1.0,
    },
];

/// Index of the failure mode that user analysis code most often hits.
pub const USER_CODE_MODE: usize = 10;
/// Failure modes that are software errors of a bad task.
pub const TASK_MODES: [usize; 3] = [8, 9, 4];

/// Extra entries for `error_descriptions` that jobs reach by other paths than [`FAILURE_MODES`]:
/// cancellation, reassignment, brokerage.
pub const OTHER_ERRORS: &[(&str, i64, &str, &str, i16)] = &[
    (
        "taskbuffer",
        100,
        "Kill",
        "Job was killed on request of the task owner or an operator",
        4,
    ),
    (
        "taskbuffer",
        105,
        "Reassigned",
        "Job was reassigned to another site by rebrokerage and closed here",
        6,
    ),
    (
        "taskbuffer",
        106,
        "Retried",
        "Job was retried by the server; a new job took over its input",
        6,
    ),
    (
        "brokerage",
        100,
        "NoCandidates",
        "Brokerage found no site that satisfies the job requirements",
        6,
    ),
    (
        "jobdispatcher",
        102,
        "SendError",
        "No reply from the pilot after the job was sent",
        3,
    ),
    (
        "pilot",
        1008,
        "GeneralError",
        "General pilot error, see the pilot log",
        6,
    ),
    (
        "pilot",
        1379,
        "Preempted",
        "Worker node was preempted by the resource provider",
        4,
    ),
    (
        "pilot",
        1324,
        "ServiceUnavailable",
        "A service the pilot needed did not answer",
        3,
    ),
    (
        "ddm",
        201,
        "SubscriptionFailure",
        "Creating the transfer rule for the output failed",
        1,
    ),
];

/// Category (see `pandamon_model::ERROR_CATEGORIES`) and acronym per failure mode.
pub fn failure_category(mode: &FailureMode) -> (i16, &'static str) {
    match mode.name {
        "stage-in" => (1, "STAGEINFAILED"),
        "stage-out" => (1, "STAGEOUTFAILED"),
        "lost-heartbeat" => (3, "LOSTHEARTBEAT"),
        "memory" => (2, "PAYLOADEXCEEDMAXMEM"),
        "looping" => (2, "LOOPINGJOB"),
        "sigterm" => (4, "SIGTERM"),
        "batch-time-limit" => (2, "REACHEDMAXTIME"),
        "xrootd" => (1, "REMOTEFILEOPENFAILED"),
        "athena-crash" => (5, "TRANSFORMFAILED"),
        "segfault" => (5, "ATHENACRASH"),
        "user-code" => (5, "USERPAYLOADFAILED"),
        "adder" => (1, "ADDERFAILED"),
        "worker-gone" => (6, "WORKERALREADYDONE"),
        "expired" => (6, "EXPIRED"),
        _ => (0, "UNKNOWN"),
    }
}

pub const CAMPAIGNS: &[&str] = &[
    "MC23a", "MC23c", "MC23d", "MC23e", "MC21a", "data24", "data25",
];
pub const HARVESTERS: &[&str] = &[
    "CERN_central_A",
    "CERN_central_B",
    "CERN_central_k8s",
    "BNL_central",
    "CERN_ucore_A",
    "NDGF_ARC",
    "NERSC_harvester",
    "TACC_harvester",
    "CERN_cloud",
    "CERN_central_0",
    "CERN_central_1",
    "BNL_central_B",
    "CERN_grid_A",
];
pub const RELEASES: &[(&str, &str)] = &[
    ("AthSimulation,23.0.28", "x86_64-el9-gcc13-opt"),
    ("AthGeneration,23.6.31", "x86_64-el9-gcc13-opt"),
    ("Athena,24.0.45", "x86_64-el9-gcc13-opt"),
    ("Athena,25.0.12", "x86_64-el9-gcc14-opt"),
    ("AthDerivation,22.2.113", "x86_64-centos7-gcc11-opt"),
    ("AnalysisBase,25.2.30", "x86_64-el9-gcc13-opt"),
];

const FIRST_NAMES: &[&str] = &[
    "alice", "bruno", "chiara", "david", "elena", "fabio", "greta", "hiro", "ines", "jakub",
    "karim", "lena", "marco", "nadia", "oscar", "paula", "quentin", "rosa", "sven", "tanja", "ugo",
    "vera", "walter", "xenia", "yusuf", "zoe", "anna", "boris", "clara", "dmitri",
];
const LAST_NAMES: &[&str] = &[
    "rossi", "muller", "novak", "kowalski", "smith", "tanaka", "garcia", "dubois", "jensen",
    "petrov", "silva", "cohen", "weber", "moreau", "ricci", "schmidt", "brown", "yamada", "lopez",
    "fischer", "nilsen", "horvat", "costa", "klein", "wagner",
];

#[derive(Debug, Clone)]
pub struct User {
    /// The DN-derived name PanDA shows (`produsername`, `jedi_tasks.username`).
    pub name: String,
    /// The rucio account used in dataset names.
    pub nickname: String,
    pub country: &'static str,
}

/// Everything about the grid that does not change during a simulation.
#[derive(Debug, Clone)]
pub struct World {
    pub queues: Vec<Queue>,
    pub production_cdf: Vec<f64>,
    pub analysis_cdf: Vec<f64>,
    pub nuclei: Vec<String>,
    pub shares: Vec<Share>,
    pub users: Vec<User>,
    pub user_cdf: Vec<f64>,
}

impl World {
    pub fn build(rng: &mut Rng) -> World {
        let mut queues = Vec::new();
        let mut harvester_rr = 0usize;
        for (cloud, sites) in CLOUDS {
            for (i, (site, tier, country)) in sites.iter().enumerate() {
                let nucleus = *tier <= 1 || (i < 4 && rng.chance(0.5));
                // Site size: Tier-1s large, Tier-2 sizes log-normal.
                let size = match tier {
                    0 => 30.0,
                    1 => rng.lognormal(12.0, 0.4),
                    _ => rng.lognormal(3.0, 0.9),
                };
                let mut kinds = vec![QueueKind::Unified];
                if rng.chance(0.9) {
                    kinds.push(QueueKind::Analysis);
                }
                if *tier <= 1 || rng.chance(0.45) {
                    kinds.push(QueueKind::HighMemory);
                }
                if rng.chance(0.12) {
                    kinds.push(QueueKind::Gpu);
                }
                for kind in kinds {
                    let name = match kind {
                        QueueKind::Unified => format!("{site}_UCORE"),
                        QueueKind::Analysis => format!("ANALY_{site}"),
                        QueueKind::HighMemory => format!("{site}_HIMEM"),
                        QueueKind::Gpu => format!("{site}_GPU"),
                        _ => unreachable!("grid sites have grid queues"),
                    };
                    let weight = size
                        * match kind {
                            QueueKind::Unified => 1.0,
                            QueueKind::Analysis => 0.35,
                            QueueKind::HighMemory => 0.15,
                            _ => 0.05,
                        };
                    queues.push(new_queue(
                        rng,
                        name,
                        site,
                        cloud,
                        country,
                        *tier,
                        nucleus,
                        kind,
                        weight,
                        &mut harvester_rr,
                    ));
                }
            }
        }
        for (name, site, kind) in HPC_QUEUES {
            let (cloud, country, tier) = CLOUDS
                .iter()
                .find_map(|(cloud, sites)| {
                    sites
                        .iter()
                        .find(|s| s.0 == *site)
                        .map(|s| (*cloud, s.2, s.1))
                })
                .expect("hpc queues belong to known sites");
            let nucleus = queues.iter().any(|q| q.site == *site && q.nucleus);
            let kind = if *kind == "HPC" {
                QueueKind::Hpc
            } else {
                QueueKind::Cloud
            };
            let weight = rng.lognormal(8.0, 0.5);
            queues.push(new_queue(
                rng,
                name.to_string(),
                site,
                cloud,
                country,
                tier,
                nucleus,
                kind,
                weight,
                &mut harvester_rr,
            ));
        }
        // A few queues are in trouble: they fail far more often, with their own error.
        let troubled: Vec<usize> = (0..6).map(|_| rng.index(queues.len())).collect();
        for i in troubled {
            queues[i].fail_factor = rng.range(4, 10) as f64;
        }
        let production_cdf = cumulative(queues.iter().map(|q| {
            if q.takes_production() && q.status == "online" {
                q.weight
            } else {
                0.0
            }
        }));
        let analysis_cdf = cumulative(queues.iter().map(|q| {
            if q.takes_analysis() && q.status == "online" {
                q.weight
            } else {
                0.0
            }
        }));
        let mut nuclei: Vec<String> = queues
            .iter()
            .filter(|q| q.nucleus)
            .map(|q| q.site.clone())
            .collect();
        nuclei.sort();
        nuclei.dedup();
        let shares = SHARES
            .iter()
            .enumerate()
            .map(|(i, (name, parent, value, label, ptype))| Share {
                name,
                parent: *parent,
                value: *value,
                prodsourcelabel: *label,
                processingtype: *ptype,
                queue_id: 9000 + i as i64,
            })
            .collect();
        let mut users = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while users.len() < 450 {
            let first = rng.pick(FIRST_NAMES);
            let last = rng.pick(LAST_NAMES);
            let nickname = format!("{}{}", &first[..1], last);
            let nickname = if seen.contains(&nickname) {
                format!("{nickname}{}", rng.range(2, 99))
            } else {
                nickname
            };
            if !seen.insert(nickname.clone()) {
                continue;
            }
            let mut display = String::new();
            for part in [first, last] {
                let mut chars = part.chars();
                if let Some(c) = chars.next() {
                    display.push(c.to_ascii_uppercase());
                    display.push_str(chars.as_str());
                    display.push(' ');
                }
            }
            let country = rng.pick(CLOUDS).1[0].2;
            users.push(User {
                name: display.trim_end().to_string(),
                nickname,
                country,
            });
        }
        let user_cdf = cumulative(zipf_weights(users.len(), 1.1));
        World {
            queues,
            production_cdf,
            analysis_cdf,
            nuclei,
            shares,
            users,
            user_cdf,
        }
    }

    /// The nucleus that serves a cloud: its Tier-1 (or Tier-0).
    pub fn nucleus_of_cloud(&self, cloud: &str) -> &str {
        self.queues
            .iter()
            .find(|q| q.cloud == cloud && q.tier_level <= 1)
            .map(|q| q.site.as_str())
            .unwrap_or("CERN-PROD")
    }
}

#[allow(clippy::too_many_arguments)]
fn new_queue(
    rng: &mut Rng,
    name: String,
    site: &str,
    cloud: &'static str,
    country: &'static str,
    tier_level: u8,
    nucleus: bool,
    kind: QueueKind,
    weight: f64,
    harvester_rr: &mut usize,
) -> Queue {
    let corecount = match kind {
        QueueKind::Analysis => 1,
        QueueKind::Hpc => 64,
        QueueKind::Gpu => 4,
        _ => 8,
    };
    let harvester = match (kind, cloud) {
        (QueueKind::Hpc, _) if site == "NERSC" => 6,
        (QueueKind::Hpc, _) if site == "TACC" => 7,
        (QueueKind::Cloud, _) => 8,
        (_, "ND") => 5,
        (_, "US") if rng.chance(0.6) => 3,
        _ => {
            *harvester_rr += 1;
            [0, 1, 2, 4, 9, 10, 11, 12][*harvester_rr % 8]
        }
    };
    let status = if rng.chance(0.04) {
        "offline"
    } else if rng.chance(0.03) {
        "test"
    } else if rng.chance(0.03) {
        "brokeroff"
    } else {
        "online"
    };
    let fail_mode = *rng.pick(&[0usize, 0, 1, 2, 3, 5, 5, 6, 7, 12]);
    Queue {
        ce: format!(
            "ce{:02}.{}.example.org:9619",
            rng.range(1, 9),
            site.to_lowercase()
        ),
        name,
        site: site.to_string(),
        cloud,
        country,
        tier_level,
        nucleus,
        kind,
        corecount,
        corepower: (rng.range(80, 140) as f64) / 10.0,
        weight,
        harvester,
        fail_factor: 1.0,
        fail_mode,
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_has_atlas_scale_and_skew() {
        for seed in [1, 2, 3, 2026, 99] {
            let n = World::build(&mut Rng::new(seed).fork(1)).queues.len();
            assert!(n >= 170, "seed {seed}: {n} queues");
        }
        let world = World::build(&mut Rng::new(1));
        let mut names: Vec<&str> = world.queues.iter().map(|q| q.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), world.queues.len(), "queue names are unique");
        assert!(world.queues.iter().any(|q| q.kind == QueueKind::Hpc));
        assert!(world.nuclei.len() >= 12);
        // The ten largest queues carry a large part of the production weight.
        let mut weights: Vec<f64> = world.queues.iter().map(|q| q.weight).collect();
        weights.sort_by(|a, b| b.total_cmp(a));
        let top: f64 = weights[..10].iter().sum();
        let all: f64 = weights.iter().sum();
        assert!(top / all > 0.25, "top-10 share {}", top / all);
        assert_eq!(world.users.len(), 450);
        let depth_three = world
            .shares
            .iter()
            .filter(|s| {
                s.parent
                    .and_then(|p| world.shares.iter().find(|x| x.name == p))
                    .is_some_and(|p| p.parent.is_some())
            })
            .count();
        assert!(depth_three > 0, "shares tree has three levels");
    }
}
