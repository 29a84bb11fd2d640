"""Harmony format adapter for OpenAI's gpt-oss models (on top of openai-harmony).

render: the prompt (system, developer with function tools, the conversation) as token ids,
    ending with `<|start|>assistant`; small message constructors; STOP_TOKENS.
parse: a streaming, forgiving parser of completions that knows each token's channel and
    recipient and counts where the model strays from the format (DEVIATIONS).
history: dropping the analysis of finished turns before the next render.
recipients: tool names and the `functions.` namespace.
"""
from harness.harmony.history import prune_analysis
from harness.harmony.parse import (
    DEVIATIONS,
    ParsedMessage,
    StreamParser,
    TokenEvent,
    parse_completion,
)
from harness.harmony.render import (
    STOP_TOKENS,
    HarmonyOptions,
    assistant,
    developer_message,
    render_prompt,
    system_message,
    tool_call,
    tool_result,
    user,
)

__all__ = [
    "DEVIATIONS",
    "STOP_TOKENS",
    "HarmonyOptions",
    "ParsedMessage",
    "StreamParser",
    "TokenEvent",
    "assistant",
    "developer_message",
    "parse_completion",
    "prune_analysis",
    "render_prompt",
    "system_message",
    "tool_call",
    "tool_result",
    "user",
]
