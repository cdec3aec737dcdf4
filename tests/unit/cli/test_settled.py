"""The settled no-op (cli/settled.py): after an apply that found nothing to do, the next
identical apply is answered from the record without the full path, printing the same text;
any change to what the full path would read (the stack, what it references, the state
dir's records, a container's process, a user stop), a held lock, a loop's socket or other
command words takes the full path instead.

The state dir records two running containers whose processes are children of this test
(tests/unit/cli/test_noop_imports.py's `host`), so the full path is a real no-op apply on
the native driver and the checks run on real files and processes.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.cli import settled
from tests.unit.cli.test_noop_imports import ROOT, host  # noqa: F401 - the fixture

# the entry point, then whether the full CLI was imported (in a file: stdout is the command's)
PROBE = """
import json, sys
from reconciler.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "full": "reconciler.cli.main" in sys.modules}, f)
"""
Host = tuple[Path, Path]


def _apply(stacks: Path, state: Path, tmp: Path, *extra: str,
           cwd: Path | None = None) -> tuple[bool, str]:  # fmt: skip
    """(whether the full path ran, stdout); `extra`: global options."""
    out = tmp / "probe.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-c", PROBE, str(out), *extra, "--state-dir",
                           str(state), "apply", str(stacks)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return bool(json.loads(out.read_text())["full"]), done.stdout


def _answers(stacks: Path, state: Path) -> bool:
    """Whether the fast path answers now (it changes nothing either way)."""
    code = subprocess.run(
        [sys.executable, "-c", "import sys; from reconciler.cli import settled; "
         "sys.exit(0 if settled.answer(sys.argv[1:]) == 0 else 5)",
         "--state-dir", str(state), "apply", str(stacks)],
        env={**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"},
        capture_output=True, timeout=60, check=False).returncode
    assert code in (0, 5)
    return code == 0


def test_the_next_noop_is_answered_without_the_full_path_and_prints_the_same(
    host: Host, tmp_path: Path  # noqa: F811
) -> None:
    stacks, state = host
    full, first = _apply(stacks, state, tmp_path)
    assert full and "No changes" in first
    records = list((state / "cache" / "settled").iterdir())
    assert len(records) == 1 and records[0].stat().st_mode & 0o077 == 0
    assert b"sleep" not in records[0].read_bytes()  # digests and paths, no content
    full, second = _apply(stacks, state, tmp_path)
    assert not full and second == first


def _edit_stack(stacks: Path, state: Path) -> None:
    path = stacks / "lean.yaml"
    before = path.read_text()
    path.write_text(before.replace('"60"]', '"61"]', 1))  # same size, another command


def _edit_image_layout(stacks: Path, state: Path) -> None:
    path = stacks / "image" / "index.json"
    before = path.read_text()
    path.write_text(before.replace("[]", "[ ]"))


def _new_container_dir(stacks: Path, state: Path) -> None:
    extra = state / "containers" / "lean-three"
    extra.mkdir()


def _user_stop(stacks: Path, state: Path) -> None:
    marker = state / "stopped" / "lean-one"
    marker.parent.mkdir(exist_ok=True)
    marker.write_text("")


def _monitor_changed(stacks: Path, state: Path) -> None:
    path = state / "containers" / "lean-one" / "monitor.pid"
    path.write_text(json.dumps(1))


def _image_refs_changed(stacks: Path, state: Path) -> None:
    path = state / "images" / "refs.json"
    path.write_text(json.dumps({}))


@pytest.mark.parametrize("change", [_edit_stack, _edit_image_layout, _new_container_dir,
                                    _user_stop, _monitor_changed, _image_refs_changed])
def test_a_change_to_anything_the_full_path_reads_is_not_answered(
    host: Host, tmp_path: Path, change: Callable[[Path, Path], None]  # noqa: F811
) -> None:
    stacks, state = host
    _apply(stacks, state, tmp_path)
    assert _answers(stacks, state)
    change(stacks, state)
    assert not _answers(stacks, state), change.__name__


def test_a_dead_container_process_is_not_answered(host: Host, tmp_path: Path) -> None:  # noqa: F811
    stacks, state = host
    _apply(stacks, state, tmp_path)
    assert _answers(stacks, state)
    pid = int((state / "containers" / "lean-two" / "container.pid").read_text())
    os.kill(pid, 9)
    os.waitpid(pid, 0)  # the test is its parent (the monitor's role)
    assert not _answers(stacks, state)


def test_other_words_cwd_or_variables_take_the_full_path(host: Host, tmp_path: Path) -> None:  # noqa: F811
    stacks, state = host
    _apply(stacks, state, tmp_path)
    # other words, their own record (not --prune: it reads /proc/self/mountinfo, which any
    # mount on a busy host changes)
    explicit = ("--driver", "native")
    assert _apply(stacks, state, tmp_path, *explicit)[0]
    assert not _apply(stacks, state, tmp_path, *explicit)[0]
    assert _apply(stacks, state, tmp_path, cwd=tmp_path)[0]
    words = ["--state-dir", str(state), "apply", str(stacks)]
    assert settled.key_for(words) != settled.key_for(["--state-dir", str(state), "apply",
                                                      str(stacks), str(stacks)])
    for words_out in (["--state-dir", str(state), "apply", "--dry-run", str(stacks)],
                      ["--driver", "podman", "--state-dir", str(state), "apply", str(stacks)],
                      ["--host", "unix:///x", "--state-dir", str(state), "apply", str(stacks)],
                      ["--state-dir", str(state), "plan", str(stacks)],
                      ["--state-dir", str(state), "apply"]):
        assert settled.parse(words_out) is None, words_out


def test_a_held_lock_or_a_loop_socket_takes_the_full_path(host: Host, tmp_path: Path) -> None:  # noqa: F811
    stacks, state = host
    _apply(stacks, state, tmp_path)
    with open(state / "lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert not _answers(stacks, state)
    assert _answers(stacks, state)
    (state / "api.sock").write_text("")  # only its presence counts: apply asks the loop
    assert not _answers(stacks, state)


def test_a_stack_in_a_git_repository_is_never_recorded(host: Host, tmp_path: Path) -> None:  # noqa: F811
    stacks, state = host
    subprocess.run(["git", "init", "-q", str(stacks)], check=True)
    full, _ = _apply(stacks, state, tmp_path)
    assert full and not (state / "cache" / "settled").exists()  # provenance runs git
    assert _apply(stacks, state, tmp_path)[0]


def test_the_code_stamp_follows_every_file_of_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mod.py").write_text("x = 1\n")
    monkeypatch.setattr(settled, "_PACKAGE", str(tmp_path))
    monkeypatch.setattr(settled, "_code_stamp", None)
    before = settled.code_stamp()
    (tmp_path / "sub" / "mod.py").write_text("x = 22\n")
    assert settled._stamp_of_package() != before
    assert settled.code_stamp() == before  # once a process: the code that was started


def test_only_the_newest_records_are_kept(tmp_path: Path) -> None:
    from reconciler.cli import settle
    from reconciler.support import readlog

    with readlog.recording() as log:
        pass
    for n in range(settle.KEEP + 3):
        assert settle.store(tmp_path, f"key{n:03d}", [log], "out\n")
        os.utime(settled.record_path(str(tmp_path), f"key{n:03d}"), ns=(n * 10**9, n * 10**9))
    kept = sorted(p.name for p in (tmp_path / "cache" / "settled").iterdir())
    assert len(kept) == settle.KEEP and f"key000{settled.SUFFIX}" not in kept
    assert f"key066{settled.SUFFIX}" in kept


def test_a_compose_project_is_never_recorded(tmp_path: Path) -> None:
    """Its interpolation may read any variable, which no key or signature covers."""
    from reconciler.spec.stacks import load_stacks
    from reconciler.support import readlog

    (tmp_path / "compose.yaml").write_text(
        "name: shop\nservices:\n  web:\n    image: nginx:${TAG:-1.27}\n")
    with readlog.recording() as log:
        load_stacks([tmp_path / "compose.yaml"])
    assert log.unrecordable is not None and "environment" in log.unrecordable
