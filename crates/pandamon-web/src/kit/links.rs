//! Links between pages: every count links to what it counts, with the URL's other conditions kept.

/// The query string with `name` set to `value` (other values of `name` dropped) and paging
/// reset: the link a facet value or a page number carries.
pub fn link_with(params: &[(String, String)], name: &str, value: &str) -> String {
    let mut out: Vec<String> = params
        .iter()
        .filter(|(k, _)| k != name && k != "page" && k != "json")
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    out.push(format!("{}={}", encode(name), encode(value)));
    format!("?{}", out.join("&"))
}

/// Links to the previous and next page of a paged list (none past either end).
pub fn page_links(
    params: &[(String, String)],
    page: u64,
    pages: u64,
) -> (Option<String>, Option<String>) {
    let link = |p: u64| link_with(params, "page", &p.to_string());
    (
        (page > 1).then(|| link(page - 1)),
        (page < pages).then(|| link(page + 1)),
    )
}

/// `path` with the query string made of `pairs`, every name and value encoded.
pub fn url(path: &str, pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return path.to_string();
    }
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// `path` with the request's parameters, each of `set` replacing its namesake (an empty value
/// removes it); `json` is dropped.
pub fn url_with(path: &str, params: &[(String, String)], set: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| k != "json" && !set.iter().any(|(s, _)| s == k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.extend(set.iter().filter(|(_, v)| !v.is_empty()));
    url(path, &pairs)
}

/// `/jobs/` with the selection of a page's `params` (its paging and sorting dropped: they are
/// the page's own) and `set` replacing their namesakes.
pub fn jobs_with(params: &[(String, String)], set: &[(&str, &str)]) -> String {
    let kept: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "sortby" | "page" | "display_limit" | "fields"))
        .cloned()
        .collect();
    url_with("/jobs/", &kept, set)
}

/// `url` with parameter `name` set to `value` (replacing any it had).
pub fn set_param(url: &str, name: &str, value: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let prefix = format!("{}=", encode(name));
    let mut pairs: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with(&prefix))
        .collect();
    let set = format!("{prefix}{}", encode(value));
    pairs.push(&set);
    format!("{path}?{}", pairs.join("&"))
}

/// `/jobs/` narrowed by `pairs`.
pub fn jobs_url(pairs: &[(&str, &str)]) -> String {
    url("/jobs/", pairs)
}

/// Percent-encodes a query component, keeping the characters bigmon's selection language uses
/// (`*`, `|`, `!`, `:`, `,`) readable.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'*'
            | b'|'
            | b'!'
            | b':'
            | b',' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Percent-encodes one path segment (a queue or user name in `/site/<queue>/`).
pub fn encode_segment(text: &str) -> String {
    encode(text).replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_param_replaces_its_namesake() {
        assert_eq!(
            set_param("/jobs/?cloud=DE&jobstatus=running", "jobstatus", "failed"),
            "/jobs/?cloud=DE&jobstatus=failed"
        );
        assert_eq!(
            set_param("/jobs/", "jobstatus", "failed"),
            "/jobs/?jobstatus=failed"
        );
    }

    #[test]
    fn links_replace_the_parameter_and_reset_paging() {
        let params = vec![
            ("jobstatus".to_string(), "failed".to_string()),
            ("page".to_string(), "3".to_string()),
            ("user".to_string(), "Anna Smith".to_string()),
        ];
        assert_eq!(
            link_with(&params, "jobstatus", "finished"),
            "?user=Anna+Smith&jobstatus=finished"
        );
        assert_eq!(
            link_with(&[], "computingsite", "A&B"),
            "?computingsite=A%26B"
        );
    }

    #[test]
    fn urls_encode_every_value() {
        assert_eq!(
            jobs_url(&[("nucleus", "A B"), ("computingsite", "X&Y*")]),
            "/jobs/?nucleus=A+B&computingsite=X%26Y*"
        );
        assert_eq!(url("/sites/", &[]), "/sites/");
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
    }
}
