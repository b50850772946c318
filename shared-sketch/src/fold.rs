//! A query's frames folded into its answer as they arrive: the one fold the gateway's HTTP
//! API, the browser and the tests use, so all of them read a stream alike.

use serde::{Deserialize, Serialize};

use crate::frame::{ErrorKind, Frame, Progress, QueryError, Scope};
use crate::partial::Partial;
use crate::result::QueryResult;

/// Where a query's stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// No plan yet.
    #[default]
    Waiting,
    /// Planned; partials may be arriving.
    Running,
    /// `Done` arrived: the answer is whole (or covers what was scanned when the query was
    /// cancelled or stopped, as its progress says).
    Done,
    /// An `Error` arrived, or the stream broke its order.
    Failed,
}

/// Every frame of one query so far: its plan, everything merged, the latest progress, and
/// how it ended.
#[derive(Debug, Clone, Default)]
pub struct Fold {
    pub phase: Phase,
    /// What the query reads, from its `Plan` frame.
    pub scope: Option<Scope>,
    /// Every partial merged so far (empty once planned).
    pub total: Option<Partial>,
    pub progress: Progress,
    /// `Partial` frames merged: shows a stream is live.
    pub partials: u64,
    /// Why the query failed, when it did.
    pub error: Option<QueryError>,
}

/// The final answer to a query, as `POST /api/v1/query` and `sketchlake query` give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    #[serde(flatten)]
    pub result: QueryResult,
    pub elapsed_ms: u64,
    /// Set when the server stopped the query early (its time limit): the answer covers
    /// only part of the data, and says which part.
    pub stopped: Option<String>,
}

impl Fold {
    /// Folds in the next frame. A frame out of order (a partial before the plan, anything
    /// after the end) or a partial of another query fails the fold: the stream is not one
    /// query's.
    pub fn apply(&mut self, frame: Frame) -> Phase {
        if matches!(self.phase, Phase::Done | Phase::Failed) {
            return self.fail(ErrorKind::Internal, "a frame arrived after the query ended");
        }
        match frame {
            Frame::Plan(scope) => {
                self.total = Some(Partial::new(&scope.query));
                self.progress.files_total = scope.files;
                self.progress.bytes_total = scope.bytes;
                self.scope = Some(scope);
                self.phase = Phase::Running;
            }
            Frame::Partial(partial) => match self.total.as_mut().map(|t| t.merge(&partial)) {
                Some(Ok(())) => self.partials += 1,
                Some(Err(e)) => {
                    let message = format!("cannot merge a partial result: {e}");
                    return self.fail(ErrorKind::Internal, message);
                }
                None => {
                    let message = "the server sent a partial result before its plan";
                    return self.fail(ErrorKind::Internal, message);
                }
            },
            Frame::Progress(progress) => self.progress = progress,
            Frame::Done(progress) => {
                if self.scope.is_none() {
                    return self.fail(ErrorKind::Internal, "the query ended before its plan");
                }
                self.progress = progress;
                self.phase = Phase::Done;
            }
            Frame::Error(e) => {
                self.error = Some(e);
                self.phase = Phase::Failed;
            }
        }
        self.phase
    }

    /// Ends the fold as failed, with why (a stream that broke off, say).
    pub fn fail(&mut self, kind: ErrorKind, message: impl Into<String>) -> Phase {
        self.error = Some(QueryError::new(kind, message));
        self.phase = Phase::Failed;
        self.phase
    }

    /// The answer so far, with its events.
    pub fn result(&self) -> Option<QueryResult> {
        Some(self.total.as_ref()?.result(&self.scope.as_ref()?.query))
    }

    /// The answer so far without its events (for a page that reads them from `total`
    /// rather than copying 100,000 of them per frame).
    pub fn result_without_hits(&self) -> Option<QueryResult> {
        Some(
            self.total
                .as_ref()?
                .result_without_hits(&self.scope.as_ref()?.query),
        )
    }

    /// How the query ended, once it has: its answer, or why it failed.
    pub fn outcome(&self) -> Option<Result<Answer, QueryError>> {
        match self.phase {
            Phase::Done => self.answer().map(Ok),
            Phase::Failed => self.error.clone().map(Err),
            Phase::Waiting | Phase::Running => None,
        }
    }

    /// The final answer, once `Done` has arrived.
    pub fn answer(&self) -> Option<Answer> {
        (self.phase == Phase::Done).then_some(())?;
        Some(Answer {
            result: self.result()?,
            elapsed_ms: self.progress.elapsed_ms,
            stopped: self.progress.stopped.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::parse;

    fn plan(q: &str) -> Frame {
        Frame::Plan(Scope {
            query: parse(q).expect("a valid query"),
            files: 2,
            bytes: 10,
            files_pruned: 0,
            bytes_pruned: 0,
        })
    }

    #[test]
    fn frames_fold_into_the_answer() {
        let mut fold = Fold::default();
        assert_eq!(fold.apply(plan("| stats count")), Phase::Running);
        assert_eq!(fold.progress.files_total, 2);
        let query = fold
            .scope
            .as_ref()
            .map(|p| p.query.clone())
            .expect("planned");
        let mut part = Partial::new(&query);
        part.all.totals.matched = 3;
        fold.apply(Frame::Partial(part.clone()));
        fold.apply(Frame::Partial(part));
        assert!(fold.answer().is_none(), "not done yet");
        let done = Progress {
            files_done: 2,
            elapsed_ms: 7,
            ..Progress::default()
        };
        assert_eq!(fold.apply(Frame::Done(done)), Phase::Done);
        let answer = fold.answer().expect("done");
        assert_eq!((answer.result.matched, answer.elapsed_ms), (6, 7));
        assert_eq!(fold.partials, 2);
    }

    #[test]
    fn errors_and_frames_out_of_order_fail_the_fold() {
        let mut fold = Fold::default();
        let query = parse("| stats count").expect("a valid query");
        assert_eq!(
            fold.apply(Frame::Partial(Partial::new(&query))),
            Phase::Failed
        );
        assert_eq!(
            fold.error.as_ref().map(|e| e.kind),
            Some(ErrorKind::Internal)
        );

        let mut fold = Fold::default();
        let bad = QueryError::at_column("expected a field", 12);
        assert_eq!(fold.apply(Frame::Error(bad.clone())), Phase::Failed);
        assert_eq!(fold.error, Some(bad));
        assert_eq!(fold.apply(plan("| stats count")), Phase::Failed);
    }
}
