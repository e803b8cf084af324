"""``load_config``: find the file, validate it against the schema, build the records."""

from __future__ import annotations

import os

from pytest_llmguard.config.build import build_config
from pytest_llmguard.config.discovery import DOCS, read_config
from pytest_llmguard.config.providers import CONFIG_SCHEMA, schema_view
from pytest_llmguard.config.records import Config
from pytest_llmguard.documents import validate
from pytest_llmguard.exceptions import ConfigError


def load_config(
    rootdir: str, explicit: str | None = None, option: str = "--llmguard-config"
) -> Config:
    """Find, validate and build the configuration; one ``ConfigError`` on any problem.

    Without any configuration file the result has no targets (the plugin says so).
    API keys are not read here: ``api_key_env`` only names the variable. ``option`` is
    how the user named ``explicit`` (the flag or its ini key), for the error.
    """
    root = os.path.abspath(rootdir)
    found = read_config(root, explicit, option)
    if found is None:
        return Config(rootdir=root)
    path, doc = found
    validate(schema_view(doc), CONFIG_SCHEMA, ConfigError, docs=DOCS)
    return build_config(doc, root, path)
