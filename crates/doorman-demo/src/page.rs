//! `GET /`: the chat page. One self-contained HTML document (inline CSS and script, nothing fetched from elsewhere)
//! that posts to `/v1/chat/completions` with `"stream": true` and writes the answer as its tokens arrive. When the
//! gateway refuses a request, the page shows the gateway's own explanation, which is the point of the demo.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use crate::routes::{Body, with_type};

pub(crate) fn response() -> Response<Body> {
    let mut response = with_type(
        StatusCode::OK,
        "text/html; charset=utf-8",
        Bytes::from_static(PAGE.as_bytes()),
    );
    let headers = response.headers_mut();
    // The page needs its own inline style and script and same-origin fetch, nothing more.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Doorman demo chat</title>
<style>
:root { color-scheme: light dark; --fg: #1b1b1f; --bg: #ffffff; --muted: #4a4a55; --line: #c9c9d3;
  --you: #e7eefc; --bot: #f1f1f4; --accent: #1d4ed8; --accent-fg: #ffffff; --err: #9f1239; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #ececf1; --bg: #16161a; --muted: #b4b4c0; --line: #45454f;
    --you: #1e2a44; --bot: #24242b; --accent: #8fb0ff; --accent-fg: #0b1020; --err: #fda4af; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 42rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: 0.5rem 0; }
p.intro, #status { color: var(--muted); margin: 0 0 1rem; }
#log { list-style: none; margin: 0 0 1rem; padding: 0; display: grid; gap: 0.6rem; }
#log li { padding: 0.6rem 0.8rem; border-radius: 0.6rem; border: 1px solid var(--line); overflow-wrap: anywhere; }
#log li.user { background: var(--you); margin-left: 2rem; }
#log li.assistant { background: var(--bot); margin-right: 2rem; }
#log li.error { border-color: var(--err); }
#log .who { display: block; font-size: 0.8rem; font-weight: 600; color: var(--muted); }
#log p { margin: 0; white-space: pre-wrap; }
form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: flex-end; }
label { width: 100%; font-weight: 600; }
textarea { flex: 1 1 12rem; min-height: 3rem; padding: 0.5rem; font: inherit; color: inherit; background: var(--bg);
  border: 1px solid var(--muted); border-radius: 0.4rem; resize: vertical; }
button { padding: 0.6rem 1.2rem; font: inherit; font-weight: 600; color: var(--accent-fg); background: var(--accent);
  border: 0; border-radius: 0.4rem; cursor: pointer; }
button:disabled, textarea:disabled { opacity: 0.6; cursor: not-allowed; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.note { padding: 0.6rem 0.8rem; border: 1px solid var(--line); border-radius: 0.4rem; }
code { font-size: 0.9em; overflow-wrap: anywhere; }
</style>
</head>
<body>
<main>
<h1>Doorman demo chat</h1>
<p class="intro">A tiny AI chat served by Doorman's demo origin, behind the gateway. Its answers are canned and
arrive word by word, so you can watch them stream through the proxy.</p>
<noscript><p class="note">This page needs JavaScript to send messages and stream the answers. The API
works without it: <code>POST /v1/chat/completions</code> with an OpenAI-style JSON body.</p></noscript>
<ol id="log" role="log" aria-label="Conversation"></ol>
<form id="form">
<label for="msg">Your message</label>
<textarea id="msg" name="message" rows="2" required disabled></textarea>
<button id="send" type="submit" disabled>Send</button>
</form>
<p id="status" role="status"></p>
</main>
<script>
"use strict";
const form = document.getElementById("form");
const box = document.getElementById("msg");
const send = document.getElementById("send");
const log = document.getElementById("log");
const status = document.getElementById("status");
const history = [];
box.disabled = false;
send.disabled = false;

function add(role, text) {
  const li = document.createElement("li");
  li.className = role;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role === "user" ? "You" : "Assistant";
  const p = document.createElement("p");
  p.textContent = text;
  li.append(who, p);
  log.append(li);
  li.scrollIntoView({ block: "end" });
  return p;
}

box.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    form.requestSubmit();
  }
});

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = box.value.trim();
  if (!text || send.disabled) { box.focus(); return; }
  add("user", text);
  history.push({ role: "user", content: text });
  box.value = "";
  const out = add("assistant", "");
  send.disabled = true;
  log.setAttribute("aria-busy", "true");
  status.textContent = "The assistant is answering…";
  let answer = "";
  try {
    const res = await fetch("/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", "accept": "text/event-stream" },
      body: JSON.stringify({ model: "doorman-demo-1", stream: true, messages: history }),
    });
    if (!res.ok || !res.body) {
      const detail = (await res.text()).trim().slice(0, 600);
      throw new Error("HTTP " + res.status + (detail ? "\n" + detail : ""));
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") continue;
          const token = JSON.parse(data).choices?.[0]?.delta?.content;
          if (token) { answer += token; out.textContent = answer; }
        }
      }
    }
    history.push({ role: "assistant", content: answer });
    status.textContent = "Answer complete.";
  } catch (err) {
    out.textContent = "Request failed: " + err.message;
    out.parentElement.classList.add("error");
    history.pop();
    status.textContent = "The request failed; the reason is shown in the conversation.";
  } finally {
    log.setAttribute("aria-busy", "false");
    send.disabled = false;
    box.focus();
  }
});
</script>
</body>
</html>
"#;
