//! Installs the pinned front-end libraries (`web/package-lock.json`) with `npm ci` when they are
//! missing, and copies the files the binary embeds into OUT_DIR. No third-party file is committed.

use std::path::PathBuf;
use std::process::Command;

const ASSETS: &[(&str, &str)] = &[
    ("node_modules/echarts/dist/echarts.min.js", "echarts.min.js"),
    (
        "node_modules/cytoscape/dist/cytoscape.min.js",
        "cytoscape.min.js",
    ),
    (
        "node_modules/cytoscape-dagre/dist/cytoscape-dagre.min.js",
        "cytoscape-dagre.min.js",
    ),
    (
        "node_modules/datatables.net/js/dataTables.min.js",
        "dataTables.min.js",
    ),
    (
        "node_modules/datatables.net-dt/css/dataTables.dataTables.min.css",
        "dataTables.dataTables.min.css",
    ),
];

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let web = manifest.join("../../web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!(
        "cargo:rerun-if-changed={}",
        web.join("package-lock.json").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        web.join("package.json").display()
    );
    if ASSETS.iter().any(|(path, _)| !web.join(path).exists()) {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&web)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!(
                "`npm ci` in {} failed ({s}): the front-end libraries could not be installed",
                web.display()
            ),
            Err(e) => panic!(
                "npm is needed to install the front-end libraries ({e}): install Node.js and npm (Debian: apt-get install npm)"
            ),
        }
    }
    for (path, name) in ASSETS {
        let from = web.join(path);
        std::fs::copy(&from, out.join(name))
            .unwrap_or_else(|e| panic!("cannot copy {}: {e}", from.display()));
    }
}
