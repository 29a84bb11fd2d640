"""apply_patch through Toolset.call, as the session calls it: the V4A format, refusals, atomicity."""
from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from harness.agent.tools import apply_patch as apply_patch_module
from harness.agent.tools.apply_patch import INSTRUCTIONS, ApplyPatch
from harness.agent.tools.base import ToolResult, Toolset

SOURCE = """\
import os


def greet(name):
    message = "Hi " + name
    print(message)
    return message


def part(name):
    message = "Bye " + name
    print(message)
    return message


class Greeter:
    def greet(self):
        message = "Hi"
        print(message)
        return message
"""


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text(SOURCE)
    (root / "notes.txt").write_text("one\ntwo\nthree\n")
    return root


@pytest.fixture
def tools(ws: Path) -> Toolset:
    return Toolset([ApplyPatch(ws)])


def call(tools: Toolset, *body: str) -> ToolResult:
    return tools.call("apply_patch", "\n".join(["*** Begin Patch", *body, "*** End Patch"]) + "\n")


def test_declared_as_the_reference_declares_it(ws: Path) -> None:
    tool = ApplyPatch(ws)
    (func,) = tool.functions()
    assert func.recipient == "functions.apply_patch" and func.freeform and not tool.builtin
    assert func.parameters == {"type": "string", "description": "Formatted patch code",
                               "default": "*** Begin Patch\n*** End Patch\n"}
    assert "*** Update File:" in tool.instructions and tool.instructions is INSTRUCTIONS
    assert Toolset([tool]).function_specs()[0]["name"] == "apply_patch"


def test_add_update_delete_in_one_patch(tools: Toolset, ws: Path) -> None:
    result = call(tools,
                  "*** Add File: docs/new.md", "+# New", "+", "+text",
                  "*** Update File: notes.txt", "@@", " one", "-two", "+TWO", " three",
                  "*** Delete File: src/app.py")
    assert result.ok, result.text
    assert result.text == "Done: A docs/new.md, M notes.txt, D src/app.py"
    assert (ws / "docs" / "new.md").read_text() == "# New\n\ntext\n"
    assert (ws / "notes.txt").read_text() == "one\nTWO\nthree\n"
    assert not (ws / "src" / "app.py").exists()


def test_the_bare_name_reaches_the_tool_too(tools: Toolset, ws: Path) -> None:
    text = "*** Begin Patch\n*** Delete File: notes.txt\n*** End Patch"
    assert tools.call("functions.apply_patch", text).text == "Done: D notes.txt"


def test_move_with_changes_keeps_the_mode(tools: Toolset, ws: Path) -> None:
    (ws / "notes.txt").chmod(0o751)
    result = call(tools, "*** Update File: notes.txt", "*** Move to: moved/notes.md",
                  "@@", " one", "-two", "+2", " three")
    assert result.text == "Done: M notes.txt -> moved/notes.md"
    assert not (ws / "notes.txt").exists()
    assert (ws / "moved" / "notes.md").read_text() == "one\n2\nthree\n"
    assert (ws / "moved" / "notes.md").stat().st_mode & 0o777 == 0o751


def test_several_hunks_in_file_order(tools: Toolset, ws: Path) -> None:
    result = call(tools, "*** Update File: src/app.py",
                  "@@", " def greet(name):", '-    message = "Hi " + name', '+    message = "Hello " + name',
                  "@@", " def part(name):", '-    message = "Bye " + name', '+    message = "Goodbye " + name')
    assert result.ok, result.text
    text = (ws / "src" / "app.py").read_text()
    assert '"Hello " + name' in text and '"Goodbye " + name' in text
    assert text == SOURCE.replace('"Hi " + name', '"Hello " + name').replace('"Bye "', '"Goodbye "')


def test_anchors_pick_the_place_and_nest(tools: Toolset, ws: Path) -> None:
    # `print(message)` / `return message` occur three times: the anchors choose the method
    result = call(tools, "*** Update File: src/app.py",
                  "@@ class Greeter:", "@@     def greet(self):", "         print(message)",
                  "-        return message", "+        return message.upper()")
    assert result.ok, result.text
    text = (ws / "src" / "app.py").read_text()
    assert text == SOURCE[:-len("return message\n")] + "return message.upper()\n"


def test_end_of_file_matches_at_the_end(tools: Toolset, ws: Path) -> None:
    (ws / "list.txt").write_text("x\nend\ny\nend\n")
    result = call(tools, "*** Update File: list.txt", "@@", " end", "+after", "*** End of File")
    assert result.ok, result.text
    assert (ws / "list.txt").read_text() == "x\nend\ny\nend\nafter\n"


