//! The queue's slot protocol at SegmentSize 1, written out step by step around the *real* strategy and the *real*
//! segment arena, for the explicit schedule search of `exhaustion.rs`.
//!
//! Each [`Worker::step`] performs one access to shared state of `SegQueue::push_protected` /
//! `SegQueue::pop_protected` / `finish_reads` (`src/queue/mod.rs`), in the same order and with the same generation
//! checks, or one call into the strategy (`register`, `enter`, `protect`, `leave`, `born`, `retire`,
//! `collect`, `unregister`) or the arena (`try_take`, `push_free`). Head and tail are facade `AtomicU64`s holding real
//! [`SegRef`] bits, because the strategies' `protect` loads them; the per-segment words (state, claim, stamp,
//! consumed, next) are plain fields here, one per word of `src/segment.rs`. A step that the queue follows with
//! `spin_hint` (a failed CAS, a stale view, a claim word that moved) returns [`Step::Yield`], as `spin_hint` yields
//! under loom.
//!
//! What this leaves out, on purpose: the search runs everything on one OS thread, so every step is atomic and
//! sequentially consistent. Loom can also preempt *inside* a strategy call and lets loads read older values;
//! `exhaustion.rs` checks that this changes no cell that both searches reach.

use segpool::reclaim::Reclaim;
use segpool::segment_arena::SegmentArena;
use segpool::sync::{AtomicU64, Ordering};
use segpool::{Config, OnExhausted, SegRef};

const OPEN: u8 = 0;
const CLOSED: u8 = 1;

/// The words of one segment (SegmentSize 1), as in `src/segment.rs`.
#[derive(Clone, Copy, Debug, Default)]
struct Words {
    /// The state word: (state, reserved, generation).
    word: (u8, u8, u32),
    /// The claim word: (claimed, generation).
    claim: (u8, u32),
    /// The slot's stamp: the generation that published it (never reset, as in the real segment).
    stamp: u32,
    consumed: u8,
    next: u64,
    value: Option<u32>,
}

/// The shared state of one execution: the strategy, the arena and the queue's words.
pub struct Model<R: Reclaim> {
    pub strategy: R,
    pub arena: SegmentArena<(), R::SegmentMeta>,
    head: AtomicU64,
    tail: AtomicU64,
    segments: Vec<Words>,
    pub stale_views: u32,
    /// Set by the first refused push: the execution ends there (the count can be exhausted).
    pub refused: bool,
    /// The operations of the execution, in order, when asked for (to print a witness).
    pub log: Option<Vec<String>>,
}

impl<R: Reclaim> Model<R> {
    pub fn new(segment_count: usize, limbo_len: usize) -> Self {
        let config = Config { segment_size: 1, segment_count, on_exhausted: OnExhausted::Fail, limbo_len };
        let arena = SegmentArena::new(1, segment_count);
        let mut model = Model {
            strategy: R::new(&config),
            arena,
            head: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            segments: vec![Words::default(); segment_count],
            stale_views: 0,
            refused: false,
            log: None,
        };
        let first = model.take().expect("segment_count >= 1");
        model.head.store(first.bits(), Ordering::Relaxed);
        model.tail.store(first.bits(), Ordering::Relaxed);
        model
    }

    /// `try_take` and `reset_for_use`: the next generation of a free segment, with every word reset.
    fn take(&mut self) -> Option<SegRef> {
        take(&self.arena, &mut self.segments)
    }

    /// The values still in the queue, from head to tail (for the exactly-once check at the end).
    pub fn remaining(&self) -> Vec<u32> {
        let mut values = Vec::new();
        let mut at = SegRef::from_bits(self.head.load(Ordering::Relaxed));
        while !at.is_none() {
            let words = &self.segments[at.index() as usize];
            if words.claim.0 == 0 {
                values.extend(words.value);
            }
            at = SegRef::from_bits(words.next);
        }
        values
    }
}

