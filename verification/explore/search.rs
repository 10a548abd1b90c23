//! The schedule search: every interleaving of the workers' steps within a preemption bound, by stateless
//! depth-first search (each execution replays a recorded prefix of choices from a fresh model, then extends it),
//! with loom's rule for what counts as a preemption.

use segpool::reclaim::Reclaim;

use crate::model::{Model, Step, Worker};

/// The scenario's parameters (besides the strategy and the segment count).
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Push/pop pairs of each worker thread.
    pub pairs: Vec<u32>,
    pub limbo_len: usize,
    /// Switches away from a thread that could have gone on (a switch after a yield, a finished thread, or at the
    /// start is free, as under loom).
    pub preemptions: usize,
    /// Preempt a thread only between two of its operations (loom preempts anywhere).
    pub between_operations: bool,
}

/// The choices of one execution: at each point with more than one option, (option taken, options there).
#[derive(Default)]
struct Dfs {
    stack: Vec<(usize, usize)>,
    depth: usize,
}

impl Dfs {
    fn choose(&mut self, options: usize) -> usize {
        if options == 1 {
            return 0;
        }
        if self.depth == self.stack.len() {
            self.stack.push((0, options));
        }
        let (taken, recorded) = self.stack[self.depth];
        assert_eq!(recorded, options, "the model is not deterministic");
        self.depth += 1;
        taken
    }

    /// Moves to the next unexplored execution; `false` once every one was run.
    fn advance(&mut self) -> bool {
        self.depth = 0;
        while let Some(last) = self.stack.last_mut() {
            if last.0 + 1 < last.1 {
                last.0 += 1;
                return true;
            }
            self.stack.pop();
        }
        false
    }
}

/// How a search at one segment count ended.
pub struct Searched {
    /// The choices of an execution with a refused push (`None`: no execution within the bound refuses one); replay
    /// them with [`witness_log`].
    pub witness: Option<Vec<(usize, usize)>>,
    pub executions: u64,
}

/// Runs every execution within the bound (or until one refuses a push).
pub fn search<R: Reclaim>(scenario: &Scenario, segment_count: usize) -> Searched {
    let mut dfs = Dfs::default();
    let mut executions = 0;
    loop {
        executions += 1;
        if execute::<R>(scenario, segment_count, &mut dfs, false).is_some() {
            return Searched { witness: Some(dfs.stack), executions };
        }
        if !dfs.advance() {
            return Searched { witness: None, executions };
        }
    }
}

/// The operations of the execution that `choices` (a [`Searched::witness`]) describe, preemptions marked.
pub fn witness_log<R: Reclaim>(scenario: &Scenario, segment_count: usize, choices: &[(usize, usize)]) -> Vec<String> {
    let mut dfs = Dfs { stack: choices.to_vec(), depth: 0 };
    execute::<R>(scenario, segment_count, &mut dfs, true).expect("a witness replays to its refused push")
}

/// One execution along the choices of `dfs`. Returns its log (empty unless `log`) if a push was refused; checks the
/// values and the stale views otherwise.
fn execute<R: Reclaim>(scenario: &Scenario, segment_count: usize, dfs: &mut Dfs, log: bool) -> Option<Vec<String>> {
    let mut model = Model::<R>::new(segment_count, scenario.limbo_len);
    model.log = log.then(Vec::new);
    let mut workers: Vec<Worker<R>> = (0..).zip(&scenario.pairs).map(|(id, &pairs)| Worker::new(id, pairs)).collect();
    let mut schedule: Vec<(usize, usize)> = Vec::new();
    let (mut current, mut yielded, mut preemptions) = (None::<usize>, false, 0);
    let mut options = Vec::with_capacity(workers.len());
    loop {
        options.clear();
        let running = current.filter(|&t| !yielded && !workers[t].finished());
        match running {
            // The running thread goes on, or (a preemption) another one runs.
            Some(t) => {
                options.push(t);
                if preemptions < scenario.preemptions
                    && (!scenario.between_operations || workers[t].between_operations())
                {
                    options.extend((0..workers.len()).filter(|&u| u != t && !workers[u].finished()));
                }
            }
            // Any thread, for free; a thread that yielded runs again only if no other one can.
            None => {
                options.extend((0..workers.len()).filter(|&u| Some(u) != current && !workers[u].finished()));
                if options.is_empty() {
                    options.extend(current.filter(|&t| !workers[t].finished()));
                }
            }
        }
        if options.is_empty() {
            break;
        }
        let next = options[dfs.choose(options.len())];
        if let Some(t) = running.filter(|&t| t != next) {
            preemptions += 1;
            if let Some(log) = model.log.as_mut() {
                log.push(format!("-- preemption: thread {t} stops, thread {next} runs"));
            }
        }
        match schedule.last_mut() {
            Some((t, steps)) if *t == next => *steps += 1,
            _ => schedule.push((next, 1)),
        }
        current = Some(next);
        yielded = workers[next].step(&mut model) == Step::Yield;
        if model.refused {
            return Some(model.log.take().unwrap_or_default());
        }
    }
    let mut values: Vec<u32> = workers.iter().flat_map(|w| w.out.iter().copied()).chain(model.remaining()).collect();
    values.sort_unstable();
    let expected: Vec<u32> = (0..)
        .zip(&scenario.pairs)
        .flat_map(|(id, &pairs)| (0..pairs).map(move |i| Worker::<R>::value(id, i)))
        .collect();
    assert_eq!(
        values,
        expected,
        "{}: every value must be popped or still queued, once; schedule {schedule:?}",
        R::NAME
    );
    assert_eq!(model.stale_views, 0, "{}: a protected segment was seen in a later generation: {schedule:?}", R::NAME);
    None
}

/// The smallest segment count that no execution within the bound exhausts, with the witness one below it and the
/// executions run in all.
pub struct Minimum {
    pub segment_count: usize,
    /// An exhausting execution at `segment_count - 1` (see [`witness_log`]).
    pub witness: Vec<(usize, usize)>,
    pub executions: u64,
}

/// Give up past this many segments.
pub const MAX_SEGMENT_COUNT: usize = 64;

pub fn minimum<R: Reclaim>(scenario: &Scenario) -> Minimum {
    let mut executions = 0;
    let mut below = None;
    for segment_count in 1..=MAX_SEGMENT_COUNT {
        let searched = search::<R>(scenario, segment_count);
        executions += searched.executions;
        match searched.witness {
            Some(witness) => below = Some(witness),
            None => {
                let witness = below.unwrap_or_else(|| panic!("{}: one segment never exhausts", R::NAME));
                return Minimum { segment_count, witness, executions };
            }
        }
    }
    panic!("{}, {scenario:?}: some execution exhausts even {MAX_SEGMENT_COUNT} segments", R::NAME);
}
