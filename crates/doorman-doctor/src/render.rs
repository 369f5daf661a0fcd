//! The report for a person (text, one block per step, the verdict last) and for a support ticket
//! (one JSON document with the same content).

use serde_json::{Value, json};

use crate::{Report, Status, Step};

/// One step as text: `✓ DNS`, its facts indented, and `fix:` when there is one.
pub fn render_step(step: &Step) -> String {
    let mut out = format!("{} {}\n", step.status.symbol(), step.title());
    let width = step
        .facts
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    for (k, v) in &step.facts {
        let pad = width - k.chars().count();
        out.push_str(&format!("    {k}:{} {v}\n", " ".repeat(pad)));
    }
    if let Some(fix) = &step.fix
        && (step.status == Status::Fail || step.status == Status::Warn)
    {
        out.push_str(&format!("    fix: {fix}\n"));
    }
    out
}

/// The last line: the first failed step and its fix, or that all passed. When another step
/// explains that failure (the status page reports an outage), the line names both and gives
/// the explaining step's fix: "first failure: HTTP (http), explained by Status page (status) —
/// the service itself is having an outage …". It always starts with `first failure:` or is
/// `all checks passed`, so scripts can rely on it.
pub fn verdict_line(report: &Report) -> String {
    let fix = |step: &Step| {
        step.fix
            .as_deref()
            .map_or_else(String::new, |f| format!(" — {f}"))
    };
    let first = report.first_failure.and_then(|i| report.steps.get(i));
    let cause = report.explained_by.and_then(|i| report.steps.get(i));
    match (first, cause) {
        (Some(step), Some(cause)) => format!(
            "first failure: {} ({}), explained by {} ({}){}",
            step.title(),
            step.name,
            cause.title(),
            cause.name,
            fix(cause)
        ),
        (Some(step), None) => format!(
            "first failure: {} ({}){}",
            step.title(),
            step.name,
            fix(step)
        ),
        (None, _) => "all checks passed".to_owned(),
    }
}

/// The whole report as text.
pub fn render_text(report: &Report) -> String {
    let mut out = format!("doorman doctor {} ({})\n\n", report.url, report.started_at);
    for step in &report.steps {
        out.push_str(&render_step(step));
    }
    out.push_str(&footer(report));
    out
}

/// What follows the steps: the Ray IDs, then the verdict line (always last).
pub fn footer(report: &Report) -> String {
    let mut out = String::from("\n");
    if !report.ray_ids.is_empty() {
        out.push_str(&format!(
            "Ray ID{} (quote to the site's support): {}\n",
            if report.ray_ids.len() == 1 { "" } else { "s" },
            report.ray_ids.join(", ")
        ));
    }
    out.push_str(&verdict_line(report));
    out.push('\n');
    out
}

/// The report as one JSON document.
pub fn render_json(report: &Report) -> String {
    let steps: Vec<Value> = report
        .steps
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "title": s.title(),
                "status": s.status.as_str(),
                "facts": s.facts.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
                "fix": s.fix,
            })
        })
        .collect();
    let doc = json!({
        "doctor": format!("doorman-doctor {}", env!("CARGO_PKG_VERSION")),
        "url": report.url,
        "started_at": report.started_at,
        "passed": report.passed(),
        "first_failure": report.first_failure.and_then(|i| report.steps.get(i)).map(|s| s.name),
        "explained_by": report.explained_by.and_then(|i| report.steps.get(i)).map(|s| s.name),
        "ray_ids": report.ray_ids,
        "steps": steps,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}