def test_trailing_whitespace_and_indentation_fuzz(tools: Toolset, ws: Path) -> None:
    (ws / "f.py").write_text("def f():   \n        if x:\n            return 1\n        return 2\n")
    result = call(tools, "*** Update File: f.py",
                  "@@", " def f():",  # the file has trailing spaces
                  "     if x:",  # 4 spaces less than in the file, as are the lines below
                  "-        return 1", "+        return 10", "+        # done")
    assert result.ok, result.text
    assert (ws / "f.py").read_text() == ("def f():   \n        if x:\n            return 10\n"
                                         "            # done\n        return 2\n")


def test_crlf_files_keep_their_line_ends(tools: Toolset, ws: Path) -> None:
    (ws / "win.txt").write_bytes(b"a\r\nb\r\nc\r\n")
    assert call(tools, "*** Update File: win.txt", "@@", " a", "-b", "+B", " c").ok
    assert (ws / "win.txt").read_bytes() == b"a\r\nB\r\nc\r\n"


@pytest.mark.parametrize("path", ["/etc/passwd", "/tmp/evil.txt", "\\evil.txt", "C:/evil.txt", "~/evil"])
def test_absolute_paths_are_refused(tools: Toolset, path: str) -> None:
    result = call(tools, f"*** Add File: {path}", "+x")
    assert result.error == "tool_error"
    assert result.text == f"Error: {path}: absolute paths are not allowed; give a path relative to the workspace"


@pytest.mark.parametrize("path", ["../outside.txt", "src/../../outside.txt", "src/.."])
def test_dotdot_is_refused(tools: Toolset, ws: Path, path: str) -> None:
    result = call(tools, f"*** Add File: {path}", "+x")
    assert result.text == f"Error: {path}: '..' is not allowed in a path"
    assert not (ws.parent / "outside.txt").exists()


def test_symlinks_leading_out_are_refused(tools: Toolset, ws: Path) -> None:
    outside = ws.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("keep\n")
    (ws / "link.txt").symlink_to(outside / "secret.txt")  # the file itself
    (ws / "linkdir").symlink_to(outside)  # a directory above it
    (ws / "dangling").symlink_to(outside / "not-yet.txt")
    cases = [("*** Update File: link.txt", "@@", "-keep", "+stolen"),
             ("*** Delete File: linkdir/secret.txt",),
             ("*** Add File: linkdir/new.txt", "+x"),
             ("*** Add File: dangling", "+x"),
             ("*** Update File: notes.txt", "*** Move to: linkdir/moved.txt")]
    for body in cases:
        result = call(tools, *body)
        assert result.error == "tool_error" and result.text.endswith("leads outside the workspace (through a symlink)"), body
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "keep\n"
    assert (ws / "notes.txt").exists()


def test_symlinks_inside_the_workspace_are_followed(tools: Toolset, ws: Path) -> None:
    (ws / "alias.txt").symlink_to(ws / "notes.txt")
    assert call(tools, "*** Update File: alias.txt", "@@", "-one", "+ONE").ok
    assert (ws / "notes.txt").read_text() == "ONE\ntwo\nthree\n"


def test_context_not_found_names_the_file_and_the_line(tools: Toolset, ws: Path) -> None:
    result = call(tools, "*** Update File: notes.txt", "@@", " one", "-zwei", "+2")
    assert result.text == ("Error: notes.txt: context not found for the hunk at patch line 3: "
                           "no match for 'one' (with the lines after it)")
    anchor = call(tools, "*** Update File: notes.txt", "@@ def nowhere():", "-two", "+2")
    assert anchor.text == ("Error: notes.txt: context not found for the hunk at patch line 3: "
                           "no line matches '@@ def nowhere():'")
    assert (ws / "notes.txt").read_text() == "one\ntwo\nthree\n"


def test_missing_and_existing_files(tools: Toolset, ws: Path) -> None:
    assert call(tools, "*** Update File: nope.txt", "@@", "-a", "+b").text == \
        "Error: nope.txt: cannot update, the file does not exist"
    assert call(tools, "*** Delete File: nope.txt").text == "Error: nope.txt: cannot delete, the file does not exist"
    assert call(tools, "*** Add File: notes.txt", "+x").text == \
        "Error: notes.txt: cannot add, the file already exists (update it instead)"
    assert call(tools, "*** Update File: notes.txt", "*** Move to: src/app.py").text == \
        "Error: src/app.py: cannot move notes.txt there, the file already exists"
    assert call(tools, "*** Delete File: src").text == "Error: src: cannot delete, it is not a regular file"


