"""Relative paths made absolute as Compose does (compose-go paths/resolve.go).

A path in a Compose file is relative to its project's folder (the first `-f` file's, an
included project's `project_directory`, or the folder of the file an `extends: file:`
names), so each is resolved once, where that folder is known; `data` then holds absolute
paths and its consumer never needs to know which file a value came from. `~` is the home.
"""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.spec.compose.nodes import Node, at

_REMOTE = ("https://", "http://", "git://", "ssh://", "github.com/", "git@")


def absolute(text: str, base: Path) -> str:
    if text.startswith("~"):
        text = os.path.expanduser(text)
    if not text or os.path.isabs(text):
        return text
    return os.path.normpath(os.path.join(base, text))


def _context(text: str, base: Path) -> str:
    if "://" in text or text.startswith(("service:", *_REMOTE)):
        return text
    return absolute(text, base)


def _string(node: Node | None, base: Path, how: object = absolute) -> Node | None:
    if node is None or not isinstance(node.value, str):
        return node
    resolve = _context if how is _context else absolute
    return at(node, resolve(node.value, base))


def _short_volume(text: str, base: Path) -> str:
    source, sep, rest = text.partition(":")
    if sep and source.startswith((".", "~")):
        return f"{absolute(source, base)}:{rest}"
    return text


def _volume(node: Node, base: Path) -> Node:
    if isinstance(node.value, str):
        return at(node, _short_volume(node.value, base))
    if isinstance(node.value, dict) and _value(node.get("type")) == "bind":
        return _with(node, "source", _string(node.get("source"), base))
    return node


def _env_files(node: Node, base: Path) -> Node:
    if isinstance(node.value, str):
        return at(node, absolute(node.value, base))
    if not isinstance(node.value, list):
        return node
    items = [_with(item, "path", _string(item.get("path"), base)) if item.is_map
             else _string(item, base) or item for item in node.value]
    return at(node, items)


def _build(node: Node, base: Path) -> Node:
    if isinstance(node.value, str):
        return at(node, _context(node.value, base))
    if not node.is_map:
        return node
    if "context" not in node.value:  # Compose's default: the project's folder
        node = at(node, {**node.value, "context": Node(".", node.origin, node.origin)})
    node = _with(node, "context", _string(node.get("context"), base, _context))
    extra = node.get("additional_contexts")
    if extra is not None and extra.is_map:
        resolved = {k: _string(v, base, _context) or v for k, v in extra.value.items()}
        node = _with(node, "additional_contexts", at(extra, resolved))
    return node


def resolve_service(service: Node, base: Path) -> Node:
    if not service.is_map:
        return service
    for key, how in (("build", _build), ("env_file", _env_files), ("label_file", _env_files)):
        found = service.get(key)
        if found is not None:
            service = _with(service, key, how(found, base))
    volumes = service.get("volumes")
    if volumes is not None and volumes.is_list:
        service = _with(service, "volumes", at(volumes, [_volume(v, base) for v in volumes.value]))
    extends = service.get("extends")
    if extends is not None and extends.is_map and extends.get("file") is not None:
        service = _with(service, "extends", _with(extends, "file",
                                                  _string(extends.get("file"), base)))
    return service


def resolve_paths(root: Node, base: Path) -> Node:
    """A copy of a project's tree with its relative paths made absolute against `base`."""
    if not root.is_map:
        return root
    services = root.get("services")
    if services is not None and services.is_map:
        root = _with(root, "services", at(services, {
            name: resolve_service(s, base) for name, s in services.value.items()}))
    volumes = root.get("volumes")
    if volumes is not None and volumes.is_map:
        root = _with(root, "volumes", at(volumes, {
            name: _bind_device(v, base) for name, v in volumes.value.items()}))
    for kind in ("configs", "secrets"):
        section = root.get(kind)
        if section is not None and section.is_map:
            root = _with(root, kind, at(section, {
                name: _with(item, "file", _string(item.get("file"), base)) if item.is_map
                else item for name, item in section.value.items()}))
    return root


def _bind_device(volume: Node, base: Path) -> Node:
    """A `local` volume that binds a host folder (`driver_opts: {o: bind, device: ./x}`)."""
    options = volume.get("driver_opts")
    if (_value(volume.get("driver")) != "local" or options is None
            or _value(options.get("o")) != "bind"):
        return volume
    return _with(volume, "driver_opts", _with(options, "device",
                                              _string(options.get("device"), base)))


def _with(node: Node, key: str, value: Node | None) -> Node:
    if value is None or not node.is_map:
        return node
    return at(node, {**node.value, key: value})


def _value(node: Node | None) -> object:
    return None if node is None else node.value