/// `try_take` and `reset_for_use`: the next generation of a free segment, with every word reset but the stamp.
fn take<M>(arena: &SegmentArena<(), M>, segments: &mut [Words]) -> Option<SegRef> {
    let id = arena.try_take()?;
    let words = &mut segments[id as usize];
    let generation = words.word.2 + 1;
    *words = Words {
        word: (OPEN, 0, generation),
        claim: (0, generation),
        stamp: words.stamp,
        consumed: 0,
        next: SegRef::none(generation).bits(),
        value: None,
    };
    Some(SegRef::new(id, generation))
}

/// Where a worker is: the statement of `push_protected` / `pop_protected` it executes next.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pc {
    Register,
    PushEnter,
    PushProtect,
    PushWord,
    PushReserve((u8, u8, u32)),
    PushPublish,
    PushNext,
    PushHelpTail(SegRef),
    PushTake,
    PushCollect,
    PushTakeAgain,
    PushBorn(SegRef),
    PushLink(SegRef),
    PushSwingTail(SegRef),
    PushLeave,
    PushReturnSpare,
    PopEnter,
    PopProtect,
    PopClaim,
    PopStamp((u8, u32)),
    PopRecheck((u8, u32)),
    PopClaimCas((u8, u32)),
    PopFinish,
    PopRetire,
    PopNext,
    /// After a run that emptied its segment: look for a successor to unlink in the same operation.
    PopEmptiedNext,
    /// The unlink's statements; `true` when the unlink follows the run in the same operation (the pop then
    /// ends), `false` when the pop found the segment already claimed (it then looks at the new head).
    PopSwingTail(SegRef, bool),
    PopHead(SegRef, bool),
    PopUnlinkFinish(bool),
    PopUnlinkRetire(bool),
    PopLeave,
    Unregister,
    Done,
}

/// What a step asks of the scheduler.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    Run,
    /// The queue calls `spin_hint` here, which yields under loom: a switch away is not a preemption.
    Yield,
}

/// One worker thread: `pairs` times "push my next value, then pop one".
pub struct Worker<R: Reclaim> {
    id: u32,
    pairs: u32,
    done: u32,
    handle: Option<R::Handle>,
    pc: Pc,
    /// The segment the current statement works on (the protected head or tail).
    at: SegRef,
    spare: Option<SegRef>,
    /// The value the current pop took, if any.
    popped: Option<u32>,
    /// Popped values and the value of a refused push.
    pub out: Vec<u32>,
}

impl<R: Reclaim> Worker<R> {
    pub fn new(id: u32, pairs: u32) -> Self {
        Worker {
            id,
            pairs,
            done: 0,
            handle: None,
            pc: Pc::Register,
            at: SegRef::none(0),
            spare: None,
            popped: None,
            out: Vec::new(),
        }
    }

    pub fn finished(&self) -> bool {
        self.pc == Pc::Done
    }

    /// Between two operations: holding no protection, reservation or spare segment, only what the strategy keeps
    /// in the handle.
    pub fn between_operations(&self) -> bool {
        matches!(self.pc, Pc::PushEnter | Pc::PopEnter)
    }

    pub fn value(id: u32, pair: u32) -> u32 {
        id * 100 + pair
    }

