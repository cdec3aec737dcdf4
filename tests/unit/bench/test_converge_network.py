"""bench/suite_converge.py `--network`: what each choice writes for reconcile and Compose."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bench import suite_converge
from reconciler.spec.stacks import load_stacks


@pytest.mark.parametrize(("network", "mode"), [("none", "none"), ("stack", "private")])
def test_the_stack_puts_every_container_on_the_network_asked(
        tmp_path: Path, network: str, mode: str) -> None:
    layout = tmp_path / "layout"  # the checks look for a layout's index.json, no more
    layout.mkdir()
    (layout / "index.json").write_text('{"schemaVersion": 2, "manifests": []}')
    stack = tmp_path / "bench.yaml"
    suite_converge.write_stack(stack, layout, 3, network=network)
    (loaded,) = load_stacks([stack]).stacks
    assert [c.network for c in loaded.containers] == [mode] * 3


@pytest.mark.parametrize(("network", "mode"), [("none", "none"), ("stack", None)])
def test_the_compose_file_uses_the_project_network_unless_none(
        tmp_path: Path, network: str, mode: str | None) -> None:
    path = tmp_path / "docker-compose.yml"
    suite_converge.write_compose(path, 3, network)
    services = yaml.safe_load(path.read_text())["services"]
    assert len(services) == 3
    assert [s.get("network_mode") for s in services.values()] == [mode] * 3
