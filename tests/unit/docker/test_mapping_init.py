"""`init: true` on the docker driver is the engine's own `--init` (HostConfig.Init), and
leaving it out sends no Init at all (the engine's default, false)."""

from __future__ import annotations

from reconciler.drivers.docker import mapping
from reconciler.model import records
from reconciler.model.desired import ContainerSpec, ImageSource

IMAGE = ImageSource(key="base", kind="oci", identity="oci:abc", path="/images/base")
SPEC = ContainerSpec(stack="shop", key="web", name="shop-web", replica=1, image=IMAGE)


def host_config(spec: ContainerSpec) -> dict[str, object]:
    """The HostConfig JSON the driver's own Engine API client sends."""
    return mapping.host_config(spec)


def test_init_true_asks_the_engine_for_its_init() -> None:
    assert host_config(records.replace(SPEC, init=True))["Init"] is True


def test_without_init_the_host_config_has_no_init() -> None:
    assert "Init" not in host_config(SPEC)