    /// Executes the next statement.
    pub fn step(&mut self, m: &mut Model<R>) -> Step {
        let Model { strategy, arena, head, tail, segments, stale_views, refused, log } = m;
        let (strategy, arena): (&R, &SegmentArena<(), R::SegmentMeta>) = (strategy, arena);
        if self.pc == Pc::Register {
            self.handle = Some(strategy.register());
            self.pc = Pc::PushEnter;
            return Step::Run;
        }
        let value = Self::value(self.id, self.done);
        let Worker { id, handle, pc, at, spare, popped, out, done, pairs } = self;
        let mut note = |line: String| {
            if let Some(log) = log.as_mut() {
                log.push(format!("thread {id}: {line}"));
            }
        };
        let h = handle.as_mut().expect("registered");
        let here = at.index() as usize;
        let generation = at.generation();
        let mut stale = |retry: Pc| {
            *stale_views += 1;
            (retry, Step::Yield)
        };
        let (next, step) = match *pc {
            Pc::Register | Pc::Done => unreachable!("no step from {pc:?}"),
            Pc::PushEnter => {
                note(format!("push {value} starts"));
                strategy.enter(h);
                (Pc::PushProtect, Step::Run)
            }
            Pc::PushProtect => {
                *at = SegRef::from_bits(strategy.protect(h, 0, tail, arena));
                (Pc::PushWord, Step::Run)
            }
            Pc::PushWord => {
                let word = segments[here].word;
                if word.2 != generation {
                    stale(Pc::PushProtect)
                } else if word.1 == 0 && word.0 == OPEN {
                    (Pc::PushReserve(word), Step::Run)
                } else {
                    (Pc::PushNext, Step::Run)
                }
            }
            Pc::PushReserve(seen) => {
                if segments[here].word != seen {
                    (Pc::PushProtect, Step::Yield) // the CAS failed
                } else {
                    segments[here].word = (CLOSED, 1, generation);
                    (Pc::PushPublish, Step::Run)
                }
            }
            Pc::PushPublish => {
                segments[here].value = Some(value);
                segments[here].stamp = generation;
                (Pc::PushLeave, Step::Run)
            }
            Pc::PushNext => {
                let link = SegRef::from_bits(segments[here].next);
                if !link.is_none() {
                    (Pc::PushHelpTail(link), Step::Run)
                } else if link != SegRef::none(generation) {
                    stale(Pc::PushProtect) // the `next` word belongs to a later generation
                } else {
                    match spare.take() {
                        Some(fresh) => (Pc::PushBorn(fresh), Step::Run),
                        None => (Pc::PushTake, Step::Run),
                    }
                }
            }
            Pc::PushHelpTail(link) => {
                cas(tail, *at, link);
                (Pc::PushProtect, Step::Run)
            }
            Pc::PushTake | Pc::PushTakeAgain => match take(arena, segments) {
                Some(fresh) => (Pc::PushBorn(fresh), Step::Run),
                None if *pc == Pc::PushTakeAgain => {
                    note(format!("push {value} REFUSED: the free list is empty after collect"));
                    *refused = true;
                    out.push(value);
                    (Pc::PushLeave, Step::Run)
                }
                None => (Pc::PushCollect, Step::Run),
            },
            Pc::PushCollect => {
                strategy.collect(h, arena);
                (Pc::PushTakeAgain, Step::Run)
            }
            Pc::PushBorn(fresh) => {
                // Before every attempt to link, as the queue does (the era strategies read their clock here; a
                // step of its own, since loom may switch threads between this read and the link).
                strategy.born(h, fresh.index(), arena);
                (Pc::PushLink(fresh), Step::Run)
            }
            Pc::PushLink(fresh) => {
                // The value goes into the fresh segment's only slot before the link (`Segment::prefill`): the
                // segment is private until the link, so the writes and the link are one step here.
                let mine = fresh.index() as usize;
                if segments[here].next == SegRef::none(generation).bits() {
                    segments[mine].word = (CLOSED, 1, fresh.generation());
                    segments[mine].value = Some(value);
                    segments[mine].stamp = fresh.generation();
                    segments[here].next = fresh.bits();
                    (Pc::PushSwingTail(fresh), Step::Run)
                } else {
                    *spare = Some(fresh); // someone else linked first; keep ours (its value taken back) for later
                    (Pc::PushProtect, Step::Run)
                }
            }
            Pc::PushSwingTail(fresh) => {
                cas(tail, *at, fresh);
                (Pc::PushLeave, Step::Run) // the value went in with the segment
            }
            Pc::PushLeave => {
                note(format!("push {value} done"));
                strategy.leave(h, arena);
                (if spare.is_some() { Pc::PushReturnSpare } else { Pc::PopEnter }, Step::Run)
            }
            Pc::PushReturnSpare => {
                arena.push_free(spare.take().expect("a spare").index());
                (Pc::PopEnter, Step::Run)
            }
            Pc::PopEnter => {
                note("pop starts".to_string());
                strategy.enter(h);
                (Pc::PopProtect, Step::Run)
            }
            Pc::PopProtect => {
                *at = SegRef::from_bits(strategy.protect(h, 0, head, arena));
                (Pc::PopClaim, Step::Run)
            }
            Pc::PopClaim => {
                let claim = segments[here].claim;
                if claim.1 != generation {
                    stale(Pc::PopProtect)
                } else if claim.0 == 0 {
                    (Pc::PopStamp(claim), Step::Run)
                } else {
                    (Pc::PopNext, Step::Run)
                }
            }
            Pc::PopStamp(claim) => {
                if segments[here].stamp == generation {
                    (Pc::PopClaimCas(claim), Step::Run)
                } else {
                    (Pc::PopRecheck(claim), Step::Run)
                }
            }
            Pc::PopRecheck(claim) => {
                if segments[here].claim != claim {
                    (Pc::PopProtect, Step::Yield) // claimed by another consumer, or recycled: look again
                } else {
                    (Pc::PopLeave, Step::Run) // empty, or the next value's producer is still writing it
                }
            }
            Pc::PopClaimCas(claim) => {
                if segments[here].claim != claim {
                    (Pc::PopProtect, Step::Yield) // the CAS failed
                } else {
                    segments[here].claim = (1, generation);
                    let value = segments[here].value.take().expect("a published slot holds a value");
                    *popped = Some(value);
                    out.push(value);
                    (Pc::PopFinish, Step::Run)
                }
            }
            Pc::PopFinish => {
                segments[here].consumed += 1;
                (if segments[here].consumed == 2 { Pc::PopRetire } else { Pc::PopEmptiedNext }, Step::Run)
            }
            Pc::PopRetire => {
                strategy.retire(h, at.index(), arena);
                (Pc::PopEmptiedNext, Step::Run)
            }
            Pc::PopEmptiedNext => {
                // The run emptied the segment (SegmentSize 1): unlink it now if it has a successor.
                let link = SegRef::from_bits(segments[here].next);
                (if link.is_none() { Pc::PopLeave } else { Pc::PopSwingTail(link, true) }, Step::Run)
            }
            Pc::PopUnlinkFinish(emptied) => {
                segments[here].consumed += 1;
                let next = match (segments[here].consumed == 2, emptied) {
                    (true, _) => Pc::PopUnlinkRetire(emptied),
                    (false, true) => Pc::PopLeave,
                    (false, false) => Pc::PopProtect,
                };
                (next, Step::Run)
            }
            Pc::PopUnlinkRetire(emptied) => {
                strategy.retire(h, at.index(), arena);
                (if emptied { Pc::PopLeave } else { Pc::PopProtect }, Step::Run)
            }
            Pc::PopNext => {
                let link = SegRef::from_bits(segments[here].next);
                if !link.is_none() {
                    (Pc::PopSwingTail(link, false), Step::Run)
                } else if link != SegRef::none(generation) {
                    stale(Pc::PopProtect)
                } else {
                    (Pc::PopLeave, Step::Run) // the queue is empty at this instant
                }
            }
            Pc::PopSwingTail(link, emptied) => {
                // The tail first, so that it never points at a segment behind the head.
                cas(tail, *at, link);
                (Pc::PopHead(link, emptied), Step::Run)
            }
            Pc::PopHead(link, emptied) => match (cas(head, *at, link), emptied) {
                (true, _) => (Pc::PopUnlinkFinish(emptied), Step::Run),
                (false, true) => (Pc::PopLeave, Step::Run),
                (false, false) => (Pc::PopProtect, Step::Run),
            },
            Pc::PopLeave => {
                note(format!("pop -> {:?}", popped.take()));
                strategy.leave(h, arena);
                *done += 1;
                (if *done < *pairs { Pc::PushEnter } else { Pc::Unregister }, Step::Run)
            }
            Pc::Unregister => {
                strategy.unregister(h, arena);
                (Pc::Done, Step::Run)
            }
        };
        *pc = next;
        step
    }
}

fn cas(word: &AtomicU64, current: SegRef, new: SegRef) -> bool {
    word.compare_exchange(current.bits(), new.bits(), Ordering::AcqRel, Ordering::Relaxed).is_ok()
}