@pytest.mark.parametrize("text, error", [
    ("", "empty patch: expected '*** Begin Patch' ... '*** End Patch'"),
    ("*** Begin Patch\n*** End Patch\n", "empty patch: no file operations between '*** Begin Patch' and '*** End Patch'"),
    ("*** Add File: a\n+x\n*** End Patch", "malformed patch: line 1: expected '*** Begin Patch', got '*** Add File: a'"),
    ("*** Begin Patch\n*** Add File: a\n+x", "malformed patch: line 3: expected '*** End Patch' as the last line, got '+x'"),
    ("*** Begin Patch\n*** Add File: a\nx\n*** End Patch",
     "malformed patch: line 3: every line of an added file must start with '+', got 'x'"),
    ("*** Begin Patch\n*** Update File: notes.txt\n@@\n one\n*two\n*** End Patch",
     "malformed patch: line 5: a hunk line must start with ' ', '-' or '+', got '*two'"),
    ("*** Begin Patch\n*** Update File: notes.txt\n*** End Patch",
     "malformed patch: line 2: '*** Update File: notes.txt' has no hunks"),
    ("*** Begin Patch\n*** Change File: notes.txt\n*** End Patch",
     "malformed patch: line 2: expected '*** Add File:', '*** Update File:' or '*** Delete File:', "
     "got '*** Change File: notes.txt'"),
    ("*** Begin Patch\n*** Delete File: notes.txt\n+x\n*** End Patch",
     "malformed patch: line 3: nothing may follow '*** Delete File: notes.txt', got '+x'"),
])
def test_malformed_patches_say_where(tools: Toolset, ws: Path, text: str, error: str) -> None:
    result = tools.call("apply_patch", text)
    assert result.error == "tool_error" and result.text == f"Error: {error}"
    assert (ws / "notes.txt").read_text() == "one\ntwo\nthree\n"


def test_a_failing_second_file_leaves_the_first_untouched(tools: Toolset, ws: Path) -> None:
    before = (ws / "src" / "app.py").read_bytes()
    result = call(tools,
                  "*** Update File: src/app.py", "@@", "-import os", "+import sys",
                  "*** Add File: brand/new.txt", "+x",
                  "*** Update File: notes.txt", "@@", "-not there", "+x")
    assert result.text.startswith("Error: notes.txt: context not found")
    assert (ws / "src" / "app.py").read_bytes() == before
    assert not (ws / "brand").exists()


def test_a_failed_write_restores_what_was_written(tools: Toolset, ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = {p: p.read_bytes() for p in (ws / "src" / "app.py", ws / "notes.txt")}
    real_write, writes = apply_patch_module._write, []

    def failing_write(path: Path, data: bytes, mode: int | None) -> None:
        writes.append(path)
        if len(writes) == 3:
            raise OSError(28, "No space left on device")
        real_write(path, data, mode)
    monkeypatch.setattr(apply_patch_module, "_write", failing_write)
    result = call(tools,
                  "*** Update File: src/app.py", "@@", "-import os", "+import sys",
                  "*** Add File: fresh/dir/new.txt", "+x",
                  "*** Delete File: notes.txt",
                  "*** Add File: third.txt", "+y")
    assert result.text == ("Error: third.txt: could not write (No space left on device); the patch was not "
                           "applied and no file was changed")
    assert {p: p.read_bytes() for p in before} == before
    assert not (ws / "fresh").exists() and not (ws / "third.txt").exists()
    assert sorted(os.listdir(ws)) == ["notes.txt", "src"]  # no temporary files left


def test_the_same_file_twice_is_refused(tools: Toolset) -> None:
    result = call(tools, "*** Delete File: notes.txt", "*** Add File: notes.txt", "+new")
    assert result.text == "Error: notes.txt: named by more than one operation of the patch"


# --- property: a patch generated from any edit applies to the expected text ----------------------

_line = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
_lines = st.lists(_line, max_size=25, unique_by=str.strip)


def _v4a(old: list[str], new: list[str], pad_context: bool) -> str:
    """A V4A update from difflib's hunks (their `@@ -a,b +c,d @@` headers carry no anchor)."""
    body = []
    for line in list(difflib.unified_diff(old, new, n=2, lineterm=""))[2:]:
        if pad_context and line.startswith(" "):
            line += "  "  # trailing whitespace the file does not have: matched by the fuzz
        body.append(line)
    return "\n".join(["*** Begin Patch", "*** Update File: f.txt", *body, "*** End Patch"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=_lines, new=_lines, pad_context=st.booleans())
def test_generated_patches_apply_to_the_expected_text(old: list[str], new: list[str], pad_context: bool) -> None:
    assume(old != new)
    with tempfile.TemporaryDirectory() as root:
        target = Path(root) / "f.txt"
        target.write_text("".join(line + "\n" for line in old), encoding="utf-8")
        result = Toolset([ApplyPatch(Path(root))]).call("apply_patch", _v4a(old, new, pad_context))
        assert result.text == "Done: M f.txt", result.text
        assert target.read_text(encoding="utf-8") == "".join(line + "\n" for line in new)
