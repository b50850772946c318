//! The state of the query on screen. Only what arrives is stored; the answer shown is
//! derived from it (`QueryRun::result`).

use shared_sketch::{Partial, Plan, Progress, QueryResult};

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

    pub fn result(&self) -> Option<QueryResult> {
        let plan = self.plan.as_ref()?;
        Some(self.total.as_ref()?.result(&plan.query))
    }

    pub fn fail(&mut self, message: impl Into<String>) {
        self.phase = Phase::Failed;
        self.error = Some(message.into());
    }
}
