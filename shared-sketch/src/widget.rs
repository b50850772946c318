//! The widgets a page of another site may embed (`/embed/<widget>`, docs/EMBEDDING.md):
//! named in widget tokens, in the embed page's path and in its first WebSocket message.

/// One embeddable widget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widget {
    /// The saved query's `top` lists.
    TopTalkers,
    /// Its `rare` lists.
    RareIps,
    /// Its distinct counts.
    Distinct,
    /// Its percentiles.
    Percentiles,
    /// The matching events over time.
    Histogram,
    /// The newest matching events.
    Hits,
}

impl Widget {
    pub const ALL: [Widget; 6] = [
        Widget::TopTalkers,
        Widget::RareIps,
        Widget::Distinct,
        Widget::Percentiles,
        Widget::Histogram,
        Widget::Hits,
    ];

    /// Its name in paths, tokens and messages.
    pub fn name(self) -> &'static str {
        match self {
            Widget::TopTalkers => "top-talkers",
            Widget::RareIps => "rare-ips",
            Widget::Distinct => "distinct",
            Widget::Percentiles => "percentiles",
            Widget::Histogram => "histogram",
            Widget::Hits => "hits",
        }
    }

    /// The widget called `name`, if there is one.
    pub fn named(name: &str) -> Option<Widget> {
        Widget::ALL.into_iter().find(|w| w.name() == name)
    }

    /// Every widget's name, for messages: `top-talkers, rare-ips, …`.
    pub fn names() -> String {
        Widget::ALL.map(Widget::name).join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for widget in Widget::ALL {
            assert_eq!(Widget::named(widget.name()), Some(widget));
        }
        assert_eq!(Widget::named("pie"), None);
    }
}
