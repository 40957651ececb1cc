"""Elastic Beanstalk entry point: the WSGI callable must be named ``application``."""

from passport_app import create_app

application = create_app()
