"""Builders shared by the native bundle tests: a ContainerSpec and BundleInputs to vary."""

from __future__ import annotations

from typing import Any

from reconciler.drivers.native.container.bundle import BundleInputs, oci_config
from reconciler.model import records
from reconciler.model.desired import ContainerSpec, ImageSource

IMAGE = ImageSource(key="base", kind="oci", identity="sha256:abc", path="/images/base")


def make_spec(**changes: Any) -> ContainerSpec:
    base = ContainerSpec(stack="shop", key="web", name="shop-web", replica=1, image=IMAGE)
    return records.replace(base, **changes)


def make_inputs(spec: ContainerSpec | None = None, **changes: Any) -> BundleInputs:
    inputs = BundleInputs(
        spec=spec or make_spec(hostname="web"),
        image_config={"Cmd": ["httpd", "-f"], "Env": ["PATH=/bin", "LANG=C"]},
        rootfs="/var/lib/reconcile/containers/shop-web/rootfs",
        cgroups_path="/reconcile/shop-web",
        host_nofile_hard=20000,
    )
    return records.replace(inputs, **changes)


def config_for(**spec_changes: Any) -> dict[str, Any]:
    return oci_config(make_inputs(make_spec(**spec_changes)))
