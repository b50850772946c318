//! The live query channel: one WebSocket per query (docs/PROTOCOL.md). Frames are decoded
//! here and folded into the query's slot with `shared-sketch`'s `Fold`, the same fold the
//! gateway's HTTP API uses; components only read the resulting state.

use std::cell::RefCell;

use js_sys::{ArrayBuffer, Uint8Array};
use leptos::prelude::*;
use shared_sketch::{ClientMessage, ErrorKind, Phase, decode_frame, encode};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

use crate::state::QueryRun;

/// The open socket and the handlers it calls (they must live as long as it does).
struct Connection {
    socket: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

thread_local! {
    // wasm in the page is single-threaded; sockets are not `Send`, so they live here
    // rather than in signals. One per query on screen (a dashboard runs several).
    static OPEN: RefCell<Vec<Connection>> = const { RefCell::new(Vec::new()) };
}

/// Runs each `(text, hits, run)` with the signed-in key, replacing every query still
/// running (closing a socket cancels its query).
pub fn start_all(queries: Vec<(String, u32, RwSignal<QueryRun>)>) {
    close_all();
    let key = super::key::stored();
    for (text, hits, run) in queries {
        let key = key.clone();
        start_one(ClientMessage::Query { q: text, hits, key }, run);
    }
}

/// Runs the query `hello` asks for into `run`, alongside any running.
pub fn start_one(hello: ClientMessage, run: RwSignal<QueryRun>) {
    run.set(QueryRun::default());
    match connect(hello, run) {
        Ok(conn) => OPEN.with(|open| open.borrow_mut().push(conn)),
        Err(message) => fail(run, message),
    }
}

/// Asks the server to stop every query; each answers with `Done` and what was merged so
/// far stays.
pub fn cancel() {
    OPEN.with(|open| {
        if let Ok(bytes) = encode(&ClientMessage::Cancel) {
            for conn in open.borrow().iter() {
                let _ = conn.socket.send_with_u8_array(&bytes);
            }
        }
    });
}

/// Closes every query's socket (the gateway stops those queries); nothing runs after.
pub fn close_all() {
    OPEN.with(|open| {
        for conn in open.borrow_mut().drain(..) {
            conn.socket.set_onopen(None);
            conn.socket.set_onmessage(None);
            conn.socket.set_onclose(None);
            let _ = conn.socket.close();
        }
    });
}

/// Ends `run` for a reason of the channel's, not the query's.
fn fail(run: RwSignal<QueryRun>, message: String) {
    run.update(|r| {
        r.fail(ErrorKind::Internal, message);
    });
}

fn js_error(e: JsValue) -> String {
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

fn connect(hello: ClientMessage, run: RwSignal<QueryRun>) -> Result<Connection, String> {
    let location = web_sys::window().ok_or("no window")?.location();
    let scheme = if location.protocol().map_err(js_error)? == "https:" {
        "wss"
    } else {
        "ws"
    };
    let url = format!("{scheme}://{}/ws", location.host().map_err(js_error)?);
    let socket = WebSocket::new(&url).map_err(js_error)?;
    socket.set_binary_type(BinaryType::Arraybuffer);
    let hello = encode(&hello).map_err(|e| e.to_string())?;

    let on_open = Closure::<dyn FnMut(Event)>::new({
        let socket = socket.clone();
        move |_| {
            if let Err(e) = socket.send_with_u8_array(&hello) {
                fail(run, format!("cannot send the query: {}", js_error(e)));
            }
        }
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
        let socket = socket.clone();
        move |event: MessageEvent| {
            let frame = event
                .data()
                .dyn_into::<ArrayBuffer>()
                .map_err(|_| "the server sent a text message".to_string())
                .and_then(|buffer| {
                    decode_frame(&Uint8Array::new(&buffer).to_vec())
                        .map_err(|e| format!("corrupt frame from the server: {e}"))
                });
            match frame {
                // The merge happens here, in wasm.
                Ok(frame) => run.update(|r| {
                    r.apply(frame);
                }),
                Err(message) => {
                    fail(run, message);
                    let _ = socket.close();
                }
            }
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
        if run.with_untracked(|r| matches!(r.phase, Phase::Waiting | Phase::Running)) {
            let message = format!(
                "the connection closed before the query finished (code {})",
                event.code()
            );
            fail(run, message);
        }
    });
    socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    Ok(Connection {
        socket,
        _on_open: on_open,
        _on_message: on_message,
        _on_close: on_close,
    })
}
