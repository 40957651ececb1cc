"""Shared test helpers, one module per job; fixtures that use them live in the conftest of the
folder whose tests need them (or in tests/conftest.py when several folders do).

A test module imports helpers from here, never from another test module or a conftest:

- ``api_calls``: POST a photo to the Flask test client, check the app's JSON errors.
- ``app_env``: the app's environment (``APP_ENV``) and its AWS resources on moto.
- ``broken_app``: a deliberately broken build of the app under gunicorn, for verify's faults.
- ``cli_runner``: ``python -m automation|sandbox|verify …`` in a subprocess.
- ``config_strategies``: hypothesis strategies for stack names and configs.
- ``graph_checks``: invariants over a declared resource graph (names, tags, public access).
- ``photo_checks``: independent checks on output photos (faces, brightness, crown row).
- ``photos``: the sample photos in ``test_images/`` and image bytes.
- ``program_graph``: run the Pulumi program under recording mocks, the graph it declares.
- ``readme_commands``: the command lines the README documents.
- ``recording_mocks``: Pulumi mocks that record every resource and fake AWS's computed values.
- ``sandbox_stacks``: deploy a real sandbox stack, read it back, take a state folder down.
- ``scripted_server``: a real HTTP server answering scripted replies per path.
- ``served_bundle``: the app's bundle under gunicorn, as Elastic Beanstalk runs it.
- ``ses_mail``: the mails moto's SES accepted.
- ``stack_files``: the committed ``Pulumi.<stack>.yaml`` config blocks.
- ``stand_in_pulumi``: a recording stand-in for the ``pulumi`` executable.
- ``stub_pipeline``: the pipeline over a stub engine, for its decisions without a deployment.
"""
