//! The share tree: `global_shares` rows nested by parent, each node's value normalised to a
//! target share of the whole (siblings split their parent's share in proportion to their
//! values, as PanDA's global shares do), with the load of the jobs tagged with its name or
//! with any name below it.

use super::{EXECUTING, Load, QUEUED};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A row of `global_shares`.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub name: String,
    pub parent: Option<String>,
    pub value: f64,
}

/// Links to the jobs a node counts.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ShareLinks {
    /// Every job of the share's names in the active tables' statuses counted here.
    pub jobs: String,
    pub executing: String,
    pub queued: String,
}

/// A node of the tree with its figures (HS06 unless named `_jobs`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ShareNode {
    pub name: String,
    /// 1 for the top level.
    pub level: usize,
    /// The value `global_shares` holds: a share of the parent.
    pub value: f64,
    /// The target share of the whole, %.
    pub target: f64,
    /// The executing HS06 of every share times the target.
    pub pledged: i64,
    #[serde(flatten)]
    pub load: Load,
    /// Executing minus pledged.
    pub delta: i64,
    /// Executing as a % of pledged (none when nothing is pledged).
    pub used: Option<f64>,
    pub links: ShareLinks,
    /// The load by resource type (SCORE, MCORE, ...).
    pub resourcetypes: BTreeMap<String, Load>,
    pub children: Vec<ShareNode>,
}

impl ShareNode {
    /// The names of this node and of every node below it: the `gshare` values of its jobs.
    pub fn leaves(&self) -> Vec<&str> {
        let mut out = vec![self.name.as_str()];
        for c in &self.children {
            out.extend(c.leaves());
        }
        out
    }
}

/// Share name → name of its top-level ancestor.
pub fn roots_of(shares: &[Share]) -> HashMap<String, String> {
    let parent: HashMap<&str, &str> = shares
        .iter()
        .filter_map(|s| s.parent.as_deref().map(|p| (s.name.as_str(), p)))
        .collect();
    shares
        .iter()
        .map(|s| {
            let mut at = s.name.as_str();
            // A parent chain longer than the tree is a cycle: stop where it started.
            for _ in 0..shares.len() {
                match parent.get(at) {
                    Some(p) if shares.iter().any(|x| x.name == *p) => at = p,
                    _ => break,
                }
            }
            (s.name.clone(), at.to_string())
        })
        .collect()
}

/// The nested tree with the loads of `by_share` (name → load and load by resource type);
/// `link` makes a jobs link from share names and statuses.
pub fn build(
    shares: &[Share],
    by_share: &BTreeMap<String, (Load, BTreeMap<String, Load>)>,
    total_executing: i64,
    link: &dyn Fn(&[&str], &[&str]) -> String,
) -> Vec<ShareNode> {
    let names: BTreeSet<&str> = shares.iter().map(|s| s.name.as_str()).collect();
    let top: Vec<&Share> = shares
        .iter()
        .filter(|s| s.parent.as_deref().is_none_or(|p| !names.contains(p)))
        .collect();
    let context = Context {
        shares,
        by_share,
        total_executing,
        link,
    };
    context.level(&top, 100.0, 1)
}

struct Context<'a> {
    shares: &'a [Share],
    by_share: &'a BTreeMap<String, (Load, BTreeMap<String, Load>)>,
    total_executing: i64,
    link: &'a dyn Fn(&[&str], &[&str]) -> String,
}

/// Deeper than any real tree: a cycle in the parents stops here.
const MAX_DEPTH: usize = 8;

