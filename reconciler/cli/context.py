"""What every command gets: parsed arguments and a lazily made driver."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.model.errors import ReconcileError
from reconciler.model.records import field, record, replace

if TYPE_CHECKING:  # the contract is a type here; `images build` must not import it
    from reconciler.drivers.base import FullDriver


def make_driver(name: str, state_dir: Path, registry: Any = None,
                journal: bool = True) -> FullDriver:  # fmt: skip
    """`registry`: RegistryOptions (insecure hosts, credentials file) for native pulls;
    `journal`: False only for a pass that must leave no event (cli/settle.py)."""
    from reconciler.drivers.journal import JournaledDriver

    driver: FullDriver
    if name == "native":
        from reconciler.drivers.native.driver import NativeDriver

        driver = NativeDriver(state_dir, registry=registry)
    elif name == "docker":
        from reconciler.drivers.docker.driver import DockerDriver

        # The engine's own pulls use the user's Docker config: `registry` is the native's.
        driver = DockerDriver(state_dir)
    else:
        raise ReconcileError(f"unknown driver {name!r} (use --driver native or docker)")
    return JournaledDriver(driver, state_dir) if journal else driver


@record
class Context:
    """What every command gets: its parsed arguments and, on first use, its driver."""

    args: argparse.Namespace
    injected_driver: FullDriver | None = None
    words: tuple[str, ...] = ()  # the command line as given (cli/settled.py keys on it)
    _driver: FullDriver | None = field(default=None, init=False)

    @property
    def state_dir(self) -> Path:
        path: Path = self.args.state_dir
        return path

    @property
    def schema_cache(self) -> Path:
        """Where stack data that passed the schema is remembered (schema_check)."""
        return self.state_dir / "cache" / "schema"

    @property
    def driver(self) -> FullDriver:
        if self._driver is None:
            # no registry flag: the driver's defaults, not imported by commands that pull nothing
            registry = self.registry_options() if self._registry_flags() else None
            self._driver = self.injected_driver or make_driver(
                self.args.driver, self.state_dir, registry
            )
        return self._driver

    def fresh_driver(self, journal: bool = True) -> FullDriver:
        """A new driver with nothing remembered from this process: what the next command
        would see (cli/settle.py observes and rebuilds through it)."""
        return make_driver(self.args.driver, self.state_dir, journal=journal)

    def _registry_flags(self) -> bool:
        return any(getattr(self.args, flag, None)
                   for flag in ("registry_config", "pull_timeout", "insecure_registry"))

    def registry_options(self) -> Any:
        """--insecure-registry / --registry-config / --pull-timeout as the native driver's
        RegistryOptions."""
        from reconciler.drivers.native.registry.options import RegistryOptions

        config = getattr(self.args, "registry_config", None)
        timeout = getattr(self.args, "pull_timeout", None)
        insecure = getattr(self.args, "insecure_registry", None)

        options = RegistryOptions(
            insecure=tuple(insecure or ()),
            config_path=Path(config) if config else None,
        )
        if timeout is not None and timeout > 0:
            return replace(options, pull_timeout=timeout)
        return options

    @property
    def compose(self) -> Any:
        """-f / -p / --env-file / --profile / --strict as a ComposeRequest (spec/compose);
        None when none was given, so a stack-only run never imports the Compose modules."""
        args = self.args
        files = getattr(args, "compose_files", None) or []
        given = (files, getattr(args, "project_name", None), getattr(args, "env_file", None),
                 getattr(args, "profile", None), getattr(args, "strict", False))
        if not any(given):
            return None
        from reconciler.spec.compose.entry import ComposeRequest
        from reconciler.spec.compose.project import ComposeOptions

        options = ComposeOptions(project_name=args.project_name,
                                 env_files=tuple(Path(f) for f in args.env_file or ()),
                                 profiles=tuple(args.profile or ()))
        return ComposeRequest(tuple(Path(f) for f in files), options, bool(args.strict))

    @property
    def color(self) -> bool:
        from reconciler.cli.output import wants_color  # it brings the plan renderer

        return wants_color(sys.stdout)

    def out(self, text: str) -> None:
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        sys.stdout.flush()
