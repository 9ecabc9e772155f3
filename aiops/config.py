"""Configuration: one TOML file, one section per concern, each handed to its component.

Components validate their own section (parameters are ``__init__`` arguments),
so this module only knows the section names. Unknown sections are an error
naming the section, not silently ignored.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECTIONS = ("engine", "templates", "detect", "correlate", "api", "store", "notify")
#: descriptive tables a file may carry that configure nothing (a scenario's name and story)
METADATA = ("scenario",)


class ConfigError(ValueError):
    """A configuration problem, naming the file, section and key."""


@dataclass
class Config:
    engine: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, Any] = field(default_factory=dict)
    detect: dict[str, Any] = field(default_factory=dict)
    correlate: dict[str, Any] = field(default_factory=dict)
    api: dict[str, Any] = field(default_factory=dict)
    store: dict[str, Any] = field(default_factory=dict)
    notify: dict[str, Any] = field(default_factory=dict)
    #: scenario manifests list their inputs here ([[inputs]] tables)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    path: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: str | None = None,
                  extra_sections: tuple[str, ...] = ()) -> "Config":
        where = path or "config"
        kwargs: dict[str, Any] = {"path": path}
        for key, value in data.items():
            if key == "inputs":
                if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                    raise ConfigError(f"{where}: [[inputs]] must be a list of tables")
                kwargs["inputs"] = value
            elif key in SECTIONS:
                if not isinstance(value, dict):
                    raise ConfigError(f"{where}: [{key}] must be a table")
                kwargs[key] = value
            elif key not in extra_sections and key not in METADATA:
                raise ConfigError(f"{where}: unknown section [{key}]; expected one of "
                                  f"{', '.join(SECTIONS)} or [[inputs]]")
        return cls(**kwargs)

    def merged(self, other: "Config") -> "Config":
        """``other``'s keys win, section by section (CLI --config over a scenario's file)."""
        out = Config(path=other.path or self.path, inputs=other.inputs or self.inputs)
        for name in SECTIONS:
            setattr(out, name, {**getattr(self, name), **getattr(other, name)})
        return out


def load_config(path: str | os.PathLike | None, extra_sections: tuple[str, ...] = ()) -> Config:
    if path is None:
        return Config()
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from None
    return Config.from_dict(data, str(p), extra_sections)


def build_component(factory: Any, section: str, params: dict[str, Any]) -> Any:
    """Call a component factory with its section, turning a bad key into a ConfigError."""
    try:
        return factory(dict(params))
    except ConfigError as exc:
        message = str(exc)
        raise ConfigError(message if message.startswith("[") else f"[{section}]: {message}") \
            from None
    except (TypeError, ValueError) as exc:  # bad keys (TypeError) or bad values (ValueError)
        raise ConfigError(f"[{section}]: {exc}") from None
