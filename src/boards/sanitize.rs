//! HR's `external_description` as HTML a public page may carry: a fixed allow-list of text tags,
//! no attributes but `href` on `https` links (no `rel`, `style`, event handlers, relative or
//! `javascript:` URLs), `<script>`/`<style>` dropped with their content, comments dropped. And
//! the same as plain text (`plain`), which its users escape wherever they write it.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

const TAGS: [&str; 15] = [
    "p",
    // Bare (no attributes): HR's editor writes paragraphs as divs, which unwrapped ran together.
    "div",
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

/// Elements that separate words when rendered: block-level ones, table cells and `<br>`.
const BREAKS: [&str; 34] = [
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "caption",
    "dd",
    "div",
    "dl",
    "dt",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "td",
    "th",
    "tr",
    "ul",
];

/// Keeps only the breaking tags, bare, so the text walk below sees where blocks end; the parse
/// (html5ever's tree builder) deals with comments, `<script>`, `<textarea>` and malformed markup.
static BREAKS_ONLY: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut b = ammonia::Builder::empty();
    b.tags(HashSet::from(BREAKS))
        .tag_attributes(HashMap::new())
        .generic_attributes(HashSet::new())
        .clean_content_tags(HashSet::from(["script", "style"]))
        .strip_comments(true);
    b
});

/// Collects the text of a tokenized fragment, a space for each tag (only breaking ones are left).
#[derive(Default)]
struct TextSink(RefCell<String>);

impl TokenSink for TextSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        match token {
            // Character references are already decoded here.
            Token::CharacterTokens(t) => self.0.borrow_mut().push_str(&t),
            Token::TagToken(_) => self.0.borrow_mut().push(' '),
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// HR's HTML as plain text (meta description, search): no tags, character references decoded
/// (`R&amp;D` → `R&D`), blocks and `<br>` separated, whitespace runs (`&nbsp;` too) one space.
/// The result is raw text: whoever writes it into HTML, XML or a script escapes it there.
pub fn plain(html: &str) -> String {
    let bare = BREAKS_ONLY.clean(html).to_string();
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(&bare));
    let tokenizer = Tokenizer::new(TextSink::default(), TokenizerOpts::default());
    // Only a sink asking to run a script stops `feed` early; this one never does.
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let text = tokenizer.sink.0.take();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
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
            (
                "<div class=x style=\"a\">One</div><div>Two</div>",
                "<div>One</div><div>Two</div>",
            ),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
        assert_eq!(plain("<p>a <b>b</b></p>"), "a b");
    }

    #[test]
    fn plain_text_decodes_character_references() {
        for (input, want) in [
            ("<p>R&amp;D</p>", "R&D"),
            ("10&nbsp;000&nbsp;NOK", "10 000 NOK"),
            ("we&#8217;re &#x2019;", "we\u{2019}re \u{2019}"),
            (
                "caf&eacute; &hellip; &euro;5",
                "caf\u{e9} \u{2026} \u{20ac}5",
            ),
            ("&quot;quoted&quot; &apos;x&apos;", "\"quoted\" 'x'"),
            // Decoded once: an escaped reference stays a reference's text.
            ("&amp;lt;b&amp;gt;", "&lt;b&gt;"),
            ("a & b < c", "a & b < c"),
        ] {
            assert_eq!(plain(input), want, "{input}");
        }
    }

    #[test]
    fn plain_text_separates_blocks_but_not_inline_elements() {
        for (input, want) in [
            ("<p>One</p><p>Two</p>", "One Two"),
            ("<ul><li>a</li><li>b</li></ul><ol><li>c</li></ol>", "a b c"),
            ("line<br>break<br/>again", "line break again"),
            ("<h2>Title</h2>Body<h3>Sub</h3>", "Title Body Sub"),
            ("<div>x</div><div>y</div>", "x y"),
            (
                "<table><tr><th>k</th><td>v</td></tr><tr><td>w</td></tr></table>",
                "k v w",
            ),
            ("<blockquote>q</blockquote>z", "q z"),
            (
                "Java<b>Script</b> <em>and</em><a href=\"https://x.example\">Rust</a>",
                "JavaScript andRust",
            ),
        ] {
            assert_eq!(plain(input), want, "{input}");
        }
    }

    #[test]
    fn plain_text_collapses_whitespace_and_drops_scripts_and_comments() {
        assert_eq!(plain("  <p>\n\t a \r\n  b </p>\n\n"), "a b");
        assert_eq!(plain("<p> </p><p>&nbsp;</p>"), "");
        assert_eq!(
            plain("a<script>alert(1)</script><style>p{}</style><!-- c -->b"),
            "ab"
        );
        assert_eq!(plain("<textarea><p>t</p></textarea>"), "<p>t</p>");
    }

    #[test]
    fn script_like_text_after_decoding_is_text_that_escaping_neutralises() {
        let text =
            plain("<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=y&gt;</p>");
        // Raw text now, as HR wrote it for people to read ...
        assert_eq!(text, "<script>alert(1)</script> <img src=x onerror=y>");
        // ... which escaping turns back into text, never markup.
        let html = crate::html::esc(&text);
        assert!(!html.contains('<') && !html.contains('>'), "{html}");
        assert_eq!(
            html,
            "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=y&gt;"
        );
    }
}
