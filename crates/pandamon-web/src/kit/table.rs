//! Tables paged, sorted and searched by the server: headers that sort the whole selection
//! (`sortby=`), cells that carry their link, class (status colour, number alignment) and title.

use crate::kit::links::link_with;
use pandamon_query::Selection;
use pandamon_query::fields::Vocabulary;

/// A column header: its label, and the link that sorts the selection by it (when it sorts).
pub struct Header {
    pub label: String,
    pub sort: Option<String>,
    /// `▲`/`▼` on the column the list is sorted by.
    pub arrow: &'static str,
    /// Extra class for the header and its cells (`num` right-aligns).
    pub class: &'static str,
}

/// One cell: its text, link, class and hover title.
#[derive(Default)]
pub struct TableCell {
    pub text: String,
    pub href: Option<String>,
    pub class: String,
    pub title: String,
}

impl TableCell {
    pub fn text(text: impl Into<String>) -> TableCell {
        TableCell {
            text: text.into(),
            ..TableCell::default()
        }
    }

    pub fn link(mut self, href: Option<String>) -> TableCell {
        self.href = href;
        self
    }

    pub fn class(mut self, class: impl Into<String>) -> TableCell {
        self.class = class.into();
        self
    }

    pub fn title(mut self, title: impl Into<String>) -> TableCell {
        self.title = title.into();
        self
    }
}

/// The header of `column` labelled `label`: sortable when the vocabulary has a sort key for
/// the column; a click on the sorted column reverses the order.
pub fn header(
    params: &[(String, String)],
    selection: &Selection,
    vocabulary: &Vocabulary,
    column: &str,
    label: &str,
    class: &'static str,
) -> Header {
    let key = vocabulary
        .sort_keys
        .iter()
        .find(|(_, c)| *c == column)
        .map(|(k, _)| *k);
    let sorted = selection.sort.column == column;
    let descending = sorted && selection.sort.descending;
    Header {
        label: label.to_string(),
        sort: key.map(|k| {
            let order = if descending {
                "ascending"
            } else {
                "descending"
            };
            link_with(params, "sortby", &format!("{k}-{order}"))
        }),
        arrow: match (sorted, descending) {
            (false, _) => "",
            (true, true) => "\u{25bc}",
            (true, false) => "\u{25b2}",
        },
        class,
    }
}
