"""The ``carbonix`` command line and the demo: the top layer, above the core and every service.

``cli.main`` holds the typer app (the ``carbonix`` script), ``cli.commands`` one sub-command group
per area, ``cli.demo`` the narrated scenario, ``cli.services`` the detached indexer and API
processes the demo starts and ``carbonix chain down`` stops. Nothing imports this package.
"""
