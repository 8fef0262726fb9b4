"""Devices at the edge: frame sources (camera, file, demo) and sinks (virtual camera, window, file)."""


class Closable:
    """Context-manager support for devices; their ``close()`` is safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:  # pragma: no cover - every device overrides it
        pass
