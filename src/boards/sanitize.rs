//! HR's `external_description` as HTML a public page may carry: a fixed allow-list of text tags,
//! no attributes but `href` on `https` links (no `rel`, `style`, event handlers, relative or
//! `javascript:` URLs), `<script>`/`<style>` dropped with their content, comments dropped.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

const TAGS: [&str; 14] = [
    "p",
    "br",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "b",
    "i",
    "h2",
    "h3",
    "h4",
    "a",
    "blockquote",
];

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.tags(HashSet::from(TAGS))
        .tag_attributes(HashMap::from([("a", HashSet::from(["href"]))]))
        .url_schemes(HashSet::from(["https"]))
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(None)
        .clean_content_tags(HashSet::from(["script", "style"]))
        .strip_comments(true);
    b
});

/// `html` reduced to the allow-list.
pub fn clean(html: &str) -> String {
    SANITIZER.clean(html).to_string()
}

/// Text without any tag (meta descriptions, feeds).
pub fn plain(html: &str) -> String {
    ammonia::Builder::empty()
        .clean_content_tags(HashSet::from(["script", "style"]))
        .clean(html)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_injection_corpus_is_neutralised() {
        for (input, want) in [
            ("<p>ok</p><script>alert(1)</script>", "<p>ok</p>"),
            ("<img src=x onerror=alert(1)>text", "text"),
            ("<a href=\"javascript:alert(1)\">x</a>", "<a>x</a>"),
            (
                "<a href=\"https://example.com/\" onclick=\"x\" target=_blank>x</a>",
                "<a href=\"https://example.com/\">x</a>",
            ),
            ("<a href=\"/relative\">x</a>", "<a>x</a>"),
            ("<a href=\"http://plain.example.com/\">x</a>", "<a>x</a>"),
            ("<p style=\"color:red\" class=c>x</p>", "<p>x</p>"),
            ("<svg><script>alert(1)</script></svg>y", "y"),
            ("<iframe src=https://evil.example.com></iframe>z", "z"),
            ("<!-- c -->w", "w"),
            ("<style>body{}</style>s", "s"),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
        assert_eq!(plain("<p>a <b>b</b></p>"), "a b");
    }
}
