//! Statuspage-compatible JSON for `/api/v2/status.json`, `summary.json`, `components.json`,
//! `incidents.json`, `incidents/unresolved.json` and `scheduled-maintenances.json`, with
//! Statuspage's field names and enum values so that existing status clients and aggregators can
//! read a Doorman page. Ids are strings, as Statuspage's are: incidents are their number
//! (`"12"`), maintenances `"m12"`, updates `"u5"` / `"mu5"`, component groups
//! `"group-<slug>"`. Times are RFC 3339 UTC with milliseconds.

use doorman_common::when;
use serde_json::{Value, json};

use crate::escape::slug;
use crate::model::{ComponentStatus, ComponentView, Incident, Maintenance, Snapshot};

/// `status.json`: `{ page, status }`.
pub fn status(snap: &Snapshot) -> Value {
    json!({ "page": page(snap), "status": overall(snap) })
}

/// `components.json`: `{ page, components }`.
pub fn components(snap: &Snapshot) -> Value {
    json!({ "page": page(snap), "components": component_list(snap) })
}

/// `incidents.json`: `{ page, incidents }`, newest first (the snapshot's incidents).
pub fn incidents(snap: &Snapshot) -> Value {
    let list: Vec<Value> = snap.incidents.iter().map(|i| incident(snap, i)).collect();
    json!({ "page": page(snap), "incidents": list })
}

/// `incidents/unresolved.json`: `{ page, incidents }` not yet resolved.
pub fn unresolved_incidents(snap: &Snapshot) -> Value {
    let list: Vec<Value> = snap.unresolved().map(|i| incident(snap, i)).collect();
    json!({ "page": page(snap), "incidents": list })
}

/// `scheduled-maintenances.json`: `{ page, scheduled_maintenances }` (open and recent).
pub fn scheduled_maintenances(snap: &Snapshot) -> Value {
    let list: Vec<Value> = snap
        .maintenances
        .iter()
        .map(|m| maintenance(snap, m))
        .collect();
    json!({ "page": page(snap), "scheduled_maintenances": list })
}

/// `summary.json`: `{ page, components, incidents (unresolved), scheduled_maintenances (not
/// completed), status }`.
pub fn summary(snap: &Snapshot) -> Value {
    let incidents: Vec<Value> = snap.unresolved().map(|i| incident(snap, i)).collect();
    let maintenances: Vec<Value> = snap
        .maintenances
        .iter()
        .filter(|m| m.is_open())
        .map(|m| maintenance(snap, m))
        .collect();
    json!({
        "page": page(snap),
        "components": component_list(snap),
        "incidents": incidents,
        "scheduled_maintenances": maintenances,
        "status": overall(snap),
    })
}

fn page(snap: &Snapshot) -> Value {
    json!({
        "id": snap.page.id,
        "name": snap.page.name,
        "url": snap.page.url,
        "time_zone": "Etc/UTC",
        "updated_at": when::rfc3339_ms(snap.updated_ms()),
    })
}

fn overall(snap: &Snapshot) -> Value {
    let o = snap.overall();
    json!({ "indicator": o.indicator, "description": o.description })
}

/// The component list: groups (Statuspage's `group: true` entries listing their members'
/// ids, status = the worst member's) then components, in position order, each group placed
/// where its first member is.
fn component_list(snap: &Snapshot) -> Vec<Value> {
    let mut out = Vec::new();
    let mut seen_groups: Vec<&str> = Vec::new();
    for (position, view) in snap.components.iter().enumerate() {
        if let Some(group) = view.component.group.as_deref()
            && !seen_groups.contains(&group)
        {
            seen_groups.push(group);
            let members: Vec<&ComponentView> = snap
                .components
                .iter()
                .filter(|v| v.component.group.as_deref() == Some(group))
                .collect();
            let status = members
                .iter()
                .map(|v| v.component.status)
                .max_by_key(|s| s.severity())
                .unwrap_or(ComponentStatus::Operational);
            let created = members.iter().map(|v| v.component.created_ms).min();
            let updated = members.iter().map(|v| v.component.updated_ms).max();
            out.push(json!({
                "id": group_id(group),
                "name": group,
                "status": status,
                "created_at": when::rfc3339_ms(created.unwrap_or(snap.now_ms)),
                "updated_at": when::rfc3339_ms(updated.unwrap_or(snap.now_ms)),
                "position": position + 1,
                "description": null,
                "showcase": false,
                "start_date": null,
                "group_id": null,
                "page_id": snap.page.id,
                "group": true,
                "only_show_if_degraded": false,
                "components": members.iter().map(|v| v.component.id.clone()).collect::<Vec<_>>(),
            }));
        }
        out.push(component(snap, view, position + 1));
    }
    out
}

