use std::cmp::Ordering;

use leptos::prelude::*;
use shared_sketch::Hit;
use shared_sketch::query::Post;
use shared_sketch::time::format_timestamp;
use wasm_bindgen::JsValue;

use super::value_link::ValueLink;
use crate::format::thousands;
use crate::navigate;
use crate::state::screen;
use crate::view::{LIST_MAX, View};

/// Height of one event row, in CSS pixels (`.hits tr` holds it fixed): rows are placed by
/// arithmetic, not measured.
const ROW_HEIGHT: f64 = 21.0;
/// Rows drawn beyond the visible ones, above and below, so a fast scroll shows no gap.
const OVERSCAN: usize = 20;
/// Rows the list shows at once at most (its CSS height / `ROW_HEIGHT`, rounded up).
const VISIBLE: usize = 21;

/// The newest matching events, newest first, one line each; click one to read it whole
/// (JSON pretty-printed) beside the list. Only the rows in view are in the page, so the
/// list scrolls as smoothly through 100,000 events as through 100.
#[component]
pub fn Hits() -> impl IntoView {
    let screen = screen();
    let run = screen.runs[0];
    // Kept in the merged partial, oldest first: row i of the list is `hits[len - 1 - i]`.
    let counts =
        Memo::new(move |_| run.with(|r| r.total.as_ref().map(|t| (t.hits.len(), t.matched()))));
    // The chosen event by where it was read (file, line): the list changes as partials
    // merge, and the selection follows the event while it is still listed.
    let selected = RwSignal::new(None::<(String, u64)>);
    let chosen = move || {
        selected.with(|key| {
            let (file, line) = key.as_ref()?;
            run.with(|r| {
                r.total
                    .as_ref()?
                    .hits
                    .iter()
                    .find(|hit| hit.line == *line && hit.file == *file)
                    .cloned()
            })
        })
    };
    let scroll_top = RwSignal::new(0.0_f64);
    let list = NodeRef::<leptos::html::Div>::new();
    let on_scroll = move |_| {
        if let Some(el) = list.get() {
            scroll_top.set(f64::from(el.scroll_top()));
        }
    };
    // `| table a, b`: the events drawn as those columns.
    let columns = Memo::new(move |_| {
        run.with(|r| {
            let query = &r.scope.as_ref()?.query;
            query.post.iter().rev().find_map(|p| match p {
                Post::Table(columns) => Some(columns.clone()),
                _ => None,
            })
        })
    });
    // A click on a column's name sorts the list by it (again: descending; a third time:
    // as the query kept them).
    let sorted_by = RwSignal::new(None::<(String, bool)>);
    let order = Memo::new(move |_| {
        let by = sorted_by.get();
        run.with(|r| {
            let Some(total) = &r.total else {
                return Vec::new();
            };
            // Kept first-last: row i is `hits[len - 1 - i]`.
            let mut order: Vec<usize> = (0..total.hits.len()).rev().collect();
            if let Some((column, descending)) = by {
                let value = |i: usize| total.hits[i].fields.get(&column);
                order.sort_by(|&a, &b| {
                    let ordering = compare_cells(value(a), value(b));
                    if descending {
                        ordering.reverse()
                    } else {
                        ordering
                    }
                });
            }
            order
        })
    });
    let rows = move || {
        let first = ((scroll_top.get() / ROW_HEIGHT) as usize).saturating_sub(OVERSCAN);
        let columns = columns.get();
        let rows = order.with(|order| {
            run.with(|r| {
                let Some(total) = &r.total else {
                    return Vec::new();
                };
                order
                    .iter()
                    .enumerate()
                    .skip(first)
                    .take(VISIBLE + 2 * OVERSCAN)
                    .filter_map(|(i, &at)| {
                        let hit = total.hits.get(at)?;
                        let time = hit.time.map(format_timestamp).unwrap_or_default();
                        let key = (hit.file.clone(), hit.line);
                        let this = key.clone();
                        let cells = match &columns {
                            Some(columns) => columns
                                .iter()
                                .map(|c| {
                                    let value = hit.fields.get(c).cloned().unwrap_or_default();
                                    view! { <td class="cell" data-column=c.clone()>{value}</td> }
                                })
                                .collect_view()
                                .into_any(),
                            None => view! { <td class="text">{hit.text.clone()}</td> }.into_any(),
                        };
                        Some(view! {
                            <tr data-testid="hit-row" data-index=i.to_string() data-file=hit.file.clone()
                                data-line=hit.line.to_string()
                                data-time=hit.time.map(|t| t.to_string()).unwrap_or_default()
                                class:selected=move || selected.with(|s| s.as_ref() == Some(&this))
                                on:click=move |_| selected.set(Some(key.clone()))>
                                <td class="time">{time}</td>
                                {cells}
                            </tr>
                        })
                    })
                    .collect::<Vec<_>>()
            })
        });
        (first as f64 * ROW_HEIGHT, rows)
    };
    let head = move || {
        columns.get().map(|columns| {
            let cells = columns
                .into_iter()
                .map(|column| {
                    let name = column.clone();
                    let arrow = {
                        let column = column.clone();
                        move || match sorted_by.get() {
                            Some((c, false)) if c == column => " ▲",
                            Some((c, true)) if c == column => " ▼",
                            _ => "",
                        }
                    };
                    let click = move |_| {
                        sorted_by.update(|s| {
                            *s = match s.take() {
                                Some((c, false)) if c == name => Some((c, true)),
                                Some((c, true)) if c == name => None,
                                _ => Some((name.clone(), false)),
                            }
                        });
                    };
                    view! {
                        <th><button class="link" data-testid="column-sort" data-column=column.clone()
                            on:click=click>{column.clone()}{arrow}</button></th>
                    }
                })
                .collect_view();
            view! {
                <table class="hits-head" data-testid="hits-head">
                    <thead><tr><th class="time">"time"</th>{cells}</tr></thead>
                </table>
            }
        })
    };
    let keep_more = move |_| {
        let view = screen.shown.with_untracked(|v| View {
            hits: LIST_MAX,
            ..v.clone()
        });
        navigate::run(screen, view, true);
    };
    let count = move || counts.get().map_or(0, |(count, _)| count);
    let any = move || count() != 0;
    let ranked =
        Memo::new(move |_| run.with(|r| r.total.as_ref().is_some_and(|t| !t.hit_rank.newest())));
    let summary = move || {
        counts.get().map(|(count, matched)| {
            let which = if ranked.get() {
                "first, in the query's order,"
            } else {
                "newest"
            };
            format!(
                "{which} {} of {} · click one to read it ",
                thousands(count as u64),
                thousands(matched)
            )
        })
    };
    let more = move || {
        let (count, matched) = counts.get()?;
        let limit = screen.shown.with(View::events) as usize;
        // An embedded widget keeps what its saved query keeps.
        (!screen.embedded && count >= limit && limit < LIST_MAX as usize && matched > count as u64)
            .then(|| {
                view! {
                    <button class="link" data-testid="hits-more" on:click=keep_more>
                        {format!("keep up to {}", thousands(u64::from(LIST_MAX)))}
                    </button>
                }
            })
    };
    // Only the parts that change with the count are redrawn as partials merge: the list
    // itself stays, and so does where it is scrolled to.
    view! {
        <Show when=any>
            <section class="widget hits" data-testid="hits" data-count=move || count().to_string()>
                <h3>
                    <span>"Events"</span>
                    <span class="bound">{summary}{more}</span>
                </h3>
                {head}
                <div class="hits-body">
                    <div class="hits-list" data-testid="hits-list" node_ref=list on:scroll=on_scroll>
                        <div class="hits-spacer" style:height=move || format!("{}px", count() as f64 * ROW_HEIGHT)>
                            {move || {
                                let (offset, rows) = rows();
                                view! {
                                    <table style:transform=format!("translateY({offset}px)")>
                                        <tbody>{rows}</tbody>
                                    </table>
                                }
                            }}
                        </div>
                    </div>
                    {move || chosen().map(|hit| view! { <Detail hit=hit/> })}
                </div>
            </section>
        </Show>
    }
}

