"""The Elastic Beanstalk source-bundle root, also importable as the ``app`` package.

The bundle itself only needs ``application.py`` + ``passport_app/``; this package marker exists so
the repository's own tools (``python -m app.models``, ``app.bundle``, ``app.warmup``) can live next
to the code they fetch models for and package.
"""
