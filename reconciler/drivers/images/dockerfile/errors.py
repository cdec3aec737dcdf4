"""The error of a Dockerfile build, located at the Dockerfile's line."""

from __future__ import annotations

from reconciler.model.errors import ImageError


class DockerfileError(ImageError):
    """`Dockerfile:7: COPY source 'app/' not found in the context`."""

    def __init__(self, file: str, line: int, message: str) -> None:
        self.file = file
        self.line = line
        self.detail = message
        super().__init__(f"{file}:{line}" if line else file, message)
