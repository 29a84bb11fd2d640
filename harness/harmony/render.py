"""Rendering Harmony prompts for gpt-oss: system and developer messages, the conversation.

A prompt is the system message (identity, knowledge cutoff, date, reasoning effort, built-in
tools), an optional developer message (instructions and function tools, in the `functions`
namespace), then the conversation, rendered by openai-harmony for completion by the assistant,
so it ends with `<|start|>assistant`. Generation stops at STOP_TOKENS.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openai_harmony import (
    Author,
    Conversation,
    DeveloperContent,
    HarmonyEncoding,
    Message,
    ReasoningEffort,
    RenderConversationConfig,
    Role,
    SystemContent,
    ToolDescription,
    ToolNamespaceConfig,
)

from harness.harmony.history import prune_analysis
from harness.harmony.recipients import is_function, qualify
from harness.models.vocab import ASSISTANT_STOPS

STOP_TOKENS: tuple[int, ...] = ASSISTANT_STOPS  # <|return|>, <|call|>
JSON_CONTENT_TYPE = "<|constrain|>json"
EFFORTS: dict[str, ReasoningEffort] = {
    "low": ReasoningEffort.LOW,
    "medium": ReasoningEffort.MEDIUM,
    "high": ReasoningEffort.HIGH,
}
_NO_AUTO_DROP = RenderConversationConfig(auto_drop_analysis=False)


@dataclass
class HarmonyOptions:
    """What goes around the conversation: the system and developer messages."""

    reasoning_effort: str = "low"  # low | medium | high
    knowledge_cutoff: str = "2024-06"
    conversation_date: str | None = None  # YYYY-MM-DD
    model_identity: str | None = None  # None: openai-harmony's default identity
    developer_instructions: str | None = None
    function_tools: list[dict[str, Any]] = field(default_factory=list)  # {name, description, parameters}
    browser: bool = False  # built-in browser tool in the system message
    python: bool = False  # built-in python tool in the system message
    builtin_descriptions: dict[str, str] = field(default_factory=dict)  # tool -> own namespace description


def _effort(name: str) -> ReasoningEffort:
    """The ReasoningEffort for low, medium or high (any case)."""
    try:
        return EFFORTS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"reasoning_effort must be one of low, medium, high; got {name!r}") from None


def _tool_description(spec: dict[str, Any]) -> ToolDescription:
    """A function tool from {"name", "description", "parameters" (JSON schema)}."""
    if not isinstance(spec, dict) or not spec.get("name"):
        raise ValueError(f"a function tool needs a 'name' (and 'description', 'parameters'); got {spec!r}")
    return ToolDescription.new(spec["name"], spec.get("description", ""), spec.get("parameters"))


def system_message(opts: HarmonyOptions) -> Message:
    """The system message: identity, knowledge cutoff, date, reasoning effort, built-in tools."""
    content = (SystemContent.new()
               .with_reasoning_effort(_effort(opts.reasoning_effort))
               .with_knowledge_cutoff(opts.knowledge_cutoff))
    if opts.model_identity:
        content = content.with_model_identity(opts.model_identity)
    if opts.conversation_date:
        content = content.with_conversation_start_date(opts.conversation_date)
    for name, on, default in (("browser", opts.browser, ToolNamespaceConfig.browser),
                              ("python", opts.python, ToolNamespaceConfig.python)):
        if on:
            ns = default()
            if opts.builtin_descriptions.get(name):  # e.g. python's sandbox says whether network is cut
                ns = ToolNamespaceConfig(name=ns.name, description=opts.builtin_descriptions[name], tools=ns.tools)
            content = content.with_tools(ns)
    return Message.from_role_and_content(Role.SYSTEM, content)


def developer_message(opts: HarmonyOptions) -> Message | None:
    """The developer message (instructions, function tools), or None when there is neither."""
    if not opts.developer_instructions and not opts.function_tools:
        return None
    content = DeveloperContent.new()
    if opts.developer_instructions:
        content = content.with_instructions(opts.developer_instructions)
    if opts.function_tools:
        content = content.with_function_tools([_tool_description(t) for t in opts.function_tools])
    return Message.from_role_and_content(Role.DEVELOPER, content)


def _default_encoding() -> HarmonyEncoding:
    """The project's offline o200k_harmony encoding."""
    from harness.models.vocab import harmony_encoding

    return harmony_encoding()


def render_prompt(messages: list[Message], opts: HarmonyOptions, *,
                  encoding: HarmonyEncoding | None = None, prune: bool = True) -> list[int]:
    """Token ids of system (+ developer) + messages, ending with `<|start|>assistant`.

    With prune (the default) finished turns lose their analysis first (history.prune_analysis);
    openai-harmony's own auto-drop is always off, so the messages given are rendered as given.
    """
    head = [system_message(opts)]
    dev = developer_message(opts)
    if dev is not None:
        head.append(dev)
    body = prune_analysis(messages) if prune else list(messages)
    conv = Conversation.from_messages(head + body)
    enc = encoding if encoding is not None else _default_encoding()
    tokens: list[int] = enc.render_conversation_for_completion(conv, Role.ASSISTANT, _NO_AUTO_DROP)
    return tokens


def user(text: str) -> Message:
    """A user message."""
    return Message.from_role_and_content(Role.USER, text)


def assistant(text: str, channel: str = "final") -> Message:
    """An assistant message on a channel (analysis, commentary or final)."""
    return Message.from_role_and_content(Role.ASSISTANT, text).with_channel(channel)


def tool_call(name: str, args_json: str, channel: str = "commentary") -> Message:
    """An assistant call of a tool; a bare name goes to the functions namespace.

    Function calls carry the `<|constrain|>json` content type gpt-oss writes for them.
    """
    recipient = qualify(name)
    msg = assistant(args_json, channel).with_recipient(recipient)
    return msg.with_content_type(JSON_CONTENT_TYPE) if is_function(recipient) else msg


def tool_result(name: str, text: str, channel: str = "commentary") -> Message:
    """A tool's answer: author the tool (qualified name), to the assistant, on the call's channel."""
    author = Author.new(Role.TOOL, qualify(name))
    return (Message.from_author_and_content(author, text)
            .with_recipient("assistant").with_channel(channel))