/// One event whole: where it came from, and its text (JSON indented).
#[component]
fn Detail(hit: Hit) -> impl IntoView {
    let text = pretty_json(&hit.text).unwrap_or_else(|| hit.text.clone());
    view! {
        <div class="hit-detail" data-testid="hit-detail">
            <p class="bound">
                <code>{format!("{}:{}", hit.file, hit.line)}</code>
                {hit.time.map(|t| format!(" · {}", format_timestamp(t)))}
                {hit.truncated.then_some(" · cut at 4 KB")}
            </p>
            <FieldList hit=hit.clone()/>
            <pre data-testid="hit-json">{text}</pre>
        </div>
    }
}

/// The fields the query gave the event (`eval`'s, `rex`'s, what `fields` and `table`
/// name), each value a filter like any other.
#[component]
fn FieldList(hit: Hit) -> impl IntoView {
    (!hit.fields.is_empty()).then(|| {
        let rows = hit
            .fields
            .into_iter()
            .map(|(field, value)| {
                let (name, label) = (field.clone(), field.clone());
                view! {
                    <tr data-testid="hit-field" data-field=name>
                        <th>{label}</th>
                        <td><ValueLink field=Some(field) value=value/></td>
                    </tr>
                }
            })
            .collect_view();
        view! { <table class="hit-fields" data-testid="hit-fields"><tbody>{rows}</tbody></table> }
    })
}

/// Two cells in a column's order: numbers as numbers, before text; empty cells last.
fn compare_cells(a: Option<&String>, b: Option<&String>) -> Ordering {
    let number = |v: &String| v.trim().parse::<f64>().ok().filter(|n| n.is_finite());
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(a), Some(b)) => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => a.cmp(b),
        },
    }
}

/// `text` indented by the browser's own JSON, when it is JSON.
fn pretty_json(text: &str) -> Option<String> {
    let value = js_sys::JSON::parse(text).ok()?;
    if !value.is_object() {
        return None;
    }
    js_sys::JSON::stringify_with_replacer_and_space(&value, &JsValue::NULL, &JsValue::from(2))
        .ok()
        .map(String::from)
}
