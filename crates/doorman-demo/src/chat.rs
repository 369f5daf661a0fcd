//! `POST /v1/chat/completions`: an OpenAI-compatible chat endpoint with a canned, deterministic assistant.
//!
//! The answer quotes the last user message and is 20–29 tokens long, so a demo shows something recognisable and a
//! test can predict it. With `"stream": true` each token is its own server-sent event, released
//! `DemoOptions::token_interval` after the previous one, which is what makes the gateway's streaming visible.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::routes::{Body, error, json_response, paced};
use crate::server::ConnCtx;

/// Largest request body accepted: a chat history, not an upload.
const MAX_BODY_BYTES: usize = 1 << 20;
/// Model name reported when the request names none.
const DEFAULT_MODEL: &str = "doorman-demo-1";
/// How many words of the user's message the answer quotes.
const QUOTE_WORDS: usize = 10;

#[derive(Debug, Deserialize)]
struct ChatRequest {
    #[serde(default)]
    model: Option<String>,
    messages: Vec<ChatMessage>,
    #[serde(default)]
    stream: bool,
}

#[derive(Debug, Deserialize)]
struct ChatMessage {
    role: String,
    /// A string, or OpenAI's list of content parts (`[{"type": "text", "text": "…"}, …]`).
    #[serde(default)]
    content: Value,
}

impl ChatMessage {
    fn text(&self) -> String {
        match &self.content {
            Value::String(text) => text.clone(),
            Value::Array(parts) => parts
                .iter()
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        }
    }
}

pub(crate) async fn completions(req: Request<Incoming>, ctx: &ConnCtx) -> Response<Body> {
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => {
            return invalid(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
                None,
            );
        }
        Err(err) => {
            return invalid(
                StatusCode::BAD_REQUEST,
                &format!("The request body could not be read: {err}"),
                None,
            );
        }
    };
    let request: ChatRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return invalid(
                StatusCode::BAD_REQUEST,
                &format!("The request body is not a valid chat completion request: {err}"),
                None,
            );
        }
    };
    if request.messages.is_empty() {
        return invalid(
            StatusCode::BAD_REQUEST,
            "`messages` must contain at least one message.",
            Some("messages"),
        );
    }

    let last_user = request
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(ChatMessage::text)
        .unwrap_or_default();
    let tokens = reply_tokens(&last_user);
    let prompt_tokens: usize = request
        .messages
        .iter()
        .map(|m| m.text().split_whitespace().count())
        .sum();
    let completion = Completion {
        id: format!(
            "chatcmpl-demo-{:08x}",
            ctx.shared.completions.fetch_add(1, Ordering::Relaxed) + 1
        ),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        model: request.model.unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
    };

    if request.stream {
        stream(&completion, &tokens, ctx.shared.options.token_interval)
    } else {
        let content: String = tokens.concat();
        json_response(
            StatusCode::OK,
            &json!({
                "id": completion.id,
                "object": "chat.completion",
                "created": completion.created,
                "model": completion.model,
                "system_fingerprint": "doorman-demo",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "logprobs": Value::Null,
                    "finish_reason": "stop",
                }],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": tokens.len(),
                    "total_tokens": prompt_tokens + tokens.len(),
                },
            }),
        )
    }
}

/// The fields shared by a completion and each of its stream chunks.
struct Completion {
    id: String,
    created: u64,
    model: String,
}

impl Completion {
    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Bytes {
        let chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "doorman-demo",
            "choices": [{"index": 0, "delta": delta, "logprobs": Value::Null, "finish_reason": finish_reason}],
        });
        Bytes::from(format!("data: {chunk}\n\n"))
    }
}

/// The SSE answer: one event per token (the first also carries the role, as OpenAI does), then a `stop` event and
/// `[DONE]` right after the last token.
fn stream(completion: &Completion, tokens: &[String], interval: Duration) -> Response<Body> {
    let mut frames: Vec<(Duration, Bytes)> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| {
            if i == 0 {
                (
                    Duration::ZERO,
                    completion.chunk(json!({"role": "assistant", "content": token}), None),
                )
            } else {
                (interval, completion.chunk(json!({"content": token}), None))
            }
        })
        .collect();
    frames.push((Duration::ZERO, completion.chunk(json!({}), Some("stop"))));
    frames.push((Duration::ZERO, Bytes::from_static(b"data: [DONE]\n\n")));

    let mut response = Response::new(paced(frames));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn invalid(status: StatusCode, message: &str, param: Option<&str>) -> Response<Body> {
    error(status, "invalid_request_error", message, param)
}

/// The canned answer as tokens: words, each after the first carrying its leading space, so that concatenating the
/// tokens gives the answer text exactly as a streaming client would assemble it.
pub(crate) fn reply_tokens(last_user: &str) -> Vec<String> {
    let words: Vec<&str> = last_user.split_whitespace().collect();
    let opening = if words.is_empty() {
        "You sent no words.".to_owned()
    } else {
        let mut quote = words[..words.len().min(QUOTE_WORDS)].join(" ");
        if words.len() > QUOTE_WORDS {
            quote.push('…');
        }
        format!("You said \"{quote}\".")
    };
    let answer = format!(
        "{opening} I am the Doorman demo assistant; each word of this reply streamed to you through the gateway."
    );
    answer
        .split(' ')
        .filter(|w| !w.is_empty())
        .enumerate()
        .map(|(i, word)| {
            if i == 0 {
                word.to_owned()
            } else {
                format!(" {word}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::reply_tokens;

    #[test]
    fn reply_quotes_the_message_and_stays_in_length() {
        let tokens = reply_tokens("What is   Doorman?");
        assert_eq!(
            tokens.concat(),
            "You said \"What is Doorman?\". I am the Doorman demo assistant; each word of this reply streamed to \
             you through the gateway."
        );
        assert!((15..=30).contains(&tokens.len()), "{} tokens", tokens.len());
    }

    #[test]
    fn long_messages_are_cut_short() {
        let long = "word ".repeat(100);
        let tokens = reply_tokens(&long);
        assert!(tokens.concat().contains("word…\""));
        assert!((15..=30).contains(&tokens.len()), "{} tokens", tokens.len());
    }

    #[test]
    fn empty_message_still_gets_an_answer() {
        let tokens = reply_tokens("  ");
        assert!(tokens.concat().starts_with("You sent no words."));
        assert!((15..=30).contains(&tokens.len()));
    }
}
