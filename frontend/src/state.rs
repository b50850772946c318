//! The state of the queries on screen. Only what arrives is stored, folded by
//! `shared-sketch`'s `Fold`; the answers shown are derived from it (`Answers`).

use leptos::prelude::*;
use shared_sketch::{Fold, Phase, QueryResult};

use crate::dashboard::{Dashboard, EVENTS, MAX_QUERIES};
use crate::view::View;

/// One query slot: its frames so far. A slot whose query was sent and has no plan yet is
/// `Phase::Waiting`, which the page shows as running.
pub type QueryRun = Fold;

/// Each query slot's merged answer, derived once per change and shared by every widget.
/// Without its events: the events list reads them from the fold's total
/// (components/hits.rs), so 100,000 of them are not copied for every frame.
#[derive(Clone, Copy)]
pub struct Answers(pub [Memo<Option<QueryResult>>; MAX_QUERIES]);

impl Answers {
    fn of(screen: &Screen) -> Answers {
        Answers(std::array::from_fn(|i| {
            let run = screen.runs[i];
            Memo::new(move |_| run.with(Fold::result_without_hits))
        }))
    }
}

/// Everything the page shows, shared by its components through context.
#[derive(Clone, Copy)]
pub struct Screen {
    /// The view being typed and picked (the query bar and the range picker edit it).
    pub draft: RwSignal<View>,
    /// The view the results on screen answer.
    pub shown: RwSignal<View>,
    /// The dashboard for the lake's data.
    pub dashboard: RwSignal<&'static Dashboard>,
    /// How the shown view runs: its own command (one query) or the dashboard.
    pub command: RwSignal<bool>,
    /// One slot per query; a dashboard uses several, a command the first.
    pub runs: [RwSignal<QueryRun>; MAX_QUERIES],
    /// Slots in use for the shown view.
    pub used: RwSignal<usize>,
    /// A query that could not be started (it does not parse): shown in place.
    pub problem: RwSignal<Option<String>>,
    /// An embedded widget (`/embed/…`): it shows its saved query and runs nothing else.
    pub embedded: bool,
}

impl Screen {
    /// A screen, provided (with its answers) to every component below.
    pub fn provide(embedded: bool) -> Screen {
        let screen = Screen {
            draft: RwSignal::new(View::default()),
            shown: RwSignal::new(View::default()),
            dashboard: RwSignal::new(&EVENTS),
            command: RwSignal::new(false),
            runs: std::array::from_fn(|_| RwSignal::new(QueryRun::default())),
            used: RwSignal::new(0),
            problem: RwSignal::new(None),
            embedded,
        };
        provide_context(screen);
        provide_context(Answers::of(&screen));
        screen
    }

    /// The slots the shown view uses.
    pub fn active(&self) -> Vec<RwSignal<QueryRun>> {
        self.runs[..self.used.get().min(MAX_QUERIES)].to_vec()
    }

    /// Where the shown view stands as a whole: running while any query runs (or waits
    /// for its plan), failed if any failed, done when all are; `Waiting` with nothing
    /// shown.
    pub fn phase(&self) -> Phase {
        let phases: Vec<Phase> = self.active().iter().map(|r| r.with(|r| r.phase)).collect();
        if phases.is_empty() {
            Phase::Waiting
        } else if phases.iter().any(|p| running(*p)) {
            Phase::Running
        } else if phases.contains(&Phase::Failed) {
            Phase::Failed
        } else {
            Phase::Done
        }
    }
}

/// A query sent and not yet ended: waiting for its plan, or streaming.
pub fn running(phase: Phase) -> bool {
    matches!(phase, Phase::Waiting | Phase::Running)
}

/// The failure of a query, as the page words it.
pub fn failure(run: &QueryRun) -> Option<String> {
    run.error.as_ref().map(ToString::to_string)
}

pub fn screen() -> Screen {
    expect_context::<Screen>()
}

pub fn answers() -> Answers {
    expect_context::<Answers>()
}
