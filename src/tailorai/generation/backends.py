"""The back end the settings name: an OpenAI-compatible server, else the local model."""

from __future__ import annotations

from typing import Any

__all__ = ["backend_from_settings"]


def backend_from_settings(settings: Any) -> Any:
    """`OpenAIBackend` on `generation_url` when set, else `LocalBackend` on `base_model`."""
    if settings.generation_url:
        from tailorai.generation.openai_backend import OpenAIBackend

        return OpenAIBackend(settings.generation_url, api_key=settings.generation_api_key)
    from tailorai.generation.local_backend import LocalBackend

    return LocalBackend(settings.base_model)
