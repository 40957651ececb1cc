"""The per-worker singletons a request needs, stored on the Flask app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .aws import AwsClients
from .background import BackgroundRemover
from .config import Settings

EXTENSION_KEY = "passport"


@dataclass
class Services:
    settings: Settings
    clients: AwsClients
    remover: BackgroundRemover


def services() -> Services:
    return current_app.extensions[EXTENSION_KEY]
