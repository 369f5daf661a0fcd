//! An Atom (RFC 4287) feed of incidents: one entry per incident in the snapshot, newest first,
//! whose content is the incident's updates (newest first) as escaped HTML. Entry ids are tag
//! URIs built from the page id and incident number, so they stay stable when the page moves.

use std::fmt::Write;

use doorman_common::html::escape;
use doorman_common::when;

use crate::model::Snapshot;

/// The feed document.
pub fn feed(snap: &Snapshot) -> String {
    let base = snap.page.url.trim_end_matches('/');
    let mut out = String::with_capacity(4096);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <id>{id}</id><title>{title}</title><updated>{updated}</updated>\
         <link rel=\"alternate\" type=\"text/html\" href=\"{base}\"/>\
         <link rel=\"self\" type=\"application/atom+xml\" href=\"{base}/feed.atom\"/>\
         <author><name>{name}</name></author>",
        id = escape(&format!("{base}/feed.atom")),
        title = escape(&format!("{} incidents", snap.page.name)),
        updated = when::rfc3339_ms(snap.updated_ms()),
        base = escape(base),
        name = escape(&snap.page.name),
    );
    for i in &snap.incidents {
        let mut content = String::new();
        for u in i.updates.iter().rev() {
            let _ = write!(
                content,
                "<p><strong>{}</strong> – {}<br>{}</p>",
                u.status.label(),
                escape(&when::utc_minutes(u.at_ms)),
                escape(&u.body)
            );
        }
        let _ = write!(
            out,
            "<entry><id>{id}</id><title>{title}</title><updated>{updated}</updated>\
             <published>{published}</published>\
             <link rel=\"alternate\" type=\"text/html\" href=\"{link}\"/>\
             <category term=\"{status}\"/><category term=\"impact:{impact}\"/>\
             <content type=\"html\">{content}</content></entry>",
            id = escape(&format!(
                "tag:doorman,2026:{}:incident:{}",
                snap.page.id, i.id
            )),
            title = escape(&format!("{} [{}]", i.name, i.status.label())),
            updated = when::rfc3339_ms(i.updated_ms),
            published = when::rfc3339_ms(i.created_ms),
            link = escape(&snap.page.incident_url(i.id)),
            status = i.status.as_str(),
            impact = i.impact.as_str(),
            // The HTML is escaped once more to be the text of an XML element.
            content = escape(&content),
        );
    }
    out.push_str("</feed>\n");
    out
}
