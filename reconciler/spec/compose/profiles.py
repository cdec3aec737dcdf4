"""`profiles` as Compose applies them (compose-go types/project.go WithProfiles and
WithServicesEnabled): a service without `profiles` is always enabled; one with profiles only
when one of them is selected (`--profile`, else COMPOSE_PROFILES; `*` selects all), or when
it is named on the command line (its profiles are then selected too). An enabled service
that requires a disabled one is an error, as in Compose; `required: false` lets it go.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.model.errors import Problem
from reconciler.spec.compose.nodes import Node, at, problem_at


def _profiles(service: Node) -> list[str]:
    found = service.get("profiles")
    if found is None or not found.is_list:
        return []
    return [str(item.value) for item in found.value]


def select_profiles(root: Node, profiles: Sequence[str], named: Sequence[str],
                    problems: list[Problem]) -> Node:
    services = root.get("services")
    if services is None or not services.is_map:
        return root
    selected = set(profiles)
    for name in named:
        if name in services.value:
            selected.update(_profiles(services.value[name]))
    enabled = {name: s for name, s in services.value.items()
               if not _profiles(s) or "*" in selected or selected & set(_profiles(s))}
    for name, service in enabled.items():
        for dependency, required, origin in _dependencies(service):
            if dependency in services.value and dependency not in enabled and required:
                wanted = ", ".join(_profiles(services.value[dependency]))
                problems.append(problem_at(origin.origin, f"service `{name}` depends on "
                                           f"`{dependency}`, which is only enabled by the "
                                           f"profile(s) {wanted}: select one with --profile "
                                           "(or set `required: false`)"))
    return at(root, {**root.value, "services": at(services, enabled)})


def _dependencies(service: Node) -> list[tuple[str, bool, Node]]:
    found = service.get("depends_on")
    if found is None:
        return []
    if found.is_list:
        return [(str(item.value), True, item) for item in found.value]
    if not found.is_map:
        return []
    result = []
    for name, spec in found.value.items():
        required = spec.get("required") if spec.is_map else None
        result.append((name, required is None or required.value is not False, spec))
    return result
