"""Cache keys and the config changes of the metadata instructions (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.drivers.images.build import LayerItem
from reconciler.drivers.images.dockerfile import copying, metadata
from reconciler.drivers.images.dockerfile.commit import cache_key, hashed_values
from reconciler.drivers.images.dockerfile.parser import parse
from reconciler.drivers.images.dockerfile.state import begin_stage, iso, scratch_state


def _apply(text: str) -> dict[str, object]:
    state = scratch_state()
    begin_stage(state)
    for ins in parse("FROM scratch\n" + text).instructions[1:]:
        metadata.APPLY[ins.keyword](state, ins, "\\")
    return state.inner


def test_cache_key_depends_on_parent_instruction_and_content() -> None:
    parent = scratch_state()
    key = cache_key(parent, "RUN x", "c1")
    assert key == cache_key(scratch_state(), "RUN x", "c1")
    assert key != cache_key(parent, "RUN y", "c1")
    assert key != cache_key(parent, "RUN x", "c2")
    changed = scratch_state()
    changed.set_env([("A", "1")])
    assert key != cache_key(changed, "RUN x", "c1")
    assert cache_key(parent, "RUN x", extra={"network": True}) != cache_key(parent, "RUN x")


def test_build_arg_values_enter_keys_only_hashed() -> None:
    hashed = hashed_values({"TOKEN": "hunter2"})
    assert "hunter2" not in str(hashed) and set(hashed) == {"TOKEN"}
    assert hashed != hashed_values({"TOKEN": "other"})


def test_content_hash_sees_content_mode_and_owner(tmp_path: Path) -> None:
    file = tmp_path / "f"
    file.write_text("one")
    items = {"app/f": LayerItem("file", 0o644, file)}
    first = copying.content_hash(items)
    assert first == copying.content_hash(dict(items))
    file.write_text("two")
    assert copying.content_hash(items) != first
    second = copying.content_hash(items)
    assert copying.content_hash({"app/f": LayerItem("file", 0o755, file)}) != second
    assert copying.content_hash({"app/f": LayerItem("file", 0o644, file, 1, 1)}) != second


def test_config_fields_like_docker() -> None:
    inner = _apply(
        'ENV A=1 B="x y"\nENV C $A-z\nLABEL l1=v "l 2"=w\nUSER app:app\nEXPOSE 80 53/UDP\n'
        'VOLUME /data /tmp\nVOLUME ["/logs"]\nSTOPSIGNAL SIGTERM\nCMD echo hi\n'
        "HEALTHCHECK --interval=1m30s --timeout=500ms --retries=2 CMD [\"true\"]\n"
    )
    assert inner["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                            "A=1", "B=x y", "C=1-z"]
    assert inner["Labels"] == {"l1": "v", "l 2": "w"}
    assert inner["User"] == "app:app"
    assert inner["ExposedPorts"] == {"53/udp": {}, "80/tcp": {}}
    assert inner["Volumes"] == {"/data": {}, "/tmp": {}, "/logs": {}}
    assert inner["StopSignal"] == "SIGTERM"
    assert inner["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert inner["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 90_000_000_000,
                                    "Timeout": 500_000_000, "Retries": 2}


def test_entrypoint_clears_inherited_cmd_but_not_own() -> None:
    assert "Cmd" not in _apply('ENTRYPOINT ["a"]\n')
    assert _apply('CMD ["b"]\nENTRYPOINT ["a"]\n')["Cmd"] == ["b"]
    assert _apply('SHELL ["/bin/bash", "-o", "x", "-c"]\nENTRYPOINT run it\n')["Entrypoint"] == [
        "/bin/bash", "-o", "x", "-c", "run it"]


def test_healthcheck_none_and_errors() -> None:
    assert _apply("HEALTHCHECK NONE\n")["Healthcheck"] == {"Test": ["NONE"]}
    with pytest.raises(ValueError, match="not a duration"):
        _apply("HEALTHCHECK --interval=soon CMD true\n")
    with pytest.raises(ValueError, match="CMD command"):
        _apply("HEALTHCHECK true\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [("EXPOSE http\n", "not a port"), ("SHELL /bin/bash\n", "JSON form"),
     ("STOPSIGNAL sig term\n", "not a signal"), ("USER \n", "user name")],
)
def test_metadata_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _apply(text)


def test_epoch_timestamps() -> None:
    assert iso(0) == "1970-01-01T00:00:00Z"
    assert iso(1700000000) == "2023-11-14T22:13:20Z"
    assert copying.parse_chmod("0755") == 0o755
    with pytest.raises(ValueError, match="octal"):
        copying.parse_chmod("u+x")
