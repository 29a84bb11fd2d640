"""Micro-benchmarks of the Harmony adapter (pytest-benchmark; run once as tests by default).

    .venv/bin/python -m pytest tests/harmony/test_bench_harmony.py --benchmark-enable -p no:randomly
"""
from __future__ import annotations

from harness.harmony import (
    HarmonyOptions,
    StreamParser,
    assistant,
    render_prompt,
    tool_call,
    tool_result,
    user,
)

ANALYSIS = (
    "The user asks for the weather in Paris and whether they should take an umbrella for a walk this "
    "afternoon. I called get_weather and it returned 21 degrees Celsius, light wind from the west, "
    "humidity around 60 percent and a 40 percent chance of rain after 4 pm. A 40 percent chance is not "
    "negligible, so an umbrella is a reasonable suggestion, especially if the walk is long or goes past "
    "late afternoon. Temperature is mild, so no heavy coat is needed; a light jacket is enough. I should "
    "answer briefly, give the numbers, and make the recommendation explicit. The user wrote in English, "
    "so the answer is in English. No further tool calls are needed: the forecast covers the afternoon, "
    "and the user did not ask about tomorrow or another city. Keep the final answer to two or three "
    "sentences, friendly, without repeating the raw JSON. One more check: the tool result says the wind "
    "is light, about 10 km/h, so an umbrella will not be a problem to hold, and there is no storm warning "
    "for the city. Mention the timing of the rain so the user can plan around it if they prefer."
)
FINAL = (
    "It's 21 °C in Paris right now with a light westerly breeze. There's about a 40% chance of rain after "
    "4 pm, so I'd take a small umbrella if your walk runs into the late afternoon — a light jacket is all "
    "you need otherwise. Enjoy your walk! ☂️"
)


def test_bench_render_prompt(benchmark, enc, function_tools):
    opts = HarmonyOptions(conversation_date="2025-06-01", developer_instructions="Be concise.",
                          function_tools=function_tools)
    messages = [user("Weather in Paris? Umbrella?"), assistant("Need the forecast.", "analysis"),
                tool_call("get_weather", '{"city":"Paris"}'),
                tool_result("get_weather", '{"temp_c":21,"rain_pct_after_16h":40}'),
                assistant("21 °C, 40% rain later: take an umbrella."), user("And tomorrow?")]
    tokens = benchmark(render_prompt, messages, opts, encoding=enc)
    assert enc.decode(tokens).endswith("<|start|>user<|message|>And tomorrow?<|end|><|start|>assistant")
    benchmark.extra_info["prompt_tokens"] = len(tokens)


def test_bench_stream_parse(benchmark, enc, encode):
    tokens = encode(f"<|channel|>analysis<|message|>{ANALYSIS}<|end|>"
                    f"<|start|>assistant<|channel|>final<|message|>{FINAL}<|return|>")
    assert 280 <= len(tokens) <= 320

    def parse() -> list:
        parser = StreamParser(enc)
        for token in tokens:
            parser.feed(token)
        return parser.finish()

    msgs = benchmark(parse)
    assert [(m.channel, m.content) for m in msgs] == [("analysis", ANALYSIS), ("final", FINAL)]
    benchmark.extra_info["tokens"] = len(tokens)