impl Context<'_> {
    fn level(&self, siblings: &[&Share], parent_target: f64, level: usize) -> Vec<ShareNode> {
        if level > MAX_DEPTH {
            return Vec::new();
        }
        let sum: f64 = siblings.iter().map(|s| s.value.max(0.0)).sum();
        siblings
            .iter()
            .map(|s| {
                let target = if sum > 0.0 {
                    parent_target * s.value.max(0.0) / sum
                } else {
                    0.0
                };
                let kids: Vec<&Share> = self
                    .shares
                    .iter()
                    .filter(|c| c.parent.as_deref() == Some(s.name.as_str()))
                    .collect();
                let children = self.level(&kids, target, level + 1);
                self.node(s, level, target, children)
            })
            .collect()
    }

    fn node(&self, s: &Share, level: usize, target: f64, children: Vec<ShareNode>) -> ShareNode {
        let (mut load, mut resourcetypes) = self.by_share.get(&s.name).cloned().unwrap_or_default();
        for c in &children {
            load.add(&c.load);
            for (rt, l) in &c.resourcetypes {
                resourcetypes.entry(rt.clone()).or_default().add(l);
            }
        }
        let pledged = (self.total_executing as f64 * target / 100.0).round() as i64;
        let mut node = ShareNode {
            name: s.name.clone(),
            level,
            value: s.value,
            target: (target * 1_000.0).round() / 1_000.0,
            pledged,
            load,
            delta: load.executing - pledged,
            used: (pledged > 0)
                .then(|| (1_000.0 * load.executing as f64 / pledged as f64).round() / 10.0),
            links: ShareLinks {
                jobs: String::new(),
                executing: String::new(),
                queued: String::new(),
            },
            resourcetypes,
            children,
        };
        let leaves = node.leaves();
        let all: Vec<&str> = QUEUED.iter().chain(EXECUTING).copied().collect();
        node.links = ShareLinks {
            jobs: (self.link)(&leaves, &all),
            executing: (self.link)(&leaves, EXECUTING),
            queued: (self.link)(&leaves, QUEUED),
        };
        node
    }
}

/// Every name in the tree.
pub fn names(nodes: &[ShareNode]) -> BTreeSet<&str> {
    nodes.iter().flat_map(|n| n.leaves()).collect()
}

/// How many levels the tree has.
pub fn depth(nodes: &[ShareNode]) -> usize {
    nodes
        .iter()
        .map(|n| 1 + depth(&n.children))
        .max()
        .unwrap_or(0)
}

/// The nodes of one level; a branch that ends above it counts with its last node.
pub fn at_level(nodes: &[ShareNode], level: usize) -> Vec<&ShareNode> {
    nodes
        .iter()
        .flat_map(|n| {
            if n.level >= level || n.children.is_empty() {
                vec![n]
            } else {
                at_level(&n.children, level)
            }
        })
        .collect()
}

/// The node named `name`, anywhere in the tree.
pub fn find<'a>(nodes: &'a [ShareNode], name: &str) -> Option<&'a ShareNode> {
    nodes.iter().find_map(|n| {
        (n.name == name)
            .then_some(n)
            .or_else(|| find(&n.children, name))
    })
}

/// Depth-first, with each node's level: the rows of the tree table.
pub fn flatten(nodes: &[ShareNode]) -> Vec<&ShareNode> {
    nodes
        .iter()
        .flat_map(|n| std::iter::once(n).chain(flatten(&n.children)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(name: &str, parent: Option<&str>, value: f64) -> Share {
        Share {
            name: name.to_string(),
            parent: parent.map(str::to_string),
            value,
        }
    }

    #[test]
    fn siblings_split_their_parents_share_by_value() {
        let shares = [
            share("A", None, 75.0),
            share("B", None, 25.0),
            share("A1", Some("A"), 2.0),
            share("A2", Some("A"), 6.0),
            share("A2x", Some("A2"), 10.0),
        ];
        let mut by_share = BTreeMap::new();
        let running = |hs| Load {
            executing: hs,
            executing_jobs: 1,
            ..Load::default()
        };
        by_share.insert("A2x".to_string(), (running(300), BTreeMap::new()));
        by_share.insert("B".to_string(), (running(100), BTreeMap::new()));
        let tree = build(&shares, &by_share, 400, &|leaves, _| leaves.join("|"));
        assert_eq!(tree.len(), 2);
        let a = &tree[0];
        assert_eq!((a.target, a.pledged, a.load.executing), (75.0, 300, 300));
        assert_eq!(a.children[0].target, 18.75);
        assert_eq!(a.children[1].target, 56.25);
        assert_eq!(a.children[1].children[0].target, 56.25);
        assert_eq!(a.used, Some(100.0));
        assert_eq!(a.links.jobs, "A|A1|A2|A2x");
        assert_eq!(depth(&tree), 3);
        let names: Vec<&str> = at_level(&tree, 2).iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["A1", "A2", "B"]);
        assert_eq!(roots_of(&shares)["A2x"], "A");
        assert_eq!(find(&tree, "A2x").map(|n| n.level), Some(3));
        assert_eq!(flatten(&tree).len(), 5);
    }

    #[test]
    fn a_cycle_in_the_parents_does_not_loop() {
        let shares = [share("X", Some("Y"), 1.0), share("Y", Some("X"), 1.0)];
        let tree = build(&shares, &BTreeMap::new(), 0, &|_, _| String::new());
        assert!(tree.is_empty());
        assert_eq!(roots_of(&shares).len(), 2);
    }
}
