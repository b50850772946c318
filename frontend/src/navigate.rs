//! Showing a view: running its queries, and recording it in the address bar and history.

use leptos::prelude::*;

use crate::state::Screen;
use crate::view::{View, ViewQueries};
use crate::{history, server};

/// Shows `view`: runs its queries (replacing any still running) and, when `push`, records
/// it in the address bar and the history. A query that does not parse is shown in place
/// and nothing runs.
pub fn run(screen: Screen, view: View, push: bool) {
    // An embedded widget runs its saved query only: zooming or filtering has nowhere to go.
    if screen.embedded {
        return;
    }
    screen.draft.set(view.clone());
    let queries = match view.queries(screen.dashboard.get_untracked()) {
        Ok(queries) => queries,
        Err(message) => {
            server::close_all();
            screen.problem.set(Some(message));
            screen.used.set(0);
            return;
        }
    };
    screen.problem.set(None);
    let queries = match queries {
        ViewQueries::Command(query) => {
            screen.command.set(true);
            vec![*query]
        }
        ViewQueries::Dashboard(queries) => {
            screen.command.set(false);
            queries
        }
    };
    screen.used.set(queries.len());
    history::remember(&view.q);
    if push {
        view.push_to_url();
    }
    screen.shown.set(view);
    server::start_all(
        queries
            .iter()
            .zip(screen.runs)
            .map(|(q, run)| (q.to_string(), q.hits, run))
            .collect(),
    );
}
