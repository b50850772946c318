//! What goes wrong reading a sketch back.

/// A sketch's bytes could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt {sketch} sketch: {message}")]
pub struct SketchError {
    pub sketch: &'static str,
    pub message: String,
}

impl SketchError {
    pub(crate) fn new(sketch: &'static str, message: impl Into<String>) -> Self {
        Self {
            sketch,
            message: message.into(),
        }
    }
}
