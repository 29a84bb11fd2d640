"""Agent tools: browser (offline corpus), python (sandboxed), apply_patch (V4A), ui_pane."""
