"""``carbonix api``: the read-only REST API over the indexer's database (indexer/api)."""

from __future__ import annotations

import json
import logging

import typer

from cli.commands._common import console, handle_errors

app = typer.Typer(help="The read-only REST API over the indexer database.", no_args_is_help=True)

DATABASE = typer.Option(None, "--database", help="SQLAlchemy URL (default INDEXER_DATABASE_URL or .state/indexer.db).")


@app.command("serve")
@handle_errors
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    database: str = DATABASE,
    oracle_database: str = typer.Option(
        None,
        "--oracle-database",
        help="The oracle's store, read for accuracy (default ORACLE_DATABASE_URL or .state/oracle.db if present).",
    ),
    migrate: bool = typer.Option(
        True, "--migrate/--no-migrate", help="Bring the schema to head first (--no-migrate for a read-only role)."
    ),
    forwarded_allow_ips: str = typer.Option(
        "127.0.0.1",
        "--forwarded-allow-ips",
        help="Proxies whose X-Forwarded-For names the client (for the rate limit); comma-separated.",
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve /v1 (OpenAPI at /v1/openapi.json, docs at /v1/docs) with uvicorn."""
    import uvicorn

    from indexer import db
    from indexer.api import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    url = db.database_url(database)
    api = create_app(url, migrate=migrate, oracle_database_url=oracle_database)
    shown = api.state.api.engine.url.render_as_string(hide_password=True)
    console.print(f"api: http://{host}:{port}/v1 (docs /v1/docs) on {shown}", highlight=False, soft_wrap=True)
    uvicorn.run(
        api,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
    )


@app.command("openapi")
@handle_errors
def openapi() -> None:
    """Print the OpenAPI document (JSON), without a database or a chain."""
    from indexer.api import create_app
    from indexer.api.app import read_only_engine

    api = create_app(engine=read_only_engine("sqlite://"))
    typer.echo(json.dumps(api.openapi(), indent=2))
