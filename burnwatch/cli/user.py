"""``burnwatch user``: manage users and roles (Argon2id password hashes)."""

from __future__ import annotations

import click

from burnwatch.cli.db import database_option, open_session


@click.group()
def user() -> None:
    """Users of the web app and the case workflow."""


@user.command()
@database_option
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(["admin", "analyst", "drone_operator", "inspector", "public"]),
    required=True,
)
@click.option("--province", help="Limit the user to one province (default: all).")
@click.option("--full-name", default="", help="Display name (UTF-8, e.g. 'Nguyễn Văn Minh').")
@click.password_option(envvar="BURNWATCH_NEW_PASSWORD", help="Password (prompted when not given).")
def add(
    database: str | None, username: str, role: str, province: str | None, full_name: str, password: str
) -> None:
    """Add a user with a role."""
    from burnwatch.store.users import add_user

    with open_session(database) as session:
        u = add_user(session, username, role, password, province=province, full_name=full_name, actor="cli")
        click.echo(f"user {u.username} ({u.role}{', ' + u.province if u.province else ''}) added")


@user.command("list")
@database_option
def list_(database: str | None) -> None:
    """List users."""
    from burnwatch.store.users import list_users

    with open_session(database) as session:
        for u in list_users(session):
            flag = "" if u.active else " (inactive)"
            click.echo(
                f"{u.username:<20} {u.role:<15} {u.province or '(all provinces)':<20} {u.full_name}{flag}"
            )
