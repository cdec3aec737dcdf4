"""`images build` goes through the driver contract like every other image operation: the
journal records each name the build gave (never a build-arg value), and a driver that
does not build says which does."""

from __future__ import annotations

from pathlib import Path

from reconciler.drivers.journal import JournaledDriver
from reconciler.model.build import BuildRequest
from reconciler.support.events import FILE, read_events
from tests.fakes import InMemoryDriver


def test_a_build_through_the_journal_records_its_tags_and_no_arg_values(tmp_path: Path) -> None:
    inner = InMemoryDriver()
    driver = JournaledDriver(inner, tmp_path)  # type: ignore[arg-type]
    said: list[str] = []
    request = BuildRequest(tmp_path / "ctx", args={"TOKEN": "s3cret-value"})
    built = driver.build_dockerfile(request, ["acme/app:1", "acme/app:latest"], said.append)
    assert ("build_dockerfile", str(tmp_path / "ctx")) in inner.calls
    assert said == [f"built {built.digest}"]
    journal = (tmp_path / FILE).read_text()
    events = list(read_events(tmp_path))
    tagged = [(e["name"], e["digest"]) for e in events if e["type"] == "image-tagged"]
    assert tagged == [("acme/app:1", built.digest), ("acme/app:latest", built.digest)]
    assert "s3cret-value" not in journal and "TOKEN" not in journal
