//! A dependency graph over dense node indexes, with cycle reporting and a concurrent
//! walk.
//!
//! Edges point from a node to the nodes it depends on. [`Graph::find_cycle`] returns
//! the full path of a cycle so the user can see which references form it. [`walk`]
//! visits every node once all its dependencies have succeeded, running visits
//! concurrently; when a visit fails its dependents are skipped and everything else
//! still runs, and once cancellation is requested no new visit starts.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::{FuturesUnordered, StreamExt};

#[derive(Clone, Debug, Default)]
pub struct Graph {
    deps: Vec<Vec<usize>>,
}

impl Graph {
    pub fn with_nodes(n: usize) -> Graph {
        Graph {
            deps: vec![Vec::new(); n],
        }
    }

    pub fn add_node(&mut self) -> usize {
        self.deps.push(Vec::new());
        self.deps.len() - 1
    }

    pub fn len(&self) -> usize {
        self.deps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// Records that `node` depends on `dep` (so `dep` runs first).
    pub fn add_edge(&mut self, node: usize, dep: usize) {
        if node != dep && !self.deps[node].contains(&dep) {
            self.deps[node].push(dep);
        }
    }

    pub fn deps(&self, node: usize) -> &[usize] {
        &self.deps[node]
    }

    /// Returns one cycle as a list of nodes (first node repeated at the end), if any.
    pub fn find_cycle(&self) -> Option<Vec<usize>> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnStack,
            Done,
        }
        let mut mark = vec![Mark::New; self.deps.len()];
        for start in 0..self.deps.len() {
            if mark[start] != Mark::New {
                continue;
            }
            // Iterative DFS: (node, next dependency index).
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            mark[start] = Mark::OnStack;
            while let Some(&mut (node, ref mut i)) = stack.last_mut() {
                if let Some(&dep) = self.deps[node].get(*i) {
                    *i += 1;
                    match mark[dep] {
                        Mark::New => {
                            mark[dep] = Mark::OnStack;
                            stack.push((dep, 0));
                        }
                        Mark::OnStack => {
                            let pos = stack.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                            let mut cycle: Vec<usize> =
                                stack[pos..].iter().map(|(n, _)| *n).collect();
                            cycle.push(dep);
                            // Edges point at dependencies; show the path in "depends on" order.
                            return Some(cycle);
                        }
                        Mark::Done => {}
                    }
                } else {
                    mark[node] = Mark::Done;
                    stack.pop();
                }
            }
        }
        None
    }

    /// A topological order (dependencies first). Call only on an acyclic graph.
    pub fn topo_order(&self) -> Vec<usize> {
        let n = self.deps.len();
        let mut indegree = vec![0usize; n];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (node, deps) in self.deps.iter().enumerate() {
            indegree[node] = deps.len();
            for &d in deps {
                dependents[d].push(node);
            }
        }
        let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).rev().collect();
        let mut out = Vec::with_capacity(n);
        while let Some(node) = ready.pop() {
            out.push(node);
            for &d in dependents[node].iter().rev() {
                indegree[d] -= 1;
                if indegree[d] == 0 {
                    ready.push(d);
                }
            }
        }
        out
    }

    /// Every node reachable from `roots` through dependency edges, including the roots.
    pub fn dependency_closure(&self, roots: &[usize]) -> Vec<bool> {
        let mut seen = vec![false; self.deps.len()];
        let mut stack = roots.to_vec();
        while let Some(n) = stack.pop() {
            if std::mem::replace(&mut seen[n], true) {
                continue;
            }
            stack.extend(self.deps[n].iter().copied());
        }
        seen
    }
}

/// The outcome of one node in a walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeOutcome {
    Done,
    Failed,
    /// Not run because a dependency failed or the walk was cancelled.
    Skipped,
}

/// Visits every node after its dependencies, running up to all ready visits at once.
/// Returns the outcome of every node.
pub async fn walk<'a, F, Fut>(graph: &Graph, cancel: &AtomicBool, mut visit: F) -> Vec<NodeOutcome>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = bool> + 'a,
{
    let n = graph.len();
    let mut pending = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (node, deps) in graph.deps.iter().enumerate() {
        pending[node] = deps.len();
        for &d in deps {
            dependents[d].push(node);
        }
    }
    let mut outcome: Vec<Option<NodeOutcome>> = vec![None; n];
    let mut running = FuturesUnordered::new();
    let mut ready: Vec<usize> = (0..n).filter(|&i| pending[i] == 0).rev().collect();
    loop {
        while let Some(node) = ready.pop() {
            if cancel.load(Ordering::SeqCst) {
                outcome[node] = Some(NodeOutcome::Skipped);
                skip_dependents(node, &dependents, &mut outcome);
                continue;
            }
            let fut = visit(node);
            running.push(async move { (node, fut.await) });
        }
        let Some((node, ok)) = running.next().await else {
            break;
        };
        if ok {
            outcome[node] = Some(NodeOutcome::Done);
            for &d in dependents[node].iter().rev() {
                pending[d] -= 1;
                if pending[d] == 0 && outcome[d].is_none() {
                    ready.push(d);
                }
            }
        } else {
            outcome[node] = Some(NodeOutcome::Failed);
            skip_dependents(node, &dependents, &mut outcome);
        }
    }
    outcome
        .into_iter()
        .map(|o| o.unwrap_or(NodeOutcome::Skipped))
        .collect()
}

fn skip_dependents(node: usize, dependents: &[Vec<usize>], outcome: &mut [Option<NodeOutcome>]) {
    let mut stack: Vec<usize> = dependents[node].clone();
    while let Some(d) = stack.pop() {
        if outcome[d].is_none() {
            outcome[d] = Some(NodeOutcome::Skipped);
            stack.extend(dependents[d].iter().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn finds_cycle_path() {
        let mut g = Graph::with_nodes(4);
        g.add_edge(0, 1);
        g.add_edge(1, 2);
        g.add_edge(2, 0);
        g.add_edge(3, 0);
        let c = g.find_cycle().unwrap();
        assert_eq!(c.first(), c.last());
        assert_eq!(c.len(), 4);
        let mut g = Graph::with_nodes(3);
        g.add_edge(0, 1);
        g.add_edge(1, 2);
        assert!(g.find_cycle().is_none());
        assert_eq!(g.topo_order(), vec![2, 1, 0]);
    }

    #[tokio::test]
    async fn failed_node_skips_only_its_dependents() {
        let mut g = Graph::with_nodes(4);
        g.add_edge(1, 0); // 1 depends on 0
        g.add_edge(2, 1);
        let order = RefCell::new(Vec::new());
        let cancel = AtomicBool::new(false);
        let out = walk(&g, &cancel, |n| {
            order.borrow_mut().push(n);
            async move { n != 1 }
        })
        .await;
        assert_eq!(
            out,
            vec![
                NodeOutcome::Done,
                NodeOutcome::Failed,
                NodeOutcome::Skipped,
                NodeOutcome::Done
            ]
        );
        assert!(!order.borrow().contains(&2));
    }
}