fn group_id(group: &str) -> String {
    format!("group-{}", slug(group))
}

fn component(snap: &Snapshot, view: &ComponentView, position: usize) -> Value {
    let c = &view.component;
    json!({
        "id": c.id,
        "name": c.name,
        "status": c.status,
        "created_at": when::rfc3339_ms(c.created_ms),
        "updated_at": when::rfc3339_ms(c.updated_ms),
        "position": position,
        "description": c.description,
        "showcase": true,
        "start_date": when::utc_date(c.created_ms),
        "group_id": c.group.as_deref().map(group_id),
        "page_id": snap.page.id,
        "group": false,
        "only_show_if_degraded": false,
    })
}

fn affected(snap: &Snapshot, ids: &[String]) -> Vec<Value> {
    snap.components
        .iter()
        .filter(|v| ids.contains(&v.component.id))
        .map(|v| component(snap, v, 0))
        .collect()
}

fn incident(snap: &Snapshot, i: &Incident) -> Value {
    let id = i.id.to_string();
    // Statuspage lists updates newest first.
    let updates: Vec<Value> = i
        .updates
        .iter()
        .rev()
        .map(|u| {
            json!({
                "id": format!("u{}", u.id),
                "status": u.status,
                "body": u.body,
                "incident_id": id,
                "created_at": when::rfc3339_ms(u.at_ms),
                "updated_at": when::rfc3339_ms(u.at_ms),
                "display_at": when::rfc3339_ms(u.at_ms),
                "affected_components": null,
                "deliver_notifications": true,
            })
        })
        .collect();
    json!({
        "id": id,
        "name": i.name,
        "status": i.status,
        "impact": i.impact,
        "created_at": when::rfc3339_ms(i.created_ms),
        "updated_at": when::rfc3339_ms(i.updated_ms),
        "monitoring_at": i.monitoring_ms.map(when::rfc3339_ms),
        "resolved_at": i.resolved_ms.map(when::rfc3339_ms),
        "started_at": when::rfc3339_ms(i.created_ms),
        "shortlink": snap.page.incident_url(i.id),
        "page_id": snap.page.id,
        "incident_updates": updates,
        "components": affected(snap, &i.components),
    })
}

fn maintenance(snap: &Snapshot, m: &Maintenance) -> Value {
    let id = format!("m{}", m.id);
    let updates: Vec<Value> = m
        .updates
        .iter()
        .rev()
        .map(|u| {
            json!({
                "id": format!("mu{}", u.id),
                "status": u.status,
                "body": u.body,
                "incident_id": id,
                "created_at": when::rfc3339_ms(u.at_ms),
                "updated_at": when::rfc3339_ms(u.at_ms),
                "display_at": when::rfc3339_ms(u.at_ms),
                "affected_components": null,
                "deliver_notifications": true,
            })
        })
        .collect();
    json!({
        "id": id,
        "name": m.name,
        "status": m.status,
        "impact": "maintenance",
        "created_at": when::rfc3339_ms(m.created_ms),
        "updated_at": when::rfc3339_ms(m.updated_ms),
        "monitoring_at": null,
        "resolved_at": m.completed_ms.map(when::rfc3339_ms),
        "started_at": when::rfc3339_ms(m.scheduled_for_ms),
        "scheduled_for": when::rfc3339_ms(m.scheduled_for_ms),
        "scheduled_until": when::rfc3339_ms(m.scheduled_until_ms),
        "shortlink": format!("{}#maintenance-{}", snap.page.url.trim_end_matches('/'), m.id),
        "page_id": snap.page.id,
        "incident_updates": updates,
        "components": affected(snap, &m.components),
    })
}
