//! The state of the queries on screen. Only what arrives is stored; the answers shown are
//! derived from it (`QueryRun::result`).

use leptos::prelude::*;
use shared_sketch::{Partial, Plan, Progress, QueryResult};

use crate::dashboard::{Dashboard, EVENTS, MAX_QUERIES};
use crate::view::View;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    #[default]
    Idle,
    Running,
    Done,
    Failed,
}

#[derive(Debug, Clone, Default)]
pub struct QueryRun {
    pub phase: Phase,
    pub plan: Option<Plan>,
    /// Everything merged so far.
    pub total: Option<Partial>,
    pub progress: Progress,
    pub error: Option<String>,
    /// Partial frames merged (shows the stream is live).
    pub partials: u64,
}

impl QueryRun {
    pub fn running() -> Self {
        QueryRun {
            phase: Phase::Running,
            ..QueryRun::default()
        }
    }

    /// The answer so far, without its events: the events list reads them from `total`
    /// (components/hits.rs), so 100,000 of them are not copied for every frame.
    pub fn result(&self) -> Option<QueryResult> {
        let plan = self.plan.as_ref()?;
        Some(self.total.as_ref()?.result_without_hits(&plan.query))
    }

    pub fn fail(&mut self, message: impl Into<String>) {
        self.phase = Phase::Failed;
        self.error = Some(message.into());
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
    pub fn new() -> Screen {
        Screen {
            draft: RwSignal::new(View::default()),
            shown: RwSignal::new(View::default()),
            dashboard: RwSignal::new(&EVENTS),
            command: RwSignal::new(false),
            runs: std::array::from_fn(|_| RwSignal::new(QueryRun::default())),
            used: RwSignal::new(0),
            problem: RwSignal::new(None),
            embedded: false,
        }
    }

    /// The slots the shown view uses.
    pub fn active(&self) -> Vec<RwSignal<QueryRun>> {
        self.runs[..self.used.get().min(MAX_QUERIES)].to_vec()
    }

    /// Where the shown view stands as a whole: running while any query runs, failed if
    /// any failed, done when all are.
    pub fn phase(&self) -> Phase {
        let phases: Vec<Phase> = self.active().iter().map(|r| r.with(|r| r.phase)).collect();
        if phases.is_empty() {
            Phase::Idle
        } else if phases.contains(&Phase::Running) {
            Phase::Running
        } else if phases.contains(&Phase::Failed) {
            Phase::Failed
        } else if phases.iter().all(|p| *p == Phase::Done) {
            Phase::Done
        } else {
            Phase::Idle
        }
    }
}

pub fn screen() -> Screen {
    expect_context::<Screen>()
}
