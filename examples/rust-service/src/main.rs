//! A Rust service on the real `multi-llm` crate (1.0.0, feature `events`), used by the test bed.
//!
//! `produce` makes real calls through the crate's own providers and writes every
//! `LLMBusinessEvent` they return as one JSON line `{"event": ..., "scope": ...}` on stdout;
//! a summary of each response (usage as the crate parsed it) goes to stderr as JSON lines.
//! `read` parses lines with the crate's own serde derive of `BusinessEvent` and reports, per
//! line, whether it was accepted and what serde writes back.

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use multi_llm::{
    AnthropicConfig, BusinessEvent, DefaultLLMParams, EventScope, LLMBusinessEvent, LLMConfig,
    LMStudioConfig, LlmProvider, OpenAIConfig, RequestConfig, RetryPolicy, UnifiedLLMClient,
    UnifiedLLMRequest, UnifiedMessage,
};
use serde::{Deserialize, Serialize};

/// `EventScope` has no serde derives in the crate: this remote derive gives it serde's
/// externally tagged form, `{"User":"u1"}` or `"System"`.
#[derive(Serialize, Deserialize)]
#[serde(remote = "EventScope")]
enum EventScopeDef {
    User(String),
    System,
}

/// `LLMBusinessEvent` has no serde derives either: this is its serialisable twin.
#[derive(Serialize, Deserialize)]
struct ScopedEvent {
    event: BusinessEvent,
    #[serde(with = "EventScopeDef")]
    scope: EventScope,
}

impl From<LLMBusinessEvent> for ScopedEvent {
    fn from(e: LLMBusinessEvent) -> Self {
        ScopedEvent { event: e.event, scope: e.scope }
    }
}

struct Options {
    base_url: String,
    model: String,
    providers: Vec<String>,
    user_id: String,
    session_id: Option<String>,
    llm_path: Option<String>,
    prompt: String,
    max_tokens: u32,
    calls: u32,
    api_key: String,
    array: bool,
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        base_url: std::env::var("LLM_BASE_URL").unwrap_or_default(),
        model: std::env::var("LLM_MODEL").unwrap_or_else(|_| "test-model".into()),
        providers: vec!["openai".into(), "anthropic".into()],
        user_id: "rust-user".into(),
        session_id: None,
        llm_path: None,
        prompt: "Say hello.".into(),
        max_tokens: 8,
        calls: 1,
        // llama-server checks no key; the crate's Anthropic config requires one to be set.
        api_key: std::env::var("LLM_API_KEY").unwrap_or_else(|_| "not-a-key".into()),
        array: false,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--array" {
            o.array = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?.clone();
        match flag.as_str() {
            "--base-url" => o.base_url = value,
            "--model" => o.model = value,
            "--providers" => o.providers = value.split(',').map(str::to_owned).collect(),
            "--user-id" => o.user_id = value,
            "--session-id" => o.session_id = Some(value),
            "--llm-path" => o.llm_path = Some(value),
            "--prompt" => o.prompt = value,
            "--max-tokens" => o.max_tokens = value.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--calls" => o.calls = value.parse().map_err(|e| format!("{flag}: {e}"))?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if o.base_url.is_empty() {
        return Err("--base-url (or LLM_BASE_URL) is required".into());
    }
    Ok(o)
}

fn client_for(provider: &str, o: &Options) -> Result<UnifiedLLMClient, String> {
    // One attempt: a test must see a failure, not minutes of backoff.
    let retry_policy = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
    let base_url = o.base_url.trim_end_matches('/').to_string();
    let provider: Box<dyn multi_llm::ProviderConfig> = match provider {
        "openai" => Box::new(OpenAIConfig {
            api_key: Some(o.api_key.clone()),
            base_url,
            default_model: o.model.clone(),
            max_context_tokens: 4096,
            retry_policy,
        }),
        "anthropic" => Box::new(AnthropicConfig {
            api_key: Some(o.api_key.clone()),
            base_url,
            default_model: o.model.clone(),
            max_context_tokens: 4096,
            retry_policy,
            enable_prompt_caching: false,
            cache_ttl: "5m".into(),
        }),
        "lmstudio" => Box::new(LMStudioConfig {
            base_url,
            default_model: o.model.clone(),
            max_context_tokens: 4096,
            retry_policy,
        }),
        other => return Err(format!("unknown provider {other}")),
    };
    let config = LLMConfig { provider, default_params: DefaultLLMParams::default() };
    UnifiedLLMClient::from_config(config).map_err(|e| e.to_string())
}

async fn produce(o: Options) -> Result<(), String> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for provider in &o.providers {
        let client = client_for(provider, &o)?;
        for _ in 0..o.calls {
            let request = UnifiedLLMRequest::new(vec![UnifiedMessage::user(o.prompt.clone())]);
            let config = RequestConfig {
                temperature: Some(0.0),
                max_tokens: Some(o.max_tokens),
                user_id: Some(o.user_id.clone()),
                session_id: o.session_id.clone(),
                llm_path: o.llm_path.clone(),
                ..RequestConfig::default()
            };
            let (response, events) = client
                .execute_llm(request, None, Some(config))
                .await
                .map_err(|e| format!("{provider}: {e}"))?;
            let usage = response.usage.as_ref().map(|u| {
                serde_json::json!({"prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens})
            });
            eprintln!("{}", serde_json::json!({"provider": provider, "usage": usage, "content": response.content}));
            let scoped: Vec<ScopedEvent> = events.into_iter().map(ScopedEvent::from).collect();
            if o.array {
                let bare: Vec<&BusinessEvent> = scoped.iter().map(|s| &s.event).collect();
                writeln!(out, "{}", serde_json::to_string(&bare).map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
            } else {
                for event in &scoped {
                    writeln!(out, "{}", serde_json::to_string(event).map_err(|e| e.to_string())?)
                        .map_err(|e| e.to_string())?;
                }
            }
        }
    }
    Ok(())
}

/// One report line per input line: `{"ok":true,"json":"<serde's re-serialisation>"}` or
/// `{"ok":false,"error":"<serde's message>"}`. With `scoped`, lines are `{"event","scope"}`.
fn read(scoped: bool) -> Result<(), String> {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for line in stdin.lock().split(b'\n') {
        let line = line.map_err(|e| e.to_string())?;
        let report = match std::str::from_utf8(&line) {
            Err(e) => serde_json::json!({"ok": false, "error": format!("not UTF-8: {e}")}),
            Ok(text) => {
                let parsed = if scoped {
                    serde_json::from_str::<ScopedEvent>(text).and_then(|e| serde_json::to_string(&e))
                } else {
                    serde_json::from_str::<BusinessEvent>(text).and_then(|e| serde_json::to_string(&e))
                };
                match parsed {
                    Ok(json) => serde_json::json!({"ok": true, "json": json}),
                    Err(e) => serde_json::json!({"ok": false, "error": e.to_string()}),
                }
            }
        };
        writeln!(out, "{report}").map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("produce") => match parse_options(&args[1..]) {
            Ok(o) => produce(o).await,
            Err(e) => Err(e),
        },
        Some("read") => read(args.get(1).map(String::as_str) == Some("--scoped")),
        _ => Err("usage: rust-service produce --base-url URL [--providers openai,anthropic,lmstudio] \
                  [--model M] [--user-id U] [--session-id S] [--llm-path P] [--prompt TEXT] \
                  [--max-tokens N] [--calls N] [--array] | rust-service read [--scoped]"
            .into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rust-service: {e}");
            ExitCode::FAILURE
        }
    }
}
